"""Baseline searchers: what Falcon is compared against."""
