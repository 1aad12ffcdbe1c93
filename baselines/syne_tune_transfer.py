"""Syne Tune 0.16's transfer optimisers, fed the sources as Syne Tune's offline evaluations.

The library does the optimisation; `fit` only turns the run's `Knowledge` into Syne Tune's
`TransferLearningTaskEvaluations` (one task per source model, every configuration and repetition; the one mapping
`harness.syne_tune_mapping.task_evaluations`, which the Syne Tune export uses too):

- `ZeroShotTransfer` (Wistuba et al., ICDM 2015; `syne_tune_zero_shot`): a fixed sequence chosen greedily to
  minimise the average rank over the source tasks. It never looks at the target's results. Syne Tune 0.16's
  scheduler `suggest()` asks its default random searcher instead of the zero-shot ranking (the ranking lives in
  `get_config`, which 0.16 no longer calls), so the adapter calls `get_config` itself.
- `BoundingBox` (Perrone et al., NeurIPS 2019; `syne_tune_bounding_box`) around Syne Tune's BORE (the searcher of
  `baselines/syne_tune_bo.py`, same settings): each knob is restricted to the values of the best
  `num_hyperparameters_per_task` configurations of every source task (Syne Tune turns an ordinal knob into a
  choice over those values), and BORE searches inside that box. A configuration the adapter injects from outside
  the box (`baselines/peer_adapter.py`, once the box is exhausted) is not told to the library, which cannot encode
  it.
- The quantile-based Copula Thompson sampling searcher (Salinas et al., ICML 2020; `syne_tune_copula`):
  an XGBoost regressor of the sources' Gaussian-copula-transformed objective, from which each ask draws a
  Thompson sample over 100000 sampled candidates (Syne Tune's fixed number; about 5 s at start on the paper
  space). Syne Tune 0.16's searcher ignores the target's results (`_update` does nothing). It minimises, so it is
  given the negated objective.

Randomness: a seed drawn from the run's generator seeds each library object and numpy's global generator (Syne
Tune's random configurations come from it). The libraries print timings to stdout; the adapter silences them.
Repeated proposals follow `baselines/peer_adapter.py`. XGBoost runs single-threaded (`single_threaded`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
from abc import abstractmethod

import numpy as np
from syne_tune.config_space import choice
from syne_tune.optimizer.schedulers.ask_tell_scheduler import AskTellScheduler
from syne_tune.optimizer.schedulers.searchers.bore import Bore
from syne_tune.optimizer.schedulers.single_objective_scheduler import SingleObjectiveScheduler
from syne_tune.optimizer.schedulers.transfer_learning.bounding_box import BoundingBox
from syne_tune.optimizer.schedulers.transfer_learning.quantile_based.quantile_based_searcher import (
    QuantileBasedSurrogateSearcher,
)
from syne_tune.optimizer.schedulers.transfer_learning.zero_shot import ZeroShotTransfer

from baselines.peer_adapter import PeerAdapter, PeerExhausted
from baselines.syne_tune_bo import ask_scheduler
from harness.search import Interval, Knowledge, OneOf, TransferSearcher
from harness.space import Config
from harness.surrogate import single_threaded
from harness.syne_tune_mapping import OBJECTIVE, syne_tune_space, task_evaluations

logging.getLogger("syne_tune").setLevel(logging.ERROR)


class SyneTuneTransfer(PeerAdapter, TransferSearcher):
    """A Syne Tune transfer scheduler behind the peer adapter; `fit` keeps the sources as Syne Tune tasks."""

    def fit(self, knowledge: Knowledge) -> "SyneTuneTransfer":
        self.tasks_ = task_evaluations(knowledge)
        return self

    @single_threaded()
    def _start_library(self, seed: int, budget: int) -> None:
        np.random.seed(seed)  # Syne Tune's random configurations come from numpy's global generator
        with contextlib.redirect_stdout(io.StringIO()):  # the libraries print timings and the box
            self.scheduler_ = AskTellScheduler(self._scheduler(syne_tune_space(self.space_), seed))

    @abstractmethod
    def _scheduler(self, space: dict, seed: int):
        """The library's scheduler for this search, over the Syne Tune `space`, seeded with `seed`."""

    def _propose(self):
        return ask_scheduler(self.scheduler_)

    def _observe(self, handle, objective: float) -> None:
        if handle is not None:
            self.scheduler_.tell(handle, {OBJECTIVE: float(objective)})

    def _inject(self, config: Config):
        return None  # the library is not told a configuration it did not propose


