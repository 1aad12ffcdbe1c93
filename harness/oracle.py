"""The replay oracle: answers each trial of a search from a trace, as a real stress test would.

A searcher sees a target model only through `Oracle.trial`: one noisy repetition of the measurements and the
operator profile at the configuration it asked for, plus the trial's cost and duration. Scoring (the true
objective, the optimum) lives in `Scorer`, which the search loop keeps away from the searcher.

Under constraints (`harness.constraints.Constraints`, the SLO of the search) both judge with the one rule of
`Constraints.judge`/`misses`: the oracle judges each repetition (a miss is told as objective 0 with its
`slo_misses`, the measured values kept), and the scorer judges a configuration by its mean measured values over
the repetitions (one that misses has true objective 0; the optimum is the best one that meets the SLO).
`percentile_limit` resolves the replay scenario "a p99 latency limit at the p-th percentile of the target's own
latencies" into a concrete limit.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from harness.constraints import ConstraintError, Constraints
from harness.search import Observation
from harness.traces import Trace

TRIAL_MINUTES = 15.0  # the paper's stress test: launch container, load test, collect


class OracleError(ValueError):
    """An oracle asked for with arguments it cannot honour (a seed that is not a whole number >= 0, ...)."""


class Oracle:
    """Replays trials of one model from its trace.

    The repetition returned for a configuration is drawn once per (seed, configuration), so every method run
    with the same seed sees the same noise for the same configuration (paired seeds), whatever its order.
    Asking the same configuration again returns the next repetition. Each repetition is judged against
    `constraints` (none by default); a trace without a field an active limit reads is refused.
    """

    def __init__(self, trace: Trace, seed: int, trial_minutes: float = TRIAL_MINUTES,
                 constraints: Constraints = Constraints()):
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise OracleError(f"seed {seed!r} is not allowed: use a whole number >= 0")
        if isinstance(trial_minutes, bool) or not isinstance(trial_minutes, (int, float)) \
                or not 0 < trial_minutes < math.inf:
            raise OracleError(f"trial_minutes {trial_minutes!r} is not allowed: use a finite number > 0")
        constraints.require(trace.fields, f"trace {trace.model!r}")
        self._trace = trace
        self.space = trace.space
        self.trial_minutes = trial_minutes
        self.constraints = constraints
        rng = np.random.default_rng([int(seed), 0x0AC1E])
        self._first_rep = rng.integers(trace.n_reps, size=len(trace.space))
        self._times_asked = np.zeros(len(trace.space), dtype=np.int64)
        self.n_trials = 0
        self.total_cost_usd = 0.0

    def trial(self, config: Mapping) -> Observation:
        t = self._trace
        index = self.space.index(config)
        rep = int((self._first_rep[index] + self._times_asked[index]) % t.n_reps)
        self._times_asked[index] += 1
        feasible = t.is_feasible(index, rep)
        metrics = {f: t.value(f, index, rep) for f in t.fields if f != "objective"}
        duration = self.trial_minutes * 60.0
        price = metrics.get("price_per_hour", math.nan)
        cost = price * duration / 3600.0
        self.n_trials += 1
        if not math.isnan(cost):
            self.total_cost_usd += cost
        objective, misses = self.constraints.judge(t.value("objective", index, rep) if feasible else 0.0, metrics)
        return Observation(
            config=self.space.config(index), index=index, objective=objective, feasible=feasible,
            metrics=metrics, op_profile=t.op_profile(index), cost_usd=cost, duration_s=duration,
            reason=t.reason(index, rep), slo_misses=misses)


def mean_metrics(trace: Trace) -> list[dict[str, float]]:
    """Every configuration's measured values averaged over its repetitions (NaN where nothing was measured)."""
    fields = [f for f in trace.fields if f != "objective"]
    means = trace.measurements.groupby("config_index")[fields].mean()
    return [dict(zip(fields, row)) for row in means.sort_index().to_numpy(dtype=float)]


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


class Scorer:
    """Knows the truth about one trace, for scoring only: never handed to a searcher.

    Under `constraints`, a configuration whose mean measured values miss the SLO has true objective 0 and the
    optimum is the best configuration that meets it; a trace on which none does is refused (ConstraintError).
    `slo_met` says, per configuration, whether its mean values meet the SLO.
    """

    def __init__(self, trace: Trace, constraints: Constraints = Constraints()):
        constraints.require(trace.fields, f"trace {trace.model!r}")
        self.space = trace.space
        self.constraints = constraints
        self.slo_met = np.ones(len(trace.space), dtype=bool)
        if constraints.active:
            self.slo_met = np.array([not constraints.misses(m) for m in mean_metrics(trace)])
        self._true = np.where(self.slo_met, trace.true_objective, 0.0)
        self.optimum = float(self._true.max())
        self.optimum_index = int(self._true.argmax())
        if constraints.active and self.optimum <= 0:
            raise ConstraintError(f"no feasible configuration of trace {trace.model!r} meets the constraints "
                                  f"({constraints}) on its mean measured values: relax them")
        feasible = trace.feasible
        # the share of the feasible configurations the SLO rules out (0 without constraints)
        self.ruled_out = float((feasible & ~self.slo_met).sum() / max(feasible.sum(), 1))

    def true_objective(self, config: Mapping) -> float:
        return float(self._true[self.space.index(config)])

    def accuracy(self, config: Mapping) -> float:
        """True objective of `config` over the optimum (the paper's search accuracy), 0..1."""
        return self.true_objective(config) / self.optimum if self.optimum > 0 else 0.0
