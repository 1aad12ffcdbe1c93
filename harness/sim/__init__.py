"""Operator-level simulator of DL inference serving (docs/simulator.md).

    predict(model, config, seed=None, version=2)                -> what a stress test of `config` would measure
    predict_op(op, input_shapes, batch_size, gpu_type, version=2) -> one operator's GPU time in ms

Version 2 (conf/sim/v2.yaml, traces/sim-v2) is the default; version 1 (conf/sim/v1.yaml) is what traces/sim-v1
was generated with.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from harness.sim.hardware import SimError
from harness.sim.noise import rng as keyed_rng
from harness.sim.opcost import op_time_ms
from harness.sim.simulator import Simulator, conf_file, load_sim_params

__all__ = ["predict", "predict_op", "Simulator", "SimError", "default_simulator"]
DEFAULT_VERSION = 2


@lru_cache(maxsize=None)
def default_simulator(version: int = DEFAULT_VERSION) -> Simulator:
    """The simulator with its shipped parameters (conf/sim/v<version>.yaml), shared so inventories load once."""
    return Simulator(load_sim_params(conf_file(version)))


def predict(model: str, config: Mapping[str, Any], seed: int | None = None, version: int = DEFAULT_VERSION) -> dict:
    """Simulated measurements of one configuration of `model` by simulator `version` (1 or 2).

    Without a seed: the expected values (p99 latency at its mean tail). With a seed: one noisy repetition, as a
    trial would see it. Keys: rps, latency_p50_ms, latency_p99_ms, price_per_hour, objective (requests per
    dollar), feasible, reason, op_time_ms (per operator type), op_mem_mb, the stage times behind them, and with a
    GPU: gpu_mem_used_gb, power_w, gpu_batch_time_ms (whole batch, full power, no memory cap, CPU excluded).
    A configuration without `gpu_type` is served on CPU cores alone (version 2 only).
    """
    sim = default_simulator(int(version))
    e = sim.simulate(model, {k: np.array([v]) for k, v in config.items()})
    gpu = "gpu_mem_used_gb" in e
    fields = ("rps", "latency_p50_ms", "latency_p99_ms", "objective") + (("power_w",) if gpu else ())
    if seed is None:
        tail = 1.0 + sim.params.noise.p99_tail
        rep = {"rps": e["rps"], "latency_p50_ms": e["latency_ms"], "latency_p99_ms": e["latency_ms"] * tail,
               "objective": e["objective"]}
        if gpu:
            rep["power_w"] = e["power_w"]
        rep = {k: v[:, None] for k, v in rep.items()}
    else:
        rep = sim.repetitions(e, 1, keyed_rng(int(seed), "predict", model))
    feasible = bool(e["feasible"][0])
    out = {k: float(rep[k][0, 0]) for k in fields}
    if not feasible:
        out.update(latency_p50_ms=float("nan"), latency_p99_ms=float("nan"))
    out.update({
        "feasible": feasible, "reason": str(e["reason"][0]), "price_per_hour": float(e["price_per_hour"][0]),
        "op_time_ms": {t: float(v) for t, v in zip(e["op_types"], e["op_time_ms"][0])},
        "op_mem_mb": {t: float(v) for t, v in zip(e["op_types"], e["op_mem_mb"][0])},
    })
    stages = ("gpu_stage_ms", "cpu_stage_ms", "copy_stage_ms", "clock_factor", "gpu_mem_used_gb",
              "gpu_batch_time_ms", "model_stage_ms")
    out.update({k: float(e[k][0]) for k in stages if k in e})
    if "microbatch" in e:
        out["microbatch"] = int(e["microbatch"][0])
    return out


def predict_op(op: str, input_shapes: str, batch_size: int, gpu_type: str, version: int = DEFAULT_VERSION) -> float:
    """Predicted GPU time in ms of one operator call at full power as a kernel of its own, e.g.
    `predict_op("nn.conv2d", "((-1, 3, 128, 128), (32, 3, 3, 3))", 32, "V100")`. Version 2 applies its per-GPU
    corrections (conf/sim/v2.yaml `gpu_corrections`); version 1 is the spec-only model of sim-v1."""
    sim = default_simulator(int(version))
    return op_time_ms(op, input_shapes, batch_size, gpu_type, sim.corrections_)
