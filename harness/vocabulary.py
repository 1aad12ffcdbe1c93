"""The one operator vocabulary of trace profiles: Relay operator names, as `relay_names.py` maps them.

Simulated, imported and measured traces name operator types alike, so that knowledge of one transfers to the
others. `VOCABULARY` is every Relay name of the ATen table, `bias_add` (the row TVM's frontends emit after a
biased convolution or dense layer) and `other`: a measured ATen operator the table has no Relay name for
(e.g. the fused `lstm` kernel, `zeros`), kept in the profile so that time shares still add up to the total.

`canonical_profile` turns a measured (ATen) profile into this vocabulary; traces are checked against it on
load (`check_op_types`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from harness.relay_names import ATEN_TO_RELAY, relay_names

OTHER = "other"


def _flat(names) -> set[str]:
    return set(names) if isinstance(names, tuple) else {names}


VOCABULARY = frozenset(set().union(*(_flat(v) for v in ATEN_TO_RELAY.values() if v is not None))
                       | {"bias_add", OTHER})


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
