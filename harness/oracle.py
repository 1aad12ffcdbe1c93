"""The replay oracle: answers each trial of a search from a trace, as a real stress test would.

A searcher sees a target model only through `Oracle.trial` (an `harness.loop.Evaluator`): one noisy repetition of
the measurements and the operator profile at the configuration it asked for, plus the trial's cost and duration.
The search loop judges each trial against the SLO. Scoring (the true objective, the optimum) lives in `Scorer`,
which the loop keeps away from the searcher: under constraints it scores a configuration by its mean measured
values over the repetitions (`harness.slo.constrained_objective`: one that misses has true objective 0; the
optimum is the best one that meets the SLO).
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from harness.loop import Evaluator
from harness.search import Observation
from harness.slo import NO_CONSTRAINTS, Constraints, constrained_objective
from harness.traces import Trace

TRIAL_MINUTES = 15.0  # the paper's stress test: launch container, load test, collect


class OracleError(ValueError):
    """An oracle asked for with arguments it cannot honour (a seed that is not a whole number >= 0, ...)."""


class Oracle(Evaluator):
    """Replays trials of one model from its trace.

    The repetition returned for a configuration is drawn once per (seed, configuration), so every method run
    with the same seed sees the same noise for the same configuration (paired seeds), whatever its order.
    Asking the same configuration again returns the next repetition.
    """

    def __init__(self, trace: Trace, seed: int, trial_minutes: float = TRIAL_MINUTES):
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise OracleError(f"seed {seed!r} is not allowed: use a whole number >= 0")
        if isinstance(trial_minutes, bool) or not isinstance(trial_minutes, (int, float)) \
                or not 0 < trial_minutes < math.inf:
            raise OracleError(f"trial_minutes {trial_minutes!r} is not allowed: use a finite number > 0")
        self._trace = trace
        self.space = trace.space
        self.trial_minutes = trial_minutes
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
        return Observation(
            config=self.space.config(index), index=index,
            objective=t.value("objective", index, rep) if feasible else 0.0, feasible=feasible,
            metrics=metrics, op_profile=t.op_profile(index), cost_usd=cost, duration_s=duration,
            reason=t.reason(index, rep))


class Scorer:
    """Knows the truth about one trace, for scoring only: never handed to a searcher.

    Under `constraints`, a configuration whose mean measured values miss the SLO has true objective 0 and the
    optimum is the best configuration that meets it; a trace on which none does is refused (ConstraintError).
    """

    def __init__(self, trace: Trace, constraints: Constraints = NO_CONSTRAINTS):
        self.space = trace.space
        self.constraints = constraints
        self._true = constrained_objective(trace, constraints)
        self.optimum = float(self._true.max())
        self.optimum_index = int(self._true.argmax())

    def true_objective(self, config: Mapping) -> float:
        return float(self._true[self.space.index(config)])

    def accuracy(self, config: Mapping) -> float:
        """True objective of `config` over the optimum (the paper's search accuracy), 0..1."""
        return self.true_objective(config) / self.optimum if self.optimum > 0 else 0.0
