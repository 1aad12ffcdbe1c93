"""harness.import_table: a user's table becomes a trace set whose replay gives exactly the table's values; every
bad table is refused with its own line, and a failed import writes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.import_table import TableError, import_table
from harness.oracle import Oracle
from harness.space import load_space
from harness.traces import TraceSet

ROOT = Path(__file__).resolve().parents[2]

# A space of the user's own, with knobs that are not the paper's; it lives outside the repository.
OWN_SPACE = """\
name: edge_box
knobs:
  - {name: threads, values: [1, 2, 4], unit: threads}
  - {name: precision, values: [fp32, bf16, int8], ordered: false}
  - {name: max_batch, values: [1, 8], unit: requests}
"""


@pytest.fixture
def own_space(tmp_path):
    (tmp_path / "conf" / "space").mkdir(parents=True)
    path = tmp_path / "conf" / "space" / "edge_box.yaml"
    path.write_text(OWN_SPACE)
    return load_space(path)


def measurements(space, reps=2, seed=0):
    rng = np.random.default_rng(seed)
    rows = [{**c, "rep": r, "objective": float(rng.uniform(1, 100)), "latency_p50_ms": float(rng.uniform(1, 9))}
            for c in space for r in range(reps)]
    return pd.DataFrame(rows)


def replayed(trace_set, model, space, reps, seed=3):
    """Every (configuration, repetition) value the oracle answers when each configuration is asked `reps` times."""
    oracle = Oracle(trace_set.load(model), seed)
    out = {}
    for config in space:
        key = tuple(config.values())
        out[key] = sorted((o.objective, o.metrics["latency_p50_ms"]) for o in (oracle.trial(config)
                                                                               for _ in range(reps)))
    return out


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip_replays_exactly_the_tables_values(tmp_path, own_space, fmt):
    table = measurements(own_space)
    src = tmp_path / f"edge.{fmt}"
    table.to_csv(src, index=False) if fmt == "csv" else table.to_parquet(src)
    source = pd.read_csv(src) if fmt == "csv" else pd.read_parquet(src)  # the values as the file holds them
    import_table(src, own_space, "edge-model", tmp_path / "set")
    expected = {}
    for row in source.itertuples(index=False):
        expected.setdefault((row.threads, row.precision, row.max_batch), []).append(
            (row.objective, row.latency_p50_ms))
    got = replayed(TraceSet(tmp_path / "set"), "edge-model", own_space, reps=2)
    assert got == {k: sorted(v) for k, v in expected.items()}


def test_operator_profile_per_configuration_and_second_model_added(tmp_path, own_space):
    src = tmp_path / "a.csv"
    measurements(own_space, reps=1).to_csv(src, index=False)
    ops = pd.DataFrame([{**c, "op_type": op, "time_share": share} for c in own_space
                        for op, share in (("conv2d", 0.7), ("dense", 0.3))])
    ops.to_csv(tmp_path / "ops.csv", index=False)
    import_table(src, own_space, "a", tmp_path / "set", operators=tmp_path / "ops.csv", name="mine")
    import_table(src, own_space, "b", tmp_path / "set")
    traces = TraceSet(tmp_path / "set")
    assert traces.models == ["a", "b"] and traces.name == "mine"
    assert traces.load("a").op_profile(5)["conv2d"].time_share == 0.7
    assert traces.load("b").op_profile(5) is None


def bad(table, space):
    """Each bad table of the issue's list, with the words its message must contain."""
    t = table.copy()
    yield "missing configuration", t.iloc[2:], "configurations missing, the first"
    yield "duplicate configuration", pd.concat([t, t.iloc[[0]]]), "duplicate rows"
    t2 = t.copy(); t2.loc[0, "precision"] = "fp8"
    yield "unknown knob value", t2, "knob 'precision': unknown values ['fp8']"
    t3 = t.copy(); t3.loc[4, "objective"] = np.nan
    yield "NaN", t3, "objective: 1 feasible rows are not finite"
    t4 = t.copy(); t4.loc[5, "latency_p50_ms"] = np.inf
    yield "infinite", t4, "latency_p50_ms: 1 feasible rows are not finite"
    yield "missing column", t.drop(columns=["objective"]), "missing columns ['objective']"
    yield "unknown column", t.rename(columns={"latency_p50_ms": "latency_ms"}), "unknown columns ['latency_ms']"


@pytest.mark.parametrize("case", range(7))
def test_each_bad_table_is_refused_with_its_own_line_and_nothing_written(tmp_path, own_space, case):
    what, table, message = list(bad(measurements(own_space), own_space))[case]
    src = tmp_path / "bad.csv"
    table.to_csv(src, index=False)
    with pytest.raises(TableError) as err:
        import_table(src, own_space, "m", tmp_path / "set")
    assert any(message in p for p in err.value.problems), (what, err.value.problems)
    assert not (tmp_path / "set").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "conf"]


def test_all_problems_at_once_one_line_each(tmp_path, own_space):
    t = measurements(own_space)
    t.loc[0, "objective"] = -1.0
    t.loc[1, "threads"] = 3
    src = tmp_path / "bad.csv"
    t.to_csv(src, index=False)
    with pytest.raises(TableError) as err:
        import_table(src, own_space, "m", tmp_path / "set")
    assert len(err.value.problems) == 2 and all("\n" not in p for p in err.value.problems)


def test_existing_set_is_extended_never_overwritten(tmp_path, own_space):
    src = tmp_path / "a.csv"
    measurements(own_space).to_csv(src, index=False)
    import_table(src, own_space, "a", tmp_path / "set")
    before = (tmp_path / "set" / "MANIFEST.json").read_bytes()
    with pytest.raises(TableError, match="already in trace set"):
        import_table(src, own_space, "a", tmp_path / "set")
    assert (tmp_path / "set" / "MANIFEST.json").read_bytes() == before
    (tmp_path / "notes").mkdir()
    with pytest.raises(TableError, match="is not a trace set"):
        import_table(src, own_space, "a", tmp_path / "notes")
    with pytest.raises(TableError, match="is over space"):
        import_table(src, load_space("paper"), "c", tmp_path / "set")


def cli(tmp_path, src):
    """The command line, with the user's space found through Hydra's search path."""
    return subprocess.run([sys.executable, "-m", "harness.import_table", f"src={src}", "space=edge_box",
                           f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "model=m", f"out={tmp_path / 'set'}"],
                          cwd=ROOT, capture_output=True, text=True)


def test_command_line_imports_with_the_users_own_space(tmp_path, own_space):
    measurements(own_space).to_parquet(tmp_path / "m.parquet")
    run = cli(tmp_path, tmp_path / "m.parquet")
    assert run.returncode == 0, run.stderr
    assert TraceSet(tmp_path / "set").space == own_space


def test_command_line_refuses_with_one_line_per_problem(tmp_path, own_space):
    t = measurements(own_space, reps=1)
    t.loc[0, "precision"] = "fp8"
    t.loc[3, "objective"] = np.nan
    t.to_csv(tmp_path / "bad.csv", index=False)
    run = cli(tmp_path, tmp_path / "bad.csv")
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("import_table: ") for line in lines), run.stderr
    assert not (tmp_path / "set").exists()
