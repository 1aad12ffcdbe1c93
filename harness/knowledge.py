"""What a transfer searcher may learn from offline, selected by the harness (never by the searcher), and the
code version that keys its cached fitted state.

`select_knowledge` loads the split's source traces and, by protocol, the released operator resource curves
(`kop_curves` auxiliary tables) the run allows: "strict" = curves released with source models only (the
authors' release has curves for its target models only, so strict gives none there); "authors" = the target's
own released curves, as the authors' code uses them, passed without the target's name.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.metadata
import sys
from pathlib import Path
from types import ModuleType
from typing import Sequence

from harness.search import Knowledge, Searcher
from harness.traces import TraceSet

CURVES_TABLE = "kop_curves"
# harness modules every searcher may depend on (DESIGN, layering); their code shapes every fitted state
_HARNESS_MODULES = ("harness.search", "harness.space", "harness.traces", "harness.ops.kops", "harness.knowledge",
                    "harness.oracle", "harness.constraints")


def select_knowledge(traces: TraceSet, sources: Sequence[str], target: str, protocol: str) -> Knowledge:
    """The knowledge a run with this split, target and protocol hands to `fit`."""
    source_traces = traces.load_many(sources)
    if protocol == "authors":
        aux = traces.load(target).auxiliary
        curves = {"target": aux[CURVES_TABLE]} if CURVES_TABLE in aux else {}
    else:
        curves = {t.model: t.auxiliary[CURVES_TABLE] for t in source_traces if CURVES_TABLE in t.auxiliary}
    return Knowledge(tuple(source_traces), curves, protocol)


def code_version(searcher: Searcher) -> str:
    """Package version plus a SHA-256 over the source files of the searcher's package (or its module, for a
    searcher in a module of its own, e.g. a user's), of the harness modules a search runs on, and of every other
    module that the searcher's class (and its base classes) import names from (e.g. `harness.surrogate` for the GP
    baselines): a fitted state cached, or a job finished, under another version of that code is not reused."""
    return _code_version(type(searcher))


@functools.lru_cache(maxsize=None)
def _code_version(cls: type) -> str:
    top = importlib.import_module(cls.__module__.split(".")[0])
    top_file = Path(top.__file__)
    files = set(top_file.parent.rglob("*.py")) if hasattr(top, "__path__") else {top_file}
    files |= {Path(importlib.import_module(m).__file__) for m in _HARNESS_MODULES}
    for klass in cls.__mro__:
        for obj in vars(sys.modules[klass.__module__]).values():
            module = sys.modules.get(obj.__name__ if isinstance(obj, ModuleType) else getattr(obj, "__module__", ""))
            if module is not None and getattr(module, "__file__", None):
                files.add(Path(module.__file__))
    digest = hashlib.sha256()
    for file in sorted(files):
        digest.update(str(file.name).encode())
        digest.update(file.read_bytes())
    return f"{importlib.metadata.version('falcon-bench')}+{digest.hexdigest()[:16]}"
