"""Service-level objectives: the one module that owns what an SLO is, how a miss is judged, and how a scenario
resolves for a target.

- The rule. A user states at most three limits (`Constraints`; null = none): `latency_p99_ms` (the 99th-percentile
  latency may not exceed it), `min_rps` (requests per second may not fall below it) and `max_usd_per_h` (the
  configuration's hourly price may not exceed it). `Constraints.misses` names every limit a set of measured values
  breaks; `Constraints.judge` is the objective a searcher is told for one measured trial (a miss is worth 0, as an
  infeasible configuration is). The search loop (`harness.loop`) judges every trial with it, in replay and live.
- The schema. `SLOConf` is the typed `constraints` node of every app (run, sweep, worlds, hpo, tune): the three
  limits plus the replay scenario key `latency_p99_percentile`. `check_slo` turns a node into limits and a
  percentile, refusing a bad value with one line; `check_slo_overrides` does the same for command-line overrides
  before Hydra composes anything.
- The scenario. `latency_p99_percentile` limits the p99 latency of each target to that percentile of the target's
  own mean p99 latencies over its feasible configurations (`percentile_limit`); `resolve_slo` turns a job's
  limits into a `ResolvedSLO` on its target's trace, refusing limits that trace cannot judge or that no
  configuration meets.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields
from typing import Any, Mapping, Optional

import numpy as np
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException

from harness.traces import Trace, TraceSet


class ConstraintError(ValueError):
    """A constraint value that is not a finite number > 0 (or null), or a limit the data cannot judge."""


# constraint key -> (the measured field it limits, "max" or "min", unit for messages)
LIMITS = {
    "latency_p99_ms": ("latency_p99_ms", "max", "ms"),
    "min_rps": ("rps", "min", "requests/s"),
    "max_usd_per_h": ("price_per_hour", "max", "$/h"),
}


@dataclass(frozen=True)
class Constraints:
    """The limits a search runs under; every field null means unconstrained."""

    latency_p99_ms: Optional[float] = None
    min_rps: Optional[float] = None
    max_usd_per_h: Optional[float] = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise ConstraintError(f"constraints.{f.name}={value!r} is not allowed: use a finite number > 0, "
                                      "or null for no limit")
            object.__setattr__(self, f.name, float(value))

    @property
    def active(self) -> dict[str, float]:
        """The limits that are set, by key."""
        return {k: getattr(self, k) for k in LIMITS if getattr(self, k) is not None}

    def require(self, available: set[str] | list[str] | tuple[str, ...], where: str) -> None:
        """Refuse, with one line, limits whose measured field `where` (a trace, a backend) does not provide."""
        missing = [k for k in self.active if LIMITS[k][0] not in available]
        if missing:
            raise ConstraintError(f"constraints.{missing[0]} cannot be judged: {where} has no "
                                  f"{LIMITS[missing[0]][0]!r} measurements")

    def misses(self, metrics: Mapping[str, float]) -> tuple[str, ...]:
        """One line per limit the measured `metrics` break, e.g. 'latency_p99_ms 812.3 > 500'; () when all are met.

        A limit whose value is not finite in `metrics` (a failed measurement) counts as missed.
        """
        out = []
        for key, limit in self.active.items():
            field_name, kind, _ = LIMITS[key]
            value = float(metrics.get(field_name, math.nan))
            if not math.isfinite(value):
                out.append(f"{key}: no {field_name} measured")
            elif kind == "max" and value > limit:
                out.append(f"{key} {value:.4g} > {limit:.4g}")
            elif kind == "min" and value < limit:
                out.append(f"{key} {value:.4g} < {limit:.4g}")
        return tuple(out)

    def judge(self, objective: float, metrics: Mapping[str, float]) -> tuple[float, tuple[str, ...]]:
        """The objective a searcher is told for one measured trial, and the limits it missed: a trial that misses
        the SLO is worth 0, as an infeasible one is."""
        missed = self.misses(metrics)
        return (0.0 if missed else objective), missed

    def to_dict(self) -> dict[str, float | None]:
        """Every key, null where unset (for job identity and result files)."""
        return {k: getattr(self, k) for k in LIMITS}

    def __str__(self) -> str:
        active = self.active
        if not active:
            return "no constraints"
        return ", ".join(f"{k}={v:g}" for k, v in active.items())


NO_CONSTRAINTS = Constraints()


# -- the typed config node of every app --------------------------------------------------------------------
@dataclass
class SLOConf:
    """The `constraints` node: the limits of `Constraints` (null = no limit), plus the replay scenario key
    `latency_p99_percentile`, which sets `latency_p99_ms` per target to that percentile (0-100] of the target's
    own mean p99 latencies over its feasible configurations."""

    latency_p99_ms: Optional[float] = None
    min_rps: Optional[float] = None
    max_usd_per_h: Optional[float] = None
    latency_p99_percentile: Optional[float] = None


SLO_KEYS = tuple(f.name for f in fields(SLOConf))


def check_slo(node: Any) -> tuple[Constraints, float | None]:
    """The fixed limits and the latency percentile of a `constraints` node (a config node or a dict); refuses an
    unknown key, a limit that is not a finite number > 0, a percentile outside (0, 100], or both a latency limit
    and a percentile, each with one line."""
    values = dict(node or {})
    unknown = sorted(set(values) - set(SLO_KEYS))
    if unknown:
        raise ConstraintError(f"constraints.{unknown[0]} is not a constraint; allowed: {list(SLO_KEYS)}")
    percentile = values.pop("latency_p99_percentile", None)
    limits = Constraints(**values)
    if percentile is not None:
        if isinstance(percentile, bool) or not isinstance(percentile, (int, float)) or not 0 < percentile <= 100:
            raise ConstraintError(f"constraints.latency_p99_percentile={percentile!r} is not allowed: use a "
                                  "number in (0, 100], or null")
        if limits.latency_p99_ms is not None:
            raise ConstraintError("constraints.latency_p99_ms and constraints.latency_p99_percentile are both set: "
                                  "set one of them (the percentile resolves to a latency limit per target)")
        percentile = float(percentile)
    return limits, percentile


def check_slo_overrides(args: list[str]) -> None:
    """Refuse, before Hydra composes anything, a command-line override of an unknown `constraints.` key or of a
    constraint with a bad value (one line each). Sweeps over several values (`-m`) are checked once composed."""
    try:
        overrides = OverridesParser.create().parse_overrides([a for a in args if not a.startswith("-")])
    except HydraException:
        return  # a malformed override: Hydra's own error says what is wrong with it
    for override in overrides:
        key = override.key_or_group
        if not key.startswith("constraints.") or override.is_delete():
            continue
        name = key.removeprefix("constraints.")
        if name not in SLO_KEYS:
            raise ConstraintError(f"constraints.{name} is not a constraint; allowed: {list(SLO_KEYS)}")
        if not override.is_sweep_override():
            check_slo({name: override.value()})


# -- judging a trace's configurations on their mean measured values ----------------------------------------
def mean_metrics(trace: Trace) -> list[dict[str, float]]:
    """Every configuration's measured values averaged over its repetitions (NaN where nothing was measured)."""
    names = [f for f in trace.fields if f != "objective"]
    means = trace.measurements.groupby("config_index")[names].mean()
    return [dict(zip(names, row)) for row in means.sort_index().to_numpy(dtype=float)]


