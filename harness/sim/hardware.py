"""GPU specifications the simulator predicts from (harness/sim/data/gpus.yaml): one entry per GPU die."""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

import yaml

GPU_FILE = Path(__file__).resolve().parent / "data" / "gpus.yaml"


class SimError(ValueError):
    """A simulator input that cannot be used (unknown model, GPU, operator or knob); the message says which."""


@dataclass(frozen=True)
class GPU:
    """One GPU die as a cloud instance exposes it, with the price of the smallest instance holding one."""

    name: str
    arch: str
    sms: int
    cuda_cores: int
    boost_clock_mhz: float
    fp32_tflops: float
    mem_gb: float
    mem_bw_gbps: float
    l2_mb: float
    tdp_w: float
    paper_rated_w: float
    busy_power_w: float
    idle_w: float
    pcie_gbps: float
    instance: str
    instance_vcpus: int
    instance_usd_per_h: float


@lru_cache(maxsize=None)
def load_gpus(path: str | Path = GPU_FILE) -> dict[str, GPU]:
    """All GPU entries of a specification file, by name."""
    raw = yaml.safe_load(Path(path).read_text())
    names = {f.name for f in fields(GPU)} - {"name"}
    gpus = {}
    for name, spec in raw.items():
        missing, extra = names - set(spec), set(spec) - names
        if missing or extra:
            raise SimError(f"{path}: GPU {name!r} lacks fields {sorted(missing)} / has unknown fields {sorted(extra)}")
        gpus[name] = GPU(name=name, **spec)
    return gpus


def gpu(name: str) -> GPU:
    gpus = load_gpus()
    if name not in gpus:
        raise SimError(f"unknown GPU type {name!r}; known: {sorted(gpus)} (add an entry to {GPU_FILE})")
    return gpus[name]
