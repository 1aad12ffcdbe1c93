"""What a transfer searcher may learn from offline, selected by the harness (never by the searcher).

`select_knowledge` loads the split's source traces and, by protocol, the released operator resource curves
(`kop_curves` auxiliary tables) the run allows: "strict" = curves released with source models only (the
authors' release has curves for its target models only, so strict gives none there); "authors" = the target's
own released curves, as the authors' code uses them, passed without the target's name.
"""

from __future__ import annotations

from typing import Sequence

from harness.search import Knowledge
from harness.traces import TraceSet

CURVES_TABLE = "kop_curves"


def select_knowledge(traces: TraceSet, sources: Sequence[str], target: str, protocol: str) -> Knowledge:
    """The knowledge a run with this split, target and protocol hands to `fit`."""
    source_traces = traces.load_many(sources)
    if protocol == "authors":
        aux = traces.load(target).auxiliary
        curves = {"target": aux[CURVES_TABLE]} if CURVES_TABLE in aux else {}
    else:
        curves = {t.model: t.auxiliary[CURVES_TABLE] for t in source_traces if CURVES_TABLE in t.auxiliary}
    return Knowledge(tuple(source_traces), curves, protocol)
