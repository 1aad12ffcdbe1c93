"""The one table that maps TVM Relax operators (what `tvm.relax.frontend.onnx.from_onnx` yields) to the Relay
operator names of the paper, written without the "nn." prefix, as `relay_names.py` does for ATen.

Rules beside the table (the TVM front end applies them; they mirror the torch.export front end's rules):
- `relax.matmul` is `dense` when its right operand is a 2-D matrix, `batch_matmul` otherwise; a dense row
  lists its weight in Relay's (units, input) layout, the transpose of matmul's right operand;
- an `add` of a constant vector (at most one dimension above 1) to the output of a conv*/dense is `bias_add`,
  which is what Relay's ONNX frontend emitted and what Relax writes as reshape + add (or matmul + add);
- activations that Relay has no single operator for expand into the elementwise operators TVM emits
  (gelu, silu), as in `relay_names.py`;
- `None` marks bookkeeping that is not an operator (shape arithmetic, dtype casts);
- an operator whose inputs are all constants (parameters, constants, shapes, created tensors) is folded away,
  as TVM's FoldConstant does (e.g. the transposed weight before a matmul, a reshaped bias);
- 0-d constants (immediate scalars such as the 0.5 of gelu) are not listed as inputs.

Known differences from the torch.export front end (tests/ops/test_tvm_frontend.py checks each):
- torchvision's adaptive_avg_pool2d((1, 1)) arrives as ONNX GlobalAveragePool, which Relax writes as `mean`;
- gelu arrives decomposed by the ONNX exporter as divide, erf, add, multiply, multiply (torch: multiply, erf,
  multiply, add, multiply): the same five operators, a divide for a multiply;
- Relax's Gather converter normalises negative indices (`less`, `add`, `where` on the int64 index tensor)
  before each embedding lookup (`take`) whose indices are not constants: three integer operators per lookup.
"""

RELAX_TO_RELAY: dict[str, str | tuple[str, ...] | None] = {
    # compute
    "relax.nn.conv1d": "conv1d", "relax.nn.conv2d": "conv2d", "relax.nn.conv3d": "conv3d",
    "relax.nn.conv1d_transpose": "conv1d_transpose", "relax.nn.conv2d_transpose": "conv2d_transpose",
    "relax.matmul": "dense",
    # normalisation
    "relax.nn.batch_norm": "batch_norm", "relax.nn.layer_norm": "layer_norm", "relax.nn.group_norm": "group_norm",
    "relax.nn.instance_norm": "instance_norm", "relax.nn.rms_norm": "rms_norm",
    # activations
    "relax.nn.relu": "relu", "relax.sigmoid": "sigmoid", "relax.tanh": "tanh", "relax.clip": "clip",
    "relax.nn.leakyrelu": "leaky_relu", "relax.nn.prelu": "prelu", "relax.nn.softmax": "softmax",
    "relax.nn.log_softmax": "log_softmax", "relax.nn.gelu": ("multiply", "erf", "multiply", "add", "multiply"),
    "relax.nn.silu": ("sigmoid", "multiply"),
    # elementwise arithmetic
    "relax.add": "add", "relax.subtract": "subtract", "relax.multiply": "multiply", "relax.divide": "divide",
    "relax.floor_divide": "floor_divide", "relax.power": "power", "relax.sqrt": "sqrt", "relax.rsqrt": "rsqrt",
    "relax.exp": "exp", "relax.log": "log", "relax.erf": "erf", "relax.negative": "negative", "relax.abs": "abs",
    "relax.floor": "floor", "relax.ceil": "ceil", "relax.round": "round", "relax.sin": "sin", "relax.cos": "cos",
    "relax.where": "where", "relax.maximum": "maximum", "relax.minimum": "minimum", "relax.equal": "equal",
    "relax.not_equal": "not_equal", "relax.less": "less", "relax.greater": "greater",
    "relax.greater_equal": "greater_equal", "relax.less_equal": "less_equal", "relax.logical_and": "logical_and",
    "relax.logical_or": "logical_or", "relax.logical_not": "logical_not",
    # pooling and reductions
    "relax.nn.max_pool1d": "max_pool1d", "relax.nn.max_pool2d": "max_pool2d", "relax.nn.avg_pool1d": "avg_pool1d",
    "relax.nn.avg_pool2d": "avg_pool2d", "relax.nn.adaptive_avg_pool1d": "adaptive_avg_pool1d",
    "relax.nn.adaptive_avg_pool2d": "adaptive_avg_pool2d", "relax.mean": "mean", "relax.sum": "sum",
    "relax.max": "max", "relax.min": "min", "relax.prod": "prod", "relax.variance": "variance",
    "relax.cumsum": "cumsum", "relax.argmax": "argmax", "relax.argmin": "argmin",
    # data movement
    "relax.reshape": "reshape", "relax.flatten": "reshape", "relax.permute_dims": "transpose",
    "relax.expand_dims": "expand_dims", "relax.squeeze": "squeeze", "relax.broadcast_to": "broadcast_to",
    "relax.strided_slice": "strided_slice", "relax.dynamic_strided_slice": "strided_slice", "relax.take": "take",
    "relax.gather_elements": "gather", "relax.gather_nd": "gather_nd", "relax.concat": "concatenate",
    "relax.stack": "stack", "relax.split": "split", "relax.tile": "tile", "relax.repeat": "repeat",
    "relax.nn.pad": "pad", "relax.image.resize2d": "upsampling", "relax.flip": "reverse",
    "relax.scatter_elements": "scatter", "relax.one_hot": "one_hot",
    # not operators
    "relax.astype": None, "relax.shape_of": None, "relax.shape_to_tensor": None, "relax.tensor_to_shape": None,
    "relax.nn.dropout": None,
}

# Operators that only re-describe their input's memory (storage shared), as ALIASING in relay_names.py.
ALIASING = {"relax.reshape", "relax.flatten", "relax.permute_dims", "relax.expand_dims", "relax.squeeze",
            "relax.broadcast_to", "relax.strided_slice", "relax.split", "relax.astype", "relax.nn.dropout"}

# Operators whose result is known at compile time whatever their inputs: shapes and created tensors.
CONSTANT = {"relax.shape_of", "relax.shape_to_tensor", "relax.zeros", "relax.ones", "relax.full", "relax.arange",
            "relax.zeros_like", "relax.ones_like", "relax.full_like"}

LAYER_TYPES = {"conv1d", "conv2d", "conv3d", "dense"}


def relay_names(relax_op: str, weight_rank: int | None = None) -> tuple[str, ...]:
    """Relay operator names for one Relax operator (empty: not an operator). `weight_rank` is the rank of
    matmul's right operand. Raises KeyError for a Relax operator not in the table."""
    name = RELAX_TO_RELAY[relax_op]
    if name is None:
        return ()
    if relax_op == "relax.matmul" and weight_rank is not None and weight_rank != 2:
        name = "batch_matmul"
    return name if isinstance(name, tuple) else (name,)
