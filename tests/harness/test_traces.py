import json

import numpy as np
import pandas as pd
import pytest

from harness.traces import Trace, TraceError, TraceSet, write_trace_set


def table(space, reps=1):
    rows = [{**c, "rep": r, "objective": 1.0 + i, "rps": 10.0 + i, "feasible": True}
            for i, c in enumerate(space) for r in range(reps)]
    return pd.DataFrame(rows)


def test_valid_trace_has_true_objective_per_configuration(small_space):
    m = table(small_space, reps=2)
    m.loc[(m["rep"] == 1), "objective"] += 1.0
    m.loc[0:1, "feasible"] = False  # configuration 0 ran out of memory in both repetitions
    trace = Trace("t", small_space, m)
    assert trace.n_reps == 2
    assert trace.true_objective[0] == 0.0 and not trace.feasible[0]
    assert trace.true_objective[5] == pytest.approx(6.5)
    assert set(trace.metadata["missing_fields"]) >= {"price_per_hour", "latency_p50_ms"}


def test_missing_configuration_is_refused(small_space):
    with pytest.raises(TraceError, match="1 configurations missing in repetition 0, the first being"):
        Trace("t", small_space, table(small_space).drop(index=7))


def test_duplicated_configuration_is_refused(small_space):
    m = table(small_space)
    with pytest.raises(TraceError, match="appears more than once"):
        Trace("t", small_space, pd.concat([m, m.iloc[[3]]]))


@pytest.mark.parametrize("bad", [np.nan, -3.0, np.inf, -np.inf])
def test_non_finite_or_negative_throughput_is_refused(small_space, bad):
    m = table(small_space)
    m.loc[4, "rps"] = bad
    with pytest.raises(TraceError, match="rps is .* \\(NaN, infinite or negative\\) at configuration"):
        Trace("t", small_space, m)


def test_nan_throughput_of_an_infeasible_configuration_is_fine(small_space):
    m = table(small_space)
    m.loc[4, ["rps", "feasible", "reason"]] = [np.nan, False, "out of memory"]
    trace = Trace("t", small_space, m)
    assert trace.reason(4, 0) == "out of memory"


def test_unknown_knob_value_is_refused(small_space):
    m = table(small_space)
    m.loc[2, "batch"] = 3
    with pytest.raises(TraceError, match="knob 'batch' has no value 3"):
        Trace("t", small_space, m)


def test_unknown_schema_version_is_refused(small_space, tmp_path):
    with pytest.raises(TraceError, match="schema version 99"):
        Trace("t", small_space, table(small_space), metadata={"schema_version": 99})
    write_trace_set(tmp_path / "set", [Trace("t", small_space, table(small_space))], "set")
    manifest = json.loads((tmp_path / "set" / "MANIFEST.json").read_text())
    manifest["schema_version"] = 2
    (tmp_path / "set" / "MANIFEST.json").write_text(json.dumps(manifest))
    with pytest.raises(TraceError, match="schema version 2 is not known"):
        TraceSet(tmp_path / "set")


def test_round_trip_and_hash_mismatch(small_space, tmp_path):
    ops = pd.DataFrame({"config_index": [-1, -1], "op_type": ["conv2d", "relu"], "time_share": [0.9, 0.1]})
    trace = Trace("t", small_space, table(small_space, reps=3), ops, {"provenance": "synthetic"})
    write_trace_set(tmp_path / "set", [trace], "set")
    loaded = TraceSet(tmp_path / "set").load("t")
    np.testing.assert_array_equal(loaded.true_objective, trace.true_objective)
    assert loaded.op_profile(17)["conv2d"].time_share == 0.9
    assert loaded.metadata["provenance"] == "synthetic"

    file = tmp_path / "set" / "t" / "measurements.parquet"
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))
    with pytest.raises(TraceError, match="measurements.parquet has SHA-256 .* the manifest says"):
        TraceSet(tmp_path / "set").load("t")


def test_same_traces_give_identical_bytes(small_space, tmp_path):
    for name in ("a", "b"):
        write_trace_set(tmp_path / name, [Trace("t", small_space, table(small_space, reps=2))], "set")
    for rel in ("MANIFEST.json", "t/measurements.parquet"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_failed_write_leaves_existing_set_untouched(small_space, tmp_path, monkeypatch):
    good = Trace("t", small_space, table(small_space))
    write_trace_set(tmp_path / "set", [good], "set")
    before = (tmp_path / "set" / "MANIFEST.json").read_bytes()

    import harness.traces as traces

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(traces, "_fsync_tree", explode)
    with pytest.raises(OSError, match="disk full"):
        write_trace_set(tmp_path / "set", [good, Trace("u", small_space, table(small_space))], "set")
    assert (tmp_path / "set" / "MANIFEST.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]  # no temporary folder left behind
    assert TraceSet(tmp_path / "set").models == ["t"]


def test_unknown_model_and_missing_set_get_clear_errors(small_space, tmp_path):
    write_trace_set(tmp_path / "set", [Trace("t", small_space, table(small_space))], "set")
    with pytest.raises(TraceError, match="has no model 'nope'; models: \\['t'\\]"):
        TraceSet(tmp_path / "set").load("nope")
    with pytest.raises(TraceError, match="MANIFEST.json not found"):
        TraceSet(tmp_path / "elsewhere")
