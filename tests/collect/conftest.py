"""Fixtures of the collection tests: the tiny models importable here and in worker processes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from harness.collect.collector import Settings

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # pytest's importlib mode does not add test folders to sys.path
    sys.path.insert(0, str(HERE))
FAST = Settings(reps=2, warmup_s=0.05, measure_s=0.05, min_batches=2, profile_batches=1, timeout_s=120)
PRICE = {"per_core_usd_per_h": 0.05, "source": "test", "gpu_usd_per_h": None,
         "gpu_usd_per_h_by_type": {"T4": 0.5}, "gpu_source": "test"}


@pytest.fixture
def tiny_models(monkeypatch):
    """`tiny_models:TINY` and `tiny_models:FRAGILE` resolvable in the collector's worker processes too."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
