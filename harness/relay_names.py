"""The one table that maps ATen operators (what torch.export yields) to TVM Relay operator names (what the
paper and the authors' operator data use), written without the "nn." prefix.

Rules beside the table:
- a convolution is conv1d/conv2d/conv3d by its weight's rank, conv*_transpose when transposed;
- `matmul` is `dense` when its right operand is a 2-D matrix, `batch_matmul` otherwise (as TVM lowers it);
- a convolution or linear layer with a bias is followed by a `bias_add` row, as TVM's frontends emit it;
- activations that Relay has no single operator for expand into the elementwise operators TVM emits
  (gelu, silu, hardswish, hardsigmoid);
- `None` marks bookkeeping that is not an operator (aliases, dropout in eval, dtype casts);
- an operator whose inputs are all constants (parameters, buffers, created tensors) is folded away, as TVM's
  FoldConstant does (e.g. a transposed weight, YOLO's anchor grid).
"""

ATEN_TO_RELAY: dict[str, str | tuple[str, ...] | None] = {
    # compute
    "conv1d": "conv1d", "conv2d": "conv2d", "conv3d": "conv3d", "convolution": "conv2d",
    "conv_transpose1d": "conv1d_transpose", "conv_transpose2d": "conv2d_transpose",
    "linear": "dense", "addmm": "dense", "mm": "dense", "matmul": "dense", "bmm": "batch_matmul",
    "baddbmm": "batch_matmul",
    # normalisation
    "batch_norm": "batch_norm", "_native_batch_norm_legit_no_training": "batch_norm",
    "layer_norm": "layer_norm", "native_layer_norm": "layer_norm", "group_norm": "group_norm",
    # activations
    "relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "hardtanh": "clip", "clamp": "clip",
    "leaky_relu": "leaky_relu", "softmax": "softmax", "_softmax": "softmax", "log_softmax": "log_softmax",
    "gelu": ("multiply", "erf", "multiply", "add", "multiply"), "silu": ("sigmoid", "multiply"),
    "hardswish": ("add", "clip", "divide", "multiply"), "hardsigmoid": ("add", "clip", "divide"),
    # elementwise arithmetic
    "add": "add", "sub": "subtract", "rsub": "subtract", "mul": "multiply", "div": "divide", "pow": "power",
    "sqrt": "sqrt", "rsqrt": "rsqrt", "exp": "exp", "log": "log", "erf": "erf", "neg": "negative",
    "abs": "abs", "where": "where", "maximum": "maximum", "minimum": "minimum",
    "eq": "equal", "ne": "not_equal", "lt": "less", "gt": "greater", "ge": "greater_equal", "le": "less_equal",
    # pooling and reductions
    "max_pool2d": "max_pool2d", "max_pool2d_with_indices": "max_pool2d", "avg_pool2d": "avg_pool2d",
    "adaptive_avg_pool2d": "adaptive_avg_pool2d", "adaptive_avg_pool1d": "adaptive_avg_pool1d",
    "mean": "mean", "sum": "sum", "amax": "max", "max": "max", "cumsum": "cumsum",
    # data movement
    "view": "reshape", "_unsafe_view": "reshape", "reshape": "reshape", "flatten": "reshape",
    "permute": "transpose", "transpose": "transpose", "t": "transpose", "unsqueeze": "expand_dims",
    "squeeze": "squeeze", "expand": "broadcast_to", "slice": "strided_slice", "select": "take",
    "narrow": "strided_slice", "index": "take", "gather": "gather", "embedding": "take", "cat": "concatenate",
    "stack": "stack", "split": "split", "split_with_sizes": "split", "chunk": "split", "unbind": "split",
    "unsafe_chunk": "split", "unsafe_split": "split", "repeat": "tile", "repeat_interleave": "repeat",
    "constant_pad_nd": "pad", "pad": "pad", "upsample_nearest2d": "upsampling",
    "upsample_bilinear2d": "upsampling", "roi_pool": "roi_pool", "roi_align": "roi_align",
    "clone": "copy", "contiguous": "copy", "masked_fill": "where", "flip": "reverse",
    # not operators
    "dropout": None, "alias": None, "detach": None, "_assert_tensor_metadata": None, "lift_fresh_copy": None,
    "_to_copy": None, "to": None, "type_as": None, "getitem": None,
}

# Operators that only re-describe their input's memory (no kernel when fused; storage shared).
ALIASING = {"view", "_unsafe_view", "reshape", "flatten", "permute", "transpose", "t", "unsqueeze", "squeeze",
            "expand", "slice", "select", "narrow", "split", "split_with_sizes", "chunk", "unbind",
            "unsafe_chunk", "unsafe_split", "alias", "detach", "getitem", "dropout", "contiguous", "_to_copy",
            "to", "type_as", "lift_fresh_copy"}


def relay_names(aten: str, weight_rank: int | None = None, transposed: bool = False) -> tuple[str, ...]:
    """Relay operator names for one ATen operator (empty: not an operator). `weight_rank` is the rank of a
    convolution's weight or of matmul's right operand. Raises KeyError for an ATen operator not in the table."""
    name = ATEN_TO_RELAY[aten]
    if name is None:
        return ()
    if aten in ("convolution", "conv1d", "conv2d", "conv3d") and weight_rank is not None:
        name = f"conv{weight_rank - 2}d" + ("_transpose" if transposed else "")
    elif aten == "matmul" and weight_rank is not None and weight_rank != 2:
        name = "batch_matmul"
    return name if isinstance(name, tuple) else (name,)

# Operators that create a tensor from its shape alone: constants, folded like created tensors.
CREATION = {"new_zeros", "new_ones", "new_full", "new_empty", "zeros_like", "ones_like", "full_like", "empty_like"}
