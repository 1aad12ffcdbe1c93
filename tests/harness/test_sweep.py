import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.report import report
from harness.sweep import plan, run_sweep, status

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ["vgg16", "gru", "roberta"]


def sweep(release_set, results, n_jobs):
    jobs = plan(["random"], TARGETS, 3, str(results), [f"traces.path={release_set.path}", "trials=8"])
    run_sweep(jobs, n_jobs)
    return jobs


def without_timing(summary):
    if isinstance(summary, dict):
        return {k: without_timing(v) for k, v in summary.items() if k != "ask_ms_median"}
    return summary


def test_serial_and_parallel_sweeps_give_identical_summaries(release_set, tmp_path):
    summaries = []
    for name, n_jobs in (("serial", 1), ("parallel", 2)):
        sweep(release_set, tmp_path / name, n_jobs)
        written = report(tmp_path / name, tmp_path / name / "report")
        summaries.append(json.loads(written["summary"].read_text()))
    assert without_timing(summaries[0]) == without_timing(summaries[1])
    assert summaries[0]["random"]["runs"] == 9 and len(summaries[0]["random"]["accuracy_mean"]) == 8
    assert set(summaries[0]["random"]["per_model"]) == set(TARGETS)


def test_status_names_missing_and_broken_jobs(release_set, tmp_path):
    jobs = sweep(release_set, tmp_path, 1)
    assert status(jobs) == []
    broken = jobs[4].folder / "trials.jsonl"
    broken.write_text(broken.read_text()[:-40])
    (jobs[7].folder / "job.json").unlink()
    problems = status(jobs)
    assert len(problems) == 2
    assert "trials.jsonl" in problems[0] and "job.json: missing" in problems[1]


@pytest.mark.slow
def test_killed_sweep_resumes_without_redoing_finished_jobs(release_set, tmp_path):
    cmd = [sys.executable, "-m", "harness.sweep", "methods=[random]", "seeds=20", "n_jobs=1", "trials=30",
           f"traces.path={release_set.path}", f"results_dir={tmp_path}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 120
    while len(list(tmp_path.rglob("job.json"))) < 20 and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("job.json")}
    assert 20 <= len(finished) < 240, "the sweep should have been killed midway"

    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    check = subprocess.run(cmd + ["action=status"], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0 and "all 240 jobs finished" in check.stdout
    assert all(p.stat().st_mtime_ns == t for p, t in finished.items()), "a finished job was redone"
    assert not list(tmp_path.rglob(".*.jsonl.*")), "a temporary file was left behind"
