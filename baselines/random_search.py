"""Random search: configurations drawn uniformly without replacement. No transfer of objectives; the floor of
every method.

Under an SLO with `slo="feasibility"` it draws uniformly among the configurations the shared feasibility model
(`harness.feasibility`, learned from the sources' measurements, its only use of them) predicts to meet the SLO:
at a conservative level for the first trial, at least likely after; nothing over a price limit. Without
constraints (or with `slo="ignore"`, or not fitted: the harness always fits it) the draws are those of plain
random search.
"""

from __future__ import annotations

from baselines.common import FeasibilityAware
from harness.feasibility import SLO_MODES, SourceMeasurements
from harness.search import Knowledge, OneOf, StatefulSearcher
from harness.space import Config


class RandomSearch(FeasibilityAware, StatefulSearcher):
    name = "random"
    parameter_constraints = {"slo": OneOf(SLO_MODES)}

    def __init__(self, slo: str = "feasibility"):
        self.slo = slo

    def fit(self, knowledge: Knowledge) -> "RandomSearch":
        self.source_measurements_ = SourceMeasurements.from_traces(knowledge.sources)
        return self

    def get_state(self) -> dict:
        return {"method": self.name, "source_measurements": self.source_measurements_.to_dict()}

    def set_state(self, state: dict) -> "RandomSearch":
        if state.get("method") != self.name:
            raise ValueError(f"{self.name}: state was fitted by {state.get('method')!r}")
        self.source_measurements_ = SourceMeasurements.from_dict(state["source_measurements"])
        return self

    def start(self, space, seed, budget):
        super().start(space, seed, budget)
        self.phase_ = "explore"

    def ask(self) -> Config:
        return self.space_.config(int(self.rng_.choice(self.proposable())))
