"""The simulator: a model's operator inventory + GPU specs + knobs -> what a stress test would measure.

Per configuration (vectorised over many at once):
  GPU stage   sum of operator times (opcost) at the micro-batch that fits the memory cap (memory), slowed by the
              power cap (power), times the model-specific effect (noise)
  copy stage  inputs to and outputs from the GPU over PCIe
  CPU stage   per-request pre/post-processing spread over the cores, plus one thread dispatching kernels (cpu)
  period      the stages overlap imperfectly: (cpu^k + copy^k + gpu^k)^(1/k);  rps = batch / period
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
from omegaconf import OmegaConf

from harness.paths import CONF_DIR
from harness.sim import cpu, memory, noise, pricing
from harness.sim.hardware import SimError, gpu as gpu_spec
from harness.sim.opcost import gpu_arrays, load_params, op_class, op_times_us
from harness.sim.power import PowerModel

CONF_FILE = CONF_DIR / "sim" / "v1.yaml"
KNOBS = ("cpu_cores", "gpu_type", "gpu_mem_gb", "batch_size", "gpu_power_pct")
ITEMSIZE = {"float32": 4, "int64": 8}
FOLDS_BATCH_NORM = ("conv1d", "conv2d", "conv3d", "dense")


@lru_cache(maxsize=None)
def load_sim_params(path: str | Path = CONF_FILE):
    return OmegaConf.load(path)


@dataclass
class _BatchOps:
    """One inventory reduced to what costing needs."""

    op_types: np.ndarray
    cls: np.ndarray
    flops: np.ndarray
    nbytes: np.ndarray
    n_out: np.ndarray
    mem_bytes: np.ndarray   # parameters + output activation per operator (for the memory profile)
    kernels: int
    need_gb: float
    out_bytes: float


class Simulator:
    """Simulates one model at a time over arrays of configurations.

    `params`: simulator parameters (conf/sim/v1.yaml by default); `inventory`: `(model, batch) -> Inventory`
    (harness.ops.load_inventory by default); `specs`: `model -> ModelSpec` (harness.models.spec by default).
    """

    def __init__(self, params=None, inventory: Callable | None = None, specs: Callable | None = None):
        self.params = params if params is not None else load_sim_params()
        self.inventory = inventory
        self.specs = specs
        self.cost_ = load_params()
        self.power_ = PowerModel(**OmegaConf.to_container(self.params.power)).fit()
        self.pricing_ = pricing.load_pricing(self.params.pricing)
        self._ops: dict[tuple[str, int], _BatchOps] = {}

    # -- inputs -----------------------------------------------------------------------------------------------
    def spec(self, model: str):
        if self.specs is None:
            from harness.models import spec
            self.specs = spec
        try:
            return self.specs(model)
        except (KeyError, ValueError) as e:
            raise SimError(str(e).strip("'\"")) from None

    def has_inventory(self, model: str, batch: int) -> bool:
        try:
            self.batch_ops(model, batch)
        except SimError:
            return False
        return True

    def batch_ops(self, model: str, batch: int) -> _BatchOps:
        key = (model, int(batch))
        if key not in self._ops:
            if self.inventory is None:
                from harness.ops import load_inventory
                self.inventory = load_inventory
            try:
                inv = self.inventory(model, int(batch))
            except (ValueError, KeyError, FileNotFoundError) as e:
                raise SimError(f"no operator inventory for {model!r} at batch size {batch}: {e}") from None
            ops = inv.ops
            cls = np.array([op_class(t) for t in ops["op_type"]])
            # Inference graphs fold a batch norm that follows a convolution or dense layer into its weights
            # (TensorFlow's inference optimisation, TVM's FoldScaleAxis): no kernel, no activation of its own.
            folded = (ops["op_type"] == "batch_norm").to_numpy() & \
                ops["op_type"].shift(1).isin(list(FOLDS_BATCH_NORM)).to_numpy()
            cls[folded] = "view"
            nbytes = (ops["bytes_read"] + ops["bytes_written"]).to_numpy(dtype=float)
            written = np.where(folded, 0.0, ops["bytes_written"].to_numpy(dtype=float))
            need = memory.required_gb(self.params.memory, float(inv.param_bytes), float(inv.activation_peak_bytes),
                                      float(nbytes.max()) if len(nbytes) else 0.0)
            self._ops[key] = _BatchOps(
                op_types=ops["op_type"].to_numpy(dtype=str), cls=cls, flops=ops["flops"].to_numpy(dtype=float),
                nbytes=nbytes, n_out=np.maximum(written / 4.0, 1.0),
                mem_bytes=np.where(folded, 0.0, ops["param_bytes"].to_numpy(dtype=float)) + written,
                kernels=int((cls != "view").sum()), need_gb=float(need),
                out_bytes=float(written[-1]) if len(written) else 0.0)
        return self._ops[key]

    # -- GPU time per (GPU, micro-batch, power cap) -------------------------------------------------------------
    def gpu_times(self, model: str, gpu: str, batch: int, cap_fraction: float, op_types: list[str]):
        """(per-type kernel ms, total kernel ms, clock factor, compute share) of one micro-batch."""
        b = self.batch_ops(model, batch)
        spec = gpu_arrays([gpu_spec(gpu)])
        full = op_times_us(self.cost_, b.cls, b.flops, b.nbytes, b.n_out, spec)
        compute_bound = op_times_us(self.cost_, b.cls, b.flops, b.nbytes, b.n_out, spec, memory_slowdown=0.0)
        share = float(np.sum(np.where(np.isclose(full, compute_bound), full, 0.0)) / max(full.sum(), 1e-12))
        g = gpu_spec(gpu)
        busy = g.busy_power_w / g.tdp_w
        f = float(self.power_.clock_factor(cap_fraction, share, busy))
        slow_c, slow_m = self.power_.slowdowns(f, float(self.power_.clock_factor(1.0, share, busy)))
        t = op_times_us(self.cost_, b.cls, b.flops, b.nbytes, b.n_out, spec, slow_c, slow_m) / 1000.0
        nz = self.params.noise
        effects = np.exp(noise.op_log_effects(nz.world_seed, nz.op_effect_scale, model, gpu, op_types))
        per_type = np.array([t[b.op_types == o].sum() for o in op_types]) * effects
        return per_type, float(per_type.sum()), f, share

    # -- the grid ---------------------------------------------------------------------------------------------
    def simulate(self, model: str, knobs: dict[str, np.ndarray]) -> dict:
        """Expected measurements (no repetition noise) for arrays of knob values; returns arrays per field,
        plus `op_types`, `op_time_ms` and `op_mem_mb` ((n, types) arrays)."""
        unknown = set(knobs) - set(KNOBS)
        if unknown:
            raise SimError(f"the simulator does not know knobs {sorted(unknown)}; it simulates {list(KNOBS)}")
        for k in ("gpu_type", "batch_size"):
            if k not in knobs:
                raise SimError(f"a configuration to simulate needs the knob {k!r}")
        gpu_names = np.asarray(knobs["gpu_type"], dtype=str)
        n = len(gpu_names)
        gpus = {g: gpu_spec(g) for g in np.unique(gpu_names)}
        batch = np.asarray(knobs["batch_size"], dtype=np.int64)
        if (batch < 1).any():
            raise SimError(f"batch sizes must be positive, got {batch.min()}")
        default = lambda field: np.array([getattr(gpus[g], field) for g in gpu_names], dtype=float)
        cores = np.asarray(knobs.get("cpu_cores", default("instance_vcpus")), dtype=float)
        mem_cap = np.asarray(knobs.get("gpu_mem_gb", default("mem_gb")), dtype=float)
        power_pct = np.asarray(knobs.get("gpu_power_pct", np.full(n, 100.0)), dtype=float)
        if (cores < 1).any() or (mem_cap <= 0).any() or (power_pct <= 0).any():
            raise SimError("cpu_cores must be >= 1, gpu_mem_gb and gpu_power_pct > 0")
        tdp, rated = default("tdp_w"), default("paper_rated_w")
        cap_w = np.minimum(power_pct / 100.0 * rated, tdp)
        cap_fraction = cap_w / tdp

        p = self.params
        spec = self.spec(model)
        for b in np.unique(batch):
            self.batch_ops(model, int(b))  # every batch asked for needs an inventory
        # micro-batch candidates: powers of two up to the largest batch (those with an inventory), and the batches
        top = int(batch.max())
        candidates = np.array([c for c in np.unique(np.concatenate([2 ** np.arange(int(np.log2(top)) + 1),
                                                                      np.unique(batch)]))
                               if self.has_inventory(model, int(c))])
        need = np.array([self.batch_ops(model, int(c)).need_gb for c in candidates])
        micro = memory.choose_microbatch(batch, np.minimum(mem_cap, default("mem_gb")), candidates, need)
        feasible = micro > 0
        run_batch = np.where(feasible, micro, batch)
        op_types = sorted({str(t) for c in np.unique(run_batch) for t in self.batch_ops(model, int(c)).op_types})
        n_micro = np.where(feasible, batch // np.maximum(micro, 1), 1)

        kernel_ms, per_type_ms = np.zeros(n), np.zeros((n, len(op_types)))
        clock, share = np.ones(n), np.ones(n)
        full_batch_ms = np.zeros(n)
        for g in gpus:
            for m in np.unique(run_batch[gpu_names == g]):
                for c in np.unique(cap_fraction[(gpu_names == g) & (run_batch == m)]):
                    rows = (gpu_names == g) & (run_batch == m) & (cap_fraction == c)
                    types_t, total, f, s = self.gpu_times(model, g, int(m), float(c), op_types)
                    kernel_ms[rows], per_type_ms[rows], clock[rows], share[rows] = total, types_t, f, s
            for b in np.unique(batch[gpu_names == g]):
                rows = (gpu_names == g) & (batch == b)
                full_batch_ms[rows] = self.gpu_times(model, g, int(b), 1.0, op_types)[1]

        nz = p.noise
        model_effect = np.ones(n)
        full_effect = np.ones(n)
        for g in gpus:
            rows = gpu_names == g
            model_effect[rows] = np.exp(noise.model_log_effect(nz.world_seed, nz.model_effect_scale, model, g,
                                                               run_batch[rows]))
            full_effect[rows] = np.exp(noise.model_log_effect(nz.world_seed, nz.model_effect_scale, model, g,
                                                              batch[rows]))
        penalty = 1.0 + p.memory.microbatch_penalty * (n_micro - 1)
        gpu_ms = n_micro * kernel_ms * model_effect * penalty
        per_type_ms = per_type_ms * n_micro[:, None]

        in_bytes = sum(float(np.prod(i.shape)) * ITEMSIZE[i.dtype] for i in spec.inputs)
        out_bytes = np.array([self.batch_ops(model, int(m)).out_bytes for m in run_batch]) * n_micro
        copy_ms = (batch * in_bytes + out_bytes) / (default("pcie_gbps") * 1e9) * 1000.0

        smallest = int(candidates.min()) if len(candidates) else int(batch.min())
        out_values = self.batch_ops(model, smallest).out_bytes / 4.0 / smallest if spec.family == "gan" else 0.0
        req_ms = cpu.request_ms(p.cpu, spec.input_kind, spec.input_shape, out_values, spec.family)
        req_ms *= np.exp(noise.cpu_log_effect(nz.world_seed, nz.model_effect_scale, model))
        kernels = np.array([self.batch_ops(model, int(m)).kernels for m in run_batch]) * n_micro
        dispatch = cpu.dispatch_ms(p.cpu, kernels)
        cpu_ms = cpu.cpu_stage_ms(p.cpu, cores, batch * req_ms, dispatch)

        k = p.pipeline.overlap_exponent
        period_ms = (cpu_ms ** k + copy_ms ** k + gpu_ms ** k) ** (1.0 / k)
        rps = np.where(feasible, batch / period_ms * 1000.0, 0.0)
        latency = cpu_ms + copy_ms + gpu_ms

        price = np.zeros(n)
        for g, spec_g in gpus.items():
            rows = gpu_names == g
            price[rows] = pricing.price_per_hour(self.pricing_, spec_g, cores[rows], mem_cap[rows], cap_w[rows])
        objective = rps / (price / 3600.0)

        util = np.clip(gpu_ms / period_ms, 0.0, 1.0)
        idle = default("idle_w")
        busy_frac = default("busy_power_w") / tdp
        busy_w = np.minimum(tdp * self.power_.draw_fraction(clock, share, busy_frac), cap_w)
        power_w = np.where(feasible, idle + (busy_w - idle) * util, idle)
        need_run = np.array([self.batch_ops(model, int(m)).need_gb for m in run_batch])
        mem_used = p.memory.context_gb + np.where(feasible, need_run, mem_cap)
        op_mem_mb = np.zeros((n, len(op_types)))
        for m in np.unique(run_batch):
            b = self.batch_ops(model, int(m))
            op_mem_mb[run_batch == m] = [b.mem_bytes[b.op_types == o].sum() / 1e6 for o in op_types]

        reason = np.array(["" if ok else f"out of memory: even a micro-batch of {smallest} needs "
                           f"{need.min():.2f} GB, more than the {cap:g} GB cap" for ok, cap in zip(feasible, mem_cap)])
        return {"feasible": feasible, "reason": reason, "rps": rps, "latency_ms": latency,
                "price_per_hour": price, "objective": np.where(feasible, objective, 0.0),
                "gpu_mem_used_gb": mem_used, "power_w": power_w, "gpu_batch_time_ms": full_batch_ms * full_effect,
                "gpu_stage_ms": gpu_ms, "cpu_stage_ms": cpu_ms, "copy_stage_ms": copy_ms, "microbatch": micro,
                "clock_factor": clock, "op_types": op_types, "op_time_ms": per_type_ms, "op_mem_mb": op_mem_mb}

    # -- repetitions ------------------------------------------------------------------------------------------
    def repetitions(self, expected: dict, reps: int, rng: np.random.Generator) -> dict:
        """Noisy repetitions of expected measurements: (n, reps) arrays per field."""
        nz = self.params.noise
        n = len(expected["rps"])
        z = rng.standard_normal((n, reps))
        factor = np.exp(nz.rep_scale * z - nz.rep_scale ** 2 / 2)
        tail = rng.gamma(2.0, nz.p99_tail / 2.0, (n, reps))
        watts = 1.0 + 0.01 * rng.standard_normal((n, reps))
        ok = expected["feasible"][:, None]
        rps = expected["rps"][:, None] * factor
        p50 = expected["latency_ms"][:, None] / factor
        price = np.repeat(expected["price_per_hour"][:, None], reps, axis=1)
        return {"rps": rps, "latency_p50_ms": np.where(ok, p50, np.nan),
                "latency_p99_ms": np.where(ok, p50 * (1.0 + tail), np.nan),
                "price_per_hour": price, "objective": np.where(ok, rps / (price / 3600.0), 0.0),
                "gpu_mem_used_gb": np.repeat(expected["gpu_mem_used_gb"][:, None], reps, axis=1),
                "power_w": expected["power_w"][:, None] * watts}
