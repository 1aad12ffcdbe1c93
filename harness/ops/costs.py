"""FLOPs and bytes of one Relay operator from its input and output shapes (shared by both front ends).

FLOPs count a multiply-add as two. Data movement (reshape, transpose, concatenate, take, ...) has no FLOPs but
reads and writes its tensors; `take` (embedding lookup) reads only the gathered rows, not the whole table.
"""
from math import prod

Shape = tuple[int, ...]

# FLOPs per output element of normalisations and composite elementwise operators.
PER_ELEMENT = {"batch_norm": 2, "layer_norm": 5, "group_norm": 5, "softmax": 5, "log_softmax": 5}
MOVEMENT = {"reshape", "transpose", "expand_dims", "squeeze", "broadcast_to", "strided_slice", "take", "gather",
            "concatenate", "stack", "split", "tile", "repeat", "pad", "copy", "upsampling"}


def flops(op: str, inputs: list[Shape], outputs: list[Shape]) -> float:
    """FLOPs of one operator instance."""
    out = sum(prod(s) for s in outputs)
    if op in ("conv1d", "conv2d", "conv3d"):
        return 2.0 * out * prod(inputs[1][1:])  # weight (C_out, C_in/groups, k...)
    if op.endswith("_transpose"):
        return 2.0 * prod(inputs[0]) * prod(inputs[1][1:])  # weight (C_in, C_out/groups, k...)
    if op in ("dense", "batch_matmul"):
        return 2.0 * out * inputs[0][-1]
    if op in ("max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_avg_pool1d", "mean", "sum", "max",
              "cumsum"):
        return float(prod(inputs[0]))  # every input element is visited once
    if op in MOVEMENT:
        return 0.0
    return float(PER_ELEMENT.get(op, 1) * out)


def bytes_moved(op: str, inputs: list[Shape], outputs: list[Shape], itemsizes: list[int],
                out_itemsize: int = 4) -> tuple[float, float]:
    """(bytes read, bytes written) of one operator instance."""
    written = float(sum(prod(s) for s in outputs) * out_itemsize)
    if op == "take":  # the gathered rows and the indices
        return written + prod(inputs[-1]) * itemsizes[-1], written
    return float(sum(prod(s) * size for s, size in zip(inputs, itemsizes))), written
