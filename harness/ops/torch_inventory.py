"""The torch.export front end: trace a zoo model on the meta device (no memory, no weights) and list its
operators as Relay operators with shapes, FLOPs and bytes."""
from __future__ import annotations

import warnings
from math import prod

import pandas as pd
import torch
from torch._decomp import get_decompositions

from harness.models import build, example_input, spec
from harness.ops.costs import bytes_moved, flops
from harness.ops.inventory import COLUMNS, Inventory, shapes_text
from harness.relay_names import ALIASING, CREATION, relay_names

# Recurrent layers are unrolled into per-step dense/split/sigmoid/tanh/multiply/add, as TVM does.
RNN_DECOMPOSITIONS = get_decompositions([torch.ops.aten.lstm.input, torch.ops.aten.gru.input])
# Only the data input is listed for these (their other inputs are per-channel vectors), as in the authors' data.
DATA_ONLY = {"batch_norm", "layer_norm", "group_norm"}


def export_model(model_name: str, batch_size: int, dynamic: bool = False) -> torch.export.ExportedProgram:
    """torch.export of a zoo model on the meta device, with a symbolic batch dimension when `dynamic`;
    a failure names the model and the operator."""
    spec(model_name)
    with torch.device("meta"):
        model = build(model_name)
    inputs = example_input(model_name, batch_size, device="meta")
    batch = torch.export.Dim("batch", min=2, max=1024)
    shapes = tuple({0: batch} for _ in inputs) if dynamic else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            program = torch.export.export(model, inputs, dynamic_shapes=shapes)
            return program.run_decompositions(RNN_DECOMPOSITIONS)
        except Exception as err:  # torch raises many types; the message names the failing operator
            raise RuntimeError(f"{model_name} cannot be exported at batch size {batch_size}: "
                               f"{type(err).__name__}: {str(err).splitlines()[0]}") from err


def _aten_name(node) -> str:
    target = node.target
    if hasattr(target, "overloadpacket"):
        return target.overloadpacket.__name__
    return getattr(target, "__name__", str(target))


def _tensors(value) -> list:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    return []


def _arg_nodes(node) -> list:
    found = []
    for arg in [*node.args, *node.kwargs.values()]:
        found += [item for item in (arg if isinstance(arg, (list, tuple)) else [arg])
                  if isinstance(item, torch.fx.Node)]
    return found


def _input_nodes(node) -> list:
    """The graph nodes a node reads that are single tensors."""
    return [n for n in _arg_nodes(node) if isinstance(n.meta.get("val"), torch.Tensor)]


class Shapes:
    """Concrete shapes of a graph's tensors: symbolic dimensions (a dynamic batch) take the given value."""

    def __init__(self, batch_size: int):
        self.batch_size = batch_size
        self._values = {}  # sympy substitution is slow and a graph repeats few expressions

    def dim(self, d) -> int:
        if not isinstance(d, torch.SymInt):
            return int(d)
        expr = d.node.expr
        if expr not in self._values:
            self._values[expr] = int(expr.subs({sym: self.batch_size for sym in expr.free_symbols}))
        return self._values[expr]

    def shape(self, t: torch.Tensor) -> tuple[int, ...]:
        return tuple(self.dim(d) for d in t.shape)

    def nbytes(self, t: torch.Tensor) -> int:
        return prod(self.shape(t)) * t.element_size()


def inventory(model_name: str, batch_size: int) -> Inventory:
    """The operator inventory of a zoo model at a batch size, from torch.export."""
    return _walk(export_model(model_name, batch_size), model_name, Shapes(batch_size))


