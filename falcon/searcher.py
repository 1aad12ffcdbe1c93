"""Falcon's searcher: offline knowledge (KOP-RCs, PCA pruning, region trees) and the online MCTS-BO search.

Offline knowledge (`fit(knowledge)`, handed over by the harness; the searcher opens no file):

- the sources' normalised objectives, whose mean ranks the configurations (the offline phase's optimum is the
  first of that ranking);
- per operator type, a response over the grid and its curves, from the first of:
  1. the source models' per-configuration operator profiles (simulated and collected trace sets): each operator
     type's response is learned from them (`falcon.curves.learn_responses`), and its curves are the response's
     partial dependence on every pair of knobs;
  2. the released curves the run's protocol allows (`knowledge.curves`; on the authors' release only the
     "authors" protocol has any: the target's own curves, as the authors' code uses them). An operator's
     response over the grid is then the mean of its curves' values;
  3. none: the search runs on the sources' ranking alone (e.g. the release under the strict protocol).

Per operator type, PCA pruning keeps the knobs that matter; curves that are plane, or whose two knobs were both
pruned, are dropped; the rest are the levels of the operator's region tree.

Online (Algorithm 1, with the switches below): the first trial's operator profile names the key operators
(KOPs). From then on: if the last trial improved (`exploit_rule`), *exploit* in the tree last used: the region
holding the best trial, split further with the target's trials once it holds `leaf_size` of them; otherwise
*explore*: move to the next KOP's tree (round robin in KOP order) and descend it by UCB. A GP proposes inside
the chosen region, among grid points not yet tried, with the KOPs' share-weighted response (calibrated to the
target's scale) as its prior mean. If no KOP has a tree (no operator profile, or only operators unseen offline),
the search is GP-BO over the whole space with the sources' mean normalised objective as its prior. With
`target_value` set, the search stops once a trial reaches it: the recommendation is frozen and later asks (the
harness asks for every trial of the budget) follow the prior.

`falcon_plus` (this project's method, not the paper's: `source_weighting="profile"`) keeps the KOP trees but
takes the GP's prior from the sources' normalised objectives weighted by how alike each source's operator time
shares are to the target's first trial, at that same configuration: weight exp(-d / similarity_scale), d the
total-variation distance between the two share vectors (0..1).

Under a service-level objective the paper (as ../shared/PAPER.md restates it) describes no SLO handling of its
own, so Falcon follows the harness's generic rule: a trial that misses the SLO is told as objective 0 (its trees'
region values and the GP then see it as a bad configuration), the recommendation is the best trial told, and
`target_value` stops the search only at a trial that meets the SLO. One guard follows from the rule: a trial that
missed the SLO never counts as an improvement (v_j >= v_{j-1} holds for two misses, 0 >= 0, and would keep the
search exploiting the region of the first miss), so a miss always moves the search on to explore.
"""

from __future__ import annotations

import copy
from typing import Mapping

import numpy as np
import pandas as pd

from falcon.latency import OperatorLatency, TargetLatency
from falcon.curves import (RESPONSE_KINDS, ResourceCurve, curve_response, curves_from_table, curves_of_response,
                           learn_responses)
from harness.surrogate import matern_kernel
from falcon.mcts_bo import RegionScorer, calibrate, posterior, propose, select_leaf, split_with_trials
from falcon.pruning import prune_knobs
from falcon.trees import RegionNode, RegionTree
from harness.feasibility import (FIRST_LEVEL, SLO_MODES, FeasibilityModel, SourceMeasurements, expected_best,
                                 first_feasible, proposable)
from harness.ops.kops import kop_weights
from harness.search import Interval, Knowledge, Observation, OneOf, StatefulSearcher
from harness.space import Config, SearchSpace
from harness.traces import OpStat

FIRST_TRIALS = ("offline_optimum", "random")
EXPLOIT_RULES = ("paper", "best_so_far")
SOURCE_WEIGHTINGS = ("none", "profile")


def time_shares(profile: Mapping[str, OpStat] | None) -> dict[str, float]:
    """Operator type -> its share of the model's time, where known."""
    return {op: float(stat.time_share) for op, stat in (profile or {}).items() if not np.isnan(stat.time_share)}


