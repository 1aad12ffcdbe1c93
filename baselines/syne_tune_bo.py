"""Syne Tune's Bayesian optimisers (Salinas et al., AutoML 2022), through its ask/tell scheduler.

The library does the optimisation: one of Syne Tune's single-objective BO schedulers with its defaults, wrapped
in `AskTellScheduler`. No transfer. `scheduler` picks it:
- `BORE` (the default): BO by density-ratio estimation (Tiao et al., ICML 2021), a classifier of "among the best
  quantile" maximised over sampled configurations;
- `BOTorch`: a BoTorch `SingleTaskGP` with log expected improvement maximised by gradient restarts. It asked in
  50-120 s per trial on this project's loaded 2-core machine (load average 13), too slow for a sweep.
 Ordered knobs are `ordinal` domains of Syne Tune's default
kind (nearest-neighbour rounding over increasing numbers, equally spaced otherwise) and unordered knobs `choice`
domains, so every proposal is on the grid. The seed is
drawn from the run's generator. Syne Tune draws its random configurations from numpy's global generator
(`Domain.sample()` without a `random_state`) and BOTorch seeds torch's global one: the adapter seeds numpy's
global generator with the run's seed at start, so a search is reproducible (searches in one process run one
after another, never interleaved).

A continuous acquisition optimiser often rounds to a configuration already tried: such repeats, and the
fallback to the nearest untried configuration, are handled by `baselines/peer_adapter.py` (an injected
configuration enters through the searcher's `points_to_evaluate` queue, so the model learns its result too).
BORE does not avoid configurations already observed, and each re-ask costs a whole acquisition optimisation
(about 3 s on a loaded 2-core machine), hence `max_repeats` 3 rather than Optuna's 20.
"""

from __future__ import annotations

import logging

import numpy as np

from syne_tune.config_space import choice, ordinal
from syne_tune.optimizer.baselines import BORE, BOTorch
from syne_tune.optimizer.schedulers.ask_tell_scheduler import AskTellScheduler

from baselines.peer_adapter import PeerAdapter, PeerExhausted
from harness.search import OneOf
from harness.space import Config, SearchSpace

logging.getLogger("syne_tune").setLevel(logging.ERROR)

METRIC = "objective"
SCHEDULERS = {"BORE": BORE, "BOTorch": BOTorch}


def config_space(space: SearchSpace) -> dict:
    """The grid as a Syne Tune config space: `ordinal` for ordered knobs, `choice` for unordered ones."""
    return {k.name: ordinal(list(k.values)) if k.ordered else choice(list(k.values))
            for k in space.knobs}


class SyneTuneBO(PeerAdapter):
    name = "syne_tune_bo"
    parameter_constraints = {**PeerAdapter.parameter_constraints, "scheduler": OneOf(tuple(SCHEDULERS))}

    def __init__(self, scheduler: str = "BORE", max_repeats: int = 3):
        self.scheduler = scheduler
        super().__init__(max_repeats)

    def _start_library(self, seed: int) -> None:
        np.random.seed(seed)  # Syne Tune's random configurations come from numpy's global generator
        scheduler = SCHEDULERS[self.scheduler](config_space(self.space_), metric=METRIC, do_minimize=False, random_seed=seed)
        self.scheduler_ = AskTellScheduler(base_scheduler=scheduler)

    def _propose(self):
        trial = self.scheduler_.ask()
        if trial.config is None:
            raise PeerExhausted
        return trial, dict(trial.config)

    def _observe(self, handle, objective: float) -> None:
        self.scheduler_.tell(handle, {METRIC: float(objective)})

    def _inject(self, config: Config):
        self.scheduler_.base_scheduler.searcher.points_to_evaluate.insert(0, dict(config))
        return self._propose()[0]
