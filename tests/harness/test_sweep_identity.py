"""The sweep checks every job before work, and `action=status` describes the sweep the keys describe (sim-v1)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.config import ConfigError, check_sweep
from harness.paths import TRACES_DIR
from harness.job import JobError
from harness.sweep import plan, run_sweep, status

ROOT = Path(__file__).resolve().parents[2]
SIM = TRACES_DIR / "sim-v1"


def jobs_of(results, trials, seeds=2):
    return plan(["random"], ["gru"], seeds, str(results), [f"traces.path={SIM}", f"trials={trials}"])


def test_more_trials_is_not_all_finished_and_is_refused_before_any_work(tmp_path):
    run_sweep(jobs_of(tmp_path, 5), 1)
    assert status(jobs_of(tmp_path, 5)) == []
    problems = status(jobs_of(tmp_path, 30))
    assert len(problems) == 2 and all("finished under other settings (trials: 5 -> 30)" in p for p in problems)
    finished = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.json*")}
    with pytest.raises(JobError, match=r"trials: 5 -> 30\): rerun=true"):
        run_sweep(jobs_of(tmp_path, 30), 1)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.json*")} == finished
    missing = status(jobs_of(tmp_path, 5, seeds=3))  # the sweep asked for, not a default plan
    assert len(missing) == 1 and "seed=2" in missing[0] and "missing" in missing[0]


def sweep_cli(*args):
    return subprocess.run([sys.executable, "-m", "harness.sweep", f"traces.path={SIM}", *args], cwd=ROOT,
                          capture_output=True, text=True)


@pytest.mark.slow
def test_command_line_status_uses_the_same_keys_and_bad_values_get_one_line(tmp_path):
    keys = ["methods=[random]", "targets=[gru]", "seeds=1", f"results_dir={tmp_path}"]
    assert sweep_cli(*keys, "trials=3", "n_jobs=1").returncode == 0
    longer = sweep_cli(*keys, "trials=7", "action=status")
    assert longer.returncode == 1 and "(trials: 3 -> 7)" in longer.stdout
    for bad, message in (("n_jobs=0", "sweep: n_jobs=0: must be >= 1"), ("methods=random", "full_key: methods")):
        done = sweep_cli(*keys, bad)
        assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("override, message", [("seeds=0", "seeds=0: must be"), ("n_jobs=-2", "n_jobs=-2: must be"),
                                               ("methods=[]", "methods=[]"), ("targets=[]", "targets=[]"),
                                               ("trials=0", "trials=0: must be")])
def test_sweep_values_are_checked(override, message):
    from hydra import compose, initialize_config_dir

    from harness.paths import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        check_sweep(compose("sweep", overrides=["n_jobs=-1"]))  # one worker per core is allowed
        with pytest.raises(ConfigError, match=re.escape(message)):
            check_sweep(compose("sweep", overrides=[override]))


@pytest.mark.parametrize("override, message", [("methods=random", "str is not a ListConfig"),
                                               ("action=go", "expected one of [run, status]"),
                                               ("seeds=2.5", "could not be converted to Integer")])
def test_sweep_values_of_the_wrong_type_are_refused_by_the_schema(override, message):
    from hydra import compose, initialize_config_dir
    from hydra.errors import ConfigCompositionException

    from harness.paths import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        with pytest.raises(ConfigCompositionException) as refused:
            compose("sweep", overrides=[override])
    assert message in str(refused.value.__cause__)
