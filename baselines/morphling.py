"""Morphling: a meta-learned performance model adapted to the target with a few gradient steps.

Wang et al., "Morphling: Fast, Near-Optimal Auto-Configuration for Cloud-Native Model Serving", ACM SoCC 2021.
Offline, a regression model from configuration to normalised performance (an MLP with two hidden layers of 128
ReLU units) is meta-trained across the source models so that a few gradient steps fit a new model. Online, the
target's trials fine-tune a copy of the meta-model, and the next trial is the configuration the adapted model
predicts best, with some exploration; the Falcon paper reports Morphling spending about 8 trials initialising,
about 6 exploring and the rest exploiting.

Deviations:
- Reptile (Nichol et al., 2018) replaces second-order MAML: a first-order meta-learner with the same aim, cheap
  to run in numpy (torch is not a core dependency). The MLP and its training are written in numpy here; inner
  loop and online fine-tuning use Adam with beta1 = 0 (as in Reptile's experiments) instead of plain SGD, which
  killed the ReLUs at learning rates fast enough to train in seconds.
- Initial trials (`n_init`) are drawn uniformly at random; exploration trials (`n_explore`) are drawn uniformly
  among the `explore_top_k` untried configurations the (adapted) model ranks highest; then pure exploitation.
  Default n_init = 0 (the meta-model alone picks the first trials) after tuning on the source models; the
  Falcon paper describes Morphling spending about 8 trials initialising (`n_init=8`), which did worse there.
- Sources are min-max normalised per model; the target's objectives are min-max normalised over its trials so
  far (its true range is unknown online).
- Inputs: ordered knobs as value positions in [0, 1], categorical knobs one-hot (no knob names needed).
- Meta-training is deterministic (`fit_seed`), so a fitted state is shared by all search seeds. The network's
  matrix products avoid BLAS (`harness.portable.matmul`): a thousand meta-steps turn a BLAS kernel's last bits
  into a different network, so with BLAS the results depended on the CPU (docs/protocol.md).
- Under an SLO with `slo="feasibility"` (`harness.feasibility`): every trial is chosen among the configurations
  predicted to meet the SLO (at a conservative level for the first), by adapted prediction x P(meets the SLO);
  the model adapts to the trials that met it.
Tuning (leave-one-source-out on the 18 source models only): see docs/baselines.md.
"""

from __future__ import annotations

import numpy as np

from baselines.common import SLO_PARAMETER, SourceMatrixSearcher, best_untried
from harness.portable import matmul, rank
from harness.surrogate import single_threaded
from harness.search import Interval
from harness.space import Config

HIDDEN = 128


def _init_params(d: int, rng: np.random.Generator) -> list[np.ndarray]:
    sizes = [d, HIDDEN, HIDDEN, 1]
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        params += [rng.normal(0.0, np.sqrt(2.0 / a), (a, b)), np.zeros(b)]
    return params


