import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.results import ResultsError, read_job
from harness.job import JobError, check_job, compose_run, run_job

ROOT = Path(__file__).resolve().parents[2]


def config(release_set, results, *overrides):
    return compose_run([f"traces.path={release_set.path}", f"results_dir={results}", *overrides])


def records_without_time(folder):
    return [{k: v for k, v in r.items() if k != "ask_ms"} for r in read_job(folder)[1]]


def test_same_seed_gives_identical_records(release_set, tmp_path):
    a = run_job(check_job(config(release_set, tmp_path / "a", "target=vgg16", "seed=3", "trials=12")))
    b = run_job(check_job(config(release_set, tmp_path / "b", "target=vgg16", "seed=3", "trials=12")))
    assert records_without_time(a) == records_without_time(b)
    c = run_job(check_job(config(release_set, tmp_path / "c", "target=vgg16", "seed=4", "trials=12")))
    assert records_without_time(a) != records_without_time(c)
    job = json.loads((a / "job.json").read_text())
    assert job["n_trials"] == 12 and job["trace_set_digest"] == release_set.digest()
    assert a == tmp_path / "a" / "falcon-release" / "random" / "vgg16" / "seed=3"


def test_finished_job_is_skipped_and_truncated_job_is_redone(release_set, tmp_path, capsys):
    cfg = config(release_set, tmp_path, "target=gru", "trials=5")
    folder = run_job(check_job(cfg))
    before = (folder / "trials.jsonl").read_bytes()
    run_job(check_job(cfg))
    assert "skip (finished)" in capsys.readouterr().out
    (folder / "trials.jsonl").write_bytes(before[: len(before) // 2])
    with pytest.raises(ResultsError, match="trials.jsonl"):
        read_job(folder)
    run_job(check_job(cfg))
    assert len(read_job(folder)[1]) == 5


def test_bad_jobs_get_one_clear_message(release_set, tmp_path):
    with pytest.raises(Exception, match="has no model 'vgg-16'"):
        run_job(check_job(config(release_set, tmp_path, "target=vgg-16")))
    from harness.job import sources_for

    with pytest.raises(JobError, match="is a source model"):
        sources_for(config(release_set, tmp_path, "target=resnet-152"), release_set)


def test_command_line_runs_one_search(release_set, tmp_path):
    cmd = [sys.executable, "-m", "harness.run", "method=random", f"traces.path={release_set.path}",
           "target=roberta", "seed=1", "trials=4", f"results_dir={tmp_path}"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "random on roberta seed=1" in out
    lines = (tmp_path / "falcon-release" / "random" / "roberta" / "seed=1" / "trials.jsonl").read_text()
    first = json.loads(lines.splitlines()[0])
    assert set(first) >= {"trial", "config", "objective", "recommended", "accuracy", "ask_ms"}
    bad = subprocess.run(cmd[:-1] + [f"results_dir={tmp_path}", "trails=4"], cwd=ROOT, capture_output=True,
                         text=True)
    assert bad.returncode != 0 and "trails" in bad.stderr


def test_fitted_state_is_cached_per_target_only_under_the_authors_protocol(release_set, tmp_path):
    for target in ("gru", "vgg16"):
        for method in ("falcon", "falcon_authors", "source_best"):
            run_job(check_job(config(release_set, tmp_path, f"method={method}", f"target={target}", "trials=2")))
    fits = sorted(p.name.rsplit("-", 1)[0] for p in (tmp_path / ".fits").iterdir())
    # strict: source models only, one fit for all targets; authors: the target's own curves, one fit per target
    assert fits == ["falcon", "falcon_authors", "falcon_authors", "source_best"]


def test_fit_cache_key_holds_the_code_version(release_set, tmp_path, monkeypatch):
    import harness.job

    cfg = config(release_set, tmp_path, "method=source_best", "target=gru", "trials=2")
    run_job(check_job(cfg))
    monkeypatch.setattr(harness.job, "code_version", lambda searcher: "edited")
    run_job(check_job(config(release_set, tmp_path, "method=source_best", "target=gru", "trials=2", "rerun=true")))
    assert len(list((tmp_path / ".fits").iterdir())) == 2  # the edited code did not reuse the old state
