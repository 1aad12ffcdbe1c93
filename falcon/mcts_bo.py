"""MCTS-BO, the online half of Falcon (Algorithm 1): region selection over the KOP trees and BO inside a region.

- Region values are re-estimated from the target's own trials (eq. 3-4): the offline prior (the KOPs' operator
  response) is mapped onto the target's objective scale by the affine map that minimises the squared gap
  between predicted and observed values; a Gaussian process (Matern 5/2) on the residual updates that estimate
  at every configuration with the target's trials; a region's value is the mean estimate over it (eq. 2).
- Selection descends a tree by an upper confidence bound, as LA-MCTS does:
  value + 2 Cp sqrt(2 sqrt(n_parent) / n), with counts of the target's trials (+1, so unvisited regions have
  a finite bound) and Cp in units of the spread of the observed objective.
- A region holding enough of the target's trials is split further with them (k-means on (x, f(x)), SVM on x).
- Proposals inside a region: expected improvement under the same GP, over the region's grid points not yet
  tried.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.gaussian_process.kernels import Kernel
from sklearn.svm import SVC

from harness.feasibility import constrained_ei
from harness.surrogate import expected_improvement, fit_gp, single_threaded
from falcon.trees import RegionNode

REFIT_LIMIT = 100  # trials after which the GP's hyperparameters stop being re-estimated
FIT_ITERATIONS = 50  # L-BFGS iterations of one re-estimate, warm-started from the previous ask's


def calibrate(prior: np.ndarray, observed: np.ndarray) -> tuple[float, float]:
    """(a, b) minimising sum (a + b prior - observed)^2 with b >= 0; a pure scale while fewer than 3 points."""
    prior, observed = np.asarray(prior, float), np.asarray(observed, float)
    if len(observed) >= 3 and np.ptp(prior) > 0:
        b, a = np.polyfit(prior, observed, 1)
        if b >= 0:
            return float(a), float(b)
        return float(observed.mean()), 0.0
    mean_prior = prior.mean() if len(prior) else 0.0
    return 0.0, float(observed.mean() / mean_prior) if mean_prior > 0 else 0.0


class RegionScorer:
    """Values and upper confidence bounds of regions, from the GP's estimate of every configuration."""

    def __init__(self, estimate: np.ndarray, observed_index: np.ndarray, observed: np.ndarray, cp: float):
        self.estimate = estimate
        self.observed_index = observed_index
        spread = np.ptp(observed) if len(observed) > 1 else 0.0
        self.scale = spread if spread > 0 else max(abs(float(observed.max())), 1e-12)
        self.cp = cp

    def stats(self, node: RegionNode) -> tuple[float, int]:
        """A region's value (mean estimate over its configurations, eq. 2) and the trials made in it."""
        return float(self.estimate[node.indices].mean()), int(np.isin(self.observed_index, node.indices).sum())

    def ucb(self, node: RegionNode, n_parent: int) -> float:
        value, n = self.stats(node)
        return value + 2 * self.cp * self.scale * np.sqrt(2 * np.sqrt(n_parent + 1) / (n + 1))


def select_leaf(root: RegionNode, scorer: RegionScorer, open_mask: np.ndarray) -> RegionNode:
    """Descend from `root` by UCB to a leaf that still has open (untried) configurations."""
    node = root
    while not node.is_leaf:
        _, n_parent = scorer.stats(node)
        options = [c for c in node.children if open_mask[c.indices].any()]
        node = max(options, key=lambda c: scorer.ucb(c, n_parent))
    return node


def split_with_trials(node: RegionNode, features: np.ndarray, response: np.ndarray, observed_index: np.ndarray,
                      observed: np.ndarray, scale: float, random_state: int) -> bool:
    """Split a leaf into good and bad children with the target's trials in it; False if they do not separate."""
    inside = np.isin(observed_index, node.indices)
    x, y = features[observed_index[inside]], observed[inside] / scale
    with single_threaded():
        labels = KMeans(n_clusters=2, n_init=3, random_state=random_state).fit_predict(np.column_stack([x, y]))
        good = labels == int(np.argmax([y[labels == k].mean() for k in (0, 1)]))
        if good.all() or not good.any():
            return False
        boundary = SVC(C=10.0, kernel="rbf", gamma="scale").fit(x, good)
        members = boundary.predict(features[node.indices]).astype(bool)
    if members.all() or not members.any():
        return False
    node.children = [RegionNode(node.indices[m], float(response[node.indices[m]].mean())) for m in (members, ~members)]
    return True


def posterior(features: np.ndarray, prior: np.ndarray, observed_index: np.ndarray, observed: np.ndarray,
              kernel: Kernel) -> tuple[np.ndarray, np.ndarray, Kernel]:
    """GP estimate (mean, std) of every configuration, with the prior (on the objective's scale) as its mean.

    With fewer than two trials there is nothing to fit: the prior, with zero spread. `kernel` holds the
    hyperparameters to start from; the fitted kernel is returned too, to start the next fit from.
    """
    if len(observed) < 2:
        return prior.copy(), np.zeros_like(prior), kernel
    # a few dozen L-BFGS steps from the last search step's hyperparameters keep an ask in the tens of ms; past
    # REFIT_LIMIT trials the hyperparameters are kept (each likelihood step is cubic in the trials), so a budget
    # near the size of the space still finishes
    max_iter = FIT_ITERATIONS if len(observed) <= REFIT_LIMIT else 0
    gp = fit_gp(features[observed_index], observed - prior[observed_index], kernel, max_iter=max_iter)
    with single_threaded():
        mean, std = gp.predict(features, return_std=True)
    return mean + prior, std, gp.kernel_


def propose(candidates: np.ndarray, mean: np.ndarray, std: np.ndarray, prior: np.ndarray, best: float,
            p_feasible: np.ndarray | None = None) -> int:
    """The candidate of highest expected improvement over `best` (times the probability of meeting the SLO, where
    given: `harness.feasibility.constrained_ei`); ties: higher prior, then lower index."""
    ei = expected_improvement(mean[candidates], std[candidates], best)
    if p_feasible is not None:
        ei = constrained_ei(ei, p_feasible[candidates])
    order = np.lexsort((candidates, -prior[candidates], -np.round(ei, 12)))
    return int(candidates[order[0]])