def slo_met(trace: Trace, constraints: Constraints) -> np.ndarray:
    """Per configuration, whether its mean measured values meet the limits (all True without limits)."""
    if not constraints.active:
        return np.ones(len(trace.space), dtype=bool)
    return np.array([not constraints.misses(m) for m in mean_metrics(trace)])


def constrained_objective(trace: Trace, constraints: Constraints) -> np.ndarray:
    """Per configuration, the true objective where its mean measured values meet the limits, else 0 (what replay
    scores a recommendation by); refuses limits the trace cannot judge, or that no feasible configuration meets."""
    constraints.require(trace.fields, f"trace {trace.model!r}")
    values = np.where(slo_met(trace, constraints), trace.true_objective, 0.0)
    if constraints.active and values.max() <= 0:
        raise ConstraintError(f"no feasible configuration of trace {trace.model!r} meets the constraints "
                              f"({constraints}) on its mean measured values: relax them")
    return values


def ruled_out(trace: Trace, constraints: Constraints) -> float:
    """The share of the trace's feasible configurations whose mean measured values miss the limits."""
    feasible = trace.feasible
    return float((feasible & ~slo_met(trace, constraints)).sum() / max(feasible.sum(), 1))


def percentile_limit(trace: Trace, percentile: float) -> float:
    """The `percentile` (0-100] of the trace's mean p99 latencies over its feasible configurations: the latency
    limit of the replay scenario `constraints.latency_p99_percentile` (at 50, half the feasible space misses)."""
    if "latency_p99_ms" not in trace.fields:
        raise ConstraintError(f"constraints.latency_p99_percentile cannot be resolved: trace {trace.model!r} has no "
                              "'latency_p99_ms' measurements")
    latencies = np.array([m["latency_p99_ms"] for m in mean_metrics(trace)])[trace.feasible]
    if latencies.size == 0:
        raise ConstraintError(f"constraints.latency_p99_percentile cannot be resolved: trace {trace.model!r} has no "
                              "feasible configuration")
    return float(np.percentile(latencies, percentile))


# -- a job's SLO, resolved on its target ---------------------------------------------------------------------
@dataclass(frozen=True)
class ResolvedSLO:
    """A job's limits resolved for its target: the limits its search runs under, the latency percentile they came
    from (None: set directly), and the share of the target's feasible configurations they rule out."""

    constraints: Constraints
    latency_p99_percentile: float | None
    ruled_out: float

    def to_dict(self) -> dict:
        return {"constraints": self.constraints.to_dict(), "latency_p99_percentile": self.latency_p99_percentile,
                "ruled_out": round(self.ruled_out, 6)}


UNCONSTRAINED = ResolvedSLO(NO_CONSTRAINTS, None, 0.0)


def resolve_slo(node: Any, traces: TraceSet, target: str) -> ResolvedSLO:
    """A `constraints` node resolved on the target's trace, which must be able to judge the limits and have at
    least one configuration that meets them (ConstraintError otherwise)."""
    limits, percentile = check_slo(node)
    if not limits.active and percentile is None:
        return UNCONSTRAINED
    return _resolved(traces.path.resolve(), traces.digest(), target, limits, percentile)


@functools.lru_cache(maxsize=256)  # a sweep has many jobs (methods x seeds) per target: resolve each target once
def _resolved(path, digest: str, target: str, limits: Constraints, percentile: float | None) -> ResolvedSLO:
    trace = TraceSet(path).load(target)
    if percentile is not None:
        limits = Constraints(**{**limits.to_dict(), "latency_p99_ms": percentile_limit(trace, percentile)})
    constrained_objective(trace, limits)  # judgeable and reachable
    return ResolvedSLO(limits, percentile, ruled_out(trace, limits))
