"""`python -m harness.run -m ... 'target=glob(...)'`: the project's sweeper, on Hydra's public plugin API."""

import subprocess
import sys
from pathlib import Path

import pytest

from harness.paths import TRACES_DIR

ROOT = Path(__file__).resolve().parents[2]


def multirun(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "harness.run", "-m", "method=random", "trials=3",
                           f"traces.path={TRACES_DIR / 'sim-v1'}", f"results_dir={tmp_path}", *args],
                          cwd=ROOT, capture_output=True, text=True)


@pytest.mark.slow
def test_glob_expands_over_the_split_targets_and_the_grid_is_the_product(tmp_path):
    done = multirun(tmp_path, "target=glob(r*,exclude=resnet-*)", "seed=range(2)")
    assert done.returncode == 0, done.stderr
    jobs = sorted(str(p.parent.relative_to(tmp_path)) for p in tmp_path.rglob("job.json"))
    assert jobs == [f"sim-v1/random/roberta/seed={s}" for s in (0, 1)]
    none = multirun(tmp_path, "target=glob(nomatch)")
    assert none.returncode != 0 and "matches no target model of split 'paper'" in none.stderr
    assert "Traceback" not in none.stderr


def test_the_sweeper_uses_no_private_hydra_module():
    source = (ROOT / "hydra_plugins" / "falcon_bench" / "split_sweeper.py").read_text()
    assert "hydra._internal" not in source
