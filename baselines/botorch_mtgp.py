"""BoTorch's multi-task GP (intrinsic coregionalisation; Swersky et al., NeurIPS 2013) with log expected
improvement: GP transfer from the source models to the target.

The library does the modelling and the optimisation: BoTorch's `MultiTaskGP` (a source task and
the target task, an ICM kernel of rank `rank` over the tasks; hyperparameters by marginal likelihood, `fit_gpytorch_mll`),
`LogExpectedImprovement` on the target task and `optimize_acqf_discrete` over the untried configurations (so no
configuration is proposed twice). The adapter chooses only the data it is given:

- inputs: the space's surrogate features (`SearchSpace.features`: ordered knobs scaled to [0, 1], unordered
  knobs one-hot);
- sources: one source task, the mean over the source models of each one's standardised true objective (0 where
  infeasible), at `source_points` configurations drawn once per search from the run's generator (an exact GP on
  every configuration would not fit in an ask). One task per source model was tried first: with 18 sources and
  only 8 configurations each, BoTorch's per-task constant means made one marginal-likelihood fit take 56 s
  (about 700 evaluations of 0.08 s on this loaded 2-core machine), about 30 minutes per search;
- target: its observations so far, standardised by their own mean and spread.

Before any target observation the target task is unknown to the GP, so the first trial is the configuration with
the best mean standardised objective over the sources (phase "prior"); every later trial is the model's (phase
"model"). Torch is seeded from the run's generator before each fit and runs single-threaded in double precision.

Needs the `peers` extra (botorch; it runs on the installed CPU torch).
"""

from __future__ import annotations

import numpy as np
import torch
from botorch.acquisition import LogExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import MultiTaskGP
from botorch.optim import optimize_acqf_discrete
from gpytorch.mlls import ExactMarginalLogLikelihood

from harness.search import Interval, Knowledge, TransferSearcher
from harness.space import Config
from harness.surrogate import single_threaded


def standardised(y: np.ndarray) -> np.ndarray:
    spread = y.std()
    return (y - y.mean()) / (spread if spread > 0 else 1.0)


class BoTorchMTGP(TransferSearcher):
    name = "botorch_mtgp"
    parameter_constraints = {"source_points": Interval(int, 1, None), "rank": Interval(int, 1, None, allow_none=True),
                             "fit_iterations": Interval(int, 1, None)}

    def __init__(self, source_points: int = 64, rank: int | None = 1, fit_iterations: int = 50):
        self.source_points = source_points
        self.rank = rank
        self.fit_iterations = fit_iterations

    def fit(self, knowledge: Knowledge) -> "BoTorchMTGP":
        self.source_objective_ = np.vstack([standardised(np.asarray(t.true_objective, dtype=float))
                                            for t in knowledge.sources]).mean(axis=0)
        return self

    def start(self, space, seed, budget):
        super().start(space, seed, budget)
        self.features_ = space.features()
        n = min(self.source_points, len(space))
        self.source_configs_ = np.sort(self.rng_.choice(len(space), size=n, replace=False))
        self.torch_seed_ = int(self.rng_.integers(2**31 - 1))

    @single_threaded()
    def ask(self) -> Config:
        untried = self.untried()
        if not self.history_:
            self.phase_ = "prior"
            return self.space_.config(int(untried[np.argmax(self.source_objective_[untried])]))
        self.phase_ = "model"
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            torch.manual_seed(self.torch_seed_ + len(self.history_))
            return self.space_.config(int(untried[self._best_candidate(untried)]))
        finally:
            torch.set_num_threads(threads)

    def _best_candidate(self, untried: np.ndarray) -> int:
        """Position in `untried` of the configuration maximising log EI on the target task."""
        idx = np.array([o.index for o in self.history_])
        y = standardised(np.array([o.objective for o in self.history_], dtype=float))
        x = np.vstack([np.hstack([self.features_[self.source_configs_], np.zeros((len(self.source_configs_), 1))]),
                       np.hstack([self.features_[idx], np.ones((len(idx), 1))])])
        targets = np.concatenate([self.source_objective_[self.source_configs_], y])
        model = MultiTaskGP(torch.tensor(x), torch.tensor(targets)[:, None], task_feature=-1, output_tasks=[1],
                            rank=self.rank)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model),
                         optimizer_kwargs={"options": {"maxiter": self.fit_iterations}})
        acquisition = LogExpectedImprovement(model, best_f=float(y.max()))
        choices = torch.tensor(self.features_[untried])
        best, _ = optimize_acqf_discrete(acquisition, q=1, choices=choices, unique=True)
        return int(torch.nonzero((choices == best).all(dim=1))[0, 0])
