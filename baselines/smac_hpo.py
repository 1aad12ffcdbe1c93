"""SMAC3: random-forest Bayesian optimisation (Lindauer et al., JMLR 2022), through SMAC's ask/tell interface.

The library does the optimisation: `HyperparameterOptimizationFacade` with SMAC's defaults for its budget (a
Sobol initial design of a quarter of the trials, a random-forest surrogate, log expected improvement maximised by
local and random search, a random configuration with probability 0.2); three of them are parameters, for the
tuning protocol. No transfer. Ordered knobs are `OrdinalHyperparameter`s over their values and unordered knobs
`CategoricalHyperparameter`s, so every proposal is on the grid. The scenario is deterministic (one evaluation per
configuration, as a trial here is); SMAC's seed is drawn from the run's generator. Repeated proposals (SMAC
avoids them itself) and an exhausted SMAC (a small space used up) are handled by `baselines/peer_adapter.py`.

SMAC insists on an output folder: building its optimizer always writes the scenario and an empty run history
there (`Scenario.save`, `SMBO.save`; SMAC 2 has no switch to turn this off, and `overwrite=True` keeps it from
ever reading an old run back). Each search gets a private temporary folder for it, created with `tempfile` and
removed when the next search starts or the searcher is garbage-collected; nothing of it is read back.

Reproducible across processes: SMAC's local search de-duplicates its start points through a `set` of
`Configuration`s, whose iteration order follows the string hash of each configuration's text and so changes
with PYTHONHASHSEED from one Python process to the next; that order decides which random seed each local search
draws, so the same seed gave other proposals in another process. `OrderedLocalSearch` puts the start points in
a fixed order (by their vector form) and is otherwise SMAC's own; the facade gets it through SMAC's public
`acquisition_maximizer` argument (`LocalAndSortedRandomSearch` with the facade's own settings).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from ConfigSpace import CategoricalHyperparameter, Configuration, ConfigurationSpace, OrdinalHyperparameter
from smac import HyperparameterOptimizationFacade, Scenario
from smac.acquisition.maximizer import LocalAndSortedRandomSearch, LocalSearch
from smac.runhistory import TrialInfo, TrialValue
from smac.main.exceptions import ConfigurationSpaceExhaustedException

from baselines.peer_adapter import PeerAdapter, PeerExhausted
from harness.search import Interval
from harness.space import Config, SearchSpace

logging.getLogger("smac").setLevel(logging.ERROR)  # e.g. "Sampling random configurations" per ask


def config_space(space: SearchSpace, seed: int) -> ConfigurationSpace:
    """The grid as a ConfigSpace: one ordinal (ordered knob) or categorical (unordered) parameter per knob."""
    cs = ConfigurationSpace(seed=seed)
    cs.add([OrdinalHyperparameter(k.name, list(k.values)) if k.ordered
            else CategoricalHyperparameter(k.name, list(k.values)) for k in space.knobs])
    return cs


class OrderedLocalSearch(LocalSearch):
    """SMAC's local search, its start points in an order that does not depend on the process's string hashing."""

    def _get_initial_points(self, *args, **kwargs):
        return sorted(super()._get_initial_points(*args, **kwargs), key=lambda c: tuple(c.get_array()))


def acquisition_maximizer(cs: ConfigurationSpace, seed: int) -> LocalAndSortedRandomSearch:
    """The facade's default maximizer (`HyperparameterOptimizationFacade.get_acquisition_maximizer`: 10000
    challengers, 10 local searches) with the ordered local search."""
    maximizer = LocalAndSortedRandomSearch(cs, challengers=10000, local_search_iterations=10, seed=seed)
    maximizer._local_search = OrderedLocalSearch(configspace=cs, seed=seed)  # the class's other defaults
    return maximizer


def _unused_target(config, seed: int = 0) -> float:
    raise RuntimeError("the harness evaluates trials through ask/tell; SMAC never calls the target function")


class SMACHPO(PeerAdapter):
    """`initial_ratio`, `random_probability` and `xi` are the facade's own settings (its defaults here), passed
    through its public `get_initial_design(max_ratio=)`, `get_random_design(probability=)` and
    `get_acquisition_function(xi=)`: the share of the budget spent on the Sobol initial design, the chance of an
    interleaved random configuration, and log EI's exploration margin."""

    name = "smac_hpo"
    parameter_constraints = {**PeerAdapter.parameter_constraints, "initial_ratio": Interval(float, 0.0, 1.0, "right"),
                             "random_probability": Interval(float, 0.0, 1.0), "xi": Interval(float, 0.0, None)}

    def __init__(self, initial_ratio: float = 0.25, random_probability: float = 0.2, xi: float = 0.0,
                 max_repeats: int = 20):
        self.initial_ratio = initial_ratio
        self.random_probability = random_probability
        self.xi = xi
        super().__init__(max_repeats)

    def _start_library(self, seed: int, budget: int) -> None:
        self._workdir = tempfile.TemporaryDirectory(prefix="falcon-bench-smac-")  # replaces (removes) the last
        self._cs = config_space(self.space_, seed)
        scenario = Scenario(self._cs, deterministic=True, n_trials=budget, seed=seed,
                            output_directory=Path(self._workdir.name) / "smac")
        facade = HyperparameterOptimizationFacade
        self.smac_ = facade(scenario, _unused_target, overwrite=True, logging_level=False,
                            initial_design=facade.get_initial_design(scenario, max_ratio=self.initial_ratio),
                            random_design=facade.get_random_design(scenario, probability=self.random_probability),
                            acquisition_function=facade.get_acquisition_function(scenario, xi=self.xi),
                            acquisition_maximizer=acquisition_maximizer(self._cs, seed))

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
