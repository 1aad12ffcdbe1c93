"""Pieces the baselines share: the GP surrogate with their bounds (on `harness.surrogate`, the one GP and
expected-improvement helper of the project), trial bookkeeping, and
`SourceMatrixSearcher`, the base of the baselines that learn from the sources' normalised objectives and whose
fitted state round-trips through JSON (`get_state`/`set_state`). Under an SLO (`slo="feasibility"`) it also keeps
the shared feasibility model (`harness.feasibility`), learned from the sources' measurements at `fit` and from the
target's at every `tell`, for its subclass's proposals.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Sequence

import numpy as np
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import Kernel

from harness import portable
from harness.surrogate import fit_gp as shared_fit_gp
from harness.surrogate import matern_kernel, single_threaded
from harness.feasibility import SLO_MODES, FeasibilityModel, SourceMeasurements, expected_best, proposable
from harness.search import Knowledge, OneOf, Searcher, StatefulSearcher
from harness.space import SearchSpace
from harness.traces import Trace


SLO_PARAMETER = {"slo": OneOf(SLO_MODES)}


def observed(searcher: Searcher) -> tuple[np.ndarray, np.ndarray]:
    """Configuration indices and objectives of the trials told so far (first observation per configuration)."""
    idx = np.array([o.index for o in searcher.history_], dtype=np.int64)
    y = np.array([o.objective for o in searcher.history_], dtype=float)
    return idx, y


def best_untried(scores: np.ndarray, tried: set[int]) -> int:
    """Index of the highest score among untried configurations, compared at `harness.portable.DIGITS`
    significant digits (the same choice on any CPU); ties go to the lowest index."""
    masked = np.where(_tried_mask(len(scores), tried), -np.inf, scores)
    return portable.argmax(masked)


def random_untried(searcher: Searcher) -> int:
    return int(searcher.rng_.choice(searcher.untried()))


def _tried_mask(n: int, tried: set[int]) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[list(tried)] = True
    return mask


def fit_gp(x: np.ndarray, y: np.ndarray, warm: Kernel | None = None) -> GaussianProcessRegressor:
    """The shared GP (`harness.surrogate`) with the baselines' bounds, hyperparameters by marginal likelihood; `warm`: the
    previous fit's kernel, whose hyperparameters start the optimiser."""
    kernel = warm or matern_kernel(x.shape[1], length_scale=0.5, length_bounds=(1e-2, 1e2), noise_bounds=(1e-6, 1e-1))
    return shared_fit_gp(x, y, kernel)


def scale_to_observed(prior: np.ndarray, idx: np.ndarray, y: np.ndarray) -> float:
    """Non-negative scale a minimising ||y - a * prior[idx]||: puts a normalised source prior on the target's
    (unknown) objective scale."""
    p = prior[idx]
    denom = float(p @ p)
    return max(float(p @ y) / denom, 0.0) if denom > 0 else 0.0


class FeasibilityAware(Searcher):
    """A baseline that, under an SLO with `slo="feasibility"`, uses the shared feasibility model
    (`harness.feasibility`) learnt from the sources' measurements (`source_measurements_`, set by `fit` or
    `set_state`): after `start`, `feasibility_` is that model under active constraints, else None (and the search is
    the unconstrained one). It learns from every trial, and recommends the trial of highest objective x P(meets the
    SLO) (`expected_best`). Subclasses set `slo` ("ignore" or "feasibility")."""

    slo: str
    source_measurements_: SourceMeasurements | None = None  # None: not fitted, no feasibility model

    def start(self, space: SearchSpace, seed: int, budget: int) -> None:
        super().start(space, seed, budget)
        self.feasibility_ = (FeasibilityModel(self.source_measurements_, self.constraints_)
                             if self.slo == "feasibility" and self.constraints_.active
                             and self.source_measurements_ is not None else None)

    def p_feasible(self) -> np.ndarray | None:
        """Each configuration's probability of meeting the SLO (None without a feasibility model)."""
        return None if self.feasibility_ is None else self.feasibility_.probability()

    def proposable(self) -> np.ndarray:
        """Untried configurations this search may propose (all without an SLO; `harness.feasibility.proposable`)."""
        return proposable(self.feasibility_, self.untried(), first=not self.history_)

    def recommend(self):
        if self.feasibility_ is not None and self.history_:
            return self.history_[expected_best(self.history_, self.feasibility_.probability())].config
        return super().recommend()

    def tell(self, obs) -> None:
        super().tell(obs)
        if self.feasibility_ is not None:
            self.feasibility_.observe(obs.index, obs.metrics)


class SourceMatrixSearcher(FeasibilityAware, StatefulSearcher):
    """A transfer searcher that learns from the source traces' normalised objectives (and, for the feasibility
    model, their measurements); its state is plain JSON.

    Subclasses implement `_fit(source, matrix)` (the source traces and their normalised objectives, models x
    configurations), `_state()` and `_load_state(state)` for what they learned beyond the space, and set `slo`.
    """

    @single_threaded()
    def fit(self, knowledge: Knowledge) -> "SourceMatrixSearcher":
        source = list(knowledge.sources)
        matrix = knowledge.normalised_objectives()
        self.source_space_ = source[0].space
        self.source_models_ = [t.model for t in source]
        self.source_measurements_ = SourceMeasurements.from_traces(source)
        self._fit(source, matrix)
        return self

    def start(self, space: SearchSpace, seed: int, budget: int) -> None:
        if not hasattr(self, "source_space_"):
            raise RuntimeError(f"{self.name}: start() before fit(source_traces) or set_state()")
        if space != self.source_space_:
            raise ValueError(f"{self.name}: fitted on space {self.source_space_.name!r} but asked to search "
                             f"{space.name!r}; the knobs or their values differ")
        super().start(space, seed, budget)

    def modelled(self) -> tuple[np.ndarray, np.ndarray]:
        """The trials the objective is learned from (`observed`): under a feasibility model only those that met the
        SLO, where any did (a miss's 0 says nothing about its objective; what it says about the limits, the
        feasibility model learned)."""
        idx, y = observed(self)
        if self.feasibility_ is not None:
            met = np.array([o.slo_met for o in self.history_])
            if met.any():
                return idx[met], y[met]
        return idx, y

    def get_state(self) -> dict:
        """The fitted knowledge as JSON-able lists and numbers."""
        return {"method": self.name, "space": self.source_space_.to_dict(), "source_models": self.source_models_,
                "source_measurements": self.source_measurements_.to_dict(), **self._state()}

    def set_state(self, state: dict) -> "SourceMatrixSearcher":
        if state.get("method") != self.name:
            raise ValueError(f"{self.name}: state was fitted by {state.get('method')!r}")
        self.source_space_ = SearchSpace.from_dict(state["space"])
        self.source_models_ = list(state["source_models"])
        self.source_measurements_ = SourceMeasurements.from_dict(state["source_measurements"])
        self._load_state(state)
        return self

    @abstractmethod
    def _fit(self, source: Sequence[Trace], matrix: np.ndarray) -> None:
        """Learn from the source traces and their normalised objectives."""

    @abstractmethod
    def _state(self) -> dict:
        """What `_fit` learned, as JSON-able values."""

    @abstractmethod
    def _load_state(self, state: dict) -> None:
        """Restore what `_state` returned."""
