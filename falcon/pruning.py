"""PCA pruning: drop the knobs that carry little of an operator's performance signal (plane curves).

The sample matrix has one row per configuration and one column per knob: the knob's main effect on the
operator's response at that configuration (the mean response at the knob's value, centred). Columns are left in
the response's units, not standardised, so a knob that barely moves the response is a column of small
variance. PCA keeps the components that explain `cutoff` of the variance (the paper evaluates 0.80-0.95; 0.85
is its best); the matrix is reconstructed from them and compared with the original: a knob is kept when the
reconstruction recovers at least half of its column's variance, and pruned otherwise.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from harness.space import SearchSpace


def main_effects(space: SearchSpace, response: np.ndarray) -> np.ndarray:
    """(n_configs, n_knobs): each knob's centred main effect on `response` at every configuration."""
    digits = space.grid_digits()
    response = np.asarray(response, dtype=float)
    columns = []
    for j, radix in enumerate(space.radices):
        level_means = np.bincount(digits[:, j], weights=response, minlength=radix) / np.bincount(
            digits[:, j], minlength=radix)
        columns.append(level_means[digits[:, j]] - response.mean())
    return np.column_stack(columns)


def prune_knobs(space: SearchSpace, response: np.ndarray, cutoff: float = 0.85,
                keep_fraction: float = 0.5) -> list[str]:
    """Names of the knobs that survive PCA pruning of an operator's response, in space order.

    A `cutoff` of 1 or more keeps every knob that moves the response at all. At least the knob with the
    largest effect always survives.
    """
    effects = main_effects(space, response)
    variance = effects.var(axis=0)
    if not variance.any():
        return list(space.names)
    if cutoff >= 1.0:
        kept = variance > 0
    else:
        pca = PCA(n_components=cutoff, svd_solver="full").fit(effects)
        residual = effects - pca.inverse_transform(pca.transform(effects))
        with np.errstate(divide="ignore", invalid="ignore"):
            captured = np.where(variance > 0, 1.0 - residual.var(axis=0) / variance, 0.0)
        kept = captured >= keep_fraction
    kept[np.argmax(variance)] = True
    return [name for name, k in zip(space.names, kept) if k]
