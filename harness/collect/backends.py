"""Backends: what a machine can realise, what it is, and what a configuration on it costs.

`cpu` realises CPU cores and batch size; `cuda` adds a GPU memory cap and, only when allowed, a GPU power cap.
A space with a knob the backend cannot realise is refused: knobs are realised for real, never faked.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Mapping

from harness.collect.actuators import PowerCap, gpu_info, usable_cpus
from harness.collect.journal import CollectError
from harness.paths import ROOT as REPO
from harness.space import SearchSpace


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def software() -> dict:
    versions = {"python": platform.python_version()}
    for dist in ("falcon-bench", "torch", "torchvision", "numpy", "pillow", "nvidia-ml-py"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    try:
        versions["falcon-bench-commit"] = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
            timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return versions


def gpu_type(name: str) -> str:
    """'NVIDIA H100 80GB HBM3' -> 'H100', 'Tesla V100-SXM2-16GB' -> 'V100': the first token with a digit."""
    tokens = [t for t in re.split(r"[\s\-]+", name) if t]
    return next((t for t in tokens if any(c.isdigit() for c in t)), tokens[0] if tokens else name)


def check_prices(price: Mapping) -> dict:
    """The price block with every price a finite number > 0 (null: not set); one line naming a bad one. A price of
    0 or below would make requests per dollar infinite or negative."""
    def bad(value) -> bool:
        return isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf

    for key, value in price.items():
        values = value.items() if isinstance(value, Mapping) else [(None, value)]
        for sub, v in values:
            if key.endswith("_usd_per_h") or key.endswith("_by_type"):
                if v is not None and bad(v):
                    name = f"price.{key}" + (f".{sub}" if sub is not None else "")
                    raise CollectError(f"{name}={v!r}: a price must be a finite number > 0 (USD per hour)")
    return dict(price)


class Backend:
    """The cpu backend; `CudaBackend` extends it."""

    name = "cpu"
    knobs = frozenset({"cpu_cores", "batch_size"})

    def __init__(self, price: Mapping, device: int = 0, allow_power_cap: bool = False, label: str | None = None):
        self.price = check_prices(price)
        self.label = label
        self.device = device
        self.allow_power_cap = allow_power_cap
        self.power_cap: PowerCap | None = None

    def check(self, space: SearchSpace) -> None:
        """Refuse a space this machine cannot realise, before anything is measured."""
        unknown = [k for k in space.names if k not in self.knobs]
        if unknown:
            raise CollectError(f"backend={self.name} cannot realise knobs {unknown} of space {space.name!r}; "
                               f"it realises {sorted(self.knobs)}")
        if "batch_size" not in space.names:
            raise CollectError(f"space {space.name!r} needs a batch_size knob")
        if importlib.util.find_spec("torch") is None:  # the workers import it; this process need not
            raise CollectError("collection needs torch: pip install -e '.[torch]'")
        if "cpu_cores" in space.names:
            cpus = usable_cpus()
            too_many = [c for c in space.knob("cpu_cores").values if not 1 <= int(c) <= len(cpus)]
            if too_many:
                raise CollectError(f"cpu_cores values {too_many} cannot be realised: this process may use "
                                   f"{len(cpus)} CPUs")

    def machine(self) -> dict:
        return {"cpu": cpu_model(), "usable_cpus": len(usable_cpus()), "os_cpus": os.cpu_count(),
                "platform": platform.platform(), "host": platform.node(), "backend": self.name,
                "label": self.label}

    def machine_label(self) -> str | None:
        """This machine's value of a merge knob (see harness.collect.merge); a CPU machine has the one given."""
        return self.label

    def price_per_hour(self, config: Mapping) -> float:
        cores = int(config.get("cpu_cores", len(usable_cpus())))
        return cores * float(self.price["per_core_usd_per_h"])

    def price_model(self) -> dict:
        return {"per_core_usd_per_h": float(self.price["per_core_usd_per_h"]),
                "source": str(self.price["source"]),
                "formula": "price_per_hour = cpu_cores x per_core_usd_per_h"}


