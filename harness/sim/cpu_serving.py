"""CPU-only serving (simulator v2): the model runs on the same cores that preprocess its requests.

Per batch, as the real collector serves on a CPU (`python -m harness.collect backend=cpu`): the batch's requests
are preprocessed on the cores, then the model runs on them; the two take turns (no overlap).

    forward  = sum over operators of  op_overhead_us + max(flops / (gflops[class] * threads), bytes / mem_gbps)
    threads  = 1 + (cores - 1) * parallel_efficiency           (intra-op parallelism; memory is shared)
    preprocess = batch * request_ms(input kind) * request_scale / threads
    period   = preprocess + forward;   rps = batch / period;   latency = period

Operators are those of the eager executor (PyTorch eager, what the collector runs), from the operator
inventory; batch sizes below the smallest stored inventory (4) are extrapolated linearly in the batch from the
inventories at 4 and 8 (weights do not grow with the batch, activations do). Parameters: `cpu_serving` in
conf/sim/v2.yaml, fitted by `python -m harness.sim.calibrate mode=cpu` on traces measured on this machine.
Price: cores x `per_core_usd_per_h` (the collector's price model). No GPU fields (memory, power) are produced.
"""

from __future__ import annotations

import numpy as np

import harness.sim.cpu as cpu
import harness.sim.executor as executor
import harness.sim.noise as noise
from harness.sim.hardware import SimError
from harness.sim.opcost import op_class

INVENTORY_BATCHES = (4, 8)


def op_work(sim, model: str, batch: int) -> dict[str, np.ndarray]:
    """Eager kernels of one forward pass at `batch`: class, FLOPs and bytes per operator (extrapolated below 4)."""
    if batch >= INVENTORY_BATCHES[0] and sim.has_inventory(model, batch):
        return _work(sim, model, batch)
    lo, hi = (_work(sim, model, b) for b in INVENTORY_BATCHES)
    if len(lo["cls"]) != len(hi["cls"]):
        raise SimError(f"cannot extrapolate {model!r} to batch {batch}: its inventories at 4 and 8 differ")
    w = (batch - INVENTORY_BATCHES[0]) / (INVENTORY_BATCHES[1] - INVENTORY_BATCHES[0])
    fixed = lambda k: np.maximum(lo[k] + (hi[k] - lo[k]) * w, 0.0)
    return {"op_types": lo["op_types"], "cls": lo["cls"], "flops": fixed("flops"), "nbytes": fixed("nbytes")}


def _work(sim, model: str, batch: int) -> dict[str, np.ndarray]:
    key = ("cpu", model, int(batch))
    if key not in sim.cache:
        inv = sim.load_inventory(model, batch)
        cls = np.array([op_class(t) for t in inv.ops["op_type"]])
        k = executor.plan("eager", inv.ops, cls)
        sim.cache[key] = {"op_types": k.op_types, "cls": k.cls, "flops": k.flops, "nbytes": k.nbytes}
    return sim.cache[key]


def op_ms(cfg, work: dict[str, np.ndarray], cores: np.ndarray) -> np.ndarray:
    """Per-operator time (ms) of one batch on `cores` (array): a (len(cores), operators) array."""
    threads = 1.0 + (np.asarray(cores, dtype=float)[:, None] - 1.0) * cfg.parallel_efficiency
    gflops = np.select([work["cls"] == "conv", work["cls"] == "gemm"], [cfg.conv_gflops, cfg.gemm_gflops],
                       cfg.elementwise_gflops)[None, :]
    compute_us = work["flops"][None, :] / (gflops * 1e3 * threads)
    memory_us = work["nbytes"][None, :] / (cfg.mem_gbps * 1e3)
    kernel = (work["cls"] != "view")[None, :]
    t = np.where(kernel, cfg.op_overhead_us + np.maximum(compute_us, memory_us), 0.0)
    return t / 1000.0


def simulate(sim, model: str, knobs: dict[str, np.ndarray]) -> dict:
    """Expected measurements of CPU-only configurations (knobs `cpu_cores`, `batch_size`)."""
    if "cpu_serving" not in sim.params:
        raise SimError("these simulator parameters have no `cpu_serving` section: CPU-only serving needs sim v2")
    extra = set(knobs) - {"cpu_cores", "batch_size"}
    if extra:
        raise SimError(f"CPU-only serving (no gpu_type knob) takes only cpu_cores and batch_size, got {sorted(extra)}")
    cfg = sim.params.cpu_serving
    batch = np.asarray(knobs["batch_size"], dtype=np.int64)
    cores = np.asarray(knobs.get("cpu_cores", np.ones(len(batch))), dtype=float)
    if (batch < 1).any() or (cores < 1).any():
        raise SimError("batch_size and cpu_cores must be >= 1")
    spec = sim.spec(model)
    nz = sim.params.noise
    req_ms = cpu.request_ms(sim.params.cpu, spec.input_kind, spec.input_shape, 0.0, spec.family) * cfg.request_scale
    req_ms *= np.exp(noise.cpu_log_effect(nz.world_seed, nz.model_effect_scale, model))
    model_effect = np.exp(noise.model_log_effect(nz.world_seed, nz.model_effect_scale, model, "cpu", batch))
    works = {int(b): op_work(sim, model, int(b)) for b in np.unique(batch)}
    op_types = sorted({str(t) for w in works.values() for t in w["op_types"][w["cls"] != "view"]})
    per_type = np.zeros((len(batch), len(op_types)))
    for b, w in works.items():
        rows = batch == b
        t = op_ms(cfg, w, cores[rows])
        per_type[rows] = np.stack([t[:, w["op_types"] == o].sum(axis=1) for o in op_types], axis=1)
    per_type = per_type * model_effect[:, None]
    fwd = per_type.sum(axis=1)
    threads = 1.0 + (cores - 1.0) * cfg.parallel_efficiency
    pre = batch * req_ms / threads
    period = pre + fwd
    rps = batch / period * 1000.0
    price = cores * cfg.per_core_usd_per_h
    n = len(batch)
    return {"feasible": np.ones(n, dtype=bool), "reason": np.full(n, ""), "rps": rps, "latency_ms": period,
            "price_per_hour": price, "objective": rps / (price / 3600.0), "cpu_stage_ms": pre,
            "model_stage_ms": fwd, "op_types": op_types, "op_time_ms": per_type, "op_mem_mb": np.zeros((n, len(op_types)))}
