"""export -> import-table round-trips a trace set exactly; import-table and export refuse bad input with one line
before any work (empty, binary or garbage files, a knob named like a column, a table where nothing scores)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.export import ExportError, export
from harness.import_table import TableError, import_table
from harness.space import Knob, SearchSpace
from harness.traces import TraceError, TraceSet

# A space of the user's own, with a knob whose values are not exact in binary (0.1, 0.8).
OWN_SPACE = """\
name: own
knobs:
  - {name: threads, values: [1, 2, 4]}
  - {name: mem_frac, values: [0.1, 0.8, 1.6]}
  - {name: precision, values: [fp32, int8], ordered: false}
"""
SPACE = SearchSpace([Knob("threads", (1, 2, 4)), Knob("mem_frac", (0.1, 0.8, 1.6)),
                     Knob("precision", ("fp32", "int8"), ordered=False)], name="own")


def table(seed: int, reps: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame([{**c, "rep": r, "feasible": bool(i % 5), "objective": float(rng.uniform(1, 100)) * bool(i % 5),
                          "latency_p99_ms": float(rng.uniform(1, 9)) / 3}
                         for i, c in enumerate(SPACE) for r in range(reps)])


@pytest.fixture
def own_set(tmp_path) -> TraceSet:
    """A trace set of two imported models over the user's own space."""
    for model, seed in (("alpha", 0), ("beta", 1)):
        table(seed).to_csv(tmp_path / f"{model}.csv", index=False)
        import_table(tmp_path / f"{model}.csv", SPACE, model, tmp_path / "set", name="own-set")
    return TraceSet(tmp_path / "set")


def test_exported_csv_writes_values_as_the_space_has_them_and_imports_back_exactly(tmp_path, own_set):
    out = export(own_set, "csv", tmp_path / "csv")
    text = (out / "own-set.csv").read_text()
    assert "0.80000000000000004" not in text and ",0.8," in text
    for model in own_set.models:
        import_table(out / "own-set.csv", SPACE, model, tmp_path / "back", name="own-set")
    back = TraceSet(tmp_path / "back")
    assert back.models == own_set.models
    for model in own_set.models:
        a, b = own_set.load(model).measurements, back.load(model).measurements
        columns = SPACE.names + ["rep", "feasible", "objective", "latency_p99_ms"]
        pd.testing.assert_frame_equal(a[columns], b[columns])  # exact, not approximately


def test_the_command_line_round_trips_from_another_folder(tmp_path, own_set):
    (tmp_path / "conf" / "space").mkdir(parents=True)
    (tmp_path / "conf" / "space" / "own.yaml").write_text(OWN_SPACE)
    export(own_set, "csv", tmp_path / "csv")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run([sys.executable, "-m", "harness.import_table", "src=../csv/own-set.csv", "space=own",
                           f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "model=beta", "out=../back"],
                          cwd=elsewhere, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert TraceSet(tmp_path / "back").load("beta").measurements["objective"].equals(
        own_set.load("beta").measurements["objective"])


def test_a_model_not_in_the_tables_model_column_or_a_wrong_config_index_is_refused(tmp_path, own_set):
    out = export(own_set, "csv", tmp_path / "csv")
    with pytest.raises(TableError, match=r"model column has no rows of 'gamma'; models: \['alpha', 'beta'\]"):
        import_table(out / "own-set.csv", SPACE, "gamma", tmp_path / "back")
    rows = pd.read_csv(out / "own-set.csv")
    rows.loc[3, "config_index"] += 1
    rows.to_csv(tmp_path / "wrong.csv", index=False)
    with pytest.raises(TableError, match="config_index: 1 rows do not match their knob values"):
        import_table(tmp_path / "wrong.csv", SPACE, "alpha", tmp_path / "back")
    assert not (tmp_path / "back").exists()


def bad_files(tmp_path: Path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    yield empty, "is empty"
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    yield binary, "cannot be read as CSV"
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PAR1 this is not parquet at all")
    yield garbage, "cannot be read as Parquet"


def test_empty_binary_and_garbage_files_are_one_line_each(tmp_path):
    for src, message in bad_files(tmp_path):
        with pytest.raises(TableError) as e:
            import_table(src, SPACE, "m", tmp_path / "set")
        assert len(e.value.problems) == 1 and message in e.value.problems[0] and "\n" not in e.value.problems[0]
        done = subprocess.run([sys.executable, "-m", "harness.import_table", f"src={src}", "model=m", "out=set"],
                              cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 1 and done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert not (tmp_path / "set").exists()


def test_a_knob_named_like_a_column_is_refused(tmp_path):
    space = SearchSpace([Knob("objective", (1, 2)), Knob("threads", (1, 2))], name="clash")
    rows = pd.DataFrame([{"threads": c["threads"], "objective": 1.0} for c in space])
    rows.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(TableError, match="knob 'objective' is named like a column of the table"):
        import_table(tmp_path / "t.csv", space, "m", tmp_path / "set")
    with pytest.raises(TraceError, match="knob 'objective' is named like a measurement column"):
        from harness.traces import Trace
        Trace("m", space, rows)


@pytest.mark.parametrize("what", ["infeasible", "zero"])
def test_a_table_where_nothing_scores_is_refused(tmp_path, what):
    rows = table(0)
    if what == "infeasible":
        rows["feasible"] = False
    rows["objective"] = 0.0
    rows.to_csv(tmp_path / "t.csv", index=False)
    message = "no configuration is feasible" if what == "infeasible" else "every feasible configuration has objective 0"
    with pytest.raises(TableError, match=message):
        import_table(tmp_path / "t.csv", SPACE, "m", tmp_path / "set")
    assert not (tmp_path / "set").exists()


def test_export_into_a_folder_under_a_file_is_one_line(tmp_path, own_set):
    (tmp_path / "afile").write_bytes(b"mine")
    with pytest.raises(ExportError, match="afile is a file, not a folder"):
        export(own_set, "csv", tmp_path / "afile" / "x")
    done = subprocess.run([sys.executable, "-m", "harness.export", f"traces.path={own_set.path}", "out=afile/x"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr == f"export: out={tmp_path / 'afile' / 'x'}: {tmp_path / 'afile'} " \
                                                   "is a file, not a folder\n"
    assert (tmp_path / "afile").read_bytes() == b"mine"