def module_inventory(module: torch.nn.Module, inputs: tuple, name: str) -> Inventory:
    """The inventory of any torch module on example inputs (e.g. a model outside the zoo)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.export(module.eval(), inputs).run_decompositions(RNN_DECOMPOSITIONS)
    return _walk(program, name, Shapes(inputs[0].shape[0]))


def inventories(model_name: str, batch_sizes) -> list[Inventory]:
    """Inventories at several batch sizes from one export with a symbolic batch dimension (the same rows as
    `inventory` at each size, much faster); models that do not export dynamically are exported per size."""
    try:
        program = export_model(model_name, batch_sizes[0], dynamic=True)
    except RuntimeError:
        return [inventory(model_name, b) for b in batch_sizes]
    return [_walk(program, model_name, Shapes(b)) for b in batch_sizes]


def _walk(program, model_name: str, shapes: Shapes) -> Inventory:
    graph = program.graph
    signature = program.graph_signature
    constant_names = {**signature.inputs_to_parameters, **signature.inputs_to_buffers,
                      **signature.inputs_to_lifted_tensor_constants}
    constants = {n for n in graph.nodes if n.op == "placeholder" and n.name in constant_names}
    param_bytes = float(sum(shapes.nbytes(n.meta["val"]) for n in constants))

    rows = []
    for node in graph.nodes:
        if node.op != "call_function":
            continue
        aten = _aten_name(node)
        inputs = _input_nodes(node)
        if not _tensors(node.meta.get("val")) and aten != "getitem":  # symbolic sizes: known at compile time
            constants.add(node)
            continue
        if aten in CREATION or all(i in constants for i in _arg_nodes(node)):  # folded at compile time
            constants.add(node)
            continue
        try:
            weight_rank = len(inputs[1].meta["val"].shape) if len(inputs) > 1 else None
            transposed = aten == "convolution" and bool(node.args[6])
            names = relay_names(aten, weight_rank, transposed)
        except KeyError:
            raise ValueError(f"{model_name}: no Relay name for aten.{aten}; add it to "
                             "harness/relay_names.py") from None
        if names:
            rows.extend(_rows(names, node, inputs, constants, shapes))
    ops = pd.DataFrame(rows, columns=COLUMNS)
    peak = _activation_peak(graph, constants, shapes)
    return Inventory(model_name, shapes.batch_size, ops, peak, param_bytes)


def _rows(names, node, inputs, constants, shapes: Shapes) -> list[tuple]:
    """One row per Relay operator; a bias becomes a bias_add row, an expanded activation one row per part."""
    vals = [i.meta["val"] for i in inputs]
    outs = _tensors(node.meta["val"])
    has_bias = names[0] in ("dense", "conv1d", "conv2d", "conv3d") and len(vals) > 2 and vals[2].dim() == 1
    main = vals[:1] if names[0] in DATA_ONLY else vals[:2] if has_bias else vals
    in_shapes = [shapes.shape(v) for v in main]
    out_shapes = [shapes.shape(o) for o in outs]
    out_text = shapes_text(out_shapes) if len(outs) > 1 else str(out_shapes[0])
    # a bias is counted once, in its bias_add row (as the TVM front end does), not in its layer's row too
    layer_vals = vals[:2] if has_bias else vals
    params = float(sum(shapes.nbytes(v) for v, i in zip(layer_vals, inputs) if i in constants))
    out_size = outs[0].element_size()
    rows = []
    for k, name in enumerate(names):
        read, written = bytes_moved(name, in_shapes, out_shapes, [v.element_size() for v in main], out_size)
        rows.append((name, shapes_text(in_shapes), out_text, flops(name, in_shapes, out_shapes), read, written,
                     params if k == 0 else 0.0))
        in_shapes, main = out_shapes, outs  # later parts of an expansion work on the previous part's output
    if has_bias:
        out_bytes, bias_bytes = float(prod(out_shapes[0]) * out_size), float(shapes.nbytes(vals[2]))
        rows.append(("bias_add", shapes_text([out_shapes[0], shapes.shape(vals[2])]), out_text,
                     float(prod(out_shapes[0])), out_bytes + bias_bytes, out_bytes, bias_bytes))
    return rows


def _activation_peak(graph, constants, shapes: Shapes) -> float:
    """Largest total of live activation tensors in execution order: a tensor lives from the operator that
    makes it to its last reader; aliasing operators share their input's storage; outputs live to the end."""
    nodes = list(graph.nodes)
    order = {n: k for k, n in enumerate(nodes)}
    storage, size, last_use = {}, {}, {}
    for node in nodes:
        if node in constants or node.op not in ("placeholder", "call_function"):
            continue
        base = _arg_nodes(node)
        if node.op == "call_function" and _aten_name(node) in ALIASING and base and base[0] in storage:
            storage[node] = storage[base[0]]
        else:
            storage[node] = node
            size[node] = float(sum(shapes.nbytes(t) for t in _tensors(node.meta.get("val"))))
        last_use[storage[node]] = order[node]
    end = len(nodes)
    for node in nodes:
        if node not in storage:
            continue
        key = storage[node]
        for user in node.users:
            last_use[key] = end if user.op == "output" else max(last_use[key], order[user])
    frees = {}
    for key, k in last_use.items():
        frees.setdefault(k, []).append(key)
    live = peak = 0.0
    for k, node in enumerate(nodes):
        if storage.get(node) is node:
            live += size[node]
            peak = max(peak, live)
        for key in frees.get(k, ()):
            live -= size[key]
    return peak
