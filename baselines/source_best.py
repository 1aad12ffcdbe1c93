"""Source-best: try configurations in order of their mean normalised objective over the source models.

Not a method from the literature but the honest floor for every transfer method (issue 6): whatever a transfer
method learns offline must beat simply replaying the source set's ranking. No online learning, no randomness:
the order is fixed at `fit` (ties: lowest configuration index), so every seed proposes the same sequence.
Under an SLO with `slo="feasibility"`: the same order among the configurations predicted to meet it
(`SourceMatrixSearcher.proposable`: at a conservative level for the first trial).
"""

from __future__ import annotations

import numpy as np

from baselines.common import SLO_PARAMETER, SourceMatrixSearcher
from harness.space import Config


class SourceBest(SourceMatrixSearcher):
    name = "source_best"
    parameter_constraints = SLO_PARAMETER

    def __init__(self, slo: str = "feasibility"):
        self.slo = slo

    def _fit(self, source, matrix):
        # stable sort on the negated mean: equal means keep index order
        self.order_ = np.argsort(-matrix.mean(axis=0), kind="stable")

    def _state(self):
        return {"order": self.order_.tolist()}

    def _load_state(self, state):
        self.order_ = np.asarray(state["order"], dtype=np.int64)

    def start(self, space, seed, budget):
        super().start(space, seed, budget)
        self.phase_ = "exploit"
        self._next = 0

    def ask(self) -> Config:
        if self.feasibility_ is not None:
            allowed = np.zeros(len(self.order_), dtype=bool)
            allowed[self.proposable()] = True
            return self.space_.config(int(next(i for i in self.order_ if allowed[i])))
        while int(self.order_[self._next]) in self.tried_:
            self._next += 1
        return self.space_.config(int(self.order_[self._next]))
