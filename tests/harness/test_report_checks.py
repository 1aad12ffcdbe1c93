"""The report's checks before any work, unequal run lengths, and finding trace sets from anywhere (sim-v1)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.config import ConfigError
from harness.paths import TRACES_DIR
from harness.report import report
from harness.results import ResultsError
from harness.job import check_job, compose_run, run_job

ROOT = Path(__file__).resolve().parents[2]
SIM = TRACES_DIR / "sim-v1"


def run(results, traces=SIM, **keys):
    keys = {"target": "gru", "trials": 4, **keys}
    return run_job(check_job(compose_run([f"traces.path={traces}", f"results_dir={results}", "verbose=false",
                                *(f"{k}={v}" for k, v in keys.items())])))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("results")
    for seed in (0, 1):
        run(folder, seed=seed)
    return folder


def test_runs_of_unequal_length_are_refused(tmp_path):
    run(tmp_path, seed=0)
    run(tmp_path, seed=1, trials=6)
    with pytest.raises(ResultsError, match=r"unequal length on trace set 'sim-v1' \(4 trials: random; 6 trials: "):
        report(tmp_path, tmp_path / "report")
    assert not (tmp_path / "report").exists()


def test_runs_on_different_versions_of_a_trace_set_are_refused(results, tmp_path):
    shutil.copytree(results, tmp_path / "results")
    job_file = next((tmp_path / "results").rglob("job.json"))
    job_file.write_text(job_file.read_text().replace('"trace_set_digest": "', '"trace_set_digest": "0ther'))
    with pytest.raises(ResultsError, match="different versions of trace set 'sim-v1'"):
        report(tmp_path / "results", tmp_path / "report")


def test_bad_out_or_knobs_fail_before_any_write(results, tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    with pytest.raises(ConfigError, match="is a file"):
        report(results, a_file)
    assert a_file.read_text() == "mine"
    with pytest.raises(ConfigError, match="cannot write the report there"):
        report(results, a_file / "report")
    with pytest.raises(ConfigError, match="has no knob 'nosuch'"):
        report(results, tmp_path / "out", path_knobs=("nosuch", "batch_size"))
    assert not (tmp_path / "out").exists()
    cli = subprocess.run([sys.executable, "-m", "harness.report", f"results_dir={results}", f"out={a_file}"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert cli.returncode != 0
    assert cli.stderr.strip() == f"report: out={a_file}: is a file; name a folder for the report"


def test_report_finds_the_trace_set_from_any_folder_even_after_results_and_traces_moved(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(SIM, project / "traces" / "sim-v1")
    run(project / "results", traces=project / "traces" / "sim-v1")
    moved = tmp_path / "moved"
    project.rename(moved)
    written = report(moved / "results", tmp_path / "a")
    assert written["notes"] == []  # the trace set was found beside the moved results
    shutil.rmtree(moved / "traces")
    written = report(moved / "results", tmp_path / "b")
    assert len(written["notes"]) == 1 and "trace set 'sim-v1'" in written["notes"][0]
    cli = subprocess.run([sys.executable, "-m", "harness.report", f"results_dir={moved / 'results'}"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert cli.returncode == 0 and "fig10_accuracy_vs_trials.png" in cli.stdout
