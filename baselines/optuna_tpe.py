"""Optuna TPE: the practitioner's choice, Optuna's default TPE sampler through its ask/tell interface.

Bergstra et al., "Algorithms for Hyper-Parameter Optimization" (NeurIPS 2011) as implemented by Optuna (Akiba
et al., KDD 2019). No transfer. Every knob is a categorical parameter (`suggest_categorical` over its values),
as a practitioner would write a discrete grid; the sampler is `TPESampler(seed=...)` with Optuna's defaults
(10 random start-up trials), the seed drawn from the run's generator.

Deviation: TPE may propose a configuration already tried (a replayed trial would only cost money). Such a
proposal is told the value already observed there (what a repeat would most likely return) and TPE is asked
again, up to `max_repeats` times; after that the nearest untried configuration in knob-position distance
(ties: lowest index) is enqueued (`study.enqueue_trial`) and tried instead.
"""

from __future__ import annotations

import numpy as np
import optuna

from harness.search import Interval, Searcher
from harness.space import Config

optuna.logging.set_verbosity(optuna.logging.WARNING)


class OptunaTPE(Searcher):
    name = "optuna_tpe"
    parameter_constraints = {"max_repeats": Interval(int, 0, None)}

    def __init__(self, max_repeats: int = 20):
        self.max_repeats = max_repeats
        self.check_parameters()

    def start(self, space, seed, budget):
        super().start(space, seed, budget)
        sampler = optuna.samplers.TPESampler(seed=int(self.rng_.integers(2**31 - 1)))
        self.study_ = optuna.create_study(direction="maximize", sampler=sampler)
        self.digits_ = space.grid_digits()
        self._pending: tuple[optuna.trial.Trial, int] | None = None
        self.phase_ = "tpe"

    def _suggest(self) -> tuple[optuna.trial.Trial, int]:
        trial = self.study_.ask()
        config = {k.name: trial.suggest_categorical(k.name, list(k.values)) for k in self.space_.knobs}
        return trial, self.space_.index(config)

    def ask(self) -> Config:
        value_of = {o.index: o.objective for o in reversed(self.history_)}  # first observation wins
        trial, index = self._suggest()
        for _ in range(self.max_repeats):
            if index not in self.tried_:
                break
            self.study_.tell(trial, value_of[index])
            trial, index = self._suggest()
        if index in self.tried_:
            self.study_.tell(trial, value_of[index])
            self.study_.enqueue_trial(self.space_.config(self._nearest_untried(index)))
            trial, index = self._suggest()
        self._pending = (trial, index)
        return self.space_.config(index)

    def tell(self, obs):
        super().tell(obs)
        trial, index = self._pending
        self.study_.tell(trial, obs.objective)
        self._pending = None

    def _nearest_untried(self, index: int) -> int:
        cand = self.untried()
        dist = np.abs(self.digits_[cand] - self.digits_[index]).sum(axis=1)
        return int(cand[np.argmin(dist)])
