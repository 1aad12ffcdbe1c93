"""Simulated trace generation: every configuration of a space for one model, with repetitions, rounded as the
published sets are (`simulate_trace`); the app `python -m harness.sim` writes whole trace sets with it.

The same inputs and seed give byte-identical tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.sim.cpu_serving import INVENTORY_BATCHES
from harness.sim.noise import rng as keyed_rng
from harness.sim.simulator import Simulator
from harness.space import SearchSpace
from harness.traces import MEASUREMENT_FIELDS, Trace

# Significant digits kept: finer than each field's repetition noise (3 % on throughput, 1 % on power, ~25 % p99 tail).
DIGITS = {"latency_p99_ms": 3, "power_w": 3}
DEFAULT_DIGITS = 4
SMALLEST_INVENTORY = INVENTORY_BATCHES[0]


# Powers of ten, parsed (so correctly rounded, the same on every platform), for `round_sig`.
_POW10 = np.array([float(f"1e{k}") for k in range(0, 31)])
# sim-v1's scales 10^k for k = -30..30, as the machine that published sim-v1 computed them with numpy's vectorised
# power: correctly rounded except 10^-5, one ulp below. A table instead of `10.0 ** k` makes sim-v1 regenerate
# byte for byte on every CPU (with the vectorised power, 5 models came out 1 ulp apart on other CPUs).
_V1_SCALES = np.array([float(f"1e{k}") for k in range(-30, 31)])
_V1_SCALES[30 - 5] = np.nextafter(1e-5, 0.0)


def round_sig(x: np.ndarray, digits: int, exact: bool = False) -> np.ndarray:
    """Round to significant digits (smaller files; far finer than the repetition noise).

    `exact=False` is sim-v1's rule, kept so sim-v1 regenerates as published: it multiplies by the scale 10^k
    and divides by it again, with the scales of `_V1_SCALES`. `exact=True` (sim-v2) scales by exactly
    representable powers of ten, multiplying or dividing."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = digits - 1 - np.floor(np.log10(np.abs(x)))
    finite = np.isfinite(k)
    k = np.where(finite, np.clip(k, -30, 30), 0).astype(int)
    if not exact:
        scale = np.where(finite, _V1_SCALES[k + 30], 1.0)
        return np.round(x * scale) / scale
    up, down = _POW10[np.maximum(k, 0)], _POW10[np.maximum(-k, 0)]
    return np.where(k >= 0, np.round(x * up) / up, np.round(x / down) * down)


def simulate_trace(sim: Simulator, model: str, space: SearchSpace, reps: int, seed: int,
                   metadata: dict) -> Trace:
    exact = sim.version >= 2
    digits = space.grid_digits()
    grid = pd.DataFrame({k.name: np.array(k.values)[digits[:, j]] for j, k in enumerate(space.knobs)})
    expected = sim.simulate(model, {k: grid[k].to_numpy() for k in space.names})
    noisy = sim.repetitions(expected, reps, keyed_rng(seed, "reps", model))
    n = len(grid)
    m = grid.loc[np.repeat(np.arange(n), reps)].reset_index(drop=True)
    m["rep"] = np.tile(np.arange(reps), n)
    m["feasible"] = np.repeat(expected["feasible"], reps)
    m["reason"] = np.repeat(expected["reason"], reps)
    for f in MEASUREMENT_FIELDS:
        if f in noisy:  # CPU-only serving has no GPU memory or power
            m[f] = round_sig(noisy[f].reshape(-1), DIGITS.get(f, DEFAULT_DIGITS), exact)
    return Trace(model, space, m, operator_table(expected, exact), metadata)


def operator_table(expected: dict, exact: bool = False) -> pd.DataFrame:
    """One row per (feasible configuration, operator type), plus a model-wide profile (config_index -1: the
    mean over feasible configurations, like the release's profiles). An out-of-memory configuration has no
    profile of its own, so a trial there sees only the model-wide one (a separate sandbox profiling run)."""
    feasible = np.flatnonzero(expected["feasible"])
    time_ms = expected["op_time_ms"][feasible]
    mem_mb = expected["op_mem_mb"][feasible]
    index = np.concatenate([[-1], feasible])
    time_ms = np.vstack([time_ms.mean(axis=0), time_ms])
    mem_mb = np.vstack([mem_mb.mean(axis=0), mem_mb])
    types = np.array(expected["op_types"])
    rows, cols = np.nonzero((time_ms > 0) | (mem_mb > 0))
    t, mm = time_ms[rows, cols], mem_mb[rows, cols]
    t_total, m_total = time_ms.sum(axis=1)[rows], mem_mb.sum(axis=1)[rows]
    return pd.DataFrame({
        "config_index": index[rows].astype(np.int64), "op_type": types[cols],
        "time_ms": round_sig(t, DEFAULT_DIGITS, exact), "time_share": np.round(np.where(t_total > 0, t / t_total, 0.0), 5),
        "mem_mb": round_sig(mm, DEFAULT_DIGITS, exact),
        "mem_share": np.round(np.divide(mm, m_total, out=np.zeros_like(mm), where=m_total > 0), 5)})
