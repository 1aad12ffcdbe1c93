"""Syne Tune's BORE (Tiao et al., ICML 2021) through Syne Tune's ask/tell scheduler (Salinas et al., AutoML 2022).

The library does the optimisation: Syne Tune's `Bore` searcher in a `SingleObjectiveScheduler`, wrapped in
`AskTellScheduler`. BO by density-ratio estimation: a classifier of "among the best `gamma` quantile" is fitted to
the observations and maximised over `feval_acq` configurations sampled without replacement; the first
`init_random` trials, and any trial with probability `random_prob`, are random. No transfer. Every setting is
Syne Tune's own (`Bore`'s keyword arguments); the defaults here are Syne Tune's except `feval_acq` (see below),
and the protocol tunes `init_random`, `gamma` and `random_prob`.

Speed: Bore scores each sampled candidate with its own `predict_proba` call (and samples, encodes and
de-duplicates candidates one by one), so an ask costs `feval_acq` classifier calls, whichever classifier: with
Syne Tune's default 500 candidates a model-based ask on the paper space took a median 1.2 s with XGBoost and
1.0 s with logistic regression (about 0.6 s of CPU each; load average 4 on 2 cores), and a re-ask after a repeated
proposal costs as much again. With `feval_acq` 100 (7 % of the paper space's 1440 configurations) it took 0.18 s
(0.1 s of CPU), hence that default; `feval_acq: 500` restores Syne Tune's. On a space smaller than `feval_acq`
every configuration is a candidate (Bore samples without replacement and would otherwise retry 10000 times).
Syne Tune 0.16's GP option (BoTorch) asked in 50-120 s per trial on this project's loaded 2-core machine and is
not offered. Its differential-evolution acquisition optimiser (`acq_optimizer="de"`) fails on numpy >= 1.24
(`np.float`), so candidates are always sampled (`"rs"`).

Ordered knobs are `ordinal` domains and unordered knobs `choice` domains (the one mapping,
`harness.syne_tune_mapping.syne_tune_space`), so every proposal is on the grid. Syne Tune draws its random configurations from numpy's global
generator (`Domain.sample()` without a `random_state`): the adapter seeds numpy's global generator with a seed
drawn from the run's generator at start, so a search is reproducible (searches in one process run one after
another, never interleaved).

Bore does not avoid configurations already observed; such repeats, and the fallback to the nearest untried
configuration, are handled by `baselines/peer_adapter.py` (an injected configuration enters through the
searcher's `points_to_evaluate` queue, so the model learns its result too). Each re-ask costs a whole acquisition
optimisation, hence `max_repeats` 3 rather than Optuna's 20.
"""

from __future__ import annotations

import logging

import numpy as np

from syne_tune.optimizer.schedulers.ask_tell_scheduler import AskTellScheduler
from syne_tune.optimizer.schedulers.searchers.bore import Bore
from syne_tune.optimizer.schedulers.single_objective_scheduler import SingleObjectiveScheduler

from baselines.peer_adapter import PeerAdapter, PeerExhausted
from harness.syne_tune_mapping import OBJECTIVE, syne_tune_space
from harness.search import Interval, OneOf
from harness.space import Config

logging.getLogger("syne_tune").setLevel(logging.ERROR)

CLASSIFIERS = ("xgboost", "logreg", "rf", "mlp")  # Bore's choices


def ask_scheduler(scheduler: AskTellScheduler):
    """The next trial of a Syne Tune ask/tell scheduler and its configuration (PeerExhausted when it has none)."""
    trial = scheduler.ask()
    if trial.config is None:
        raise PeerExhausted
    return trial, dict(trial.config)


class SyneTuneBO(PeerAdapter):
    name = "syne_tune_bo"
    parameter_constraints = {**PeerAdapter.parameter_constraints, "classifier": OneOf(CLASSIFIERS),
                             "feval_acq": Interval(int, 1, None), "init_random": Interval(int, 1, None),
                             "gamma": Interval(float, 0.0, 1.0, "neither"), "random_prob": Interval(float, 0.0, 1.0)}

    def __init__(self, classifier: str = "xgboost", feval_acq: int = 100, init_random: int = 6, gamma: float = 0.25,
                 random_prob: float = 0.0, max_repeats: int = 3):
        self.classifier = classifier
        self.feval_acq = feval_acq
        self.init_random = init_random
        self.gamma = gamma
        self.random_prob = random_prob
        super().__init__(max_repeats)

    def _start_library(self, seed: int, budget: int) -> None:
        np.random.seed(seed)  # Syne Tune's random configurations come from numpy's global generator
        space = syne_tune_space(self.space_)
        bore = Bore(space, random_seed=seed, classifier=self.classifier,
                    feval_acq=min(self.feval_acq, len(self.space_)), init_random=self.init_random, gamma=self.gamma,
                    random_prob=self.random_prob)
        scheduler = SingleObjectiveScheduler(space, metric=OBJECTIVE, do_minimize=False, searcher=bore, random_seed=seed)
        self.scheduler_ = AskTellScheduler(base_scheduler=scheduler)

    def _propose(self):
        return ask_scheduler(self.scheduler_)

    def _observe(self, handle, objective: float) -> None:
        self.scheduler_.tell(handle, {OBJECTIVE: float(objective)})

    def _inject(self, config: Config):
        self.scheduler_.base_scheduler.searcher.points_to_evaluate.insert(0, dict(config))
        return self._propose()[0]
