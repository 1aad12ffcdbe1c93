"""The TVM front end (extra `tvm`): import an ONNX model with `tvm.relax.frontend.onnx.from_onnx` and list its
operators as Relay operators with shapes, FLOPs and bytes, the same `Inventory` the torch.export front end
gives. Models from TensorFlow, PaddlePaddle, ... arrive as ONNX; zoo models are exported to ONNX first.

Relax names map to Relay names through the one table in `harness/ops/relax_names.py`.
"""
from __future__ import annotations

import copy
import io
import warnings
from math import prod
from pathlib import Path

import onnx
import pandas as pd
import tvm
from tvm import relax
from tvm.relax.frontend.onnx import from_onnx

from harness.ops.costs import bytes_moved, flops
from harness.ops.inventory import COLUMNS, Inventory, shapes_text
from harness.ops.relax_names import ALIASING, CONSTANT, LAYER_TYPES, relay_names

# Only the data input is listed for these (their other inputs are per-channel vectors), as in export.py.
DATA_ONLY = {"batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm"}
ONNX_OPSET = 17  # LayerNormalization is a single ONNX operator from opset 17


def onnx_export(module, inputs: tuple) -> onnx.ModelProto:
    """ONNX export of a torch module with torch's TorchScript exporter (`dynamo=False`), batch norm kept.

    Parameter values are irrelevant to an inventory but not to the exporter, which merges equal initialisers
    (a fresh model's batch-norm and layer-norm weights are all ones, its biases all zeros); a copy of the
    module with distinct random values is exported so every parameter stays its own tensor."""
    import torch

    class Positional(torch.nn.Module):
        """Returns the model's output tensors as a flat tuple (transformers' models return dict-like outputs
        and reject the TorchScript tracer's calling convention)."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, *args):
            out = self.model(*args)
            values = out.values() if isinstance(out, dict) else out if isinstance(out, (tuple, list)) else [out]
            return tuple(v for v in values if isinstance(v, torch.Tensor))

    module = copy.deepcopy(module).eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            if tensor.is_floating_point():
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Positional(module), inputs, buffer, dynamo=False, opset_version=ONNX_OPSET,
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
    return onnx.load_from_string(buffer.getvalue())


def inventory_from_onnx(model: str | Path | onnx.ModelProto, batch_size: int | None = None,
                        name: str | None = None) -> Inventory:
    """The operator inventory of an ONNX model (a path or a loaded `ModelProto`). `batch_size` replaces the
    first dimension of every graph input; None keeps the shapes the file declares (all must be static)."""
    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model))
    name = name or (Path(model).stem if not isinstance(model, onnx.ModelProto) else proto.graph.name)
    shapes = _input_shapes(proto, batch_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # input renaming notices
        try:
            module = from_onnx(proto, shape_dict=shapes, keep_params_in_input=True)
        except Exception as err:  # the converter raises many types; its message names the ONNX operator
            raise RuntimeError(f"{name}: TVM {tvm.__version__} cannot import the ONNX model: "
                               f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from err
    shape_batch = batch_size or next(iter(shapes.values()))[0]
    return _walk(module["main"], name, shape_batch)


def _input_shapes(proto: onnx.ModelProto, batch_size: int | None) -> dict[str, list[int]]:
    initialisers = {i.name for i in proto.graph.initializer}
    shapes = {}
    for value in proto.graph.input:
        if value.name in initialisers:
            continue
        dims = [d.dim_value if d.HasField("dim_value") else None for d in value.type.tensor_type.shape.dim]
        if batch_size is not None and dims:
            dims[0] = batch_size
        if None in dims:
            raise ValueError(f"input {value.name} has a symbolic dimension {dims}: give batch_size")
        shapes[value.name] = dims
    return shapes


def module_inventory(module, inputs: tuple, name: str) -> Inventory:
    """The inventory of a torch module on example inputs, through ONNX and TVM."""
    return inventory_from_onnx(onnx_export(module, inputs), inputs[0].shape[0], name)


def inventory(model_name: str, batch_size: int) -> Inventory:
    """The operator inventory of a zoo model at a batch size, through ONNX and TVM (builds real weights)."""
    import torch

    from harness.models import build, example_input

    torch.manual_seed(0)
    return module_inventory(build(model_name), example_input(model_name, batch_size), model_name)


def _leaves(expr) -> list:
    """The tensor-valued leaves of a call argument (tuples flattened; shapes and scalars are not tensors)."""
    if isinstance(expr, relax.Tuple):
        return [leaf for field in expr.fields for leaf in _leaves(field)]
    return [expr] if isinstance(getattr(expr, "ty", None), relax.TensorType) else []


def _tensor_types(ty) -> list:
    if isinstance(ty, relax.TensorType):
        return [ty]
    if isinstance(ty, relax.TupleType):
        return [t for field in ty.fields for t in _tensor_types(field)]
    return []


def _shape(ty) -> tuple[int, ...]:
    if not isinstance(ty.shape, relax.ShapeExpr):
        raise ValueError(f"tensor of unknown shape: {ty}")
    try:
        return tuple(int(d) for d in ty.shape.values)
    except TypeError:
        raise ValueError(f"tensor of symbolic shape: {ty}") from None


def _nbytes(ty) -> int:
    return prod(_shape(ty)) * tvm.runtime.DataType(ty.dtype).bits // 8


class _Graph:
    """A Relax function's bindings in order, with which values are constants (parameters, folded values)."""

    def __init__(self, func: relax.Function):
        n_inputs = int(func.attrs["num_input"]) if func.attrs and "num_input" in func.attrs else len(func.params)
        self.inputs = list(func.params[:n_inputs])
        self.params = list(func.params[n_inputs:])
        self.bindings = [b for block in func.body.blocks for b in block.bindings]
        self.output = func.body.body
        self.constants = set(self.params)

    def is_constant(self, expr) -> bool:
        if isinstance(expr, relax.Tuple):
            return all(self.is_constant(f) for f in expr.fields)
        return not isinstance(expr, relax.Var) or expr in self.constants


