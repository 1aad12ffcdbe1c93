"""Scores of searches: accuracy curves, trials to a target accuracy, regret, and their aggregates."""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np


def accuracy_curve(records: Iterable[Mapping]) -> np.ndarray:
    """Accuracy of the recommended configuration after each trial (records in trial order)."""
    return np.array([r["accuracy"] for r in records], dtype=float)


def trials_to_target(curve: Sequence[float], target: float = 0.9) -> float:
    """First trial count t with accuracy >= target; NaN if the search never got there."""
    hits = np.flatnonzero(np.asarray(curve) >= target - 1e-12)
    return float(hits[0] + 1) if hits.size else float("nan")


def regret(curve: Sequence[float]) -> np.ndarray:
    """1 - accuracy: the fraction of the optimum's value left on the table after each trial."""
    return 1.0 - np.asarray(curve, dtype=float)


def aggregate(curves: np.ndarray) -> dict[str, list[float]]:
    """Mean and 10th percentile over runs (rows) of accuracy curves (columns: t = 1..T)."""
    curves = np.asarray(curves, dtype=float)
    return {"accuracy_mean": curves.mean(axis=0).tolist(),
            "accuracy_p10": np.percentile(curves, 10, axis=0).tolist()}
