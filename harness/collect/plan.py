"""What a collection will take before it runs: `python -m harness.collect action=plan space=S settings=P
plan.models=...` prints the jobs, configurations, hours and cost per machine type (the values of the merge
knob, `gpu_type` by default) and in total.

Per configuration a worker starts (`startup_s`, measured on this machine unless given), warms up
(`settings.warmup_s`) and runs `settings.reps` windows of `settings.measure_s` (a window lasts at least that
long, so the plan is a lower bound; the short operator profile is left out). One job is one model on one
machine type and holds one GPU (or one machine without a GPU knob) while it measures, one configuration at a
time. Cost = hours x the hourly price of that GPU type (`price.gpu_usd_per_h_by_type`), or of the largest
`cpu_cores` value at `price.per_core_usd_per_h` on a CPU-only space.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from harness.collect.backends import REPO
from harness.collect.collector import Settings
from harness.collect.journal import CollectError
from harness.space import SearchSpace


@dataclass
class Plan:
    space: SearchSpace
    settings: Settings
    models: list[str]
    knob: str | None
    startup_s: float
    startup_source: str
    rows: list[dict] = field(default_factory=list)

    @property
    def total(self) -> dict:
        keys = ("jobs", "configurations", "stress_h", "warmup_h", "startup_h", "hours")
        total = {k: sum(r[k] for r in self.rows) for k in keys}
        costs = [r["cost_usd"] for r in self.rows]
        total["cost_usd"] = None if None in costs else sum(costs)
        return total

    def render(self) -> str:
        s = self.settings
        unit = "GPU-hours" if self.knob == "gpu_type" else "machine-hours"
        lines = [f"plan: {len(self.models)} models x space {self.space.name!r} ({len(self.space):,} configurations"
                 f" each); per configuration {s.reps} x {s.measure_s:g} s windows after {s.warmup_s:g} s warm-up "
                 f"and a {self.startup_s:.1f} s worker start-up ({self.startup_source})",
                 f"{self.knob or 'machine':>10} {'jobs':>6} {'configs':>9} {'stress h':>10} {'warm-up h':>10} "
                 f"{'start-up h':>10} {unit:>13} {'$/hour':>8} {'cost $':>12}"]

        def line(name: str, r: dict, price: str) -> str:
            cost = "n/a" if r["cost_usd"] is None else f"{r['cost_usd']:,.0f}"
            return (f"{name:>10} {r['jobs']:>6,} {r['configurations']:>9,} {r['stress_h']:>10,.1f} "
                    f"{r['warmup_h']:>10,.1f} {r['startup_h']:>10,.1f} {r['hours']:>13,.1f} {price:>8} {cost:>12}")

        for r in self.rows:
            price = "n/a" if r["usd_per_h"] is None else f"{r['usd_per_h']:.3f}"
            lines.append(line(str(r["label"]), r, price))
        lines.append(line("total", self.total, ""))
        if any(r["cost_usd"] is None for r in self.rows):
            lines.append("n/a: no hourly price for that GPU type in price.gpu_usd_per_h_by_type")
        return "\n".join(lines)


def measure_startup_s() -> float:
    """Seconds for a fresh worker process to start and import what it needs (torch, the worker's modules)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", "import torch, harness.collect.worker, harness.collect.loadgen"],
                          env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise CollectError(f"measuring a worker's start-up failed: {(done.stderr.strip().splitlines() or [''])[-1]}"
                           " (pass plan.startup_s=SECONDS)")
    return time.perf_counter() - t0


def model_names(models: Sequence[str] | int | None) -> list[str]:
    from harness.models import MODELS

    if models is None:
        return list(MODELS)
    if isinstance(models, bool) or not isinstance(models, (int, list, tuple)):
        raise CollectError(f"plan.models={models!r}: give model names ([a,b]) or how many models (a number)")
    if isinstance(models, int):
        if models < 1:
            raise CollectError(f"plan.models={models}: need at least one model")
        return [f"model-{i + 1}" for i in range(models)]
    return [str(m) for m in models]


def make_plan(space: SearchSpace, settings: Settings, price: Mapping, models: Sequence[str] | int | None,
              knob: str = "gpu_type", startup_s: float | None = None) -> Plan:
    names = model_names(models)
    source = "given"
    if startup_s is None:
        startup_s, source = measure_startup_s(), "measured on this machine now"
    elif float(startup_s) < 0:
        raise CollectError(f"plan.startup_s={startup_s}: need a number of seconds >= 0")
    has_knob = knob in space.names
    labels = list(space.knob(knob).values) if has_knob else ["this machine"]
    per_label = len(space) // len(labels)
    plan = Plan(space, settings, names, knob if has_knob else None, float(startup_s), source)
    for label in labels:
        configs = per_label * len(names)
        stress_h = configs * settings.reps * settings.measure_s / 3600.0
        warmup_h = configs * settings.warmup_s / 3600.0
        startup_h = configs * float(startup_s) / 3600.0
        hours = stress_h + warmup_h + startup_h
        if has_knob and knob == "gpu_type":
            usd = price["gpu_usd_per_h_by_type"].get(str(label))
            usd = None if usd is None else float(usd)
        else:
            cores = max(space.knob("cpu_cores").values) if "cpu_cores" in space.names else os.cpu_count() or 1
            usd = float(cores) * float(price["per_core_usd_per_h"])
        plan.rows.append({"label": label, "jobs": len(names), "configurations": configs, "stress_h": stress_h,
                          "warmup_h": warmup_h, "startup_h": startup_h, "hours": hours, "usd_per_h": usd,
                          "cost_usd": None if usd is None else hours * usd})
    return plan
