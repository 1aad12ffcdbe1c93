"""The simulator: a model's operator inventory + GPU specs + knobs -> what a stress test would measure.

Per configuration (vectorised over many at once), one method per stage:
  memory   the micro-batch that fits the memory cap, or none (infeasible)                    `_memory_stage`
  GPU      sum of the executor's kernel times (executor, opcost) at that micro-batch, slowed by the power cap
           (power), times the model-specific effect (noise)                                   `_gpu_stage`
  copy     inputs to and outputs from the GPU over PCIe                                       `_copy_stage`
  CPU      per-request pre/post-processing spread over the cores, plus one thread dispatching kernels (cpu)
                                                                                              `_cpu_stage`
  overlap  the stages overlap imperfectly: (cpu^k + copy^k + gpu^k)^(1/k);  rps = batch / period  `_overlap`
  price    hourly price of what the configuration holds (pricing)                            `_price`
  power    drawn power from utilisation and clocks (power)                                   `_power`
A configuration without a GPU (no `gpu_type` knob) is served on CPU cores alone (cpu_serving, v2 only).
Parameters: conf/sim/v1.yaml (sim-v1) or conf/sim/v2.yaml (sim-v2, with `version: 2`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
from omegaconf import OmegaConf

from harness.paths import CONF_DIR
import harness.sim.cpu as cpu
import harness.sim.cpu_serving as cpu_serving
import harness.sim.executor as executor
import harness.sim.memory as memory
import harness.sim.noise as noise
import harness.sim.pricing as pricing
from harness.sim.hardware import GPU, SimError, gpu as gpu_spec
from harness.sim.opcost import gpu_arrays, load_params, op_class, op_times_us
from harness.sim.power import PowerModel

VERSIONS = (1, 2)
CONF_FILE = CONF_DIR / "sim" / "v1.yaml"
KNOBS = ("cpu_cores", "gpu_type", "gpu_mem_gb", "batch_size", "gpu_power_pct")
ITEMSIZE = {"float32": 4, "int64": 8}


def conf_file(version: int) -> Path:
    if int(version) not in VERSIONS:
        raise SimError(f"simulator version {version!r} does not exist; allowed: {list(VERSIONS)}")
    return CONF_DIR / "sim" / f"v{int(version)}.yaml"


@lru_cache(maxsize=None)
def load_sim_params(path: str | Path = CONF_FILE):
    return OmegaConf.load(path)


@dataclass
class _BatchOps:
    """One inventory reduced to what costing needs: the executor's kernel plan and the memory it needs."""

    op_types: np.ndarray
    cls: np.ndarray
    flops: np.ndarray
    nbytes: np.ndarray
    n_out: np.ndarray
    launch: np.ndarray | None       # None: every operator is a kernel (v1)
    memory_scale: np.ndarray | None
    mem_bytes: np.ndarray   # parameters + output activation per operator (for the memory profile)
    kernels: int
    need_gb: float
    out_bytes: float


@dataclass
class _Grid:
    """Knob arrays of the configurations being simulated, with the defaults of each GPU's 1-GPU instance."""

    gpu_names: np.ndarray
    gpus: dict[str, GPU]
    batch: np.ndarray
    cores: np.ndarray
    mem_cap: np.ndarray
    cap_w: np.ndarray
    cap_fraction: np.ndarray

    def per_gpu(self, field: str) -> np.ndarray:
        return np.array([getattr(self.gpus[g], field) for g in self.gpu_names], dtype=float)


@dataclass
class _Memory:
    micro: np.ndarray
    feasible: np.ndarray
    run_batch: np.ndarray
    n_micro: np.ndarray
    candidates: np.ndarray
    need: np.ndarray
    smallest: int


