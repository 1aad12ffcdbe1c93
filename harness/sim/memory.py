"""GPU memory under a per-process cap: what a batch needs, and the micro-batch that fits (or none)."""

from __future__ import annotations

import numpy as np

GB = 1e9


def required_gb(cfg, param_bytes: float, activation_peak_bytes: np.ndarray,
                largest_op_bytes: np.ndarray) -> np.ndarray:
    """Allocator peak for one forward pass: weights + activation peak + workspace + framework reserve."""
    workspace = np.minimum(cfg.workspace_fraction * largest_op_bytes / GB, cfg.workspace_max_gb)
    return param_bytes / GB + activation_peak_bytes / GB + workspace + cfg.framework_reserve_gb


def choose_microbatch(batch: np.ndarray, cap_gb: np.ndarray, candidates: np.ndarray,
                      need_gb: np.ndarray) -> np.ndarray:
    """Largest candidate micro-batch <= batch (and dividing it) whose need fits under the cap; 0 if none fits.

    `candidates` are the micro-batch sizes with a known need (`need_gb[j]` for `candidates[j]`).
    """
    fits = (need_gb[None, :] <= cap_gb[:, None]) & (candidates[None, :] <= batch[:, None]) \
        & (batch[:, None] % candidates[None, :] == 0)
    best = np.where(fits, candidates[None, :], 0)
    return best.max(axis=1)
