"""scripts/collect_gpu's CPU-side parts: its refusal without a driver, its plan, and the collector command it
runs (which stops with one line on a machine without a GPU)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "collect_gpu"


def run(tmp_path, fake_driver: bool, **env) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if fake_driver:  # a stand-in nvidia-smi: the script only checks that a driver is there
        (bin_dir / "nvidia-smi").write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / "nvidia-smi").chmod(0o755)
    path = os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"])
    return subprocess.run([str(SCRIPT), str(tmp_path / "set")], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PATH": path, "PYTHON": sys.executable, **env})


def test_without_a_driver_it_stops_in_one_line(tmp_path):
    done = run(tmp_path, fake_driver=False)
    assert done.returncode == 1 and done.stderr.strip() == \
        "collect_gpu: no NVIDIA driver on this machine (nvidia-smi not found)"


@pytest.mark.slow
def test_its_plan_and_its_collector_command(tmp_path):
    done = run(tmp_path, fake_driver=True, PLAN_ONLY="1", PYTHONPATH="")
    assert done.returncode == 0, done.stderr
    assert "plan: 2 models x space 'gpu_quick' (12 configurations each)" in done.stdout
    assert "2 x 1.5 s windows after 1 s warm-up" in done.stdout
    done = run(tmp_path, fake_driver=True, PLAN_ONLY="")
    assert done.returncode == 1 and "collect: backend=cuda: no CUDA GPU is visible" in done.stderr
    assert not (tmp_path / "set").exists()
