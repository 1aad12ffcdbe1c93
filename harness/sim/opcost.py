"""Operator cost model: GPU time of one operator from its work (FLOPs, bytes, parallelism) and the GPU's specs.

    t = t_launch(gpu) + max(t_compute / occupancy, t_memory)

    t_launch   = a + b * 1000 / boost_clock_mhz                    (us; kernel launch and scheduling)
    t_compute  = flops / (fp32_tflops * eff_compute[class])
    t_memory   = dram_bytes / (mem_bw_gbps * eff_memory[class]),   dram_bytes = max(bytes - l2_hit * L2, bytes / l2_speedup)
    occupancy  = n_out / (n_out + half_fill[class] * cuda_cores * 1000 / boost_clock_mhz)
                 (few outputs cannot keep every ALU busy; per-thread latency, which shortens with the clock, rules;
                  memory streaming is not limited this way, so time never falls as the batch grows)

Parameters are shared by all GPUs, so a GPU enters only through its specifications: that is what lets the
model predict a GPU it was never fitted on (V100, or any entry a user adds to data/gpus.yaml). They are fitted
by `python -m harness.sim.calibrate` on the authors' measured operator times and stored in data/op_cost.json.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from harness.sim.hardware import GPU, SimError, gpu as gpu_spec

PARAMS_FILE = Path(__file__).resolve().parent / "data" / "op_cost.json"
BYTES_PER_VALUE = 4  # FP32 inference, as in the paper's TensorFlow setting

# Operator type (Relay name without "nn.") -> cost class. Types not listed are costed as elementwise.
OP_CLASS = {
    **dict.fromkeys(["conv1d", "conv2d", "conv3d", "conv1d_transpose", "conv2d_transpose", "conv3d_transpose",
                     "depthwise_conv2d"], "conv"),
    **dict.fromkeys(["dense", "matmul", "batch_matmul", "lstm", "gru", "rnn", "linear"], "gemm"),
    **dict.fromkeys(["transpose", "concatenate", "concat", "split", "strided_slice", "pad", "take", "gather",
                     "embedding", "copy", "layout_transform", "upsampling", "resize2d", "image.resize2d",
                     "tile", "repeat", "where", "one_hot"], "movement"),
    **dict.fromkeys(["reshape", "squeeze", "expand_dims", "flatten", "batch_flatten", "view", "dropout",
                     "identity", "slice_like", "shape_of", "unsqueeze", "contiguous"], "view"),
}
# Arithmetic per output value of elementwise types (the rest count one operation per value).
ELEMENTWISE_FLOPS = {"sigmoid": 4, "tanh": 4, "gelu": 8, "softmax": 5, "log_softmax": 5, "layer_norm": 8,
                     "batch_norm": 2, "exp": 4, "erf": 6, "sqrt": 2, "divide": 1, "power": 4}


def op_class(op_type: str) -> str:
    return OP_CLASS.get(canonical_op(op_type), "elementwise")


def canonical_op(op: str) -> str:
    """Relay operator name without its namespace: "nn.conv2d" -> "conv2d"; "nn.concat" -> "concatenate"."""
    name = op.strip().split(".")[-1] if op.strip().startswith("nn.") else op.strip()
    return {"concat": "concatenate"}.get(name, name)


# -- work of an operator given in the authors' notation -----------------------------------------------------
def parse_shapes(input_shapes: str, batch_size: int) -> list[tuple[int, ...]]:
    """"((-1, 3, 128, 128), (32, 3, 3, 3))" -> [(batch, 3, 128, 128), (32, 3, 3, 3)]."""
    try:
        shapes = ast.literal_eval(input_shapes) if isinstance(input_shapes, str) else input_shapes
    except (ValueError, SyntaxError):
        raise SimError(f"cannot read input shapes {input_shapes!r}; expected e.g. "
                       "'((-1, 3, 128, 128), (32, 3, 3, 3))'") from None
    if shapes and all(isinstance(x, int) for x in shapes):
        shapes = (shapes,)
    return [tuple(batch_size if d == -1 else int(d) for d in s) for s in shapes]


def op_work(op: str, input_shapes: str, batch_size: int) -> tuple[float, float, float]:
    """(FLOPs, bytes moved, output values) of one operator call; convolutions assume stride 1, 'same' padding."""
    name = canonical_op(op)
    shapes = parse_shapes(input_shapes, batch_size)
    sizes = [float(np.prod(s)) for s in shapes]
    if name in ("conv1d", "conv2d", "conv3d") and len(shapes) == 2:
        x, w = shapes
        out = float(x[0] * w[0] * np.prod(x[2:]))
        flops = 2.0 * out * float(np.prod(w[1:]))
        return flops, BYTES_PER_VALUE * (sizes[0] + sizes[1] + out), out
    if name in ("dense", "matmul") and len(shapes) == 2:
        x, w = shapes
        rows = float(np.prod(x[:-1]))
        out = rows * w[0]
        return 2.0 * out * x[-1], BYTES_PER_VALUE * (sizes[0] + sizes[1] + out), out
    cls = op_class(name)
    if cls == "view":
        return 0.0, 0.0, sizes[0]
    if name == "concatenate":
        out = sum(sizes)
    elif cls == "elementwise" and len(shapes) > 1 and all(len(s) == len(shapes[0]) for s in shapes):
        out = float(np.prod(np.max(np.array(shapes), axis=0)))  # broadcast shape
    else:
        out = sizes[0]
    flops = ELEMENTWISE_FLOPS.get(name, 1) * out if cls == "elementwise" else 0.0
    return flops, BYTES_PER_VALUE * (sum(sizes) + out), out


# -- the model ----------------------------------------------------------------------------------------------
@dataclass
class OpCostParams:
    """Fitted parameters (see the module docstring); per-class values are dicts keyed by class name."""

    launch_us: float
    launch_us_per_ghz_inv: float
    l2_hit: float
    l2_speedup: float
    eff_compute: dict = field(default_factory=dict)
    eff_memory: dict = field(default_factory=dict)
    half_fill: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict) -> "OpCostParams":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})


@lru_cache(maxsize=None)
def load_params(path: str | Path = PARAMS_FILE) -> OpCostParams:
    path = Path(path)
    if not path.exists():
        raise SimError(f"no fitted operator cost model at {path}: run `python -m harness.sim.calibrate`")
    return OpCostParams.from_dict(json.loads(path.read_text())["params"])


def gpu_arrays(gpus: list[GPU], corrections=None) -> dict[str, np.ndarray]:
    """Per-GPU specification columns, for vectorised costing of many (operator, GPU) pairs.

    `corrections` (simulator v2, conf/sim/v2.yaml `gpu_corrections`): per GPU name, `sustained_clock_mhz` (the
    clock held under sustained load, replacing the boost clock and scaling the peak FP32 rate with it) and
    `compute_efficiency` (a multiplier on the peak FP32 rate: the architecture's convolution/GEMM kernels).
    """
    keys = ("boost_clock_mhz", "fp32_tflops", "mem_bw_gbps", "l2_mb", "cuda_cores")
    spec = {k: np.array([getattr(g, k) for g in gpus], dtype=float) for k in keys}
    if corrections:
        for i, g in enumerate(gpus):
            c = corrections.get(g.name) or {}
            clock = c.get("sustained_clock_mhz") or g.boost_clock_mhz
            spec["fp32_tflops"][i] *= clock / g.boost_clock_mhz * c.get("compute_efficiency", 1.0)
            spec["boost_clock_mhz"][i] = clock
    return spec


def op_times_us(p: OpCostParams, cls: np.ndarray, flops: np.ndarray, nbytes: np.ndarray, n_out: np.ndarray,
                spec: dict[str, np.ndarray], compute_slowdown: np.ndarray | float = 1.0,
                memory_slowdown: np.ndarray | float = 1.0, launch: np.ndarray | None = None,
                memory_scale: np.ndarray | None = None) -> np.ndarray:
    """Operator times in microseconds; all arguments broadcast together.

    `cls` holds class names; `spec` holds GPU specification arrays (see `gpu_arrays`). The slowdowns stretch the
    compute and the memory term (a power cap lowers clocks; memory-bound work loses less). Simulator v2 passes
    `launch` (0 for an operator fused into its producer's kernel) and `memory_scale` (memory efficiency
    multiplier per operator, e.g. strided transposes), both from its executor (harness/sim/executor.py).
    """
    cls = np.asarray(cls)
    ec = _per_class(p.eff_compute, cls)
    em = _per_class(p.eff_memory, cls)
    half = _per_class(p.half_fill, cls)
    launch_us = p.launch_us + p.launch_us_per_ghz_inv * 1000.0 / spec["boost_clock_mhz"]
    if launch is not None:
        launch_us = launch_us * launch
    if memory_scale is not None:
        em = em * memory_scale
    t_compute = flops / (spec["fp32_tflops"] * 1e6 * ec) * compute_slowdown
    l2_bytes = spec["l2_mb"] * 1e6
    dram = np.maximum(nbytes - p.l2_hit * l2_bytes, nbytes / p.l2_speedup)
    t_memory = dram / (spec["mem_bw_gbps"] * 1e3 * em) * memory_slowdown
    occupancy = n_out / (n_out + half * spec["cuda_cores"] * 1000.0 / spec["boost_clock_mhz"])
    t = launch_us + np.maximum(t_compute / np.maximum(occupancy, 1e-12), t_memory)
    return np.where(cls == "view", 0.0, t)


def _per_class(values: dict, cls: np.ndarray) -> np.ndarray:
    out = np.ones(cls.shape, dtype=float)
    for name, v in values.items():
        out = np.where(cls == name, v, out)
    return out


def op_time_ms(op: str, input_shapes: str, batch_size: int, gpu_type: str, corrections=None) -> float:
    """GPU time in ms of one operator call at full power, e.g.
    `op_time_ms("nn.conv2d", "((-1, 3, 128, 128), (32, 3, 3, 3))", 32, "V100")`; `corrections` as in `gpu_arrays`."""
    if int(batch_size) < 1:
        raise SimError(f"batch size must be a positive integer, got {batch_size!r}")
    flops, nbytes, n_out = op_work(op, input_shapes, int(batch_size))
    spec = gpu_arrays([gpu_spec(gpu_type)], corrections)
    t = op_times_us(load_params(), np.array([op_class(op)]), np.array([flops]), np.array([nbytes]),
                    np.array([n_out]), spec)
    return float(t[0]) / 1000.0