def _walk(func: relax.Function, model_name: str, batch_size: int) -> Inventory:
    graph = _Graph(func)
    param_bytes = float(sum(_nbytes(p.ty) for p in graph.params))
    rows, made_by = [], {}  # made_by: var -> Relay type of the row that produced it
    for binding in graph.bindings:
        var, value = binding.var, binding.value
        if not isinstance(value, relax.Call):  # tuples, tuple items, aliases: no operator
            if _all_constant(graph, value):
                graph.constants.add(var)
            continue
        if not isinstance(value.op, tvm.ir.Op):
            raise ValueError(f"{model_name}: call of a function ({value.op}) is not supported")
        op = value.op.name
        args = [leaf for arg in value.args for leaf in _leaves(arg)]
        if op in CONSTANT or all(graph.is_constant(a) for a in args):  # folded at compile time
            graph.constants.add(var)
            continue
        try:
            names = relay_names(op, len(_shape(args[1].ty)) if len(args) > 1 else None)
        except KeyError:
            raise ValueError(f"{model_name}: no Relay name for {op}; add it to "
                             "harness/ops/relax_names.py") from None
        if not names:
            continue
        if op == "relax.add" and _bias(graph, args, made_by) is not None:
            rows.append(_bias_row(var, _bias(graph, args, made_by)))
        else:
            rows.extend(_rows(names, var, args, graph))
        made_by[var] = rows[-1][0]
    ops = pd.DataFrame(rows, columns=COLUMNS)
    return Inventory(model_name, batch_size, ops, _activation_peak(graph), param_bytes)


def _all_constant(graph: _Graph, value) -> bool:
    if isinstance(value, relax.TupleGetItem):
        return graph.is_constant(value.tuple_value)
    return graph.is_constant(value)


def _bias(graph: _Graph, args: list, made_by: dict):
    """The constant vector an add adds to a conv*/dense output (its bias), or None."""
    if len(args) != 2:
        return None
    for layer_out, bias in (args, args[::-1]):
        if (made_by.get(layer_out) in LAYER_TYPES and graph.is_constant(bias)
                and sum(d > 1 for d in _shape(bias.ty)) <= 1):
            return bias
    return None


