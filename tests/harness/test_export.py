"""harness.export: the long CSV holds exactly the trace set's values with a data card; the Syne Tune format loads
with Syne Tune's own reader and holds the same values (as float32); nothing is ever replaced."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.export import ExportError, export
from harness.traces import TraceSet, write_trace_set

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def trace_set(tmp_path, small_space, make_trace):
    traces = [make_trace(small_space, lambda c: c["cores"] * c["batch"] * (c["gpu"] != "c"), model=m, reps=2,
                         noise=0.1, seed=s) for s, m in enumerate(["alpha", "beta"])]
    return TraceSet(write_trace_set(tmp_path / "set", traces, "tiny-set"))


def test_csv_holds_every_value_exactly_and_a_data_card(tmp_path, trace_set):
    out = export(trace_set, "csv", tmp_path / "csv")
    table = pd.read_csv(out / "tiny-set.csv", keep_default_na=False, na_values=[""])
    assert len(table) == 2 * 60 * 2
    for model in trace_set.models:
        trace = trace_set.load(model)
        rows = table[table["model"] == model]
        for r in rows.itertuples(index=False):
            assert trace.space.index({"cores": r.cores, "gpu": r.gpu, "batch": r.batch}) == r.config_index
            assert r.objective == trace.value("objective", r.config_index, r.rep)
            assert bool(r.feasible) == trace.is_feasible(r.config_index, r.rep)
    card = (out / "DATA_CARD.md").read_text()
    assert "`objective`" in card and "`gpu` | knob (categorical)" in card and trace_set.digest() in card


def test_syne_tune_format_loads_with_syne_tunes_reader(tmp_path, trace_set):
    pytest.importorskip("syne_tune", reason="needs the peers extra (pip install 'falcon-bench[peers]')")
    from syne_tune.blackbox_repository.blackbox_tabular import deserialize

    out = export(trace_set, "syne_tune", tmp_path / "st")
    blackboxes = deserialize(str(out / "tiny-set"))
    assert sorted(blackboxes) == trace_set.models
    trace = trace_set.load("beta")
    bb = blackboxes["beta"]
    assert bb.objectives_names == ["feasible", "objective"]
    for index in (0, 17, 59):
        config = trace.space.config(index)
        for rep in range(2):
            got = bb.objective_function(config, fidelity={"trial": 1}, seed=rep)
            assert got["objective"] == pytest.approx(trace.value("objective", index, rep), rel=1e-6)
            assert got["feasible"] == float(trace.is_feasible(index, rep))


def test_never_replaces_anything_and_refuses_bad_format(tmp_path, trace_set):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="already exists"):
        export(trace_set, "csv", tmp_path / "mine")
    assert (tmp_path / "mine" / "keep.txt").read_text() == "mine"
    with pytest.raises(ExportError, match="format must be one of"):
        export(trace_set, "xlsx", tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_command_line_exports_a_shipped_set(tmp_path):
    run = subprocess.run([sys.executable, "-m", "harness.export", "format=csv", "traces=measured_cpu",
                          f"out={tmp_path / 'out'}"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    table = pd.read_csv(tmp_path / "out" / "measured-cpu.csv")
    assert set(table["model"]) == set(TraceSet(ROOT / "traces" / "measured-cpu").models)
    assert np.isfinite(table["objective"]).all()


def test_the_harness_imports_no_method_package():
    """The harness sits below the methods: no module under harness/ imports baselines, falcon or examples (the
    Syne Tune export takes its serialisation from syne_tune itself)."""
    methods = ("baselines", "falcon", "examples")
    offenders = []
    for path in sorted((ROOT / "harness").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in methods]
    assert not offenders
