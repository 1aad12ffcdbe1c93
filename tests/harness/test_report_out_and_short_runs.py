"""The report's `out` rule (never a user's files, a git checkout or a trace set; byte for byte), its one-line
refusals of broken job files and knobs, and its figures and table on runs shorter than 30 trials (sim-v1)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from harness import report as report_module
from harness.config import ConfigError
from harness.paths import TRACES_DIR
from harness.report import check_out, report
from harness.results import ResultsError
from harness.job import check_job, compose_run, run_job
from harness.traces import TraceSet

SIM = TRACES_DIR / "sim-v1"


def run(results, **keys):
    keys = {"target": "gru", "trials": 10, "method": "random", **keys}
    return run_job(check_job(compose_run([f"traces.path={SIM}", f"results_dir={results}", "verbose=false",
                                *(f"{k}={v}" for k, v in keys.items())])))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """10-trial runs: random (2 seeds) and falcon (seed 0) on gru."""
    folder = tmp_path_factory.mktemp("results")
    for seed in (0, 1):
        run(folder, seed=seed)
    run(folder, method="falcon", seed=0)
    run(folder, method="falcon", seed=1)
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "harness.report", *args], cwd=cwd, capture_output=True, text=True)


# -- item 1: out ---------------------------------------------------------------------------------------------
def test_a_users_folder_a_git_checkout_and_a_trace_set_are_refused_byte_for_byte(results, tmp_path):
    users = tmp_path / "mine"
    users.mkdir()
    (users / "summary.md").write_bytes(b"# my own notes\n")
    clone = tmp_path / "clone"
    subprocess.run(["git", "init", "-q", str(clone)], check=True)
    (clone / "analysis.py").write_bytes(b"print('mine')\n")
    trace_set = tmp_path / "set"
    shutil.copytree(SIM, trace_set)
    for out in (users, clone, trace_set, trace_set / "report"):
        folder = out if out.exists() else out.parent
        before = snapshot(folder)
        with pytest.raises(ConfigError, match=r"^out=.*(not a report folder|is a trace set)"):
            report(results, out)
        assert snapshot(folder) == before
        done = cli(f"results_dir={results}", f"out={out}", cwd=tmp_path)
        assert done.returncode == 1 and done.stderr.count("\n") == 1 and done.stderr.startswith("report: out=")
        assert snapshot(folder) == before
    TraceSet(trace_set).load("gru")  # still a trace set that loads


def test_root_is_refused():
    with pytest.raises(ConfigError, match="not a report folder"):
        check_out(Path("/"))


def test_a_report_folder_is_rewritten_but_not_once_a_user_changed_or_added_a_file(results, tmp_path):
    out = tmp_path / "report"
    report(results, out)
    manifest = json.loads((out / "REPORT.json").read_text())
    assert set(manifest["files"]) == {p.name for p in out.iterdir()} - {"REPORT.json"}
    report(results, out)  # its own folder: replaced
    (out / "summary.md").write_bytes(b"edited by hand\n")
    before = snapshot(out)
    with pytest.raises(ConfigError, match="summary.md was changed after the report wrote it"):
        report(results, out)
    (out / "summary.md").unlink()
    (out / "notes.txt").write_bytes(b"mine\n")
    before = snapshot(out)
    with pytest.raises(ConfigError, match="notes.txt is not one of the report's files"):
        report(results, out)
    assert snapshot(out) == before
    empty = tmp_path / "empty"
    empty.mkdir()
    report(results, empty)
    assert (empty / "summary.md").is_file() and not list(tmp_path.glob(".*tmp-*"))


# -- item 6: path_model, path_knobs ----------------------------------------------------------------------------
def test_path_model_without_runs_gets_a_note_and_equal_path_knobs_are_refused(results, tmp_path):
    written = report(results, tmp_path / "a", path_model="nope")
    assert any(n.startswith("fig13 left out: path_model=nope has no seed-0 run of falcon; targets: gru")
               for n in written["notes"])
    with pytest.raises(ConfigError, match=r"path_knobs=\['batch_size', 'batch_size'\]: must name two different"):
        report(results, tmp_path / "b", path_knobs=("batch_size", "batch_size"))
    assert not (tmp_path / "b").exists()
    done = cli(f"results_dir={results}", f"out={tmp_path / 'c'}", "path_knobs=[batch_size,batch_size]", cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.count("\n") == 1


# -- item 9: broken job files ------------------------------------------------------------------------------------
@pytest.mark.parametrize("broken", ["[]", '{"method": "random"}', None])
def test_a_broken_job_file_is_one_line(results, tmp_path, broken):
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    job_file = next(copy.rglob("job.json"))
    if broken is None:  # a job without trace_set
        job = json.loads(job_file.read_text())
        del job["trace_set"]
        broken = json.dumps(job)
    job_file.write_text(broken)
    with pytest.raises(ResultsError, match=f"^{job_file}: not a job record"):
        report(copy, tmp_path / "out")
    done = cli(f"results_dir={copy}", cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and f"report: {job_file}: not a job" in done.stderr


# -- item 12: short runs -----------------------------------------------------------------------------------------
@pytest.fixture
def saved_figures(monkeypatch):
    """Each figure the report saves, by file name: its axes' x limits and titles."""
    seen = {}
    save = report_module._save

    def spy(fig, path):
        seen[path.name] = [(ax.get_xlim(), ax.get_title(), ax.get_ylabel()) for ax in fig.axes
                           if ax.get_label() != "<colorbar>"]
        return save(fig, path)
    monkeypatch.setattr(report_module, "_save", spy)
    return seen


def test_ten_trial_runs_end_fig10_at_10_leave_out_fig12s_longer_panels_and_title_fig13_truly(results, tmp_path,
                                                                                                saved_figures):
    written = report(results, tmp_path / "out", path_model="gru", path_knobs=("gpu_mem_gb", "batch_size"))
    assert saved_figures["fig10_accuracy_vs_trials.png"][0][0][1] == 10
    panels = [label for _, _, label in saved_figures["fig12_per_model.png"]]
    assert panels == ["acc@6"]
    assert "fig12 shows the accuracy after 6 trials only: the runs have 10 trials, so its 15 / 30 trial panels are " \
        "left out" in written["notes"]
    titles = [title for _, title, _ in saved_figures["fig13_search_path.png"] if title]
    assert titles == ["falcon on gru: first 10 trials (seed 0)"]
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "mean over seeds" not in summary
    assert "Mean ranks over the (target, seed) blocks" in summary
    assert "## Per model: mean accuracy after 6 trials" in summary
    plt.close("all")


def test_five_trial_runs_give_a_consistent_table(tmp_path):
    for seed in (0, 1):
        run(tmp_path / "results", trials=5, seed=seed)
    report(tmp_path / "results", tmp_path / "out")
    header = next(line for line in (tmp_path / "out" / "summary.md").read_text().splitlines()
                  if line.startswith("| method | runs |"))
    assert "acc@6" not in header and "p10@6" not in header
    assert "| acc@1 | acc@3 | p10@3 |" in header
