"""Synthetic traces with an operator profile at every configuration, for Falcon's tests."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import pytest

from harness.space import SearchSpace
from harness.traces import Trace


def profiled_trace(space: SearchSpace, objective: Callable[[dict], float],
                   shares: Callable[[dict], dict[str, float]], model: str = "profiled") -> Trace:
    """A trace whose objective and per-configuration operator time/memory shares are given functions."""
    rows, ops = [], []
    for index, config in enumerate(space):
        value = objective(config)
        rows.append({**config, "rep": 0, "objective": value, "feasible": value > 0})
        for op, share in shares(config).items():
            ops.append({"config_index": index, "op_type": op, "time_share": share, "mem_share": share,
                        "time_ms": share * 10.0, "mem_mb": share * 100.0})
    return Trace(model, space, pd.DataFrame(rows), pd.DataFrame(ops), {"provenance": "synthetic"})


def planted_objective(config: dict, shift: float = 0.0) -> float:
    """Best at 8 cores, gpu 'b', batch 8; batch dominates, cores matter, gpu a little."""
    batch = 1.0 - abs(np.log2(config["batch"]) - 3.0) / 4.0
    cores = np.log2(config["cores"]) / 3.0
    gpu = {"a": 0.8, "b": 1.0, "c": 0.9}[config["gpu"]]
    return float((0.2 + batch) * (0.5 + cores) * gpu + shift)


def conv_dense_shares(config: dict) -> dict[str, float]:
    conv = 0.6 + 0.02 * np.log2(config["batch"])
    return {"conv2d": conv, "dense": 0.97 - conv, "relu": 0.03}


@pytest.fixture
def make_profiled() -> Callable[..., Trace]:
    return profiled_trace
