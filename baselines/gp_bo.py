"""GP-BO: Bayesian optimisation with a Gaussian process and expected improvement over the untried grid points.

The textbook method (Snoek, Larochelle and Adams, "Practical Bayesian Optimization of Machine Learning
Algorithms", NeurIPS 2012), which Falcon's baselines build on; no transfer. Surrogate: scikit-learn's
GaussianProcessRegressor, Matern-5/2 ARD kernel times a constant plus white noise, hyperparameters by marginal
likelihood after every trial, targets standardised. Inputs: ordered knobs as value positions in [0, 1],
categorical knobs one-hot (`SearchSpace.features`).

Choices and deviations:
- The acquisition is maximised exactly by enumerating the discrete grid's untried points (no continuous
  relaxation, so no rounding and never a repeated proposal).
- `n_init` uniformly random initial trials (default 1, tuned on the source models, see docs/baselines.md).
- Infeasible trials are told as objective 0, as the harness scores them.
"""

from __future__ import annotations


from baselines.common import fit_gp, observed, random_untried
from harness import portable
from harness.surrogate import expected_improvement, single_threaded
from harness.search import Interval, Searcher
from harness.space import Config


class GPBO(Searcher):
    name = "gp_bo"
    parameter_constraints = {"n_init": Interval(int, 0, None), "xi": Interval(float, 0, None)}

    def __init__(self, n_init: int = 1, xi: float = 0.0):
        self.n_init = n_init
        self.xi = xi

    def start(self, space, seed, budget):
        super().start(space, seed, budget)
        self.features_ = space.features()
        self.kernel_ = None

    @single_threaded()
    def ask(self) -> Config:
        if len(self.history_) < max(self.n_init, 1):
            self.phase_ = "init"
            return self.space_.config(random_untried(self))
        self.phase_ = "bo"
        idx, y = observed(self)
        gp = fit_gp(self.features_[idx], y, warm=self.kernel_)
        self.kernel_ = gp.kernel_
        cand = self.untried()
        mu, sigma = gp.predict(self.features_[cand], return_std=True)
        ei = expected_improvement(mu, sigma, y.max(), self.xi * max(abs(y.max()), 1e-12))
        return self.space_.config(int(cand[portable.argmax(ei)]))
