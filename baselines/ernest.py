"""Ernest: a non-negative least-squares performance model over scale features, trained by optimal design.

Venkataraman et al., "Ernest: Efficient Performance Prediction for Large-Scale Advanced Analytics", NSDI 2016.
Ernest predicts a job's running time as theta . [1, scale/m, log m, m] (m machines, theta >= 0 by NNLS),
chooses its training runs by optimal experiment design, and then uses the model to pick a configuration.
No transfer: Ernest learns from the target's own trials only.

Adaptation to inference-serving configurations (any space, no knob names needed):
- The predicted quantity is the cost of serving a unit of work, 1 / objective (dollars per request when the
  objective is requests per dollar): Ernest's running time per unit of input, and non-negative.
- Each ordered numeric knob v (batch size, CPU cores, GPU memory, GPU power ...) enters through Ernest's
  scale terms, with u = v / max(v): [u, 1/u, log u] (1/u: work spread over the resource, u: overhead growing
  with it, log u: aggregation-like terms). Knob values that are not positive numbers use their position + 1.
  Each categorical knob (GPU type) enters one-hot: a separate intercept per GPU type ("GPU features as
  inputs" rather than one model per GPU type, which 30 trials cannot feed). Without categorical knobs there
  is a plain intercept.
- log u can be negative; NNLS still constrains its coefficient to be >= 0, as in Ernest.
- Initial trials (`n_init`): an A-optimal design over the whole grid (Ernest minimises the trace of the inverse
  information matrix over a convex relaxation and rounds it; here the design is built greedily, one point at a
  time taking the largest reduction of that trace, which keeps a small design full-rank where rounding a
  relaxed design's largest weights picked near-duplicates), ties broken by the run's random generator. Then
  each trial is the untried configuration with the lowest predicted cost (highest predicted objective).
- Infeasible trials (objective 0) are left out of the fit; objectives are floored at 1 % of the best seen
  before inverting, so that a near-zero value (the release's min-max normalisation puts one configuration at
  0) does not dominate the least-squares fit.
Tuning: see docs/baselines.md.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from baselines.common import best_untried, observed
from harness.surrogate import single_threaded
from harness.search import Interval, Searcher
from harness.space import Config, SearchSpace


def scale_features(space: SearchSpace) -> np.ndarray:
    """(n_configs, n_features) Ernest-style design matrix of every configuration."""
    digits = space.grid_digits()
    columns = []
    for j, knob in enumerate(space.knobs):
        if not knob.ordered:
            columns.append((digits[:, j:j + 1] == np.arange(len(knob.values))).astype(float))
            continue
        values = np.array([v if isinstance(v, (int, float)) and not isinstance(v, bool) else np.nan
                           for v in knob.values], dtype=float)
        if np.isnan(values).any() or (values <= 0).any():
            values = np.arange(1, len(knob.values) + 1, dtype=float)
        u = (values / values.max())[digits[:, j]]
        if len(knob.values) > 1:
            columns.append(np.stack([u, 1.0 / u, np.log(u)], axis=1))
    if not any(not k.ordered for k in space.knobs):
        columns.insert(0, np.ones((len(space), 1)))
    return np.hstack(columns)


def a_optimal_design(a: np.ndarray, n: int, order: np.ndarray, ridge: float = 1e-3) -> np.ndarray:
    """`n` rows of `a` chosen greedily to minimise trace((ridge I + a_S' a_S)^-1); ties: first in `order`."""
    rows = a[order]
    m_inv = np.eye(a.shape[1]) / ridge
    chosen: list[int] = []
    for _ in range(min(n, len(a))):
        u = rows @ m_inv
        gain = (u * u).sum(axis=1) / (1.0 + (u * rows).sum(axis=1))  # Sherman-Morrison trace reduction
        gain[chosen] = -np.inf
        j = int(np.argmax(gain))
        chosen.append(j)
        v = m_inv @ rows[j]
        m_inv -= np.outer(v, v) / (1.0 + rows[j] @ v)
    return order[chosen]


class Ernest(Searcher):
    name = "ernest"
    parameter_constraints = {"n_init": Interval(int, 0, None), "floor": Interval(float, 0, 1, closed="right")}

    def __init__(self, n_init: int = 6, floor: float = 0.01):
        self.n_init = n_init
        self.floor = floor

    @single_threaded()
    def start(self, space, seed, budget):
        super().start(space, seed, budget)
        self.features_ = scale_features(space)
        self.design_ = a_optimal_design(self.features_, self.n_init, self.rng_.permutation(len(space)))

    @single_threaded()
    def ask(self) -> Config:
        n = len(self.history_)
        if n < self.n_init:
            self.phase_ = "design"
            return self.space_.config(int(self.design_[n]))
        self.phase_ = "model"
        return self.space_.config(best_untried(-self.predicted_cost(), self.tried_))

    def predicted_cost(self) -> np.ndarray:
        """Predicted 1 / objective of every configuration from the feasible trials so far."""
        idx, y = observed(self)
        ok = y > 0
        if not ok.any():
            return np.zeros(len(self.features_))
        target = 1.0 / np.maximum(y[ok], self.floor * y.max())
        theta, _ = nnls(self.features_[idx[ok]], target)
        return self.features_ @ theta
