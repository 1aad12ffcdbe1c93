"""Randomness of the simulated world: model-specific effects and repetition noise.

Model-specific effects are deterministic per (world seed, model, GPU type): they stand for what a sum of
operator costs does not explain (operator fusion, kernel choice per shape and GPU, inter-kernel gaps, framework
behaviour per model). Their size is `noise.model_effect_scale`; 0 makes the whole model exactly the sum of its
simulated operators (plus the CPU and copy stages), which is the assumption Falcon relies on: set it to 0 only
knowingly. Repetition noise is drawn per trace (or per `predict` call) from its own seed.
"""

from __future__ import annotations

import zlib

import numpy as np

N_WAVES = 3  # smooth batch-size effect: a few random sinusoids over log2(batch)


def key(*parts) -> list[int]:
    """Stable integer key for a SeedSequence (crc32 of strings, so runs and machines agree)."""
    return [p if isinstance(p, int) else zlib.crc32(str(p).encode()) for p in parts]


def rng(*parts) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(key(*parts)))


def model_log_effect(world_seed: int, scale: float, model: str, gpu: str, batch: np.ndarray) -> np.ndarray:
    """Log multiplier of a model's GPU time on one GPU type at the given (micro-)batch sizes."""
    common = rng(world_seed, "model", model).standard_normal()
    r = rng(world_seed, "model-gpu", model, gpu)
    per_gpu = r.standard_normal()
    amp, freq, phase = r.standard_normal(N_WAVES), r.uniform(0.3, 1.2, N_WAVES), r.uniform(0, 2 * np.pi, N_WAVES)
    x = np.log2(np.asarray(batch, dtype=float))[..., None]
    waves = (amp * np.sin(freq * x + phase)).sum(axis=-1) / np.sqrt(N_WAVES)
    return scale * (0.6 * common + 0.6 * per_gpu + 0.5 * waves)


def cpu_log_effect(world_seed: int, scale: float, model: str) -> float:
    """Log multiplier of a model's CPU work (framework overhead and preprocessing details differ by model)."""
    return float(scale * rng(world_seed, "cpu", model).standard_normal())


def op_log_effects(world_seed: int, scale: float, model: str, gpu: str, op_types: list[str]) -> np.ndarray:
    """Log multipliers of each operator type's kernels on one GPU type (shape-specific kernel choice)."""
    return np.array([scale * rng(world_seed, "op", model, gpu, t).standard_normal() for t in op_types])