class FalconSearcher(StatefulSearcher):
    """Falcon (SoCC '22). Parameters:

    threshold: KOP threshold on time and memory share (paper: 1, 5, 10 %). cutoff: PCA explained variance kept
    (paper: 0.80-0.95). max_height: levels of a region tree at most. cp: UCB exploration constant, in units of
    the observed objective's spread. leaf_size: a region holding this many of the target's trials is split
    with them while exploiting. target_value: stop once a trial reaches this objective (None: never stop).

    Switches between the paper as written and a careful reading of it (docs/falcon.md, "Switches"):
    first_trial: "offline_optimum" (the configuration the offline knowledge ranks first, as Figure 7 step (1)
    and the authors' code do) or "random" (Algorithm 1 line 1). exploit_rule: "paper" (exploit when
    v_j >= v_{j-1}, Algorithm 1 line 9) or "best_so_far" (exploit when the last trial is the best so far).
    kop_response: how an operator's response is learned from source profiles (`falcon.curves.learn_responses`):
    "share_quotient" (objective over the operator's time share) or "model_objective" (the objective of the
    sources the operator is key in). source_weighting: "none" (the paper) or "profile" (falcon_plus: the prior
    is the sources' objectives weighted by operator-profile similarity to the first trial, with
    `similarity_scale`; needs first_trial="offline_optimum", where every source has a profile).
    slo: under constraints, "ignore" (a miss is only an objective of 0) or "feasibility" (`harness.feasibility`:
    the first trial is the best-ranked configuration predicted to meet the SLO, proposals weigh expected
    improvement by the probability of meeting it, and nothing over a price limit is proposed; falcon_plus also
    predicts latency from its first trial's operator profile, `falcon.latency`). Without constraints both are
    the same search.
    """

    name = "falcon"
    parameter_constraints = {
        "threshold": Interval(float, 0, 1, closed="neither"), "cutoff": Interval(float, 0, 1, closed="right"),
        "max_height": Interval(int, 1, None), "cp": Interval(float, 0, None), "leaf_size": Interval(int, 2, None),
        "target_value": Interval(float, None, None, allow_none=True),
        "first_trial": OneOf(FIRST_TRIALS), "exploit_rule": OneOf(EXPLOIT_RULES),
        "kop_response": OneOf(RESPONSE_KINDS), "source_weighting": OneOf(SOURCE_WEIGHTINGS),
        "similarity_scale": Interval(float, 0, None, closed="neither"), "slo": OneOf(SLO_MODES)}

    def __init__(self, threshold: float = 0.05, cutoff: float = 0.85, max_height: int = 8, cp: float = 0.01,
                 leaf_size: int = 4, target_value: float | None = None, first_trial: str = "offline_optimum",
                 exploit_rule: str = "paper", kop_response: str = "share_quotient", source_weighting: str = "none",
                 similarity_scale: float = 0.1, slo: str = "feasibility"):
        self.threshold = threshold
        self.cutoff = cutoff
        self.max_height = max_height
        self.cp = cp
        self.leaf_size = leaf_size
        self.target_value = target_value
        self.first_trial = first_trial
        self.exploit_rule = exploit_rule
        self.kop_response = kop_response
        self.source_weighting = source_weighting
        self.similarity_scale = similarity_scale
        self.slo = slo
        if source_weighting == "profile" and first_trial != "offline_optimum":
            raise ValueError("falcon: source_weighting='profile' needs first_trial='offline_optimum' (the sources' "
                             "profiles are compared with the target's at that configuration)")

    # -- offline ------------------------------------------------------------------------------------------
    def fit(self, knowledge: Knowledge) -> "FalconSearcher":
        space = knowledge.space
        self.source_objectives_ = knowledge.normalised_objectives()
        self.source_prior_ = self.source_objectives_.mean(axis=0)
        first = int(np.argmax(self.source_prior_))
        self.source_shares_ = [time_shares(t.op_profile(first)) for t in knowledge.sources]
        self.source_measurements_ = SourceMeasurements.from_traces(knowledge.sources)
        self.operator_latency_ = (OperatorLatency.from_traces(knowledge.sources)
                                  if self.source_weighting == "profile" else None)
        responses = learn_responses(space, knowledge.sources, self.threshold, self.kop_response)
        if responses:
            self.knowledge_ = "source operator profiles"
            library = {op: curves_of_response(space, op, r) for op, r in responses.items()}
        elif knowledge.curves:
            self.knowledge_ = f"released curves ({knowledge.protocol})"
            table = pd.concat([t.assign(model=m) for m, t in sorted(knowledge.curves.items())], ignore_index=True)
            library = curves_from_table(table, space)
            responses = {op: curve_response(space, cs) for op, cs in library.items()}
        else:
            self.knowledge_ = "source objectives only"
            library = {}
        self.knowledge_space_ = space
        self.responses_: dict[str, np.ndarray] = responses
        self.kept_knobs_: dict[str, list[str]] = {}
        self.curves_: dict[str, list[ResourceCurve]] = {}
        self.trees_: dict[str, RegionTree] = {}
        for op, response in responses.items():
            kept = prune_knobs(space, response, self.cutoff)
            curves = [c for c in library[op] if c.shape != "plane" and (c.knob_a in kept or c.knob_b in kept)]
            self.kept_knobs_[op], self.curves_[op] = kept, curves
        return self

    def tree(self, op: str) -> RegionTree:
        """The region tree of an operator type, built on first use (a search needs only its KOPs' trees)."""
        if op not in self.trees_:
            self.trees_[op] = RegionTree(op, self.max_height).fit(self.knowledge_space_, self.responses_[op],
                                                                  self.curves_[op])
        return self.trees_[op]

    # -- fitted state as JSON (cached by the sweeps instead of refitting per search; never pickle) ----------
    def get_state(self) -> dict:
        """Everything `fit` learned, as JSON-able values; every operator's tree is built for it."""
        return {"knowledge": self.knowledge_, "space": self.knowledge_space_.to_dict(),
                "source_objectives": self.source_objectives_.tolist(), "source_shares": self.source_shares_,
                "responses": {op: r.tolist() for op, r in self.responses_.items()},
                "kept_knobs": self.kept_knobs_,
                "curves": {op: [{"op_type": c.op_type, "knob_a": c.knob_a, "knob_b": c.knob_b,
                                 "surface": c.surface.tolist(), "shape": c.shape} for c in curves]
                           for op, curves in self.curves_.items()},
                "trees": {op: self.tree(op).to_json() for op in self.responses_},
                "source_measurements": self.source_measurements_.to_dict(),
                "operator_latency": None if self.operator_latency_ is None else self.operator_latency_.to_dict()}

    def set_state(self, state: dict) -> "FalconSearcher":
        self.knowledge_ = state["knowledge"]
        self.knowledge_space_ = SearchSpace.from_dict(state["space"])
        self.source_objectives_ = np.array(state["source_objectives"], dtype=float)
        self.source_prior_ = self.source_objectives_.mean(axis=0)
        self.source_shares_ = [dict(shares) for shares in state["source_shares"]]
        self.responses_ = {op: np.array(r, dtype=float) for op, r in state["responses"].items()}
        self.kept_knobs_ = {op: list(k) for op, k in state["kept_knobs"].items()}
        self.curves_ = {op: [ResourceCurve(c["op_type"], c["knob_a"], c["knob_b"],
                                           np.array(c["surface"], dtype=float), c["shape"]) for c in curves]
                        for op, curves in state["curves"].items()}
        self.trees_ = {op: RegionTree.from_json(text) for op, text in state["trees"].items()}
        self.source_measurements_ = SourceMeasurements.from_dict(state["source_measurements"])
        self.operator_latency_ = (None if state["operator_latency"] is None
                                  else OperatorLatency.from_dict(state["operator_latency"]))
        return self

    # -- online -------------------------------------------------------------------------------------------
    def start(self, space: SearchSpace, seed: int, budget: int) -> None:
        if not hasattr(self, "source_prior_"):
            raise RuntimeError("falcon: fit() must run before start()")
        if space != self.knowledge_space_:
            raise ValueError(f"falcon: fitted on space {self.knowledge_space_.name!r}, asked to search "
                             f"{space.name!r} with other knobs")
        super().start(space, seed, budget)
        self.feasibility_ = (FeasibilityModel(self.source_measurements_, self.constraints_)
                             if self.slo == "feasibility" and self.constraints_.active else None)
        self.kops_: dict[str, float] | None = None
        self.active_: list[tuple[str, RegionNode, np.ndarray]] = []  # (op, root of a per-search tree, response)
        self.current_: int | None = None
        self.explored_: int = -1
        self.stopped_at_: int | None = None

    def ask(self) -> Config:
        if not self.history_:
            self.phase_ = "profile"
            if self.feasibility_ is not None:
                return self.space_.config(self._first_feasible())
            if self.first_trial == "offline_optimum":
                return self.space_.config(int(np.argmax(self.source_prior_)))  # ties: the lowest index
            return self.space_.config(int(self.rng_.choice(len(self.space_))))
        observed_index = np.array([o.index for o in self.history_])
        observed = np.array([o.objective for o in self.history_])
        open_mask = np.ones(len(self.space_), dtype=bool)
        open_mask[observed_index] = False
        p_feasible = None
        if self.feasibility_ is not None:
            p_feasible = self.feasibility_.probability()
            untried = np.flatnonzero(open_mask)
            open_mask[np.setdiff1d(untried, proposable(self.feasibility_, untried, first=False))] = False
            # the objective model learns from the trials that met the SLO (a miss's 0 says nothing about its
            # objective; what it says about the limits, the feasibility model learned)
            met = np.array([o.slo_met for o in self.history_])
            if met.any():
                observed_index, observed = observed_index[met], observed[met]
        a, b = calibrate(self.prior_[observed_index], observed)
        prior = a + b * self.prior_
        mean, std, self.kernel_ = posterior(self.features_, prior, observed_index, observed, self.kernel_)
        if self.stopped_at_ is not None:
            self.phase_ = "stopped"
            candidates = np.flatnonzero(open_mask)
            value = prior if p_feasible is None else prior * p_feasible
            return self.space_.config(int(candidates[np.argmax(value[candidates])]))
        told = np.array([o.objective for o in self.history_])
        if not self.history_[-1].slo_met:
            improved = False  # a trial that missed the SLO is no improvement, even where it ties an earlier 0
        elif self.exploit_rule == "paper":
            improved = len(told) >= 2 and told[-1] >= told[-2]
        else:
            improved = len(told) >= 3 and told[-1] >= told[:-1].max()
        if improved and self.current_ is not None:
            self.phase_ = "exploit"
            region = self._exploit_region(observed_index, observed, open_mask)
        else:
            self.phase_ = "explore"
            self.explored_ = (self.explored_ + 1) % len(self.active_)
            self.current_ = self.explored_
            root = self.active_[self.current_][1]
            region = select_leaf(root, RegionScorer(mean, observed_index, observed, self.cp), open_mask)
        candidates = region.indices[open_mask[region.indices]]
        return self.space_.config(propose(candidates, mean, std, prior, float(observed.max()), p_feasible))

    def _exploit_region(self, observed_index: np.ndarray, observed: np.ndarray, open_mask: np.ndarray) -> RegionNode:
        """The region of the current tree holding the best trial, split with the trials in it where they allow."""
        _, root, response = self.active_[self.current_]
        best = int(observed_index[np.argmax(observed)])
        path = root.path_to(best)
        leaf = path[-1]
        if np.isin(observed_index, leaf.indices).sum() >= self.leaf_size and len(leaf.indices) >= 2:
            spread = np.ptp(observed) or max(abs(float(observed.max())), 1e-12)
            if split_with_trials(leaf, self.features_, response, observed_index, observed, spread,
                                 random_state=len(observed)):
                path = root.path_to(best)
        return next(node for node in reversed(path) if open_mask[node.indices].any())

    def _first_feasible(self) -> int:
        """Trial 1 under an SLO: the configuration the first-trial rule would pick among those predicted to meet it
        (`first_feasible`: the offline ranking's best; for a random first trial, a random one)."""
        p = self.feasibility_.probability()
        candidates = self.feasibility_.candidates(np.arange(len(self.space_)))
        if self.first_trial == "offline_optimum":
            return first_feasible(self.source_prior_, p, candidates)
        sure = candidates[p[candidates] >= FIRST_LEVEL]
        return int(self.rng_.choice(sure)) if sure.size else first_feasible(p, p, candidates)

    def tell(self, obs: Observation) -> None:
        super().tell(obs)
        if self.kops_ is None:
            self._identify_kops(obs)
        if self.feasibility_ is not None:
            self.feasibility_.observe(obs.index, obs.metrics)
        if (self.target_value is not None and self.stopped_at_ is None and obs.feasible and obs.slo_met
                and obs.objective >= self.target_value):
            self.stopped_at_ = obs.index

    def _identify_kops(self, obs: Observation) -> None:
        """Step 1 of Algorithm 1: KOPs from the first trial's profile; their trees, prior and GP inputs."""
        self.kops_ = kop_weights(obs.op_profile, self.threshold)
        known = {op: w for op, w in self.kops_.items() if op in self.responses_}
        if known:
            for op in known:
                self.active_.append((op, copy.deepcopy(self.tree(op).root_), self.responses_[op]))
            weights = np.array(list(known.values()))
            self.prior_ = np.average([self.responses_[op] for op in known], axis=0, weights=weights)
        else:
            self.prior_ = self.source_prior_
            self.active_.append(("", RegionNode(np.arange(len(self.space_)), float(self.prior_.mean())),
                                 self.prior_))
        if self.source_weighting == "profile":  # falcon_plus: the trees stay the KOPs', the prior is the sources'
            weights = self._profile_weights(time_shares(obs.op_profile), obs.index)
            self.prior_ = weights @ self.source_objectives_ / weights.sum()
            if self.feasibility_ is not None:
                self._predict_latency(obs, weights)
        self.features_ = self.space_.features()
        self.kernel_ = matern_kernel(self.features_.shape[1])

    def _profile_weights(self, target_shares: dict[str, float], index: int) -> np.ndarray:
        """Each source's weight exp(-d / similarity_scale), d the total-variation distance between its time shares
        and the target's at the first trial's configuration (the sources' shares were profiled at the offline
        optimum; a first trial elsewhere, under an SLO, compares them moved there by `falcon.latency`)."""
        source_shares = self.source_shares_
        optimum = int(np.argmax(self.source_prior_))
        if index != optimum and self.operator_latency_ is not None:
            source_shares = [self.operator_latency_.moved_shares(shares, optimum, index) for shares in source_shares]
        distance = np.array([0.5 * sum(abs(target_shares.get(op, 0.0) - shares.get(op, 0.0))
                                       for op in sorted(set(target_shares) | set(shares)))
                             for shares in source_shares])
        return np.exp(-(distance - distance.min()) / self.similarity_scale)

    def _predict_latency(self, obs: Observation, weights: np.ndarray) -> None:
        """falcon_plus under a latency limit: the feasibility model's sources weighted by profile similarity, plus
        the latency predicted from the first trial's operator profile (`falcon.latency`) as one more shape."""
        self.feasibility_.weigh_sources(weights)
        latency = float(obs.metrics.get("latency_p99_ms", np.nan))
        if self.operator_latency_ is not None and obs.op_profile and latency > 0:
            predicted = TargetLatency(self.operator_latency_, obs.index, latency, time_shares(obs.op_profile))
            self.feasibility_.add_shape("latency_p99_ms", predicted.predict_log(), float(weights.max()))

    def recommend(self) -> Config:
        if self.stopped_at_ is not None:
            return self.space_.config(self.stopped_at_)
        if self.feasibility_ is not None and self.history_:
            return self.history_[expected_best(self.history_, self.feasibility_.probability())].config
        return super().recommend()
