"""Every app's `--help` says what it does and what each of its keys means, titled with its own command, without
Hydra's list of config groups (which names unrelated ones) or the composed config."""

import re
import subprocess
import sys

import pytest
import yaml

APPS = ["harness.run", "harness.sweep", "harness.report", "harness.tune", "harness.hpo", "harness.worlds",
        "harness.export", "harness.import_release", "harness.import_table", "harness.ops.make_inventories",
        "harness.sim", "harness.sim.calibrate", "harness.sim.landscape", "harness.collect", "harness.ops.profile"]


def output(app, *args, cwd):
    done = subprocess.run([sys.executable, "-m", app, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("app", APPS)
def test_help_explains_every_key_of_the_app(app, tmp_path):
    text = output(app, "--help", cwd=tmp_path)
    assert text.startswith(f"python -m {app} ") and "\nKeys:\n" in text
    assert "powered by Hydra" not in text and "Configuration groups" not in text and "hydra/launcher" not in text
    keys = yaml.safe_load(output(app, "--cfg", "job", cwd=tmp_path))
    unexplained = [k for k in keys if not re.search(rf"(?<![\w.]){re.escape(k)}\b", text.split("\nKeys:\n", 1)[1])]
    assert not unexplained, f"{app} --help does not explain {unexplained}"
