"""Optuna TPE: the practitioner's choice, Optuna's default TPE sampler through its ask/tell interface.

Bergstra et al., "Algorithms for Hyper-Parameter Optimization" (NeurIPS 2011) as implemented by Optuna (Akiba
et al., KDD 2019). No transfer. Every knob is a categorical parameter (`suggest_categorical` over its values),
as a practitioner would write a discrete grid; the sampler is `TPESampler(seed=...)` with Optuna's defaults
(10 random start-up trials), the seed drawn from the run's generator.

Deviation: TPE may propose a configuration already tried (a replayed trial would only cost money); the peer
adapters' one rule handles it (`baselines/peer_adapter.py`): such a proposal is told the value already observed
there and TPE is asked again, up to `max_repeats` times; after that the nearest untried configuration in
knob-position distance is enqueued (`study.enqueue_trial`) and tried instead.
"""

from __future__ import annotations

from typing import Any

import optuna

from baselines.peer_adapter import PeerAdapter
from harness.space import Config

optuna.logging.set_verbosity(optuna.logging.WARNING)


class OptunaTPE(PeerAdapter):
    name = "optuna_tpe"

    def _start_library(self, seed: int, budget: int) -> None:
        self.study_ = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))

    def _propose(self) -> tuple[optuna.trial.Trial, Config]:
        trial = self.study_.ask()
        return trial, {k.name: trial.suggest_categorical(k.name, list(k.values)) for k in self.space_.knobs}

    def _observe(self, handle: Any, objective: float) -> None:
        self.study_.tell(handle, objective)

    def _inject(self, config: Config) -> optuna.trial.Trial:
        self.study_.enqueue_trial(config)
        trial, proposed = self._propose()
        if proposed != config:
            raise RuntimeError(f"optuna_tpe: Optuna proposed {proposed} instead of the enqueued {config}")
        return trial
