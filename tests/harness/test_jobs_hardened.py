"""What a new user broke around jobs, sweeps and live tunes (issue 24), each refused with one line before any work
or handled: two runs of one job at once, results folders that cannot hold results, a method named twice, more
workers than jobs, an ignored trace-set name, prices a tune cannot use, a tune stopped before measuring."""

from __future__ import annotations

import json

import pytest
from hydra.errors import ConfigCompositionException

from harness.collect.backends import make_backend
from harness.collect.journal import CollectError, CollectLock
from harness.config import ConfigError, check_sweep
from harness.job import LOCK_FILE, JobError, check_job, compose_run, run_job
from harness.paths import TRACES_DIR
from harness.sweep import plan, workers

SIM = TRACES_DIR / "sim-v1"


def config(results, *extra):
    return compose_run([f"traces.path={SIM}", f"results_dir={results}", "target=gru", "trials=3", "verbose=false",
                        *extra])


def test_a_second_run_of_a_job_that_is_running_is_refused(tmp_path):
    job = check_job(config(tmp_path))
    with CollectLock(job.folder / LOCK_FILE):  # the first run holds its job
        with pytest.raises(JobError, match=r"another run of this job is writing .*: wait for it to finish"):
            run_job(check_job(config(tmp_path, "trials=2")))
    assert not (job.folder / "job.json").exists()
    assert run_job(job) == job.folder and (job.folder / "job.json").is_file()


@pytest.mark.parametrize("results_dir, message", [("''", "results_dir='': name a folder"),
                                                  ("/proc/nope", "cannot write in /proc")])
def test_a_results_folder_that_cannot_hold_results_is_refused_before_the_search(results_dir, message, tmp_path,
                                                                               monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=message):
        check_job(compose_run([f"traces.path={SIM}", f"results_dir={results_dir}", "target=gru"]))
    assert list(tmp_path.iterdir()) == []


def test_a_results_folder_that_is_a_file_is_refused(tmp_path):
    afile = tmp_path / "results"
    afile.write_text("mine\n")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        check_job(config(afile / "x"))
    assert afile.read_text() == "mine\n"


def test_a_method_or_target_named_twice_is_refused():
    from hydra import compose, initialize_config_dir

    from harness.paths import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        for override, message in (("methods=[random,random]", r"\['random'\] named more than once"),
                                  ("targets=[gru,vgg16,gru]", r"\['gru'\] named more than once")):
            with pytest.raises(ConfigError, match=message):
                check_sweep(compose("sweep", overrides=[override]))


def test_workers_are_capped_at_the_jobs_to_run_and_it_is_said(capsys):
    assert workers(1000, 3) == 3 and "n_jobs=1000: 3 worker(s), one per job to run" in capsys.readouterr().err
    assert workers(2, 10) == 2 and capsys.readouterr().err == ""
    assert workers(4, 0) == 1


def test_the_sweep_of_a_method_named_once_per_job(tmp_path):
    jobs = plan(["random"], ["gru"], 2, str(tmp_path), [f"traces.path={SIM}", "trials=2"])
    assert [j.cfg.seed for j in jobs] == [0, 1] and len({j.folder for j in jobs}) == 2


def test_a_trace_set_name_is_not_a_key_its_manifest_names_the_set():
    with pytest.raises(ConfigCompositionException):
        compose_run(["traces.name=mine"])


@pytest.mark.parametrize("price, message", [({"per_core_usd_per_h": -1}, "price.per_core_usd_per_h=-1"),
                                            ({"per_core_usd_per_h": 0}, "price.per_core_usd_per_h=0"),
                                            ({"per_core_usd_per_h": 0.1, "gpu_usd_per_h_by_type": {"T4": -2}},
                                             "price.gpu_usd_per_h_by_type.T4=-2")])
def test_a_price_that_is_not_a_positive_number_is_refused(price, message):
    with pytest.raises(CollectError, match=message.replace(".", r"\.") + ": a price must be a finite number > 0"):
        make_backend("cpu", {"source": "test", **price})


def test_a_tune_stopped_before_its_first_measurement_restarts_under_corrected_settings(tmp_path, monkeypatch):
    from tests.harness.test_tune import TINY_MODELS, knowledge_set, overrides

    from harness import live
    from harness.tune import Tune, compose_tune

    monkeypatch.setenv("PYTHONPATH", str(TINY_MODELS))
    monkeypatch.syspath_prepend(str(TINY_MODELS))
    knowledge, out = knowledge_set(tmp_path / "k"), tmp_path / "t"

    def fails(*args):
        raise KeyboardInterrupt  # stopped before the first measurement was journaled

    monkeypatch.setattr(live, "measure_configuration", fails)
    with pytest.raises(KeyboardInterrupt):
        Tune(compose_tune(overrides(knowledge, out, "method=random", "settings.measure_s=0.01"))).run()
    header = json.loads((out / "journal.jsonl").read_text().splitlines()[0])
    assert header["identity"]["settings"]["measure_s"] == 0.01

    def measured(backend, model_ref, config, settings, scratch):
        return {"feasible": False, "reason": "stand-in", "reps": [], "wall_s": 0.1}

    monkeypatch.setattr(live, "measure_configuration", measured)
    summary = Tune(compose_tune(overrides(knowledge, out, "method=random", "trials=1"))).run()
    assert summary["finished"] and summary["settings"]["measure_s"] != 0.01


@pytest.mark.slow
def test_ctrl_c_during_a_sweep_is_one_line_and_the_sweep_resumes(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    cmd = [sys.executable, "-m", "harness.sweep", "methods=[random]", "targets=[gru]", "seeds=40", "n_jobs=1",
           "trials=30", f"traces.path={SIM}", f"results_dir={tmp_path}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not list(tmp_path.rglob("job.json")) and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err
    assert "sweep: interrupted;" in err and "the same command resumes the rest" in err
    assert subprocess.run(cmd, capture_output=True, text=True).returncode == 0
    assert len(list(tmp_path.rglob("job.json"))) == 40
