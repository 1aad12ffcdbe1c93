"""Trace-set writers never replace a user's folder; a trace set from a stranger is checked before it is used."""

import json
import subprocess

import numpy as np
import pandas as pd
import pytest

from harness.traces import Trace, TraceError, TraceSet, check_replaceable, write_trace_set


def table(space, reps=1):
    rows = [{**c, "rep": r, "objective": 1.0 + i, "rps": 10.0 + i, "feasible": True}
            for i, c in enumerate(space) for r in range(reps)]
    return pd.DataFrame(rows)


def snapshot(folder):
    """Every file under `folder` with its bytes (the .git folder of a clone included)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def users_folder(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.tex").write_bytes(b"\\chapter{results}\n")
    (folder / "data").mkdir()
    (folder / "data" / "runs.csv").write_bytes(b"a,b\n1,2\n")
    return folder


@pytest.fixture
def git_clone(tmp_path):
    folder = tmp_path / "clone"
    folder.mkdir()
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    (folder / "README.md").write_text("my project\n")
    return folder


@pytest.mark.parametrize("target", ["users_folder", "git_clone"])
def test_writer_refuses_a_folder_that_is_not_a_trace_set(small_space, request, target):
    folder = request.getfixturevalue(target)
    before = snapshot(folder)
    with pytest.raises(TraceError, match=f"refusing to replace {folder}: it is not empty and holds no MANIFEST"):
        write_trace_set(folder, [Trace("t", small_space, table(small_space))], "set")
    assert snapshot(folder) == before
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]  # no temporary folder left


def test_writer_refuses_a_file_and_a_folder_with_a_foreign_manifest(small_space, tmp_path):
    file = tmp_path / "notes.txt"
    file.write_bytes(b"keep me")
    with pytest.raises(TraceError, match="it exists and is not a folder"):
        write_trace_set(file, [Trace("t", small_space, table(small_space))], "set")
    assert file.read_bytes() == b"keep me"
    other = tmp_path / "other"
    other.mkdir()
    (other / "MANIFEST.json").write_text('{"version": "1.0", "entries": []}')  # another tool's manifest
    with pytest.raises(TraceError, match="is not a trace-set manifest of this project"):
        check_replaceable(other)


def test_writer_refuses_a_trace_set_holding_a_users_file(small_space, tmp_path):
    write_trace_set(tmp_path / "set", [Trace("t", small_space, table(small_space))], "set")
    (tmp_path / "set" / "t" / "my-notes.md").write_bytes(b"do not lose")
    before = snapshot(tmp_path / "set")
    with pytest.raises(TraceError, match="refusing to replace .* the folder holds 1 more \\(e.g. 't/my-notes.md'\\)"):
        write_trace_set(tmp_path / "set", [Trace("u", small_space, table(small_space))], "set")
    assert snapshot(tmp_path / "set") == before


def test_writer_replaces_a_trace_set_and_fills_an_empty_folder(small_space, tmp_path):
    write_trace_set(tmp_path / "set", [Trace("t", small_space, table(small_space))], "set")
    write_trace_set(tmp_path / "set", [Trace("u", small_space, table(small_space))], "set")
    assert TraceSet(tmp_path / "set").models == ["u"]
    (tmp_path / "empty").mkdir()
    write_trace_set(tmp_path / "empty", [Trace("t", small_space, table(small_space))], "set")
    assert TraceSet(tmp_path / "empty").models == ["t"]


@pytest.mark.parametrize("name", ["../../x", "a/b", ".hidden", "", "x" * 200])
def test_unsafe_names_are_refused_when_written(small_space, tmp_path, name):
    with pytest.raises(TraceError, match="is not a safe name"):
        write_trace_set(tmp_path / "set", [Trace("t", small_space, table(small_space))], name)
    with pytest.raises(TraceError, match="model .* is not a safe name"):
        Trace(name, small_space, table(small_space))
    assert not (tmp_path / "set").exists()


def written_set(space, tmp_path):
    write_trace_set(tmp_path / "set", [Trace("t", space, table(space))], "set")
    return tmp_path / "set", json.loads((tmp_path / "set" / "MANIFEST.json").read_text())


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update(name="../../x"), "trace set name '../../x' is not a safe name"),
    (lambda m: m["models"].update({"../evil": {}}), "model '../evil' is not a safe name"),
    (lambda m: m["files"].update({"t/measurements.parquet": None}), "has no SHA-256 \\(found None\\)"),
    (lambda m: m["files"].update({"t/measurements.parquet": "abc"}), "has no SHA-256 \\(found 'abc'\\)"),
    (lambda m: m["files"].pop("t/measurements.parquet"), "model 't' has no measurements.parquet listed"),
    (lambda m: m["files"].update({"t/../../etc/passwd": "0" * 64}), "is not <model>/<file>.parquet"),
    (lambda m: m.pop("files"), "is not a trace-set manifest of this project"),
])
def test_a_manifest_from_a_stranger_is_checked(small_space, tmp_path, edit, message):
    folder, manifest = written_set(small_space, tmp_path)
    edit(manifest)
    (folder / "MANIFEST.json").write_text(json.dumps(manifest))
    with pytest.raises(TraceError, match=message):
        TraceSet(folder)


def test_a_manifest_listing_fewer_files_than_the_folder_holds_is_refused(small_space, tmp_path):
    folder, _ = written_set(small_space, tmp_path)
    table(small_space).to_parquet(folder / "t" / "aux-extra.parquet")
    with pytest.raises(TraceError, match="lists 1 files but the folder holds 1 more \\(e.g. 't/aux-extra.parquet'\\)"):
        TraceSet(folder)


@pytest.mark.parametrize("value", ["no", "yes", None, 2, np.nan])
def test_feasible_must_be_true_or_false(small_space, value):
    m = table(small_space).astype({"feasible": object})
    m.loc[3, "feasible"] = value
    with pytest.raises(TraceError, match="column 'feasible' holds .*; allowed: true/false"):
        Trace("t", small_space, m)


def test_feasible_as_ones_and_zeros_is_read(small_space):
    m = table(small_space)
    m["feasible"] = 1
    m.loc[3, "feasible"] = 0
    assert Trace("t", small_space, m).feasible.sum() == len(small_space) - 1


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_an_infinite_objective_is_refused_even_where_infeasible(small_space, value):
    m = table(small_space)
    m.loc[2, "objective"] = value
    with pytest.raises(TraceError, match="objective is -?inf \\(NaN, infinite or negative\\)"):
        Trace("t", small_space, m)
    m.loc[2, ["objective", "feasible", "rps"]] = [0.0, False, value]
    with pytest.raises(TraceError, match="rps is -?inf"):
        Trace("t", small_space, m)


@pytest.mark.parametrize("column, value, message", [
    ("rps", "fast", "column 'rps' holds 'fast', which is not a number"),
    ("rep", 0.5, "column 'rep' holds 0.5; allowed: whole numbers >= 0"),
    ("rep", -1, "column 'rep' holds -1"),
    ("batch", [1, 2], "knob column 'batch' holds values that are not single values"),
    ("batch", None, "knob 'batch' has no value None"),
])
def test_malformed_cells_get_one_line(small_space, column, value, message):
    m = table(small_space).astype({column: object})
    m.at[5, column] = value
    with pytest.raises(TraceError, match=message) as e:
        Trace("t", small_space, m)
    assert "\n" not in str(e.value)


def test_operator_profile_with_infinite_or_non_integer_values_is_refused(small_space):
    ops = pd.DataFrame({"config_index": [-1, -1], "op_type": ["conv2d", "relu"], "time_share": [np.inf, 0.1]})
    with pytest.raises(TraceError, match="time_share is inf"):
        Trace("t", small_space, table(small_space), ops)
    ops = pd.DataFrame({"config_index": [-1, 1.5], "op_type": ["conv2d", "relu"], "time_share": [0.9, 0.1]})
    with pytest.raises(TraceError, match="column 'config_index' holds 1.5"):
        Trace("t", small_space, table(small_space), ops)


@pytest.mark.parametrize("part", ["trace_set", "method", "target"])
def test_job_folders_stay_inside_results_dir(tmp_path, part):
    from harness.paths import UnsafeNameError
    from harness.results import job_dir

    names = {"trace_set": "sim-v1", "method": "random", "target": "vgg16", part: "../../x"}
    with pytest.raises(UnsafeNameError, match="'../../x' is not a safe name"):
        job_dir(tmp_path, names["trace_set"], names["method"], names["target"], 0)
    assert job_dir(tmp_path, "sim-v1", "random", "vgg16", 3) == tmp_path / "sim-v1" / "random" / "vgg16" / "seed=3"
