"""docs/extending.md end to end: the example method, copied into a folder outside the checkout, is registered
through Hydra's search path (nothing in the project edited), run with harness.run, swept with harness.sweep and
shown by harness.report next to a built-in method."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture
def user_folder(tmp_path):
    """The user's own folder, outside the checkout: their module and their method YAML."""
    assert not tmp_path.is_relative_to(ROOT)
    shutil.copy(EXAMPLES / "greedy_neighbour.py", tmp_path / "greedy_neighbour.py")
    shutil.copytree(EXAMPLES / "conf", tmp_path / "conf")
    return tmp_path


def harness(module, folder, *args):
    env = {**os.environ, "PYTHONPATH": str(folder)}  # the user's module is importable; the project is installed
    results = [f"results_dir={folder / 'results'}"] if module in ("run", "sweep") else []
    return subprocess.run([sys.executable, "-m", f"harness.{module}", f"hydra.searchpath=[file://{folder / 'conf'}]",
                           *results, *args],
                          cwd=folder, env=env, capture_output=True, text=True)


def test_own_method_runs_from_outside_the_checkout(user_folder):
    run = harness("run", user_folder, "method=greedy_neighbour", "target=vgg16", "seed=0", "trials=8")
    assert run.returncode == 0, run.stderr
    lines = (user_folder / "results" / "sim-v1" / "greedy_neighbour" / "vgg16" / "seed=0" / "trials.jsonl"
             ).read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 8 and len({r["index"] for r in records}) == 8
    assert {r["phase"] for r in records} >= {"explore", "exploit"}


def test_own_method_is_tuned_with_the_protocol(user_folder):
    """harness.hpo finds the method (and its `tuning:` block) through the search path, also in its
    worker processes, and scores the defaults as the first candidate."""
    tune = harness("hpo", user_folder, "methods=[greedy_neighbour]", "budget=2", "folds=2", "trials=3",
                   "n_jobs=2", f"out={user_folder / 'tuned'}")
    assert tune.returncode == 0, tune.stderr
    record = OmegaConf.to_container(OmegaConf.load(user_folder / "tuned" / "sim-v1" / "greedy_neighbour.yaml"))
    assert record["method"] == "greedy_neighbour" and set(record["values"]) == {"searcher.step"}
    assert len(record["trials"]) == 2 and record["trials"][0]["values"] == {"searcher.step": 1}


@pytest.mark.slow
def test_own_method_is_swept_and_reported_next_to_the_others(user_folder):
    sweep = harness("sweep", user_folder, "methods=[greedy_neighbour,random]", "targets=[vgg16,roberta]",
                    "seeds=2", "trials=6", "n_jobs=2")
    assert sweep.returncode == 0, sweep.stderr
    report = subprocess.run([sys.executable, "-m", "harness.report", f"results_dir={user_folder / 'results'}"],
                            cwd=user_folder, capture_output=True, text=True)
    assert report.returncode == 0, report.stderr
    summary = json.loads((user_folder / "results" / "report" / "summary.json").read_text())
    text = json.dumps(summary)
    assert "greedy_neighbour" in text and "random" in text
