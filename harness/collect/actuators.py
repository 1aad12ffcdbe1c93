"""Knob actuators: the knobs of a configuration realised for real in the worker process (or around it).

- CPU cores: the process's CPU affinity and the framework's thread counts (in the worker, before torch runs).
- GPU memory: torch's per-process memory fraction of the device.
- GPU power: the NVML power limit, set by the collector around a worker only when the user allowed it and the
  process may set it; restored afterwards. Never on a GPU the user does not own.
NVML (the `pynvml` module of nvidia-ml-py) is optional: without it GPU type, power and energy are unknown,
and the fields that need them are left out of the trace, never recorded as zero.
"""

from __future__ import annotations

import os
import threading
import time

from harness.collect.journal import CollectError


def usable_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def pin_cores(cores: int) -> list[int]:
    """Restrict this process to its first `cores` usable CPUs and size the thread pools to them."""
    cpus = usable_cpus()
    if not 1 <= cores <= len(cpus):
        raise CollectError(f"cpu_cores={cores} cannot be realised: this process may use {len(cpus)} CPUs {cpus}")
    chosen = cpus[:cores]
    os.sched_setaffinity(0, chosen)
    import torch

    torch.set_num_threads(cores)
    torch.set_num_interop_threads(1)
    return chosen


def thread_env(cores: int) -> dict[str, str]:
    """Environment for a worker, so that libraries that read it at import time start with `cores` threads."""
    n = str(cores)
    return {"OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n}


def cap_gpu_memory(gpu_mem_gb: float, device: int = 0) -> float:
    """Cap this process's allocations on the device at `gpu_mem_gb`; returns the fraction used."""
    import torch

    total_gb = torch.cuda.get_device_properties(device).total_memory / 2**30
    if gpu_mem_gb > total_gb:
        raise CollectError(f"gpu_mem_gb={gpu_mem_gb} cannot be realised: the GPU has {total_gb:.1f} GB")
    fraction = gpu_mem_gb / total_gb
    torch.cuda.set_per_process_memory_fraction(fraction, device)
    return fraction


# -- NVML ---------------------------------------------------------------------------------------------------
def nvml():
    """The initialised pynvml module, or None when nvidia-ml-py or the NVIDIA driver is missing."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return None
    return pynvml


def gpu_info(device: int = 0) -> dict:
    """Name, memory and power limits of a GPU as NVML reports them ({} without NVML)."""
    nv = nvml()
    if nv is None:
        return {}
    h = nv.nvmlDeviceGetHandleByIndex(device)
    name = nv.nvmlDeviceGetName(h)
    info = {"name": name.decode() if isinstance(name, bytes) else name,
            "memory_gb": nv.nvmlDeviceGetMemoryInfo(h).total / 2**30,
            "driver": _text(nv.nvmlSystemGetDriverVersion())}
    try:
        info["power_limit_w"] = nv.nvmlDeviceGetPowerManagementLimit(h) / 1000.0
        info["power_default_w"] = nv.nvmlDeviceGetPowerManagementDefaultLimit(h) / 1000.0
        lo, hi = nv.nvmlDeviceGetPowerManagementLimitConstraints(h)
        info["power_min_w"], info["power_max_w"] = lo / 1000.0, hi / 1000.0
    except nv.NVMLError:
        pass
    return info


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class PowerMeter:
    """Mean power and energy of a GPU over a window: the energy counter where the GPU has one (Volta and
    later), else the mean of power samples every 50 ms. `read()` is None without NVML."""

    def __init__(self, device: int = 0):
        self._nv = nvml()
        self._handle = self._nv.nvmlDeviceGetHandleByIndex(device) if self._nv else None

    def start(self) -> None:
        if self._nv is None:
            return
        self._t0 = time.perf_counter()
        try:
            self._e0 = self._nv.nvmlDeviceGetTotalEnergyConsumption(self._handle)
        except self._nv.NVMLError:
            self._e0 = None
        self._samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self._samples.append(self._nv.nvmlDeviceGetPowerUsage(self._handle) / 1000.0)

    def read(self) -> dict | None:
        """{"power_w": mean watts, "energy_j": joules} since `start`, or None without NVML."""
        if self._nv is None:
            return None
        self._stop.set()
        self._thread.join()
        elapsed = time.perf_counter() - self._t0
        if self._e0 is not None:
            energy = (self._nv.nvmlDeviceGetTotalEnergyConsumption(self._handle) - self._e0) / 1000.0
            return {"power_w": energy / elapsed, "energy_j": energy}
        if not self._samples:
            self._samples.append(self._nv.nvmlDeviceGetPowerUsage(self._handle) / 1000.0)
        power = sum(self._samples) / len(self._samples)
        return {"power_w": power, "energy_j": power * elapsed}


class PowerCap:
    """Sets a GPU's power limit to a percentage of its default limit, and restores the limit it found.

    Refuses unless the user allowed it and NVML lets this process set the limit (root on a GPU it owns)."""

    def __init__(self, allowed: bool, device: int = 0):
        if not allowed:
            raise CollectError("the space has a GPU power knob but allow_power_cap is false: capping power "
                               "changes the GPU for everyone on it; pass allow_power_cap=true only on a GPU you own")
        self._nv = nvml()
        if self._nv is None:
            raise CollectError("allow_power_cap=true needs NVML (pip install nvidia-ml-py) and an NVIDIA driver")
        self._h = self._nv.nvmlDeviceGetHandleByIndex(device)
        self.original_mw = self._nv.nvmlDeviceGetPowerManagementLimit(self._h)
        self.default_mw = self._nv.nvmlDeviceGetPowerManagementDefaultLimit(self._h)
        self.min_mw, self.max_mw = self._nv.nvmlDeviceGetPowerManagementLimitConstraints(self._h)
        try:  # setting the limit it already has changes nothing and tells whether we may set it
            self._nv.nvmlDeviceSetPowerManagementLimit(self._h, self.original_mw)
        except self._nv.NVMLError as e:
            raise CollectError(f"allow_power_cap=true but this process may not set the GPU's power limit ({e})")

    def check(self, pcts) -> None:
        """Refuse percentages the GPU cannot realise, before anything is measured."""
        for pct in pcts:
            mw = self.default_mw * float(pct) / 100.0
            if not self.min_mw <= mw <= self.max_mw:
                raise CollectError(f"gpu_power_pct={pct} ({mw / 1000:.0f} W) is outside this GPU's power limit "
                                   f"range {self.min_mw / 1000:.0f}-{self.max_mw / 1000:.0f} W: drop it from the space")

    def set(self, pct: float) -> None:
        self._nv.nvmlDeviceSetPowerManagementLimit(self._h, int(self.default_mw * float(pct) / 100.0))

    def restore(self) -> None:
        self._nv.nvmlDeviceSetPowerManagementLimit(self._h, self.original_mw)
