"""falcon_plus's latency model (ours, not the paper's): the target's p99 latency at every configuration, predicted
from its first trial's operator profile and the sources' per-operator times across configurations.

Offline (`OperatorLatency.from_traces`): per operator type, how its time moves from one configuration to another,
`log_time[op][c]` = the mean over the sources that run it of log(time at c) - (that source's mean log time of it)
(a shape, pooled over sources); and the part of p99 latency that operator time does not explain,
`log_overhead[c]` = the sources' mean of log latency - log total operator time (batching and queueing, the same
for every model in a world where latency follows operator time). `sigma` is the leave-one-out error of the
prediction below on the sources themselves (median over sources of the standard deviation of log error).

Online (`predict_log`): with the target's first trial at configuration c1 (latency L1, time shares w_op), an
operator's time at c is its time at c1 times exp(log_time[op][c] - log_time[op][c1]), so

    log L(c) = log L1 + log sum_op w_op exp(log_time[op][c] - log_time[op][c1]) + log_overhead[c] - log_overhead[c1]

(operators the sources never ran move like the share-weighted mean of the known ones). Later latency
measurements shift the prediction by the mean log error they show. `probability_below` turns it into P(p99 <= limit)
with a normal error of `sigma` (plus the repetition noise). State is plain JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy.special import ndtr

from harness.traces import Trace


@dataclass(frozen=True)
class OperatorLatency:
    """Pooled per-operator time shapes, the latency overhead over operator time, and the model's error."""

    log_time: Mapping[str, np.ndarray]
    log_overhead: np.ndarray
    sigma: float

    @classmethod
    def from_traces(cls, sources: Sequence[Trace]) -> "OperatorLatency | None":
        """None where the sources have no per-configuration operator times or no p99 latency."""
        tables = [_operator_tables(t) for t in sources if t.operators is not None and "latency_p99_ms" in t.fields]
        tables = [t for t in tables if t is not None]
        if len(tables) < 2:
            return None
        log_time = _pooled_shapes([ops for ops, _, _ in tables])
        overhead = _column_mean([lat - np.log(total) for _, total, lat in tables])
        log_overhead = np.where(np.isnan(overhead), np.nanmean(overhead), overhead)
        errors = []
        for i, (ops, total, lat) in enumerate(tables):  # leave one out: predict each source from the others
            rest = [t for j, t in enumerate(tables) if j != i]
            model = cls(_pooled_shapes([o for o, _, _ in rest]),
                        _nan_filled(_column_mean([la - np.log(to) for _, to, la in rest])), 0.0)
            first = int(np.nanargmin(np.abs(lat - np.nanmedian(lat))))
            shares = {op: float(np.exp(v[first])) / float(total[first]) for op, v in ops.items()
                      if np.isfinite(v[first])}
            error = lat - model.predict_log(first, float(np.exp(lat[first])), shares)
            errors.append(float(np.nanstd(error)))
        return cls(log_time, log_overhead, float(np.median(errors)))

    def predict_log(self, first: int, first_latency: float, shares: Mapping[str, float]) -> np.ndarray:
        """Predicted log p99 latency at every configuration from one measurement at `first` and its time shares."""
        known = {op: w for op, w in shares.items() if op in self.log_time and w > 0}
        total = sum(known.values())
        if not known or total <= 0:
            moved = np.zeros_like(self.log_overhead)
        else:
            ratios = sum(w * np.exp(self.log_time[op] - self.log_time[op][first]) for op, w in known.items())
            moved = np.log(ratios / total)
        return math.log(first_latency) + moved + self.log_overhead - self.log_overhead[first]

    def moved_shares(self, shares: Mapping[str, float], source: int, to: int) -> dict[str, float]:
        """Time shares measured at configuration `source`, moved to configuration `to` (each operator's time
        scaled by its pooled shape, renormalised; operators without a shape keep their time)."""
        moved = {op: w * (math.exp(self.log_time[op][to] - self.log_time[op][source]) if op in self.log_time else 1.0)
                 for op, w in shares.items()}
        total = sum(moved.values())
        return {op: w / total for op, w in moved.items()} if total > 0 else dict(shares)

    def to_dict(self) -> dict:
        return {"log_time": {op: v.tolist() for op, v in self.log_time.items()},
                "log_overhead": self.log_overhead.tolist(), "sigma": self.sigma}

    @classmethod
    def from_dict(cls, state: Mapping) -> "OperatorLatency":
        return cls({op: np.array(v, dtype=float) for op, v in state["log_time"].items()},
                   np.array(state["log_overhead"], dtype=float), float(state["sigma"]))


