"""The searcher protocol: what a search method is, what it is told, and what it may learn.

A searcher is a small object behind a narrow interface (the contract other parts rely on):

- the constructor takes parameters only; they are checked against the class's `parameter_constraints` whenever
  a searcher is made (`check_parameters`, run by the class itself: no subclass has to remember it);
- the harness begins every search with `begin(space, seed, budget, constraints)`: it tells the searcher the
  search's SLO (`constraints_`, a `harness.slo.Constraints`; searchers that ignore it keep working) and calls
  `start(space, seed, budget)`, which a searcher may extend; then `ask`/`tell` alternate, and `recommend`
  names the configuration the searcher would deploy now;
- a `TransferSearcher` also learns offline, once, through `fit(knowledge)`: the `Knowledge` the harness selected
  for the run (source traces and, where the run's protocol allows, auxiliary curves). A searcher never opens a
  file and never learns the target's name; it sees the target only through `Observation`s;
- a `StatefulSearcher` (a transfer searcher whose fitted state is plain JSON) exports and restores that state
  with `get_state`/`set_state`, so the harness can cache it (never pickle).

The harness decides what a searcher can do from these classes, never by probing attributes. The loop that drives
a search is `harness.loop`; the knowledge protocols (what `fit` may see) are `KNOWLEDGE_PROTOCOLS`.
"""

from __future__ import annotations

import math
from abc import ABCMeta, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import numpy as np
import pandas as pd

from harness.slo import NO_CONSTRAINTS, Constraints
from harness.space import Config, SearchSpace
from harness.traces import OpStat, Trace

# What a transfer searcher's `fit` may see (the method config's `protocol`; `harness.knowledge`): "strict" = the
# source models only; "authors" = also the target's own released operator curves, as the authors' code uses them.
KNOWLEDGE_PROTOCOLS = ("strict", "authors")


@dataclass(frozen=True)
class Observation:
    """What one trial returns. `objective` is 0 for an infeasible configuration and for one that misses the
    search's constraints (`slo_misses` then names each limit broken, `harness.slo`); `metrics` always holds what
    was measured, met or missed."""

    config: Config
    index: int
    objective: float
    feasible: bool
    metrics: Mapping[str, float]
    op_profile: Mapping[str, OpStat] | None
    cost_usd: float  # NaN where the trace has no price
    duration_s: float
    reason: str = ""
    slo_misses: tuple[str, ...] = ()

    @property
    def slo_met(self) -> bool:
        return not self.slo_misses


@dataclass(frozen=True)
class Knowledge:
    """The offline knowledge a transfer searcher is fitted on, selected by the harness for one run.

    `sources`: the split's source models' traces. `curves`: released operator resource curves (tables in the
    release's `kop_curves` layout) by the model they were released with, only those the run's `protocol`
    allows: "strict" = source models only; "authors" = the target's own released curves, as the authors' code
    uses them (the table is keyed "target": the searcher still does not learn the target's name).
    """

    sources: tuple[Trace, ...]
    curves: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    protocol: str = "strict"

    def __post_init__(self) -> None:
        if self.protocol not in KNOWLEDGE_PROTOCOLS:
            raise ValueError(f"knowledge protocol {self.protocol!r} is not one of {KNOWLEDGE_PROTOCOLS}")
        if not self.sources:
            raise ValueError("knowledge needs at least one source trace")
        object.__setattr__(self, "sources", tuple(self.sources))
        for t in self.sources:
            if t.space != self.space:
                raise ValueError(f"source trace {t.model!r} is over space {t.space.name!r}, not "
                                 f"{self.space.name!r}: all source traces and the target must share one space")

    @property
    def space(self) -> SearchSpace:
        return self.sources[0].space

    def normalised_objectives(self) -> np.ndarray:
        """(n_sources, n_configs) true objective of each source, min-max normalised per model (the paper's norm.)."""
        rows = []
        for t in self.sources:
            v = np.asarray(t.true_objective, dtype=float)
            span = v.max() - v.min()
            rows.append((v - v.min()) / span if span > 0 else np.zeros_like(v))
        return np.vstack(rows)