def _bias_row(var, bias) -> tuple:
    out, size = _shape(var.ty), prod(_shape(bias.ty))
    out_bytes, bias_bytes = float(_nbytes(var.ty)), float(_nbytes(bias.ty))
    return ("bias_add", shapes_text([out, (size,)]), str(out), float(prod(out)), out_bytes + bias_bytes,
            out_bytes, bias_bytes)


def _rows(names, var, args, graph: _Graph) -> list[tuple]:
    """One row per Relay operator; an expanded activation gives one row per part (as export.py does)."""
    listed = [a for a in args if not _immediate(a)]
    main = listed[:1] if names[0] in DATA_ONLY else listed
    in_shapes = [_shape(a.ty) for a in main]
    if names[0] == "dense":  # Relay's dense takes its weight as (units, input), matmul as (input, units)
        in_shapes[1] = in_shapes[1][::-1]
    in_sizes = [tvm.runtime.DataType(a.ty.dtype).bits // 8 for a in main]
    outs = _tensor_types(var.ty)
    out_shapes = [_shape(t) for t in outs]
    out_text = shapes_text(out_shapes) if len(outs) > 1 else str(out_shapes[0])
    params = float(sum(_nbytes(a.ty) for a in listed if graph.is_constant(a)))
    out_size = tvm.runtime.DataType(outs[0].dtype).bits // 8
    rows = []
    for k, name in enumerate(names):
        read, written = bytes_moved(name, in_shapes, out_shapes, in_sizes, out_size)
        rows.append((name, shapes_text(in_shapes), out_text, flops(name, in_shapes, out_shapes), read, written,
                     params if k == 0 else 0.0))
        in_shapes, in_sizes = out_shapes, [out_size] * len(out_shapes)  # later parts read the previous output
    return rows


def _immediate(expr) -> bool:
    """A 0-d constant written into the program (Relay's immediate scalars): neither an input nor a parameter."""
    return not isinstance(expr, relax.Var) and expr.ty.ndim == 0


def _activation_peak(graph: _Graph) -> float:
    """Largest total of live activation tensors in binding order: a tensor lives from the binding that makes
    it to its last reader; aliasing operators, tuples and tuple items share their source's storage; inputs
    are live from the start, outputs to the end; constants are not activations."""
    refs, size, last_use = {}, {}, {}
    for var in graph.inputs:
        refs[var] = {var}
        size[var] = float(_nbytes(var.ty))
        last_use[var] = -1
    made_at = {}
    for k, binding in enumerate(graph.bindings):
        var, value = binding.var, binding.value
        if var in graph.constants:
            continue
        if isinstance(value, relax.Call):
            sources = [a for arg in value.args for a in _leaves(arg) if a in refs]
            for source in sources:
                for key in refs[source]:
                    last_use[key] = k
            if value.op.name in ALIASING and sources:
                refs[var] = set(refs[sources[0]])
                continue
            refs[var] = {var}
            size[var] = float(sum(_nbytes(t) for t in _tensor_types(var.ty)))
            last_use[var], made_at[var] = k, k
        else:  # tuple, tuple item or alias of other values
            fields = value.fields if isinstance(value, relax.Tuple) else [
                value.tuple_value if isinstance(value, relax.TupleGetItem) else value]
            refs[var] = set().union(*(refs.get(f, set()) for f in fields))
            for key in refs[var]:
                last_use[key] = max(last_use[key], k)
    end = len(graph.bindings)
    outputs = graph.output.fields if isinstance(graph.output, relax.Tuple) else [graph.output]
    for out in outputs:
        for key in refs.get(out, ()):
            last_use[key] = end
    frees = {}
    for key, k in last_use.items():
        frees.setdefault(k, []).append(key)
    live = sum(size[v] for v in graph.inputs)
    peak = live
    for key in frees.get(-1, ()):
        live -= size[key]
    for k in range(len(graph.bindings)):
        var = graph.bindings[k].var
        if made_at.get(var) == k:
            live += size[var]
            peak = max(peak, live)
        for key in frees.get(k, ()):
            live -= size[key]
    return peak