class TargetLatency:
    """The target's latency, predicted from its first trial and shifted by later measurements."""

    def __init__(self, model: OperatorLatency, first: int, first_latency: float, shares: Mapping[str, float],
                 noise: float = 0.0):
        self.model = model
        self.base = model.predict_log(first, first_latency, shares)
        self.noise = noise
        self.errors: list[float] = []

    def observe(self, index: int, latency: float) -> None:
        if latency > 0 and math.isfinite(latency):
            self.errors.append(math.log(latency) - float(self.base[index]))

    def predict_log(self) -> np.ndarray:
        return self.base + (float(np.mean(self.errors)) if self.errors else 0.0)

    def probability_below(self, limit: float) -> np.ndarray:
        """P(the target's p99 latency <= limit) at every configuration."""
        sd = math.sqrt(self.model.sigma ** 2 + self.noise ** 2) or 1e-9
        return ndtr((math.log(limit) - self.predict_log()) / sd)


def _operator_tables(trace: Trace) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray] | None:
    """Per operator type its log time per configuration, the total operator time and log p99 latency (means over
    repetitions; NaN where the configuration has no own profile or no latency)."""
    ops = trace.operators
    ops = ops[ops["config_index"] >= 0]
    if ops.empty or ops["time_ms"].isna().all():
        return None
    n = len(trace.space)
    times = ops.pivot_table(index="config_index", columns="op_type", values="time_ms", aggfunc="mean")
    times = times.reindex(np.arange(n))
    total = times.sum(axis=1, min_count=1).to_numpy(dtype=float)
    m = trace.measurements
    latency = m.assign(lat=np.where(m["feasible"], m["latency_p99_ms"], np.nan)).groupby("config_index")["lat"]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_latency = np.log(latency.mean().reindex(np.arange(n)).to_numpy(dtype=float))
        per_op = {str(op): np.log(times[op].to_numpy(dtype=float)) for op in times.columns}
    per_op = {op: np.where(np.isfinite(v), v, np.nan) for op, v in per_op.items()}
    return per_op, np.where(total > 0, total, np.nan), np.where(np.isfinite(log_latency), log_latency, np.nan)


def _pooled_shapes(tables: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per operator type: the mean over sources of its centred log time per configuration (NaN-free)."""
    shapes: dict[str, list[np.ndarray]] = {}
    for ops in tables:
        for op, v in ops.items():
            if np.isfinite(v).any():
                shapes.setdefault(op, []).append(v - np.nanmean(v))
    return {op: _nan_filled(_column_mean(vs)) for op, vs in sorted(shapes.items())}


def _column_mean(rows: list[np.ndarray]) -> np.ndarray:
    """Per column, the mean of the rows' known (non-NaN) values, as numpy's nanmean; NaN (no warning) where none is
    known."""
    stacked = np.vstack(rows)
    known = ~np.isnan(stacked)
    counts = known.sum(axis=0)
    return np.where(counts > 0, np.where(known, stacked, 0.0).sum(axis=0) / np.maximum(counts, 1), np.nan)


def _nan_filled(v: np.ndarray) -> np.ndarray:
    """NaN entries (no source measured there) -> 0, the centred mean."""
    return np.where(np.isnan(v), 0.0, v)