class SyneTuneZeroShot(SyneTuneTransfer):
    name = "syne_tune_zero_shot"

    def _scheduler(self, space, seed):
        self.zero_shot_ = ZeroShotTransfer(space, OBJECTIVE, self.tasks_, do_minimize=False,
                                           sort_transfer_learning_evaluations=False, random_seed=seed)
        return self.zero_shot_

    def _propose(self):
        config = self.zero_shot_.get_config()  # 0.16's suggest() would ask a random searcher (module docstring)
        if config is None:
            raise PeerExhausted
        return None, config


class SyneTuneBoundingBox(SyneTuneTransfer):
    name = "syne_tune_bounding_box"
    parameter_constraints = {**PeerAdapter.parameter_constraints,
                             "num_hyperparameters_per_task": Interval(int, 1, None),
                             "feval_acq": Interval(int, 1, None), "init_random": Interval(int, 1, None),
                             "gamma": Interval(float, 0.0, 1.0, "neither"), "random_prob": Interval(float, 0.0, 1.0)}

    def __init__(self, num_hyperparameters_per_task: int = 1, feval_acq: int = 100, init_random: int = 6,
                 gamma: float = 0.25, random_prob: float = 0.0, max_repeats: int = 3):
        self.num_hyperparameters_per_task = num_hyperparameters_per_task
        self.feval_acq = feval_acq
        self.init_random = init_random
        self.gamma = gamma
        self.random_prob = random_prob
        super().__init__(max_repeats)

    def _scheduler(self, space, seed):
        def bore_in_box(box: dict, metric: str, do_minimize: bool, random_seed: int):
            # the box holds the task tables' numpy scalars, which BORE's encoding refuses: plain Python values
            box = self.box_ = {k: choice([getattr(v, "item", lambda: v)() for v in d.categories])
                               for k, d in box.items()}
            size = int(np.prod([len(d.categories) for d in box.values()]))
            bore = Bore(box, random_seed=random_seed, feval_acq=min(self.feval_acq, size),
                        init_random=self.init_random, gamma=self.gamma, random_prob=self.random_prob)
            return SingleObjectiveScheduler(box, metric=metric, do_minimize=do_minimize, searcher=bore,
                                            random_seed=random_seed)

        return BoundingBox(bore_in_box, space, OBJECTIVE, self.tasks_, do_minimize=False,
                           num_hyperparameters_per_task=self.num_hyperparameters_per_task, random_seed=seed)

    def _inject(self, config: Config):
        if not all(config[k] in domain.categories for k, domain in self.box_.items()):
            return None  # outside the box: the library cannot encode it
        self.scheduler_.base_scheduler.scheduler.searcher.points_to_evaluate.insert(0, dict(config))
        return self._propose()[0]


class SyneTuneCopula(SyneTuneTransfer):
    name = "syne_tune_copula"
    parameter_constraints = {**PeerAdapter.parameter_constraints, "normalization": OneOf(("gaussian", "standard"))}

    def __init__(self, normalization: str = "gaussian", max_repeats: int = 20):
        self.normalization = normalization
        super().__init__(max_repeats)

    def _scheduler(self, space, seed):
        minimised = {name: dataclasses.replace(task, objectives_evaluations=-task.objectives_evaluations)
                     for name, task in self.tasks_.items()}
        searcher = QuantileBasedSurrogateSearcher(space, minimised, normalization=self.normalization,
                                                  random_seed=seed)
        return SingleObjectiveScheduler(space, metric=OBJECTIVE, do_minimize=False, searcher=searcher,
                                        random_seed=seed)
