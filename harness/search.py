"""The searcher protocol and the loop that drives one search against an oracle.

A searcher is a small object behind a narrow interface (the contract other parts rely on):

- the constructor takes parameters only and checks them against the class's `parameter_constraints`;
- `start(space, seed, budget)` begins a search; then `ask`/`tell` alternate, and `recommend` names the
  configuration the searcher would deploy now;
- a `TransferSearcher` also learns offline, once, through `fit(knowledge)`: the `Knowledge` the harness selected
  for the run (source traces and, where the run's protocol allows, auxiliary curves). A searcher never opens a
  file and never learns the target's name; it sees the target only through `Observation`s;
- a `StatefulSearcher` (a transfer searcher whose fitted state is plain JSON) exports and restores that state
  with `get_state`/`set_state`, so the harness can cache it (never pickle).

The harness decides what a searcher can do from these classes, never by probing attributes.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator, Mapping

import numpy as np
import pandas as pd

from harness.constraints import Constraints
from harness.space import Config, SearchSpace
from harness.traces import OpStat, Trace

PROTOCOLS = ("strict", "authors")


@dataclass(frozen=True)
class Observation:
    """What one trial returns. `objective` is 0 for an infeasible configuration and for one that misses the
    search's constraints (`slo_misses` then names each limit broken, `harness.constraints`); `metrics` always
    holds what was measured."""

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
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"knowledge protocol {self.protocol!r} is not one of {PROTOCOLS}")
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


class Searcher(ABC):
    """Base class with the bookkeeping every searcher needs; subclasses implement `ask`.

    After `start`: `space_`, `rng_` (the run's only source of randomness), `history_` (the
    observations told so far, in order) and `tried_` (their configuration indices). `phase_` names what the
    last `ask` was doing (e.g. "init", "explore", "exploit"), where a method has such phases.
    `parameter_constraints`: constructor parameter -> `Interval` or `OneOf`, checked by `check_parameters`,
    which every constructor calls last.
    """

    name: ClassVar[str] = "searcher"
    parameter_constraints: ClassVar[Mapping[str, Interval | OneOf]] = {}

    def check_parameters(self) -> None:
        """Refuse a constructor parameter outside its allowed range, with one line naming it."""
        for param, constraint in self.parameter_constraints.items():
            value = getattr(self, param)
            if not constraint.accepts(value):
                raise ValueError(f"{self.name}: parameter {param}={value!r} is not allowed; expected {constraint}")

    def start(self, space: SearchSpace, seed: int, budget: int) -> None:
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


@dataclass(frozen=True)
class TrialRecord:
    """One line of a search's results; `slo_misses` is None in an unconstrained search (the record then has no SLO
    fields), else the limits the trial missed (`slo_met` and `slo_misses` in the record)."""

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
    slo_misses: tuple[str, ...] | None = None

    def to_dict(self) -> dict:
        record = {"trial": self.trial, "config": self.config, "index": self.index, "objective": self.objective,
                  "feasible": self.feasible, "recommended": self.recommended, "accuracy": self.accuracy,
                  "ask_ms": self.ask_ms, "phase": self.phase,
                  "cost_usd": None if math.isnan(self.cost_usd) else self.cost_usd}
        if self.slo_misses is not None:
            record.update(slo_met=not self.slo_misses, slo_misses=list(self.slo_misses))
        return record


def run_search(searcher: Searcher, trace: Trace, seed: int, trials: int,
               constraints: Constraints = Constraints()) -> Iterator[TrialRecord]:
    """Drive one search of `trials` trials on `trace` under `constraints`; yields one record per trial.

    A searcher that proposes a configuration it already tried is a bug in that searcher: the loop refuses it.
    Under constraints, a trial that misses them is told as objective 0 (`Observation.slo_misses` says why), and a
    recommendation that misses them on average scores accuracy 0 (`harness.oracle`).
    """
    if not 1 <= trials <= len(trace.space):
        raise ValueError(f"trials={trials} is not allowed: a search of space {trace.space.name!r} has 1 to "
                         f"{len(trace.space)} trials (one per configuration at most)")
    from harness.oracle import Oracle, Scorer  # here, not at the top: the oracle imports Observation from here

    oracle, scorer = Oracle(trace, seed, constraints=constraints), Scorer(trace, constraints)
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
                          scorer.accuracy(recommended), ask_ms, searcher.phase_, obs.cost_usd,
                          obs.slo_misses if constraints.active else None)
