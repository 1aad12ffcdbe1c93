"""Vesta: transfer through a two-layer bipartite graph of workloads, labels and configurations.

Hu et al., "Vesta: Transfer Learning for Configuring Cloud Resources" (ICPP 2021; the Falcon paper's Vesta
baseline). Offline, the source workloads' behaviour over the configurations is condensed into a graph: k-means
groups the configurations into labels (configurations that behave alike across the source workloads), one
layer links each workload to each label (edge weight: the workload's mean normalised objective on that label),
the other links each label to its configurations. Online, a sandbox trial of the target places it among the
source workloads; recommendations follow the graph (the label the similar workloads rate highest, then its
best configuration for them), and the placement is refined with each trial.

Deviations and choices (the original's low-level sandbox metrics are not in a trace):
- The target is placed by its trial objectives alone: each source workload gets a weight
  exp(-r / temperature), where r is the relative squared error of the best non-negative rescaling of that
  workload's normalised objectives onto the target's observed ones (scale-free, since the target's objective
  scale is unknown). With one trial every workload fits equally, so the first recommendation is the
  consensus.
- The sandbox trial is the configuration whose normalised objective varies most across the source workloads
  (the most informative single trial for the placement).
- Labels are chosen by their weighted workload edges times a factor the target's own trials refine: the mean
  ratio of observed to predicted objective of the configurations tried in that label (1 before any).
- Deterministic given the sources; `fit_seed` seeds k-means.
- Under an SLO with `slo="feasibility"` (`harness.feasibility`): the sandbox is the most variable configuration
  among those predicted to meet the SLO at a conservative level; later, labels and configurations are chosen among
  those at least likely to meet it, configurations by predicted objective x P(meets the SLO); the workloads are
  placed by the trials that met it.
Tuning (leave-one-source-out on the 18 source models only): see docs/baselines.md.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

from baselines.common import SLO_PARAMETER, SourceMatrixSearcher, best_untried
from harness.surrogate import single_threaded
from harness.search import Interval
from harness.space import Config


class Vesta(SourceMatrixSearcher):
    name = "vesta"
    parameter_constraints = {"n_labels": Interval(int, 1, None),
                             "temperature": Interval(float, 0, None, closed="neither"),
                             "fit_seed": Interval(int, 0, None), **SLO_PARAMETER}

    def __init__(self, n_labels: int = 12, temperature: float = 0.2, fit_seed: int = 0, slo: str = "feasibility"):
        self.slo = slo
        self.n_labels = n_labels
        self.temperature = temperature
        self.fit_seed = fit_seed

    def _fit(self, source, matrix):
        k = min(self.n_labels, matrix.shape[1])
        km = KMeans(n_clusters=k, n_init=10, random_state=self.fit_seed).fit(matrix.T)
        self.labels_ = km.labels_.astype(np.int64)
        self.workload_perf_ = matrix
        self.edges_ = np.stack([matrix[:, self.labels_ == l].mean(axis=1) for l in range(k)], axis=1)
        self.sandbox_ = int(np.argmax(matrix.var(axis=0)))

    def _state(self):
        return {"labels": self.labels_.tolist(), "workload_perf": self.workload_perf_.tolist(),
                "edges": self.edges_.tolist(), "sandbox": self.sandbox_}

    def _load_state(self, state):
        self.labels_ = np.asarray(state["labels"], dtype=np.int64)
        self.workload_perf_ = np.asarray(state["workload_perf"], dtype=float)
        self.edges_ = np.asarray(state["edges"], dtype=float)
        self.sandbox_ = int(state["sandbox"])

    def workload_weights(self) -> np.ndarray:
        """How much each source workload resembles the target, from the target's trials so far."""
        idx, y = self.modelled()
        p = self.workload_perf_[:, idx]                                  # workloads x trials
        denom = np.maximum((p * p).sum(axis=1), 1e-12)
        scale = np.maximum((p @ y) / denom, 0.0)
        err = ((y - scale[:, None] * p) ** 2).sum(axis=1) / max(float(y @ y), 1e-12)
        w = np.exp(-(err - err.min()) / self.temperature)
        return w / w.sum()

    @single_threaded()
    def ask(self) -> Config:
        if not self.history_:
            self.phase_ = "sandbox"
            if self.feasibility_ is not None:
                cand = self.proposable()
                return self.space_.config(int(cand[np.argmax(self.workload_perf_.var(axis=0)[cand])]))
            return self.space_.config(self.sandbox_)
        self.phase_ = "graph"
        w = self.workload_weights()
        predicted = w @ self.workload_perf_                              # per configuration
        label_score = (w @ self.edges_) * self._target_factor(predicted)
        cand = self.proposable()
        open_labels = np.unique(self.labels_[cand])
        best_label = open_labels[np.argmax(label_score[open_labels])]
        scores = np.where(self.labels_ == best_label, predicted, -np.inf)
        if self.feasibility_ is not None:
            inside = np.zeros(len(scores), dtype=bool)
            inside[cand] = True
            scores = np.where(inside & (self.labels_ == best_label), predicted * self.p_feasible(), -np.inf)
        return self.space_.config(best_untried(scores, self.tried_))

    def _target_factor(self, predicted: np.ndarray) -> np.ndarray:
        """Per label, the mean ratio of the target's observed objective (rescaled) to the prediction."""
        idx, y = self.modelled()
        scale = max(float(y @ predicted[idx]) / max(float(predicted[idx] @ predicted[idx]), 1e-12), 1e-12)
        ratio = (y / scale) / np.maximum(predicted[idx], 1e-12)
        factor = np.ones(len(self.edges_[0]))
        for l in np.unique(self.labels_[idx]):
            factor[l] = ratio[self.labels_[idx] == l].mean()
        return factor
