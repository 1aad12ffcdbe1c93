"""A job's SLO resolved for its target: the limits its search runs under, checked against the target's trace.

A run's `constraints` node holds fixed limits or the replay scenario key `latency_p99_percentile`, which becomes a
latency limit in ms per target (`harness.oracle.percentile_limit`). `job_slo` resolves and checks it once per
(trace set, target, constraints) in a process: a sweep checks every (method, seed) job of a target. (Outside
`harness.run`, whose module is `__main__` under `python -m`: a cached function there cannot be pickled by the Ray
launcher.)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from omegaconf import DictConfig

from harness.config import check_constraints
from harness.constraints import Constraints
from harness.oracle import Scorer, percentile_limit
from harness.traces import TraceSet


@dataclass(frozen=True)
class JobSLO:
    """A job's constraints resolved for its target: the limits the search runs under, the latency percentile they
    came from (None: set directly), and the share of the target's feasible configurations they rule out."""

    constraints: Constraints
    latency_p99_percentile: float | None
    ruled_out: float

    def to_dict(self) -> dict:
        return {"constraints": self.constraints.to_dict(), "latency_p99_percentile": self.latency_p99_percentile,
                "ruled_out": round(self.ruled_out, 6)}


def job_slo(cfg: DictConfig, traces: TraceSet) -> JobSLO:
    """The job's constraints resolved on its target's trace, which must be able to judge them and have at least one
    configuration that meets them (ConstraintError otherwise)."""
    limits, percentile = check_constraints(cfg.constraints)
    if not limits.active and percentile is None:
        return JobSLO(limits, None, 0.0)
    return _resolved_slo(str(traces.path), traces.digest(), cfg.target, limits, percentile)


@functools.lru_cache(maxsize=256)  # a sweep checks every (method, seed) job of a target: resolve it once
def _resolved_slo(path: str, digest: str, target: str, limits: Constraints, percentile: float | None) -> JobSLO:
    trace = TraceSet(path).load(target)
    if percentile is not None:
        limits = Constraints(**{**limits.to_dict(), "latency_p99_ms": percentile_limit(trace, percentile)})
    return JobSLO(limits, percentile, Scorer(trace, limits).ruled_out)
