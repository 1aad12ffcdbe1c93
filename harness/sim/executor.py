"""How an inference executor turns a model's operator inventory into GPU kernels (simulator v2).

    eager   every operator is its own kernel (PyTorch eager, TensorFlow without XLA); v1 behaves this way
    fused   a graph compiler (TVM, TensorRT): element-wise chains are fused into the kernel of their producer,
            and the layout transposes such compilers insert are kernels of their own

Both fold a batch norm that follows a convolution or dense layer into its weights (TensorFlow's inference
optimisation, TVM's FoldScaleAxis), as v1 does. The fused executor:
- an element-wise operator (not a reduction such as softmax or layer_norm) in the epilogue chain of a
  convolution, GEMM, pooling or concatenate runs inside that kernel: no launch, and only `epilogue_fraction` of its stand-alone
  memory traffic (extra operands it still reads, register pressure); its arithmetic is unchanged. Its time
  stays attributed to its own type, as an instrumented profile shows it. Element-wise operators after a
  data-movement operator (split, concatenate, transpose) or a reduction run as kernels of their own, as a
  recurrent cell's gates after a split do (graph compilers do not fuse through multi-output operators).
- Relay's `nn.batch_matmul(x, y)` computes x . y^T: a batch_matmul whose second operand is not produced by a
  transpose gets one inserted (a copy of that operand).
- transposes move data with strided accesses: their memory efficiency is scaled by `transpose_efficiency`.
`epilogue_fraction` and `transpose_efficiency` are calibrated against the authors' operator shares
(`python -m harness.sim.calibrate mode=executor`; conf/sim/v2.yaml says by how much).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.sim.hardware import SimError

EXECUTORS = ("eager", "fused")
FOLDS_BATCH_NORM = ("conv1d", "conv2d", "conv3d", "dense")
# Element-wise types a graph compiler does not fuse into a producer's epilogue (reductions over a whole axis).
NOT_FUSABLE = ("softmax", "log_softmax", "layer_norm", "batch_norm_unfolded", "mean", "sum", "max", "min",
               "argmax", "global_avg_pool2d", "adaptive_avg_pool2d", "avg_pool2d", "max_pool2d", "max_pool1d",
               "avg_pool1d", "l2_normalize", "lrn", "cumsum", "topk")
FUSING_PRODUCERS = ("conv", "gemm")
# Other producers whose output an element-wise chain fuses into (TVM: pooling is out-element-wise fusable,
# concatenate is injective with one output).
FUSING_TYPES = ("max_pool2d", "avg_pool2d", "max_pool1d", "avg_pool1d", "concatenate")


@dataclass
class KernelPlan:
    """Per operator (in inventory order, inserted transposes appended): what one forward pass executes."""

    op_types: np.ndarray
    cls: np.ndarray          # cost class; "view" costs nothing
    flops: np.ndarray
    nbytes: np.ndarray       # memory traffic the kernel (or the fused part of one) moves
    n_out: np.ndarray
    launch: np.ndarray       # 1 for an operator that is a kernel of its own, 0 when fused into its producer
    memory_scale: np.ndarray  # memory efficiency multiplier (transposes under the fused executor)
    written: np.ndarray      # bytes of output activation the operator leaves in memory
    param_bytes: np.ndarray


def folded_batch_norm(op_types: pd.Series) -> np.ndarray:
    """Batch norms right after a convolution or dense layer: folded into its weights, no kernel."""
    return (op_types == "batch_norm").to_numpy() & op_types.shift(1).isin(list(FOLDS_BATCH_NORM)).to_numpy()


def plan(executor: str, ops: pd.DataFrame, cls: np.ndarray, params=None) -> KernelPlan:
    """The kernels `executor` runs for inventory `ops` whose cost classes are `cls` (opcost.op_class)."""
    if executor not in EXECUTORS:
        raise SimError(f"sim.executor={executor!r} is not an executor; allowed: {list(EXECUTORS)}")
    types = ops["op_type"].to_numpy(dtype=str)
    cls = np.array(cls, dtype=object)
    folded = folded_batch_norm(ops["op_type"])
    cls[folded] = "view"
    written = np.where(folded, 0.0, ops["bytes_written"].to_numpy(dtype=float))
    nbytes = (ops["bytes_read"] + ops["bytes_written"]).to_numpy(dtype=float)
    flops = ops["flops"].to_numpy(dtype=float)
    param = np.where(folded, 0.0, ops["param_bytes"].to_numpy(dtype=float))
    launch = np.ones(len(ops))
    memory_scale = np.ones(len(ops))
    if executor == "fused" and len(ops):
        fused = _fused_mask(types, cls)
        launch[fused] = 0.0
        nbytes = np.where(fused, nbytes * params.epilogue_fraction, nbytes)
        inserted = _inserted_transposes(ops, types)
        memory_scale = np.where(types == "transpose", params.transpose_efficiency, 1.0)
        if len(inserted):
            k = len(inserted)
            types = np.concatenate([types, np.full(k, "transpose")])
            cls = np.concatenate([cls, np.full(k, "movement", dtype=object)])
            flops = np.concatenate([flops, np.zeros(k)])
            nbytes = np.concatenate([nbytes, 2.0 * inserted])
            written = np.concatenate([written, inserted])
            param = np.concatenate([param, np.zeros(k)])
            launch = np.concatenate([launch, np.ones(k)])
            memory_scale = np.concatenate([memory_scale, np.full(k, params.transpose_efficiency)])
    return KernelPlan(op_types=types, cls=cls.astype(str), flops=flops, nbytes=nbytes,
                      n_out=np.maximum(written / 4.0, 1.0), launch=launch, memory_scale=memory_scale,
                      written=written, param_bytes=param)


def _fused_mask(types: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """Element-wise operators in an epilogue chain: right after a convolution, GEMM, pooling or concatenate (or
    after an operator already fused into one), skipping free views. A chain that starts after anything else (a split, a
    reduction, the graph input) runs as kernels of its own, as a recurrent cell's gates do."""
    fused = np.zeros(len(types), dtype=bool)
    open_chain = False
    for i, (t, c) in enumerate(zip(types, cls)):
        if c == "view":
            continue
        if c == "elementwise" and t not in NOT_FUSABLE and open_chain:
            fused[i] = True
        else:
            open_chain = c in FUSING_PRODUCERS or t in FUSING_TYPES
    return fused


def _inserted_transposes(ops: pd.DataFrame, types: np.ndarray) -> np.ndarray:
    """Bytes of the second operand of every batch_matmul not fed by a transpose (Relay's x . y^T layout)."""
    out = []
    for i in np.flatnonzero(types == "batch_matmul"):
        previous = types[:i][~np.isin(types[:i], ("reshape", "copy", "expand_dims", "squeeze"))]
        if len(previous) and previous[-1] == "transpose":
            continue
        shapes = _shapes(ops["input_shapes"].iloc[i])
        if len(shapes) >= 2:
            out.append(4.0 * float(np.prod(shapes[1])))
    return np.array(out, dtype=float)


def _shapes(text: str) -> list[tuple[int, ...]]:
    try:
        value = ast.literal_eval(text) if isinstance(text, str) and text else ()
    except (ValueError, SyntaxError):
        return []
    return [tuple(s) for s in value if isinstance(s, tuple)]
