"""SMAC3: random-forest Bayesian optimisation (Lindauer et al., JMLR 2022), through SMAC's ask/tell interface.

The library does the optimisation: `HyperparameterOptimizationFacade` with SMAC's defaults for its budget (a
Sobol initial design of a quarter of the trials, a random-forest surrogate, log expected improvement maximised by
local and random search, interleaved random configurations). No transfer. Ordered knobs are
`OrdinalHyperparameter`s over their values and unordered knobs `CategoricalHyperparameter`s, so every proposal is
on the grid. The scenario is deterministic (one evaluation per configuration, as a trial here is); SMAC's seed
is drawn from the run's generator. Repeated proposals (SMAC avoids them itself) and an exhausted SMAC (a small
space used up) are handled
by `baselines/peer_adapter.py`.

SMAC insists on an output folder: each search gets a private temporary one, removed when the next search starts
or the searcher is garbage-collected; nothing of it is read back.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from ConfigSpace import CategoricalHyperparameter, Configuration, ConfigurationSpace, OrdinalHyperparameter
from smac import HyperparameterOptimizationFacade, Scenario
from smac.runhistory import TrialInfo, TrialValue
from smac.main.exceptions import ConfigurationSpaceExhaustedException

from baselines.peer_adapter import PeerAdapter, PeerExhausted
from harness.space import Config, SearchSpace

logging.getLogger("smac").setLevel(logging.ERROR)  # e.g. "Sampling random configurations" per ask


def config_space(space: SearchSpace, seed: int) -> ConfigurationSpace:
    """The grid as a ConfigSpace: one ordinal (ordered knob) or categorical (unordered) parameter per knob."""
    cs = ConfigurationSpace(seed=seed)
    cs.add([OrdinalHyperparameter(k.name, list(k.values)) if k.ordered
            else CategoricalHyperparameter(k.name, list(k.values)) for k in space.knobs])
    return cs


def _unused_target(config, seed: int = 0) -> float:
    raise RuntimeError("the harness evaluates trials through ask/tell; SMAC never calls the target function")


class SMACHPO(PeerAdapter):
    name = "smac_hpo"

    def _start_library(self, seed: int) -> None:
        self._workdir = tempfile.TemporaryDirectory(prefix="falcon-bench-smac-")  # replaces (removes) the last
        self._cs = config_space(self.space_, seed)
        scenario = Scenario(self._cs, deterministic=True, n_trials=self.budget_, seed=seed,
                            output_directory=Path(self._workdir.name) / "smac")
        self.smac_ = HyperparameterOptimizationFacade(scenario, _unused_target, overwrite=True, logging_level=False)

    def _propose(self) -> tuple[TrialInfo, Config]:
        try:
            info = self.smac_.ask()
        except (ConfigurationSpaceExhaustedException, StopIteration):  # StopIteration: its config stream ended
            raise PeerExhausted from None
        return info, dict(info.config)

    def _observe(self, handle: TrialInfo, objective: float) -> None:
        self.smac_.tell(handle, TrialValue(cost=-objective), save=False)  # SMAC minimises cost

    def _inject(self, config: Config) -> TrialInfo:
        return TrialInfo(Configuration(self._cs, values=config), seed=self.smac_.scenario.seed)
