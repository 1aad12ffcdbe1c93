"""CPU side of serving: per-request pre/post-processing by input kind, and per-batch kernel dispatch."""

from __future__ import annotations

import numpy as np


def request_ms(cfg, input_kind: str, input_shape: tuple, output_values: float, family: str) -> float:
    """Milliseconds of one core per request: preprocessing of its input kind, plus answering it."""
    if input_kind == "image":
        pixels = float(np.prod(input_shape[-2:])) / (224 * 224)
        pre = cfg.image_fixed_ms + (cfg.image_ms_at_224 - cfg.image_fixed_ms) * pixels
    elif input_kind == "text":
        pre = cfg.text_fixed_ms + cfg.text_ms_per_token * float(np.prod(input_shape))
    elif input_kind == "audio":
        pre = cfg.audio_ms
    elif input_kind == "tabular":
        pre = cfg.tabular_ms
    elif input_kind == "noise":
        pre = cfg.noise_ms
    else:
        raise ValueError(f"unknown input kind {input_kind!r}")
    post = 0.0
    if family == "gan":  # the answer is an image to encode
        post = cfg.output_image_ms_per_mpixel * output_values / 3 / 1e6
    return pre + post + cfg.request_ms


def dispatch_ms(cfg, kernels: np.ndarray) -> np.ndarray:
    """Host time to launch one batch's kernels (one framework thread)."""
    return cfg.dispatch_ms_per_batch + cfg.dispatch_us_per_kernel * kernels / 1000.0


def cpu_stage_ms(cfg, cores: np.ndarray, batch_work_ms: np.ndarray, dispatch: np.ndarray) -> np.ndarray:
    """Time the CPUs need per batch: request work spreads over the cores, dispatch is one thread among them."""
    effective = 1.0 + (cores - 1.0) * (1.0 - cfg.parallel_loss)
    return np.maximum(dispatch, (batch_work_ms + dispatch) / effective)
