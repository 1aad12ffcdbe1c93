"""The one way an off-the-shelf optimizer's ask/tell interface becomes a `Searcher` over a discrete grid.

A peer adapter (Optuna's TPE, SMAC3, Syne Tune) implements four small methods over the library's own ask/tell
API: `_start_library(seed, budget)` creates the library's optimizer, `_propose()` asks it for its next
configuration, `_observe(handle, value)` tells it a result, and `_inject(config)` makes it propose a
configuration of our choosing next. The library does the whole
optimisation; this class only keeps the oracle from seeing a configuration twice:

- A configuration already tried is told the value observed there first (what a replayed trial would most likely
  return, at no cost) and the library is asked again, up to `max_repeats` times.
- After that, or when the library says it has nothing left to propose, the nearest untried configuration in
  knob-position distance to the last proposal (ties: lowest index) is injected and tried instead; without a
  last proposal, the lowest untried index.
- Every knob is passed to the library as a categorical or ordinal parameter over its exact values, so a proposal
  off the grid cannot arise; if a library returned one anyway, `SearchSpace.index` refuses it with the value
  and the allowed ones (a bug in the adapter, not a case to paper over).

The library runs single-threaded (`harness.surrogate.single_threaded`, every thread pool incl. OpenMP), as the
other baselines' surrogates do: on the shared 2-core machine, under pytest, XGBoost's OpenMP threads (Syne Tune's
BORE classifier) took 21 ms per fit or predict call instead of about 0.2-2 ms, a search 10-20x slower.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from harness.surrogate import single_threaded
from harness.search import Interval, Searcher
from harness.space import Config


class PeerExhausted(Exception):
    """The library has no further configuration to propose."""


class PeerAdapter(Searcher, ABC):
    """Base class of the thin ask/tell adapters; subclasses talk to one library."""

    parameter_constraints = {"max_repeats": Interval(int, 0, None)}

    def __init__(self, max_repeats: int = 20):
        self.max_repeats = max_repeats

    def start(self, space, seed, budget):
        super().start(space, seed, budget)
        self.digits_ = space.grid_digits()
        self._pending: Any = None
        self.phase_ = self.name
        self._start_library(int(self.rng_.integers(2**31 - 1)), budget)

    @single_threaded()
    def ask(self) -> Config:
        value_of = {o.index: o.objective for o in reversed(self.history_)}  # first observation wins
        last = None
        for _ in range(self.max_repeats + 1):
            try:
                handle, config = self._propose()
            except PeerExhausted:
                break
            last = self.space_.index(config)
            if last not in self.tried_:
                self._pending = handle
                return self.space_.config(last)
            self._observe(handle, value_of[last])
        index = self._nearest_untried(last)
        self._pending = self._inject(self.space_.config(index))
        return self.space_.config(index)

    @single_threaded()
    def tell(self, obs):
        super().tell(obs)
        self._observe(self._pending, obs.objective)
        self._pending = None

    def _nearest_untried(self, index: int | None) -> int:
        cand = self.untried()
        if index is None:
            return int(cand[0])
        dist = np.abs(self.digits_[cand] - self.digits_[index]).sum(axis=1)
        return int(cand[np.argmin(dist)])

    # -- what each library adapter implements ------------------------------------------------------------
    @abstractmethod
    def _start_library(self, seed: int, budget: int) -> None:
        """Create the library's optimizer for `self.space_` (maximising the objective) and a search of `budget`
        trials, seeded with `seed`."""

    @abstractmethod
    def _propose(self) -> tuple[Any, Config]:
        """The library's next proposal: (its handle for the trial, the configuration); PeerExhausted if none."""

    @abstractmethod
    def _observe(self, handle: Any, objective: float) -> None:
        """Tell the library the objective of the trial `handle` (higher is better)."""

    @abstractmethod
    def _inject(self, config: Config) -> Any:
        """Make the library take `config` as its next trial; returns the handle to tell its result to."""
