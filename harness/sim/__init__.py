"""Operator-level simulator of DL inference serving (docs/simulator.md).

    predict(model, config, seed=None)                      -> what a stress test of `config` would measure
    predict_op(op, input_shapes, batch_size, gpu_type)     -> one operator's GPU time in ms
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from harness.sim.hardware import SimError
from harness.sim.noise import rng as keyed_rng
from harness.sim.opcost import predict_op
from harness.sim.simulator import Simulator

__all__ = ["predict", "predict_op", "Simulator", "SimError", "default_simulator"]


@lru_cache(maxsize=1)
def default_simulator() -> Simulator:
    """The simulator with its shipped parameters (conf/sim/v1.yaml), shared so inventories load once."""
    return Simulator()


def predict(model: str, config: Mapping[str, Any], seed: int | None = None) -> dict:
    """Simulated measurements of one configuration of `model`.

    Without a seed: the expected values (p99 latency at its mean tail). With a seed: one noisy repetition, as a
    trial would see it. Keys: rps, latency_p50_ms, latency_p99_ms, price_per_hour, objective (requests per
    dollar), feasible, reason, gpu_mem_used_gb, power_w, gpu_batch_time_ms (whole batch, full power, no memory
    cap, CPU excluded), op_time_ms (per operator type), op_mem_mb, and the stage times behind them.
    """
    sim = default_simulator()
    e = sim.simulate(model, {k: np.array([v]) for k, v in config.items()})
    if seed is None:
        tail = 1.0 + sim.params.noise.p99_tail
        rep = {"rps": e["rps"], "latency_p50_ms": e["latency_ms"], "latency_p99_ms": e["latency_ms"] * tail,
               "objective": e["objective"], "power_w": e["power_w"]}
        rep = {k: v[:, None] for k, v in rep.items()}
    else:
        rep = sim.repetitions(e, 1, keyed_rng(int(seed), "predict", model))
    feasible = bool(e["feasible"][0])
    out = {k: float(rep[k][0, 0]) for k in ("rps", "latency_p50_ms", "latency_p99_ms", "objective", "power_w")}
    if not feasible:
        out.update(latency_p50_ms=float("nan"), latency_p99_ms=float("nan"))
    out.update({
        "feasible": feasible, "reason": str(e["reason"][0]), "price_per_hour": float(e["price_per_hour"][0]),
        "gpu_mem_used_gb": float(e["gpu_mem_used_gb"][0]), "gpu_batch_time_ms": float(e["gpu_batch_time_ms"][0]),
        "op_time_ms": {t: float(v) for t, v in zip(e["op_types"], e["op_time_ms"][0])},
        "op_mem_mb": {t: float(v) for t, v in zip(e["op_types"], e["op_mem_mb"][0])},
        **{k: float(e[k][0]) for k in ("gpu_stage_ms", "cpu_stage_ms", "copy_stage_ms", "clock_factor")},
        "microbatch": int(e["microbatch"][0]),
    })
    return out
