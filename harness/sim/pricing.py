"""Hourly price of a configuration: EC2 on-demand prices decomposed into the resources it holds (conf/pricing/)."""

from __future__ import annotations


import numpy as np
from omegaconf import OmegaConf

from harness.paths import CONF_DIR
from harness.sim.hardware import GPU, SimError

PRICING_DIR = CONF_DIR / "pricing"


def load_pricing(name: str):
    path = PRICING_DIR / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in PRICING_DIR.glob("*.yaml"))
        raise SimError(f"no pricing {name!r}; known: {known}")
    return OmegaConf.load(path)


def gpu_usd_per_h(pricing, g: GPU) -> float:
    """The GPU's part of its 1-GPU instance's price: the instance less its vCPUs."""
    return g.instance_usd_per_h - g.instance_vcpus * pricing.vcpu_usd_per_h


def price_per_hour(pricing, g: GPU, cores: np.ndarray, mem_gb: np.ndarray, cap_w: np.ndarray) -> np.ndarray:
    share = pricing.gpu_mem_priced_share
    gpu_part = gpu_usd_per_h(pricing, g) * ((1 - share) + share * np.minimum(mem_gb / g.mem_gb, 1.0))
    energy_saved = pricing.energy_usd_per_kwh * np.maximum(g.tdp_w - cap_w, 0.0) / 1000.0
    return cores * pricing.vcpu_usd_per_h + gpu_part - energy_saved
