"""Job identity: a finished job is reused only under the settings that made it; checks come before any write.

These run on the committed simulated trace set (traces/sim-v1), so they need no ../shared.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException

from harness.config import ConfigError
from harness.paths import TRACES_DIR
from harness.results import read_job
from harness.job import JobError, check_job, compose_run, run_job

ROOT = Path(__file__).resolve().parents[2]
SIM = TRACES_DIR / "sim-v1"


def config(results, *overrides):
    return compose_run([f"traces.path={SIM}", f"results_dir={results}", "target=gru", "verbose=false",
                        *overrides])


def test_same_settings_reuse_the_job_and_other_settings_are_refused_with_what_differs(tmp_path):
    plain = "method=gp_bo"  # learns nothing offline: a split whose sources the set lacks is still a valid job
    folder = run_job(check_job(config(tmp_path, "trials=5", plain)))
    before = (folder / "trials.jsonl").read_bytes()
    assert run_job(check_job(config(tmp_path, "trials=5", plain))) == folder  # same identity: reused
    with pytest.raises(JobError, match=r"other settings \(trials: 5 -> 8\): rerun=true"):
        run_job(check_job(config(tmp_path, "trials=8", plain)))
    with pytest.raises(JobError, match=r"split.name: \"paper\" -> \"measured_cpu\".*split.source"):
        run_job(check_job(config(tmp_path, "trials=5", plain, "split=measured_cpu")))
    assert (folder / "trials.jsonl").read_bytes() == before  # nothing was touched
    run_job(check_job(config(tmp_path, "trials=8", plain, "rerun=true")))
    job, records = read_job(folder)
    assert len(records) == 8 and job["identity"]["trials"] == 8


def test_a_method_parameter_is_part_of_the_identity(tmp_path):
    run_job(check_job(config(tmp_path, "trials=3", "method=optuna_tpe", "method.searcher.max_repeats=20")))
    with pytest.raises(JobError, match="method.searcher.max_repeats: 20 -> 21"):
        run_job(check_job(config(tmp_path, "trials=3", "method=optuna_tpe", "method.searcher.max_repeats=21")))


def test_a_job_from_an_older_version_without_identity_is_not_reused(tmp_path):
    folder = run_job(check_job(config(tmp_path, "trials=3")))
    job_file = folder / "job.json"
    job = json.loads(job_file.read_text())
    del job["identity"]
    job_file.write_text(json.dumps(job))
    with pytest.raises(JobError, match="records no identity"):
        run_job(check_job(config(tmp_path, "trials=3")))


def test_a_job_finished_by_other_code_is_not_reused(tmp_path, monkeypatch):
    """The code that makes the records is part of the identity (`harness.knowledge.code_version`)."""
    import harness.job

    folder = run_job(check_job(config(tmp_path, "trials=3")))
    code = json.loads((folder / "job.json").read_text())["identity"]["code"]
    monkeypatch.setattr(harness.job, "code_version", lambda searcher: "edited")
    with pytest.raises(JobError, match=rf"other settings \(code: \"{re.escape(code)}\" -> \"edited\"\)"):
        run_job(check_job(config(tmp_path, "trials=3")))


@pytest.mark.parametrize("override, message", [
    ("trials=0", "trials=0: must be a whole number >= 1"),
    ("trials=-3", "trials=-3: must be a whole number >= 1"),
    ("trials=1441", "trials=1441: must be at most 1440"),
    ("seed=-1", "seed=-1: must be a whole number >= 0"),
])
def test_bad_values_are_refused_before_any_write(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        run_job(check_job(config(tmp_path / "results", override)))
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("override", ["trials=abc", "trials=2.5", "seed=abc", "seed=1.5", "rerun=maybe"])
def test_values_of_the_wrong_type_are_refused_by_the_schema(override):
    with pytest.raises(ConfigCompositionException, match=f"Error merging override {override}"):
        compose_run([override])


def test_a_searcher_that_refuses_its_parameters_is_one_line_before_any_write(tmp_path):
    with pytest.raises(JobError, match="method 'random' .*unexpected keyword argument 'foo'|takes no arguments"):
        run_job(check_job(config(tmp_path / "results", "+method.searcher.foo=1")))
    # a constructor raising ValueError (here harness.space.Knob refusing an empty value list) reaches the user too
    with pytest.raises(JobError, match="method 'random' \(method.searcher\): knob 'x'"):
        run_job(check_job(config(tmp_path / "results", "method.searcher._target_=harness.space.Knob",
                                 "~method.searcher.slo", "+method.searcher.name=x", "+method.searcher.values=[]")))
    assert not (tmp_path / "results").exists()


def run_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True)


@pytest.mark.slow
def test_command_line_prints_project_errors_as_one_line_and_exits_non_zero(tmp_path):
    base = ["harness.run", f"traces.path={SIM}", f"results_dir={tmp_path}", "target=gru"]
    assert run_cli(*base, "trials=4").returncode == 0
    for override, message in (("trials=6", "other settings (trials: 4 -> 6)"), ("trials=0", "trials=0: must be")):
        done = run_cli(*base, override)
        assert done.returncode != 0 and "Traceback" not in done.stderr
        assert done.stderr.strip().splitlines() == [done.stderr.strip()] and message in done.stderr
    typed = run_cli(*base, "trials=abc")
    assert typed.returncode != 0 and "full_key: trials" in typed.stderr and "Traceback" not in typed.stderr


def test_every_shipped_method_config_fits_the_typed_schema():
    from harness.paths import CONF_DIR

    for method in sorted(p.stem for p in (CONF_DIR / "method").glob("*.yaml")):
        cfg = compose_run([f"method={method}"])
        assert cfg.method.name == method and isinstance(cfg.method.ablation, bool)