class Simulator:
    """Simulates one model at a time over arrays of configurations.

    `params`: simulator parameters (conf/sim/v1.yaml by default); `inventory`: `(model, batch) -> Inventory`
    (harness.ops.load_inventory by default); `specs`: `model -> ModelSpec` (harness.models.spec by default).
    """

    def __init__(self, params=None, inventory: Callable | None = None, specs: Callable | None = None):
        self.params = params if params is not None else load_sim_params()
        self.version = int(self.params.get("version", 1))
        if self.version not in VERSIONS:
            raise SimError(f"sim.version={self.version!r} does not exist; allowed: {list(VERSIONS)}")
        self.executor = self.params.get("executor", "eager") if self.version >= 2 else None
        self.inventory = inventory
        self.specs = specs
        self.cost_ = load_params()
        self.power_ = PowerModel(**OmegaConf.to_container(self.params.power)).fit()
        self.pricing_ = pricing.load_pricing(self.params.pricing)
        self.corrections_ = (OmegaConf.to_container(self.params.gpu_corrections)
                             if self.version >= 2 and "gpu_corrections" in self.params else None)
        self._ops: dict[tuple[str, int], _BatchOps] = {}
        self.cache: dict[tuple, dict] = {}  # per-stage derived inputs that do not depend on the knobs (cpu_serving)

    # -- inputs -----------------------------------------------------------------------------------------------
    def spec(self, model: str):
        if self.specs is None:
            from harness.models import spec
            self.specs = spec
        try:
            return self.specs(model)
        except (KeyError, ValueError) as e:
            raise SimError(str(e).strip("'\"")) from None

    def load_inventory(self, model: str, batch: int):
        if self.inventory is None:
            from harness.ops import load_inventory
            self.inventory = load_inventory
        try:
            return self.inventory(model, int(batch))
        except (ValueError, KeyError, FileNotFoundError) as e:
            raise SimError(f"no operator inventory for {model!r} at batch size {batch}: {e}") from None

    def has_inventory(self, model: str, batch: int) -> bool:
        try:
            self.batch_ops(model, batch)
        except SimError:
            return False
        return True

    def batch_ops(self, model: str, batch: int) -> _BatchOps:
        key = (model, int(batch))
        if key not in self._ops:
            inv = self.load_inventory(model, batch)
            ops = inv.ops
            cls = np.array([op_class(t) for t in ops["op_type"]])
            k = executor.plan(self.executor or "eager", ops, cls, self.params.get("executor_params"))
            nbytes_all = (ops["bytes_read"] + ops["bytes_written"]).to_numpy(dtype=float)
            need = memory.required_gb(self.params.memory, float(inv.param_bytes), float(inv.activation_peak_bytes),
                                      float(nbytes_all.max()) if len(nbytes_all) else 0.0)
            v2 = self.version >= 2
            self._ops[key] = _BatchOps(
                op_types=k.op_types, cls=k.cls, flops=k.flops, nbytes=k.nbytes, n_out=k.n_out,
                launch=k.launch if v2 else None, memory_scale=k.memory_scale if v2 else None,
                mem_bytes=k.param_bytes + k.written,
                kernels=int(((k.cls != "view") & (k.launch > 0)).sum()), need_gb=float(need),
                out_bytes=float(k.written[len(ops) - 1]) if len(ops) else 0.0)
        return self._ops[key]

    # -- GPU time per (GPU, micro-batch, power cap) -------------------------------------------------------------
    def kernel_times_us(self, model: str, gpu: str, batch: int, compute_slowdown=1.0, memory_slowdown=1.0):
        """Per-operator kernel times (us) of one forward pass of `batch` on `gpu`, full clocks by default."""
        b = self.batch_ops(model, batch)
        spec = gpu_arrays([gpu_spec(gpu)], self.corrections_)
        return op_times_us(self.cost_, b.cls, b.flops, b.nbytes, b.n_out, spec, compute_slowdown, memory_slowdown,
                           b.launch, b.memory_scale)

    def gpu_times(self, model: str, gpu: str, batch: int, cap_fraction: float, op_types: list[str]):
        """(per-type kernel ms, total kernel ms, clock factor, compute share) of one micro-batch."""
        b = self.batch_ops(model, batch)
        full = self.kernel_times_us(model, gpu, batch)
        compute_bound = self.kernel_times_us(model, gpu, batch, memory_slowdown=0.0)
        share = float(np.sum(np.where(np.isclose(full, compute_bound), full, 0.0)) / max(full.sum(), 1e-12))
        g = gpu_spec(gpu)
        busy = g.busy_power_w / g.tdp_w
        f = float(self.power_.clock_factor(cap_fraction, share, busy))
        slow_c, slow_m = self.power_.slowdowns(f, float(self.power_.clock_factor(1.0, share, busy)))
        t = self.kernel_times_us(model, gpu, batch, slow_c, slow_m) / 1000.0
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
        if "batch_size" not in knobs:
            raise SimError("a configuration to simulate needs the knob 'batch_size'")
        if "gpu_type" not in knobs:
            if self.version < 2:
                raise SimError("a configuration to simulate needs the knob 'gpu_type' (simulator v1 has no "
                               "CPU-only serving model; simulator v2 has)")
            return cpu_serving.simulate(self, model, knobs)
        grid = self._grid(knobs)
        spec = self.spec(model)
        for b in np.unique(grid.batch):
            self.batch_ops(model, int(b))  # every batch asked for needs an inventory
        mem = self._memory_stage(model, grid)
        op_types = sorted({str(t) for c in np.unique(mem.run_batch) for t in self.batch_ops(model, int(c)).op_types})
        gpu_ms, per_type_ms, clock, share, full_batch_ms = self._gpu_stage(model, grid, mem, op_types)
        copy_ms = self._copy_stage(model, spec, grid, mem)
        cpu_ms = self._cpu_stage(model, spec, grid, mem)
        period_ms, rps, latency = self._overlap(grid.batch, mem.feasible, cpu_ms, copy_ms, gpu_ms)
        price = self._price(grid)
        objective = rps / (price / 3600.0)
        power_w = self._power(grid, mem.feasible, gpu_ms, period_ms, clock, share)
        need_run = np.array([self.batch_ops(model, int(m)).need_gb for m in mem.run_batch])
        mem_used = self.params.memory.context_gb + np.where(mem.feasible, need_run, grid.mem_cap)
        op_mem_mb = self._op_memory(model, mem.run_batch, op_types)
        reason = np.array(["" if ok else f"out of memory: even a micro-batch of {mem.smallest} needs "
                           f"{mem.need.min():.2f} GB, more than the {cap:g} GB cap"
                           for ok, cap in zip(mem.feasible, grid.mem_cap)])
        return {"feasible": mem.feasible, "reason": reason, "rps": rps, "latency_ms": latency,
                "price_per_hour": price, "objective": np.where(mem.feasible, objective, 0.0),
                "gpu_mem_used_gb": mem_used, "power_w": power_w, "gpu_batch_time_ms": full_batch_ms,
                "gpu_stage_ms": gpu_ms, "cpu_stage_ms": cpu_ms, "copy_stage_ms": copy_ms, "microbatch": mem.micro,
                "clock_factor": clock, "op_types": op_types, "op_time_ms": per_type_ms, "op_mem_mb": op_mem_mb}

    def _grid(self, knobs: dict[str, np.ndarray]) -> _Grid:
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
        return _Grid(gpu_names, gpus, batch, cores, mem_cap, cap_w, cap_w / tdp)

    def _memory_stage(self, model: str, grid: _Grid) -> _Memory:
        batch = grid.batch
        # micro-batch candidates: powers of two up to the largest batch (those with an inventory), and the batches
        top = int(batch.max())
        candidates = np.array([c for c in np.unique(np.concatenate([2 ** np.arange(int(np.log2(top)) + 1),
                                                                      np.unique(batch)]))
                               if self.has_inventory(model, int(c))])
        need = np.array([self.batch_ops(model, int(c)).need_gb for c in candidates])
        micro = memory.choose_microbatch(batch, np.minimum(grid.mem_cap, grid.per_gpu("mem_gb")), candidates, need)
        feasible = micro > 0
        run_batch = np.where(feasible, micro, batch)
        n_micro = np.where(feasible, batch // np.maximum(micro, 1), 1)
        smallest = int(candidates.min()) if len(candidates) else int(batch.min())
        return _Memory(micro, feasible, run_batch, n_micro, candidates, need, smallest)

    def _gpu_stage(self, model: str, grid: _Grid, mem: _Memory, op_types: list[str]):
        """(GPU stage ms, per-type ms, clock factor, compute share, whole batch ms at full power without cap)."""
        n = len(grid.batch)
        gpu_names, run_batch, cap_fraction, batch = grid.gpu_names, mem.run_batch, grid.cap_fraction, grid.batch
        kernel_ms, per_type_ms = np.zeros(n), np.zeros((n, len(op_types)))
        clock, share = np.ones(n), np.ones(n)
        full_batch_ms = np.zeros(n)
        for g in grid.gpus:
            for m in np.unique(run_batch[gpu_names == g]):
                for c in np.unique(cap_fraction[(gpu_names == g) & (run_batch == m)]):
                    rows = (gpu_names == g) & (run_batch == m) & (cap_fraction == c)
                    types_t, total, f, s = self.gpu_times(model, g, int(m), float(c), op_types)
                    kernel_ms[rows], per_type_ms[rows], clock[rows], share[rows] = total, types_t, f, s
            for b in np.unique(batch[gpu_names == g]):
                rows = (gpu_names == g) & (batch == b)
                full_batch_ms[rows] = self.gpu_times(model, g, int(b), 1.0, op_types)[1]

        nz = self.params.noise
        model_effect = np.ones(n)
        full_effect = np.ones(n)
        for g in grid.gpus:
            rows = gpu_names == g
            model_effect[rows] = np.exp(noise.model_log_effect(nz.world_seed, nz.model_effect_scale, model, g,
                                                               run_batch[rows]))
            full_effect[rows] = np.exp(noise.model_log_effect(nz.world_seed, nz.model_effect_scale, model, g,
                                                              batch[rows]))
        penalty = 1.0 + self.params.memory.microbatch_penalty * (mem.n_micro - 1)
        gpu_ms = mem.n_micro * kernel_ms * model_effect * penalty
        return gpu_ms, per_type_ms * mem.n_micro[:, None], clock, share, full_batch_ms * full_effect

    def _copy_stage(self, model: str, spec, grid: _Grid, mem: _Memory) -> np.ndarray:
        in_bytes = sum(float(np.prod(i.shape)) * ITEMSIZE[i.dtype] for i in spec.inputs)
        out_bytes = np.array([self.batch_ops(model, int(m)).out_bytes for m in mem.run_batch]) * mem.n_micro
        return (grid.batch * in_bytes + out_bytes) / (grid.per_gpu("pcie_gbps") * 1e9) * 1000.0

    def _cpu_stage(self, model: str, spec, grid: _Grid, mem: _Memory) -> np.ndarray:
        p = self.params
        nz = p.noise
        out_values = self.batch_ops(model, mem.smallest).out_bytes / 4.0 / mem.smallest if spec.family == "gan" \
            else 0.0
        req_ms = cpu.request_ms(p.cpu, spec.input_kind, spec.input_shape, out_values, spec.family)
        req_ms *= np.exp(noise.cpu_log_effect(nz.world_seed, nz.model_effect_scale, model))
        kernels = np.array([self.batch_ops(model, int(m)).kernels for m in mem.run_batch]) * mem.n_micro
        dispatch = cpu.dispatch_ms(p.cpu, kernels)
        return cpu.cpu_stage_ms(p.cpu, grid.cores, grid.batch * req_ms, dispatch)

    def _overlap(self, batch, feasible, cpu_ms, copy_ms, gpu_ms):
        """(period ms, requests/s, latency ms) of the pipelined stages."""
        k = self.params.pipeline.overlap_exponent
        period_ms = (cpu_ms ** k + copy_ms ** k + gpu_ms ** k) ** (1.0 / k)
        rps = np.where(feasible, batch / period_ms * 1000.0, 0.0)
        return period_ms, rps, cpu_ms + copy_ms + gpu_ms

    def _price(self, grid: _Grid) -> np.ndarray:
        price = np.zeros(len(grid.batch))
        for g, spec_g in grid.gpus.items():
            rows = grid.gpu_names == g
            price[rows] = pricing.price_per_hour(self.pricing_, spec_g, grid.cores[rows], grid.mem_cap[rows],
                                                 grid.cap_w[rows])
        return price

    def _power(self, grid: _Grid, feasible, gpu_ms, period_ms, clock, share) -> np.ndarray:
        util = np.clip(gpu_ms / period_ms, 0.0, 1.0)
        idle = grid.per_gpu("idle_w")
        tdp = grid.per_gpu("tdp_w")
        busy_frac = grid.per_gpu("busy_power_w") / tdp
        busy_w = np.minimum(tdp * self.power_.draw_fraction(clock, share, busy_frac), grid.cap_w)
        return np.where(feasible, idle + (busy_w - idle) * util, idle)

    def _op_memory(self, model: str, run_batch: np.ndarray, op_types: list[str]) -> np.ndarray:
        op_mem_mb = np.zeros((len(run_batch), len(op_types)))
        for m in np.unique(run_batch):
            b = self.batch_ops(model, int(m))
            op_mem_mb[run_batch == m] = [b.mem_bytes[b.op_types == o].sum() / 1e6 for o in op_types]
        return op_mem_mb

    # -- repetitions ------------------------------------------------------------------------------------------
    def repetitions(self, expected: dict, reps: int, rng: np.random.Generator) -> dict:
        """Noisy repetitions of expected measurements: (n, reps) arrays per field (the fields `expected` has)."""
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
        out = {"rps": rps, "latency_p50_ms": np.where(ok, p50, np.nan),
               "latency_p99_ms": np.where(ok, p50 * (1.0 + tail), np.nan),
               "price_per_hour": price, "objective": np.where(ok, rps / (price / 3600.0), 0.0)}
        if "gpu_mem_used_gb" in expected:
            out["gpu_mem_used_gb"] = np.repeat(expected["gpu_mem_used_gb"][:, None], reps, axis=1)
            out["power_w"] = expected["power_w"][:, None] * watts
        return out
