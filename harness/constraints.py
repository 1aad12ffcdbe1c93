"""Service-level objectives a serving configuration must meet: the one definition of an SLO miss.

A user states at most three limits (null = none): `latency_p99_ms` (the 99th-percentile latency may not exceed
it), `min_rps` (requests per second may not fall below it) and `max_usd_per_h` (the configuration's hourly price
may not exceed it). `Constraints.misses` names every limit a set of measured values breaks, one short line each;
replay (the oracle and the scorer) and live tuning both decide "SLO met" with it and nothing else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Mapping, Optional


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
    """The SLO of a search; every field null means unconstrained. Also the typed Hydra config of `constraints`."""

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

    @classmethod
    def from_config(cls, cfg: Mapping | None) -> "Constraints":
        """From a config node or dict (None or {}: unconstrained); an unknown key is refused with one line."""
        cfg = dict(cfg or {})
        unknown = sorted(set(cfg) - set(LIMITS))
        if unknown:
            raise ConstraintError(f"constraints.{unknown[0]} is not a constraint; allowed: {sorted(LIMITS)}")
        return cls(**cfg)

    @property
    def active(self) -> dict[str, float]:
        """The limits that are set, by key."""
        return {k: getattr(self, k) for k in LIMITS if getattr(self, k) is not None}

    @property
    def fields_needed(self) -> tuple[str, ...]:
        """The measured fields the active limits read."""
        return tuple(LIMITS[k][0] for k in self.active)

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
        the SLO is worth 0, as an infeasible one is (the harness's one rule, in replay and live)."""
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
