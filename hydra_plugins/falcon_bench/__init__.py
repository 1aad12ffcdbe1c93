"""Hydra plugins of falcon-bench, found by Hydra's scan of the hydra_plugins namespace."""
