"""HeterBO: cost-aware Bayesian optimisation with priors from the source set.

The Falcon paper's HeterBO baseline (IPDPS 2020): Bayesian optimisation whose acquisition weighs the expected
improvement of a trial by that trial's cost (price x duration), since configurations on heterogeneous
hardware cost different amounts to try, with priors taken from the source set.

Implementation:
- Prior: the mean normalised objective of every configuration over the source models, rescaled onto the
  target (best non-negative least-squares scale of the target's observed objectives, which are divided by the
  best seen). A GP (Matern-5/2 ARD, scikit-learn) models the target's residual from the prior.
- Acquisition: EI(x) / cost(x) ** cost_weight over the untried grid points; the first trial is the prior's
  best.
- Cost of a trial = price per hour x trial duration. A configuration's price does not depend on the model, so it
  is the mean `price_per_hour` of that configuration over the source traces; the trial duration is the same
  for every configuration (a fixed-length stress test), so it cancels once costs are divided by their mean.
  Where the sources carry no price (the authors' release has only the normalised objective), every configuration has unit cost and HeterBO
  reduces to prior-informed GP-EI. Costs are divided by their mean, so `cost_weight` is scale-free.
Under an SLO with `slo="feasibility"` (`harness.feasibility`): the paper, as ../shared/PAPER.md summarises it,
says nothing specific about constraints, so HeterBO gets what every method gets: the first trial is the prior's
best among the configurations predicted to meet the SLO at a conservative level, later ones maximise
EI x P(meets the SLO) / cost ** cost_weight (Gardner et al. 2014) among those at least likely to meet it, and
nothing over a price limit is proposed.

Deviations: the original's concurrent (multi-VM) exploration and its stopping rule are left out: one trial at
a time against a fixed trial budget, like every method here. Tuning: see docs/baselines.md.
"""

from __future__ import annotations

import numpy as np

from baselines.common import SLO_PARAMETER, SourceMatrixSearcher, fit_gp, scale_to_observed
from harness import portable
from harness.feasibility import constrained_ei
from harness.surrogate import expected_improvement, single_threaded
from harness.search import Interval
from harness.space import Config


class HeterBO(SourceMatrixSearcher):
    name = "heterbo"
    parameter_constraints = {"cost_weight": Interval(float, 0, None), "xi": Interval(float, 0, None),
                             **SLO_PARAMETER}

    def __init__(self, cost_weight: float = 1.0, xi: float = 0.0, slo: str = "feasibility"):
        self.cost_weight = cost_weight
        self.xi = xi
        self.slo = slo

    def _fit(self, source, matrix):
        self.prior_ = matrix.mean(axis=0)
        prices = np.vstack([_mean_price(t) for t in source])
        known = ~np.isnan(prices).all(axis=0)
        self.price_ = None
        if known.any():
            mean = np.where(known, np.nanmean(np.where(known, prices, 0.0), axis=0), np.nan)
            self.price_ = np.where(known, mean, np.nanmean(mean))  # never-feasible configs: the average price

    def _state(self):
        return {"prior": self.prior_.tolist(), "price": None if self.price_ is None else self.price_.tolist()}

    def _load_state(self, state):
        self.prior_ = np.asarray(state["prior"], dtype=float)
        self.price_ = None if state["price"] is None else np.asarray(state["price"], dtype=float)

    def start(self, space, seed, budget):
        super().start(space, seed, budget)
        self.features_ = space.features()
        self.kernel_ = None
        cost = np.ones(len(space)) if self.price_ is None else self.price_
        self.cost_ = cost / cost.mean()

    @single_threaded()
    def ask(self) -> Config:
        cand = self.proposable()
        if not self.history_:
            self.phase_ = "prior"
            return self.space_.config(int(cand[np.argmax(self.prior_[cand])]))
        self.phase_ = "bo"
        idx, y = self.modelled()
        y = y / y.max() if y.max() > 0 else y
        a = scale_to_observed(self.prior_, idx, y)
        gp = fit_gp(self.features_[idx], y - a * self.prior_[idx], warm=self.kernel_)
        self.kernel_ = gp.kernel_
        mu, sigma = gp.predict(self.features_[cand], return_std=True)
        ei = expected_improvement(mu + a * self.prior_[cand], sigma, y.max(), self.xi)
        p = self.p_feasible()
        if p is not None:
            ei = constrained_ei(ei, p[cand])
        return self.space_.config(int(cand[portable.argmax(ei / self.cost_[cand] ** self.cost_weight)]))


def _mean_price(trace) -> np.ndarray:
    """Mean price per hour of every configuration of one trace (NaN where infeasible or unknown)."""
    price = np.full(len(trace.space), np.nan)
    m = trace.measurements
    if "price_per_hour" not in m.columns:
        return price
    means = m[m["feasible"]].groupby("config_index")["price_per_hour"].mean()
    price[means.index.to_numpy()] = means.to_numpy()
    return price
