"""One configuration measured in a fresh process: `python -m harness.collect.worker REQUEST.json RESULT.json`.

The worker realises the configuration's knobs, builds the model, warms up, runs `reps` timed closed-loop
windows, profiles the operators, and writes its result as JSON. Running out of memory is a result
(infeasible, with the reason); any other failure exits non-zero and the collector records it as a crash.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path


def measure(req: dict) -> dict:
    from harness.collect.actuators import PowerMeter, cap_gpu_memory, pin_cores
    from harness.collect.loadgen import LoadGenerator, Preprocessor
    from harness.collect.models import resolve
    from harness.collect.profiler import profile_ops

    t_start = time.perf_counter()
    config, cuda = req["config"], req["backend"] == "cuda"
    cores = int(config.get("cpu_cores", len(os.sched_getaffinity(0))))
    cpus = pin_cores(cores)
    import torch

    device = torch.device(f"cuda:{req['device']}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
        if "gpu_mem_gb" in config:
            cap_gpu_memory(float(config["gpu_mem_gb"]), req["device"])
    spec, build = resolve(req["model"])
    model = build().to(device)
    batch_size = int(config["batch_size"])
    preprocess = Preprocessor(spec.input_kind, spec.inputs, seed=req["seed"])
    last: list = []

    def infer(batch) -> None:
        with torch.inference_mode():
            tensors = [torch.from_numpy(a).to(device, non_blocking=True) for a in batch]
            model(*tensors)
            if cuda:
                torch.cuda.synchronize(device)
        last[:] = tensors

    gen = LoadGenerator(preprocess, infer, batch_size, threads=cores, overlap=cuda)
    meter = PowerMeter(req["device"]) if cuda else None
    try:
        gen.run(req["warmup_s"], min_batches=2)
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        reps = []
        for _ in range(req["reps"]):
            if meter:
                meter.start()
            w = gen.run(req["measure_s"], req["min_batches"])
            rep = {"rps": w.rps, "latency_p50_ms": w.latency_ms(50), "latency_p99_ms": w.latency_ms(99),
                   "batches": w.batches, "elapsed_s": w.elapsed_s}
            power = meter.read() if meter else None
            if power is not None:
                rep.update(power)
            reps.append(rep)
    finally:
        gen.close()
    result = {"feasible": True, "reason": "", "reps": reps, "cpus": cpus}
    if cuda:
        result["gpu_mem_used_gb"] = torch.cuda.max_memory_allocated(device) / 2**30

    def forward() -> None:
        with torch.inference_mode():
            model(*last)
        if cuda:
            torch.cuda.synchronize(device)

    result["operators"] = profile_ops(forward, req["profile_batches"], cuda) if req["profile_batches"] else []
    result["host_mem_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    result["worker_s"] = time.perf_counter() - t_start
    return result


def out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    try:
        import torch
    except ImportError:
        return False
    return isinstance(exc, torch.OutOfMemoryError)


def die_with_parent() -> None:
    """A worker must not outlive a collector that was killed (it would measure alongside the next one)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def probe(device: int) -> dict:
    """What torch sees of the machine: {"cuda": False}, or the GPU's name, memory and compute capability."""
    import torch

    if not torch.cuda.is_available():
        return {"cuda": False}
    p = torch.cuda.get_device_properties(device)
    return {"cuda": True, "name": p.name, "memory_gb": p.total_memory / 2**30,
            "capability": f"{p.major}.{p.minor}", "cuda_version": torch.version.cuda}


def main(argv: list[str]) -> int:
    if argv[0] == "--probe":
        print(json.dumps(probe(int(argv[1]))))
        return 0
    die_with_parent()
    if os.getppid() == 1:  # the collector died before we could ask to die with it
        return 1
    req = json.loads(Path(argv[0]).read_text())
    try:
        result = measure(req)
    except Exception as e:
        if not out_of_memory(e):
            raise
        result = {"feasible": False, "reason": f"out of memory: {str(e).splitlines()[0][:200]}"}
    Path(argv[1]).write_text(json.dumps(result, allow_nan=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
