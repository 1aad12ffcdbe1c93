"""Falcon's searcher: offline knowledge (KOP-RCs, PCA pruning, region trees) and the online MCTS-BO search.

Where the offline knowledge comes from (`fit`), in this order:

1. The source models' traces, when they carry an operator profile at every configuration (simulated and
   collected trace sets): each operator type's response is learned from them (`falcon.curves.learn_responses`),
   and its curves are the response's partial dependence on every pair of knobs. The target is never a source.
2. Otherwise (the authors' release, whose sources have no operator data) the released curves, read from the
   `kop_curves` tables of the trace set at `curves_from`, under one of two protocols:
   - "strict": for each operator type, only the curves released with models other than the target;
   - "authors": only the curves released with the target model itself, as the authors' code uses them.
   An operator's response over the grid is then the mean of its curves' values.
   Either way the target's measurements are seen only through the oracle.

Per operator type, PCA pruning keeps the knobs that matter; curves that are plane, or whose two knobs were both
pruned, are dropped; the rest are the levels of the operator's region tree.

Online (Algorithm 1): the first trial is a random configuration, whose operator profile names the key operators
(KOPs). From then on: if the last trial improved on the best before it, *exploit* in the tree last used: the
region holding the best trial, split further with the target's trials once it holds `leaf_size` of them;
otherwise *explore*: move to the next KOP's tree (round robin in KOP order) and descend it by UCB. A GP proposes
inside the chosen region, among grid points not yet tried, with the KOPs' share-weighted response (calibrated to
the target's scale) as its prior mean and the knobs that survived pruning as its inputs. If no KOP has a tree
(no operator profile, or only operators unseen offline), the search is GP-BO over the whole space with the mean
response of all known operators as its prior. With `target_value` set, the search stops once a trial reaches
it: the recommendation is frozen and later asks (the harness asks for every trial of the budget) follow the prior.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from falcon.curves import ResourceCurve, curve_response, curves_from_table, curves_of_response, learn_responses
from falcon.kops import kop_weights
from falcon.mcts_bo import (RegionScorer, calibrate, default_kernel, posterior, propose, select_leaf,
                            split_with_trials)
from falcon.pruning import prune_knobs
from falcon.trees import RegionNode, RegionTree
from harness.oracle import Observation
from harness.search import Searcher
from harness.space import Config, SearchSpace
from harness.traces import Trace, TraceSet

PROTOCOLS = ("strict", "authors")


class FalconSearcher(Searcher):
    """Falcon (SoCC '22). Parameters:

    threshold: KOP threshold on time and memory share (paper: 1, 5, 10 %). cutoff: PCA explained variance kept
    (paper: 0.80-0.95). max_height: levels of a region tree at most. cp: UCB exploration constant, in units of
    the observed objective's spread. leaf_size: a region holding this many of the target's trials is split
    with them while exploiting.
    protocol, curves_from, target: where released curves come from when the sources have no operator profiles
    (see the module docstring). target_value: stop once a trial reaches this objective (None: never stop).
    """

    name = "falcon"

    def __init__(self, threshold: float = 0.05, cutoff: float = 0.85, max_height: int = 8, cp: float = 0.01,
                 leaf_size: int = 4, protocol: str = "strict",
                 curves_from: str | None = None, target: str | None = None, target_value: float | None = None):
        self.threshold = threshold
        self.cutoff = cutoff
        self.max_height = max_height
        self.cp = cp
        self.leaf_size = leaf_size
        self.protocol = protocol
        self.curves_from = curves_from
        self.target = target
        self.target_value = target_value

    # -- offline ------------------------------------------------------------------------------------------
    def fit(self, source: Sequence[Trace]) -> "FalconSearcher":
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"falcon: protocol {self.protocol!r} is not one of {PROTOCOLS}")
        source = list(source)
        if not source:
            raise ValueError("falcon: fit() needs the source models' traces")
        space = source[0].space
        responses = learn_responses(space, source, self.threshold)
        if responses:
            self.knowledge_ = "source operator profiles"
            library = {op: curves_of_response(space, op, r) for op, r in responses.items()}
        else:
            self.knowledge_ = f"released curves ({self.protocol})"
            library = curves_from_table(self._release_table(), space)
            responses = {op: curve_response(space, cs) for op, cs in library.items()}
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
                # knowledge from the sources' profiles does not depend on which model is the target
                "target_independent": self.knowledge_ == "source operator profiles",
                "responses": {op: r.tolist() for op, r in self.responses_.items()},
                "kept_knobs": self.kept_knobs_,
                "curves": {op: [{"op_type": c.op_type, "knob_a": c.knob_a, "knob_b": c.knob_b,
                                 "surface": c.surface.tolist(), "shape": c.shape} for c in curves]
                           for op, curves in self.curves_.items()},
                "trees": {op: self.tree(op).to_json() for op in self.responses_}}

    def set_state(self, state: dict) -> "FalconSearcher":
        self.knowledge_ = state["knowledge"]
        self.knowledge_space_ = SearchSpace.from_dict(state["space"])
        self.responses_ = {op: np.array(r, dtype=float) for op, r in state["responses"].items()}
        self.kept_knobs_ = {op: list(k) for op, k in state["kept_knobs"].items()}
        self.curves_ = {op: [ResourceCurve(c["op_type"], c["knob_a"], c["knob_b"],
                                           np.array(c["surface"], dtype=float), c["shape"]) for c in curves]
                        for op, curves in state["curves"].items()}
        self.trees_ = {op: RegionTree.from_json(text) for op, text in state["trees"].items()}
        return self

    def _release_table(self) -> pd.DataFrame:
        if self.curves_from is None or self.target is None:
            raise ValueError("falcon: the source traces have no per-configuration operator profiles, so the "
                             "curves must come from a release: set curves_from (a trace set with kop_curves "
                             "tables) and target")
        traces = TraceSet(self.curves_from)
        tables = {}
        for model in traces.models:
            if (model == self.target) != (self.protocol == "authors"):
                continue  # strict: never even load the target; authors: only the target's own curves
            aux = traces.load(model).auxiliary
            if "kop_curves" in aux:
                tables[model] = aux["kop_curves"].assign(model=model)
        if not tables:
            raise ValueError(f"falcon: no kop_curves tables in {Path(self.curves_from)} for protocol "
                             f"{self.protocol!r} and target {self.target!r}")
        return pd.concat(tables.values(), ignore_index=True)

    # -- online -------------------------------------------------------------------------------------------
    def start(self, space: SearchSpace, seed: int, budget: int) -> None:
        if not hasattr(self, "responses_"):
            raise RuntimeError("falcon: fit() must run before start()")
        if space != self.knowledge_space_:
            raise ValueError(f"falcon: fitted on space {self.knowledge_space_.name!r}, asked to search "
                             f"{space.name!r} with other knobs")
        super().start(space, seed, budget)
        self.kops_: dict[str, float] | None = None
        self.active_: list[tuple[str, RegionNode, np.ndarray]] = []  # (op, root of a per-search tree, response)
        self.current_: int | None = None
        self.explored_: int = -1
        self.stopped_at_: int | None = None

    def ask(self) -> Config:
        if not self.history_:
            self.phase_ = "profile"
            return self.space_.config(int(self.rng_.choice(len(self.space_))))
        observed_index = np.array([o.index for o in self.history_])
        observed = np.array([o.objective for o in self.history_])
        open_mask = np.ones(len(self.space_), dtype=bool)
        open_mask[observed_index] = False
        a, b = calibrate(self.prior_[observed_index], observed)
        prior = a + b * self.prior_
        mean, std, self.kernel_ = posterior(self.features_, prior, observed_index, observed, self.kernel_)
        if self.stopped_at_ is not None:
            self.phase_ = "stopped"
            candidates = np.flatnonzero(open_mask)
            return self.space_.config(int(candidates[np.argmax(prior[candidates])]))
        improved = len(observed) >= 3 and observed[-1] >= observed[:-1].max()
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
        return self.space_.config(propose(candidates, mean, std, prior, float(observed.max())))

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

    def tell(self, obs: Observation) -> None:
        super().tell(obs)
        if self.kops_ is None:
            self._identify_kops(obs)
        if (self.target_value is not None and self.stopped_at_ is None and obs.feasible
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
            self.prior_ = (np.mean(list(self.responses_.values()), axis=0) if self.responses_
                           else np.zeros(len(self.space_)))
            self.active_.append(("", RegionNode(np.arange(len(self.space_)), float(self.prior_.mean())),
                                 self.prior_))
        self.features_ = self.space_.features()
        self.kernel_ = default_kernel(self.features_.shape[1])

    def recommend(self) -> Config:
        if self.stopped_at_ is not None:
            return self.space_.config(self.stopped_at_)
        return super().recommend()
