"""The Searcher protocol (ask/tell/recommend) and the loop that drives one search against an oracle.

A searcher is a small object: the constructor takes parameters only; `fit(source_traces)` learns offline from
the source models (transfer methods only); `start(space, seed, budget)` begins a search; then `ask`/`tell`
alternate, and `recommend` names the configuration the searcher would deploy now. The searcher never sees
the target's trace: the loop passes it `Observation`s from the oracle and nothing else.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from harness.oracle import Observation, Oracle, Scorer
from harness.space import Config, SearchSpace
from harness.traces import Trace


class Searcher:
    """Base class with the bookkeeping every searcher needs; subclasses implement `ask`.

    After `start`: `space_`, `rng_` (the run's only source of randomness), `budget_`, `history_` (the
    observations told so far, in order) and `tried_` (their configuration indices). `phase_` names what the
    last `ask` was doing (e.g. "init", "explore", "exploit"), where a method has such phases.
    """

    name = "searcher"

    def fit(self, source: Sequence[Trace]) -> "Searcher":
        """Learn from the source models' traces; methods without transfer ignore them."""
        return self

    def start(self, space: SearchSpace, seed: int, budget: int) -> None:
        self.space_ = space
        self.rng_ = np.random.default_rng(seed)
        self.budget_ = budget
        self.history_: list[Observation] = []
        self.tried_: set[int] = set()
        self.phase_: str | None = None

    def ask(self) -> Config:
        raise NotImplementedError

    def tell(self, obs: Observation) -> None:
        self.history_.append(obs)
        self.tried_.add(obs.index)

    def recommend(self) -> Config:
        """The best configuration observed so far (ties: the earliest)."""
        if not self.history_:
            raise RuntimeError(f"{self.name}: recommend() before any trial")
        best = max(range(len(self.history_)), key=lambda i: (self.history_[i].objective, -i))
        return self.history_[best].config

    # -- helpers for subclasses ---------------------------------------------------------------------------
    def untried(self) -> np.ndarray:
        """Indices of the configurations not yet tried, ascending."""
        mask = np.ones(len(self.space_), dtype=bool)
        mask[list(self.tried_)] = False
        return np.flatnonzero(mask)


@dataclass(frozen=True)
class TrialRecord:
    """One line of a search's results."""

    trial: int
    config: Config
    index: int
    objective: float
    feasible: bool
    recommended: Config
    accuracy: float
    ask_ms: float
    phase: str | None
    cost_usd: float

    def to_dict(self) -> dict:
        return {"trial": self.trial, "config": self.config, "index": self.index, "objective": self.objective,
                "feasible": self.feasible, "recommended": self.recommended, "accuracy": self.accuracy,
                "ask_ms": self.ask_ms, "phase": self.phase,
                "cost_usd": None if math.isnan(self.cost_usd) else self.cost_usd}


def run_search(searcher: Searcher, trace: Trace, seed: int, trials: int) -> Iterator[TrialRecord]:
    """Drive one search of `trials` trials on `trace`; yields one record per trial.

    A searcher that proposes a configuration it already tried is a bug in that searcher: the loop refuses it.
    """
    oracle, scorer = Oracle(trace, seed), Scorer(trace)
    searcher.start(trace.space, seed, trials)
    seen: set[int] = set()
    for t in range(1, trials + 1):
        t0 = time.perf_counter()
        config = searcher.ask()
        ask_ms = (time.perf_counter() - t0) * 1000.0
        index = trace.space.index(config)
        if index in seen:
            raise RuntimeError(f"{searcher.name} proposed configuration {config} twice (trial {t})")
        seen.add(index)
        obs = oracle.trial(config)
        searcher.tell(obs)
        recommended = searcher.recommend()
        yield TrialRecord(t, obs.config, index, obs.objective, obs.feasible, trace.space.validate(recommended),
                          scorer.accuracy(recommended), ask_ms, searcher.phase_, obs.cost_usd)
