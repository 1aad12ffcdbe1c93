"""The one operator vocabulary of trace profiles: Relay operator names, as `relay_names.py` maps them.

Simulated, imported and measured traces name operator types alike, so that knowledge of one transfers to the
others. `VOCABULARY` is every Relay name of the ATen table, `bias_add` (the row TVM's frontends emit after a
biased convolution or dense layer) and `other`: a measured ATen operator the table has no Relay name for
(e.g. the fused `lstm` kernel, `zeros`), kept in the profile so that time shares still add up to the total.

`canonical_profile` turns a measured (ATen) profile into this vocabulary; traces are checked against it on
load (`check_op_types`).

LLM serving traces (harness/collect/llm.py, docs/llm.md) use the same names where Relay has one: every GEMM
(QKV, output projection, FFN, router, shared experts, logits) is `dense`, RMSNorm with its residual add
`layer_norm` (the nearest Relay normalisation), the gated activations (SiLU-and-multiply, ReLU squared) and the
expert-output merge `multiply`, the embedding lookup `take`, a state-space model's short convolution `conv1d`.
Four LLM kernels have no Relay operator and join the vocabulary as `LLM_OPERATORS`: `attention` (fused attention,
prefill and decode, including MLA and sparse attention), `moe` (fused MoE expert computation), `communication`
(all-reduce, point-to-point and MoE token dispatch between GPUs) and `ssm_scan` (Mamba / gated delta-net scans).
`llm_op_type` maps the library's operator names onto these.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Iterable

from harness.relay_names import ATEN_TO_RELAY, relay_names

OTHER = "other"


def _flat(names) -> set[str]:
    return set(names) if isinstance(names, tuple) else {names}


LLM_OPERATORS = frozenset({"attention", "moe", "communication", "ssm_scan"})
VOCABULARY = frozenset(set().union(*(_flat(v) for v in ATEN_TO_RELAY.values() if v is not None))
                       | {"bias_add", OTHER} | LLM_OPERATORS)

# An AIConfigurator operator name (phase prefix removed) -> operator type: the first pattern it contains wins.
_LLM_PATTERNS = (
    ("dispatch", "communication"), ("allreduce", "communication"), ("p2p", "communication"),
    ("attention", "attention"), ("mla", "attention"), ("dsa", "attention"), ("msa", "attention"),
    ("gemm", "dense"), ("moe", "moe"), ("norm", "layer_norm"), ("conv1d", "conv1d"),
    ("ssm", "ssm_scan"), ("scan", "ssm_scan"), ("recurrence", "ssm_scan"), ("embedding", "take"),
    ("act", "multiply"), ("relu2", "multiply"), ("gate_mul", "multiply"), ("merge", "multiply"),
)
_ALL_REDUCE = re.compile(r"(^|_)ar(_\d+)?$")  # 'ar_1', 'attn_ar', 'moe_ar': an all-reduce


def llm_op_type(op: str) -> str:
    """The vocabulary's type of one AIConfigurator operator ('context_qkv_gemm' -> 'dense'); `other` if none fits."""
    name = op.split("_", 1)[1] if op.startswith(("context_", "generation_")) else op
    if _ALL_REDUCE.search(name):
        return "communication"
    return next((kind for pattern, kind in _LLM_PATTERNS if pattern in name), OTHER)


def unknown_op_types(op_types: Iterable[str]) -> list[str]:
    """The operator types outside the vocabulary, sorted (empty: all known)."""
    return sorted(set(op_types) - VOCABULARY)


def check_op_types(op_types: Iterable[str], where: str) -> None:
    """Refuse operator types outside the vocabulary, in one line that names them."""
    unknown = unknown_op_types(op_types)
    if unknown:
        raise ValueError(f"{where}: operator types {unknown[:10]} are not in the operator vocabulary (Relay "
                         "names, harness/vocabulary.py); a measured profile with ATen names is converted by "
                         "`python -m harness.collect action=canonicalise out=SET`")


def canonical_names(aten: str) -> tuple[str, ...]:
    """Relay names for one measured ATen operator type: () for bookkeeping that is not an operator (dropout in
    eval, aliases, casts), (`other`,) for one the table does not know."""
    try:
        return relay_names(aten)
    except KeyError:
        return (OTHER,)


def canonical_profile(rows: list[dict]) -> list[dict]:
    """A measured profile ([{op_type (ATen), time_ms, mem_mb}]) in the vocabulary, summed per Relay type.

    An ATen operator that Relay expresses as several operators (gelu, silu, hardswish, hardsigmoid) is one
    kernel to the profiler, so its time and memory are split evenly over the Relay operators it expands to.
    Without shapes, `matmul` is `dense` and a convolution is named by its ATen name (conv1d/2d/3d).
    """
    time_ms: dict[str, float] = defaultdict(float)
    mem_mb: dict[str, float] = defaultdict(float)
    for row in rows:
        names = canonical_names(row["op_type"])
        for name in names:
            time_ms[name] += row["time_ms"] / len(names)
            mem_mb[name] += row["mem_mb"] / len(names)
    return [{"op_type": k, "time_ms": time_ms[k], "mem_mb": mem_mb[k]} for k in sorted(time_ms)]