# -- parameter constraints (one rule for every searcher's constructor) -----------------------------------
@dataclass(frozen=True)
class Interval:
    """Numbers between `low` and `high` (None: unbounded); `closed` says which ends are allowed."""

    kind: type
    low: float | None
    high: float | None
    closed: str = "both"  # "both", "left", "right" or "neither"
    allow_none: bool = False

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.allow_none
        if isinstance(value, bool) or not isinstance(value, (int, float) if self.kind is float else int):
            return False
        low_ok = self.low is None or (value >= self.low if self.closed in ("both", "left") else value > self.low)
        high_ok = self.high is None or (value <= self.high if self.closed in ("both", "right") else value < self.high)
        return low_ok and high_ok and not (isinstance(value, float) and math.isnan(value))

    def __str__(self) -> str:
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        low = "-inf" if self.low is None else self.low
        high = "inf" if self.high is None else self.high
        text = f"{'an integer' if self.kind is int else 'a number'} in {left}{low}, {high}{right}"
        return text + (" or null" if self.allow_none else "")


@dataclass(frozen=True)
class OneOf:
    """One of a few allowed values."""

    options: tuple

    def accepts(self, value: Any) -> bool:
        return value in self.options

    def __str__(self) -> str:
        return f"one of {list(self.options)}"


class CheckedParameters(ABCMeta):
    """Makes every searcher check its constructor parameters once it is constructed (`check_parameters`)."""

    def __call__(cls, *args, **kwargs):
        searcher = super().__call__(*args, **kwargs)
        searcher.check_parameters()
        return searcher


class Searcher(metaclass=CheckedParameters):
    """Base class with the bookkeeping every searcher needs; subclasses implement `ask`.

    After `begin`: `constraints_` (the search's SLO; unconstrained by default), `space_`, `rng_` (the run's only
    source of randomness), `history_` (the observations told so far, in order) and `tried_` (their
    configuration indices). `phase_` names what the last `ask` was doing (e.g. "init", "explore", "exploit"),
    where a method has such phases. `parameter_constraints`: constructor parameter -> `Interval` or `OneOf`.
    """

    name: ClassVar[str] = "searcher"
    parameter_constraints: ClassVar[Mapping[str, Interval | OneOf]] = {}
    constraints_: Constraints = NO_CONSTRAINTS

    def check_parameters(self) -> None:
        """Refuse a constructor parameter outside its allowed range, with one line naming it."""
        for param, constraint in self.parameter_constraints.items():
            value = getattr(self, param)
            if not constraint.accepts(value):
                raise ValueError(f"{self.name}: parameter {param}={value!r} is not allowed; expected {constraint}")

    def begin(self, space: SearchSpace, seed: int, budget: int, constraints: Constraints = NO_CONSTRAINTS) -> None:
        """Begin a search under `constraints` (how the harness starts every search)."""
        self.constraints_ = constraints
        self.start(space, seed, budget)

    def start(self, space: SearchSpace, seed: int, budget: int) -> None:
        """Reset the bookkeeping for a new search of at most `budget` trials; subclasses extend it."""
        self.space_ = space
        self.rng_ = np.random.default_rng(seed)
        self.history_: list[Observation] = []
        self.tried_: set[int] = set()
        self.phase_: str | None = None

    @abstractmethod
    def ask(self) -> Config:
        """The next configuration to try (never one already tried)."""

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


class TransferSearcher(Searcher):
    """A searcher that learns offline, once, from the knowledge the harness hands it."""

    @abstractmethod
    def fit(self, knowledge: Knowledge) -> "TransferSearcher":
        """Learn from `knowledge`; returns self."""


class StatefulSearcher(TransferSearcher):
    """A transfer searcher whose fitted state round-trips through plain JSON (cached by the harness)."""

    @abstractmethod
    def get_state(self) -> dict:
        """Everything `fit` learned, as JSON-able values."""

    @abstractmethod
    def set_state(self, state: dict) -> "StatefulSearcher":
        """Restore a state from `get_state`; returns self, which then searches exactly as the fitted one."""
