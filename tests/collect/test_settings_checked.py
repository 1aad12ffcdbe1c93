"""Every collector setting is checked in one place (`Settings`), before anything is measured; `collect` refuses a
bad setting or trace-set name with one line (exit 1) and leaves no folder behind."""

import math
import subprocess
import sys

import pytest

from harness.collect.collector import Settings
from harness.config import ConfigError

BAD = [("reps", 0), ("reps", 2.5), ("reps", True), ("warmup_s", -1.0), ("warmup_s", math.nan),
       ("measure_s", 0), ("measure_s", "abc"), ("min_batches", 0), ("profile_batches", -1), ("seed", -1),
       ("timeout_s", -1), ("timeout_s", math.inf), ("omp_wait_policy", "SPIN")]


@pytest.mark.parametrize("key, value", BAD)
def test_each_bad_setting_is_one_line_naming_it(key, value):
    with pytest.raises(ConfigError, match=f"^settings.{key}=") as e:
        Settings.from_mapping({key: value})
    assert "\n" not in str(e.value)


def test_unknown_settings_and_the_presets():
    with pytest.raises(ConfigError, match="settings.foo is not a setting; settings: reps, "):
        Settings.from_mapping({"foo": 1})
    with pytest.raises(ConfigError, match="settings=3: must be a mapping"):
        Settings.from_mapping(3)
    assert Settings.from_mapping({"reps": 1, "timeout_s": 90}) == Settings(reps=1, timeout_s=90)


@pytest.mark.parametrize("bad, message", [("settings.reps=0", "collect: settings.reps=0: must be a whole number >= 1"),
                                          ("settings.timeout_s=-1", "collect: settings.timeout_s=-1: must be a number"),
                                          ("name=../x", "collect: trace set name '../x' is not a safe name")])
def test_collect_refuses_before_measuring_from_another_folder(tmp_path, bad, message):
    done = subprocess.run([sys.executable, "-m", "harness.collect", "backend=cpu", "model=resnet-18", "out=set", bad],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr
    assert list(tmp_path.iterdir()) == []  # no trace set, no journal, no lock
