"""One operator vocabulary: measured ATen profiles in Relay names, checked on load, and old sets converted."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from harness.collect.canonicalise import canonicalise_set
from harness.vocabulary import OTHER, VOCABULARY, canonical_profile
from harness.space import Knob, SearchSpace
from harness.traces import Trace, TraceError, TraceSet, _write_parquet, sha256_file, write_trace_set


def test_canonical_profile_maps_splits_and_keeps_unknown_time():
    rows = [{"op_type": "linear", "time_ms": 4.0, "mem_mb": 2.0}, {"op_type": "addmm", "time_ms": 1.0, "mem_mb": 0.0},
            {"op_type": "hardtanh", "time_ms": 1.0, "mem_mb": 1.0}, {"op_type": "silu", "time_ms": 2.0, "mem_mb": 4.0},
            {"op_type": "lstm", "time_ms": 3.0, "mem_mb": 1.0}, {"op_type": "dropout", "time_ms": 0.5, "mem_mb": 0.0}]
    got = {r["op_type"]: (r["time_ms"], r["mem_mb"]) for r in canonical_profile(rows)}
    assert got == {"dense": (5.0, 2.0), "clip": (1.0, 1.0), "sigmoid": (1.0, 2.0), "multiply": (1.0, 2.0),
                   OTHER: (3.0, 1.0)}  # dropout in eval is not an operator
    assert set(got) <= VOCABULARY and "linear" not in VOCABULARY


def _set_with_aten_names(tmp_path):
    space = SearchSpace([Knob("cpu_cores", (1,)), Knob("batch_size", (1, 2))], "s")
    m = pd.DataFrame({"cpu_cores": [1, 1], "batch_size": [1, 2], "rep": [0, 0], "feasible": [True, True],
                      "objective": [1.0, 2.0], "rps": [1.0, 2.0]})
    ops = pd.DataFrame({"config_index": [0, 0, 1], "op_type": ["dense", "relu", "dense"],
                        "time_ms": [2.0, 1.0, 3.0], "mem_mb": [1.0, 1.0, 1.0]})
    path = write_trace_set(tmp_path / "set", [Trace("mlp", space, m, ops, {"provenance": "measured"})], "set")
    # a set written before the vocabulary: ATen names in operators.parquet (the manifest's hash made to match)
    aten = pd.read_parquet(path / "mlp/operators.parquet").replace({"op_type": {"dense": "linear"}})
    _write_parquet(aten, path / "mlp/operators.parquet")
    manifest = TraceSet(path).manifest
    manifest["files"]["mlp/operators.parquet"] = sha256_file(path / "mlp/operators.parquet")
    (path / "MANIFEST.json").write_text(json.dumps(manifest))
    return path


def test_unknown_operator_names_are_refused_on_load_and_converted_by_canonicalise(tmp_path):
    path = _set_with_aten_names(tmp_path)
    with pytest.raises(TraceError, match=r"operator types \['linear'\] are not in the operator vocabulary"):
        TraceSet(path).load("mlp")
    measurements = (path / "mlp/measurements.parquet").read_bytes()
    assert canonicalise_set(path) == ["mlp"]
    trace = TraceSet(path).load("mlp")
    assert sorted(trace.op_profile(0)) == ["dense", "relu"] and trace.op_profile(0)["dense"].time_share == 2 / 3
    assert list(trace.auxiliary["operators_raw"]["op_type"]) == ["linear", "relu", "linear"]
    assert (path / "mlp/measurements.parquet").read_bytes() == measurements  # measured values kept as they are
    digest = TraceSet(path).digest()
    assert canonicalise_set(path) == [] and TraceSet(path).digest() == digest  # a second run changes nothing
