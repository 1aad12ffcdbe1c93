"""Scores of searches: trials to a target accuracy, and the aggregates of accuracy curves over runs."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def trials_to_target(curve: Sequence[float], target: float = 0.9) -> float:
    """First trial count t with accuracy >= target; NaN if the search never got there."""
    hits = np.flatnonzero(np.asarray(curve) >= target - 1e-12)
    return float(hits[0] + 1) if hits.size else float("nan")


def aggregate(curves: np.ndarray) -> dict[str, list[float]]:
    """Mean and 10th percentile over runs (rows) of accuracy curves (columns: t = 1..T)."""
    curves = np.asarray(curves, dtype=float)
    return {"accuracy_mean": curves.mean(axis=0).tolist(),
            "accuracy_p10": np.percentile(curves, 10, axis=0).tolist()}
