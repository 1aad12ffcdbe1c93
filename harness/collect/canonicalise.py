"""Bring a measured trace set written with ATen operator names into the one operator vocabulary (Relay names):
`python -m harness.collect action=canonicalise out=SET`.

Measured values are kept as they are (measurements, runs); each model's operator profile is converted with
`harness.vocabulary.canonical_profile`, and the ATen profile as measured is kept in the auxiliary table
`operators_raw`. A model that already has that table is left unchanged, so running it twice changes nothing.
The set is rewritten atomically.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from harness.collect.collector import OPERATOR_PROFILE, profile_rows
from harness.collect.journal import CollectError
from harness.vocabulary import canonical_profile
from harness.traces import Trace, TraceSet, write_trace_set

RAW = "operators_raw"


def canonicalise_set(path: str | Path) -> list[str]:
    """Convert every model of the set that still has ATen operator names; returns the converted models."""
    tset = TraceSet(path)
    traces, converted = [], []
    for model in tset.models:
        tset.verify(model)
        folder = tset.path / model
        aux = {p.stem[4:]: pd.read_parquet(p) for p in sorted(folder.glob("aux-*.parquet"))}
        measurements = pd.read_parquet(folder / "measurements.parquet")
        ops_file = folder / "operators.parquet"
        metadata = dict(tset.manifest["models"][model])
        if RAW not in aux and ops_file.exists():
            if metadata.get("provenance") != "measured":
                raise CollectError(f"{path}: model {model!r} is {metadata.get('provenance')!r}, not measured: only "
                                   "measured profiles carry ATen names")
            raw = pd.read_parquet(ops_file)[["config_index", "op_type", "time_ms", "mem_mb"]]
            aux[RAW] = raw
            rows = []
            for index, group in raw.groupby("config_index", sort=True):
                rows.extend(profile_rows(int(index), canonical_profile(group.to_dict("records"))))
            operators = pd.DataFrame(rows)
            metadata["operator_profile"] = OPERATOR_PROFILE
            metadata["operator_vocabulary_converted"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            converted.append(model)
        else:
            operators = pd.read_parquet(ops_file) if ops_file.exists() else None
        traces.append(Trace(model, tset.space, measurements, operators, metadata, aux))
    if converted:
        write_trace_set(tset.path, traces, tset.name, tset.manifest.get("info"))
    return converted
