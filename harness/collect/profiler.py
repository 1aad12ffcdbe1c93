"""Per-operator profile of a model at one configuration, from torch.profiler.

Operators are the aten operators the model's forward pass calls directly (conv2d, linear, batch_norm, ...),
with their inclusive time (device time on a GPU, CPU time otherwise) and the memory they allocate net of what
they free (activations), summed per operator type and divided by the number of profiled batches. Type names
drop the `aten::` namespace and the trailing `_` of in-place variants (relu_ -> relu).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable

MARKER = "falcon_bench::forward"


def op_type(name: str) -> str:
    name = name.split("::", 1)[-1]
    return name[:-1] if name.endswith("_") and not name.endswith("__") else name


def profile_ops(forward: Callable[[], None], batches: int, cuda: bool) -> list[dict]:
    """[{op_type, time_ms, mem_mb}] per batch, for the aten operators that `forward` calls directly."""
    from torch.profiler import ProfilerActivity, profile, record_function

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities, profile_memory=True) as prof:
        for _ in range(batches):
            with record_function(MARKER):
                forward()
    time_us: dict[str, float] = defaultdict(float)
    mem_b: dict[str, float] = defaultdict(float)
    for ev in prof.events():
        parent = ev.cpu_parent
        if parent is None or parent.name != MARKER or not ev.name.startswith("aten::"):
            continue
        kind = op_type(ev.name)
        time_us[kind] += ev.device_time_total if cuda else ev.cpu_time_total
        mem = ev.device_memory_usage if cuda else ev.cpu_memory_usage
        mem_b[kind] += max(float(mem), 0.0)
    return [{"op_type": k, "time_ms": time_us[k] / 1000.0 / batches, "mem_mb": mem_b[k] / 2**20 / batches}
            for k in sorted(time_us)]