class CudaBackend(Backend):
    name = "cuda"
    knobs = frozenset({"cpu_cores", "gpu_mem_gb", "batch_size", "gpu_power_pct"})

    def check(self, space: SearchSpace) -> None:
        self.gpu_ = self._probe()
        super().check(space)
        if "gpu_mem_gb" in space.names:
            too_big = [g for g in space.knob("gpu_mem_gb").values if float(g) > self.gpu_["memory_gb"]]
            if too_big:
                raise CollectError(f"gpu_mem_gb values {too_big} cannot be realised: the GPU has "
                                   f"{self.gpu_['memory_gb']:.1f} GB")
        if "gpu_power_pct" in space.names:
            self.power_cap = PowerCap(self.allow_power_cap, self.device)
            self.power_cap.check(space.knob("gpu_power_pct").values)
        if self.label is not None and self.label != self.gpu_type():
            raise CollectError(f"machine_label={self.label!r} differs from the detected GPU type "
                               f"{self.gpu_type()!r}: leave machine_label unset on a GPU machine")
        self.gpu_usd_per_h_ = self._gpu_price()

    def _probe(self) -> dict:
        """Ask a child process, so that this one never holds a CUDA context while workers measure."""
        try:
            out = subprocess.run([sys.executable, "-m", "harness.collect.worker", "--probe", str(self.device)],
                                 capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            raise CollectError("backend=cuda: probing the GPU with torch timed out") from None
        if out.returncode != 0:
            last = (out.stderr.strip().splitlines() or ["no output"])[-1]
            raise CollectError(f"backend=cuda: probing the GPU with torch failed: {last}")
        probe = json.loads(out.stdout.strip().splitlines()[-1])
        if not probe["cuda"]:
            raise CollectError("backend=cuda: no CUDA GPU is visible on this machine "
                               "(torch.cuda.is_available() is False); use backend=cpu")
        return {**probe, **{f"nvml_{k}": v for k, v in gpu_info(self.device).items()}}

    def gpu_type(self) -> str:
        """A short GPU type ('H200', 'A10G', 'V100', ...) from NVML's name, or from torch's without NVML."""
        return gpu_type(self.gpu_.get("nvml_name", self.gpu_["name"]))

    def machine_label(self) -> str:
        probe = self._probe()
        return self.label or gpu_type(probe.get("nvml_name", probe["name"]))

    def _gpu_price(self) -> float:
        if self.price.get("gpu_usd_per_h") is not None:
            return float(self.price["gpu_usd_per_h"])
        table = self.price["gpu_usd_per_h_by_type"]
        if self.gpu_type() not in table:
            raise CollectError(f"no hourly price for GPU {self.gpu_type()!r} in price.gpu_usd_per_h_by_type "
                               f"{sorted(table)}; pass price.gpu_usd_per_h=...")
        return float(table[self.gpu_type()])

    def machine(self) -> dict:
        return {**super().machine(), "label": self.gpu_type(), "gpu_type": self.gpu_type(), "gpu": self.gpu_}

    def price_per_hour(self, config: Mapping) -> float:
        share = float(config["gpu_mem_gb"]) / self.gpu_["memory_gb"] if "gpu_mem_gb" in config else 1.0
        return super().price_per_hour(config) + share * self.gpu_usd_per_h_

    def price_model(self) -> dict:
        return {**super().price_model(), "gpu_usd_per_h": self.gpu_usd_per_h_,
                "gpu_price_source": str(self.price["gpu_source"]),
                "formula": "price_per_hour = cpu_cores x per_core_usd_per_h + gpu_usd_per_h x gpu_mem_gb / "
                           "GPU memory (a GPU shared by memory, priced by its share; the whole GPU without a "
                           "gpu_mem_gb knob)"}


def make_backend(name: str, price: Mapping, device: int = 0, allow_power_cap: bool = False,
                 label: str | None = None) -> Backend:
    """`label` names the machine in a merge (the value it fills in the merged space's shard knob); a GPU
    machine's is its detected GPU type, a CPU machine has none unless given."""
    backends = {"cpu": Backend, "cuda": CudaBackend}
    if name not in backends:
        raise CollectError(f"unknown backend {name!r}; backends: {sorted(backends)}")
    return backends[name](price, device, allow_power_cap, label)
