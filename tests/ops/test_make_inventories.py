"""`python -m harness.ops.make_inventories` is a Hydra app that refuses unknown models before any write."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.torch
pytest.importorskip("torch")  # the torch extra is installed in CI (scripts/test)

ROOT = Path(__file__).resolve().parents[2]


def test_unknown_model_is_one_line_before_any_write(tmp_path):
    out = tmp_path / "inventories"
    done = subprocess.run([sys.executable, "-m", "harness.ops.make_inventories", "models=[dcgan,nosuch]",
                           f"out={out}"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.startswith("make_inventories: models: no zoo model 'nosuch'")
    assert "Traceback" not in done.stderr and not out.exists()
