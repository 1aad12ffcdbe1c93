"""The one search loop: a searcher against an evaluator, in replay and in live tuning alike.

An `Evaluator` answers one trial: the replay `harness.oracle.Oracle` from a trace, or the live evaluator of
`harness.live` by measuring on this machine. `run_search` drives a searcher against either, and is the only place
where these rules live:

- a searcher never gets a configuration twice: proposing one it already tried is a bug in that searcher, refused;
- every trial is judged against the search's SLO with the one rule (`harness.slo.Constraints.judge`): a trial that
  misses is told as objective 0, with the limits it missed (`Observation.slo_misses`) and every measured value;
- each trial becomes a `TrialRecord`: what was tried, what the searcher would recommend now, how long it took to
  ask, and (in replay, where a scorer knows the truth) the recommendation's accuracy.
"""

from __future__ import annotations

import dataclasses
import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

from harness.search import Observation, Searcher
from harness.slo import NO_CONSTRAINTS, Constraints
from harness.space import Config, SearchSpace


class SearcherBug(RuntimeError):
    """A searcher that broke the contract (proposed a configuration twice); the message names it."""


class Evaluator(ABC):
    """Answers trials of configurations of `space`, as a stress test does."""

    space: SearchSpace

    @abstractmethod
    def trial(self, config: Mapping) -> Observation:
        """Run one trial of `config`: what was measured, with the objective before any SLO judgement."""


@dataclass(frozen=True)
class TrialRecord:
    """One trial of a search: its judged observation, the configuration recommended after it, the searcher's ask
    time and phase, and the recommendation's accuracy where a scorer knows the truth (None live). `constrained`:
    whether the search had limits (only then does the record carry SLO fields)."""

    trial: int
    observation: Observation
    recommended: Config
    accuracy: float | None
    ask_ms: float
    phase: str | None
    constrained: bool

    @property
    def config(self) -> Config:
        return self.observation.config

    @property
    def index(self) -> int:
        return self.observation.index

    @property
    def objective(self) -> float:
        """The objective the searcher was told (0 for a trial that missed the SLO)."""
        return self.observation.objective

    def to_dict(self) -> dict:
        """The record as a replay search's `trials.jsonl` line."""
        obs = self.observation
        record = {"trial": self.trial, "config": obs.config, "index": obs.index, "objective": obs.objective,
                  "feasible": obs.feasible, "recommended": self.recommended, "accuracy": self.accuracy,
                  "ask_ms": self.ask_ms, "phase": self.phase,
                  "cost_usd": None if math.isnan(obs.cost_usd) else obs.cost_usd}
        if self.constrained:
            record.update(slo_met=obs.slo_met, slo_misses=list(obs.slo_misses))
        return record


def run_search(searcher: Searcher, evaluator: Evaluator, seed: int, trials: int,
               constraints: Constraints = NO_CONSTRAINTS,
               accuracy: Callable[[Config], float] | None = None) -> Iterator[TrialRecord]:
    """Drive one search of `trials` trials; yields one record per trial, as soon as it is told.

    `accuracy` scores a recommendation (replay's `Scorer.accuracy`); live tuning has none.
    """
    space = evaluator.space
    if not 1 <= trials <= len(space):
        raise ValueError(f"trials={trials} is not allowed: a search of space {space.name!r} has 1 to "
                         f"{len(space)} trials (one per configuration at most)")
    searcher.begin(space, seed, trials, constraints)
    seen: set[int] = set()
    for t in range(1, trials + 1):
        started = time.perf_counter()
        config = searcher.ask()
        ask_ms = (time.perf_counter() - started) * 1000.0
        index = space.index(config)
        if index in seen:
            raise SearcherBug(f"{searcher.name} proposed configuration {space.config(index)} twice (trial {t}): "
                               "a bug in that searcher")
        seen.add(index)
        measured = evaluator.trial(config)
        objective, misses = constraints.judge(measured.objective, measured.metrics)
        obs = dataclasses.replace(measured, objective=objective, slo_misses=misses)
        searcher.tell(obs)
        recommended = space.validate(searcher.recommend())
        yield TrialRecord(t, obs, recommended, accuracy(recommended) if accuracy else None, ask_ms,
                          searcher.phase_, bool(constraints.active))
