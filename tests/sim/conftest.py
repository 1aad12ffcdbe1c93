from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from harness.sim import Simulator
from harness.sim.simulator import conf_file, load_sim_params
from harness.paths import CONF_DIR
from harness.space import load_space

from . import fakes

SPLIT = OmegaConf.load(CONF_DIR / "split" / "paper.yaml")
PAPER_MODELS = sorted(list(SPLIT.source) + list(SPLIT.target))  # the 30 models of every shipped simulated set
BASE = {"cpu_cores": 4, "gpu_type": "V100", "gpu_mem_gb": 2.4, "batch_size": 32, "gpu_power_pct": 100}


@pytest.fixture(scope="session", params=[1, 2], ids=["v1", "v2"])
def fake_sim(request) -> Simulator:
    """The shipped simulator parameters (each version: every must-hold holds for both) over the synthetic
    inventories of tests/sim/fakes.py."""
    return Simulator(load_sim_params(conf_file(request.param)), inventory=fakes.inventory, specs=fakes.spec)


@pytest.fixture(scope="session")
def paper_grid() -> pd.DataFrame:
    space = load_space("paper")
    digits = space.grid_digits()
    return pd.DataFrame({k.name: np.array(k.values)[digits[:, j]] for j, k in enumerate(space.knobs)})


def knobs(**values) -> dict[str, np.ndarray]:
    """One configuration as knob arrays; missing knobs take the paper-space defaults used in these tests."""
    config = {"cpu_cores": 4, "gpu_type": "T4", "gpu_mem_gb": 2.4, "batch_size": 32, "gpu_power_pct": 100, **values}
    n = max(len(v) if isinstance(v, (list, tuple, np.ndarray)) else 1 for v in config.values())
    return {k: np.array(v if isinstance(v, (list, tuple, np.ndarray)) else [v] * n) for k, v in config.items()}