def predict(params: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    w1, b1, w2, b2, w3, b3 = params
    h1 = np.maximum(matmul(x, w1) + b1, 0.0)
    h2 = np.maximum(matmul(h1, w2) + b2, 0.0)
    return (matmul(h2, w3) + b3)[:, 0]


def _gradients(params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Gradients of the mean squared error with respect to every parameter."""
    w1, b1, w2, b2, w3, b3 = params
    a1 = matmul(x, w1) + b1
    h1 = np.maximum(a1, 0.0)
    a2 = matmul(h1, w2) + b2
    h2 = np.maximum(a2, 0.0)
    g = (2.0 / len(y)) * ((matmul(h2, w3) + b3)[:, 0] - y)[:, None]
    g2 = matmul(g, w3.T) * (a2 > 0)
    g1 = matmul(g2, w2.T) * (a1 > 0)
    return [matmul(x.T, g1), g1.sum(0), matmul(h1.T, g2), g2.sum(0), matmul(h2.T, g), g.sum(0)]


def adam(params: list[np.ndarray], x: np.ndarray, y: np.ndarray, steps: int, lr: float) -> list[np.ndarray]:
    """`steps` full-batch Adam steps on the mean squared error (fresh moments, beta1 = 0 as in Reptile's
    experiments); returns new arrays."""
    params = [p.copy() for p in params]
    second = [np.zeros_like(p) for p in params]
    for t in range(1, steps + 1):
        for p, v, g in zip(params, second, _gradients(params, x, y)):
            v *= 0.999
            v += 0.001 * g * g
            p -= lr * g / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    return params


class Morphling(SourceMatrixSearcher):
    name = "morphling"
    parameter_constraints = {
        "n_init": Interval(int, 0, None), "n_explore": Interval(int, 0, None), "explore_top_k": Interval(int, 1, None),
        "adapt_steps": Interval(int, 0, None), "adapt_lr": Interval(float, 0, None, closed="neither"),
        "meta_iters": Interval(int, 1, None), "inner_steps": Interval(int, 1, None),
        "inner_batch": Interval(int, 1, None), "inner_lr": Interval(float, 0, None, closed="neither"),
        "meta_lr": Interval(float, 0, 1, closed="right"), "fit_seed": Interval(int, 0, None), **SLO_PARAMETER}

    def __init__(self, n_init: int = 0, n_explore: int = 6, explore_top_k: int = 10, adapt_steps: int = 30,
                 adapt_lr: float = 0.001, meta_iters: int = 1000, inner_steps: int = 5, inner_batch: int = 64,
                 inner_lr: float = 0.003, meta_lr: float = 1.0, fit_seed: int = 0, slo: str = "feasibility"):
        self.slo = slo
        self.n_init = n_init
        self.n_explore = n_explore
        self.explore_top_k = explore_top_k
        self.adapt_steps = adapt_steps
        self.adapt_lr = adapt_lr
        self.meta_iters = meta_iters
        self.inner_steps = inner_steps
        self.inner_batch = inner_batch
        self.inner_lr = inner_lr
        self.meta_lr = meta_lr
        self.fit_seed = fit_seed

    def _fit(self, source, matrix):
        rng = np.random.default_rng(self.fit_seed)
        x = self.source_space_.features()
        params = _init_params(x.shape[1], rng)
        for it in range(self.meta_iters):
            task = matrix[rng.integers(len(matrix))]
            batch = rng.choice(len(x), size=min(self.inner_batch, len(x)), replace=False)
            adapted = adam(params, x[batch], task[batch], self.inner_steps, self.inner_lr)
            step = self.meta_lr * (1.0 - it / self.meta_iters)  # Reptile's linearly annealed outer step
            params = [p + step * (a - p) for p, a in zip(params, adapted)]
        self.params_ = params

    def _state(self):
        return {"params": [p.tolist() for p in self.params_]}

    def _load_state(self, state):
        self.params_ = [np.asarray(p, dtype=float) for p in state["params"]]

    def start(self, space, seed, budget):
        super().start(space, seed, budget)
        self.features_ = space.features()

    def adapted_prediction(self) -> np.ndarray:
        """Predicted normalised objective of every configuration after fine-tuning on the target's trials."""
        idx, y = self.modelled()
        params = self.params_
        if len(idx):
            low = y.min() if np.ptp(y) > 0 else 0.0  # min-max over the trials, like the sources' normalisation
            span = y.max() - low
            params = adam(params, self.features_[idx], (y - low) / span if span > 0 else y,
                         self.adapt_steps, self.adapt_lr)
        return predict(params, self.features_)

    @single_threaded()
    def ask(self) -> Config:
        n = len(self.history_)
        if n < self.n_init:
            self.phase_ = "init"
            return self.space_.config(int(self.rng_.choice(self.proposable())))
        scores = self.adapted_prediction()
        if self.feasibility_ is not None:
            scores = scores * self.p_feasible()
        if n < self.n_init + self.n_explore:
            self.phase_ = "explore"
            cand = self.proposable()
            top = cand[rank(scores[cand])[:self.explore_top_k]]
            return self.space_.config(int(self.rng_.choice(top)))
        self.phase_ = "exploit"
        if self.feasibility_ is not None:
            inside = np.zeros(len(scores), dtype=bool)
            inside[self.proposable()] = True
            scores = np.where(inside, scores, -np.inf)
        return self.space_.config(best_untried(scores, self.tried_))
