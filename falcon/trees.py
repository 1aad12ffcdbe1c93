"""Region trees: one per key operator, partitioning the search space into good and bad regions.

The levels of a tree are the operator's key curves, ordered by their mean value (descending). At each level a
node's configurations are projected onto the level curve's two knobs; k-means (k = 2) on the operator's
response in those cells finds a good and a bad cluster, and an SVM on the cells' knob coordinates learns the
boundary between them, which assigns every cell (and so every configuration of the node) to the good or the
bad child. A slope curve gives one level; convex and concave curves two (their good and bad children are split
again on the same curve). A region's value is the mean response of the configurations in it (eq. 2).

Trees are saved as JSON: each offline split is stored as its knob pair and the cells it sends to the good
child, which is all an SVM boundary means on a discrete grid.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import SVC

from falcon.curves import ResourceCurve
from harness.surrogate import single_threaded
from harness.space import SearchSpace


@dataclass
class Split:
    """An offline split: configurations whose (knob_a, knob_b) positions are in `good_cells` go to the good child."""

    knobs: tuple[str, str]
    good_cells: frozenset[tuple[int, int]]

    def good_mask(self, space: SearchSpace, indices: np.ndarray) -> np.ndarray:
        digits = space.grid_digits()[indices]
        ia, ib = space.names.index(self.knobs[0]), space.names.index(self.knobs[1])
        table = np.zeros((len(space.knobs[ia].values), len(space.knobs[ib].values)), dtype=bool)
        for a, b in self.good_cells:
            table[a, b] = True
        return table[digits[:, ia], digits[:, ib]]


@dataclass
class RegionNode:
    """A region: the grid configurations in it, its value and, once split, its good and bad children."""

    indices: np.ndarray
    value: float
    split: Split | None = None
    children: list["RegionNode"] = field(default_factory=list)

    @property
    def is_leaf(self) -> bool:
        return not self.children

    def leaves(self) -> list["RegionNode"]:
        return [self] if self.is_leaf else [leaf for c in self.children for leaf in c.leaves()]

    def path_to(self, index: int) -> list["RegionNode"]:
        """Nodes from this one down to the leaf holding configuration `index`."""
        path = [self]
        while not path[-1].is_leaf:
            path.append(next(c for c in path[-1].children if index in c.index_set))
        return path

    @property
    def index_set(self) -> frozenset[int]:
        if not hasattr(self, "_index_set"):
            self._index_set = frozenset(int(i) for i in self.indices)
        return self._index_set

    def height(self) -> int:
        return 0 if self.is_leaf else 1 + max(c.height() for c in self.children)


def tree_levels(curves: Sequence[ResourceCurve], max_height: int) -> list[ResourceCurve]:
    """The curves a tree splits on, level by level: key curves by mean value, two levels for convex/concave."""
    levels = []
    for curve in sorted((c for c in curves if c.shape != "plane"), key=lambda c: (-c.mean_value, c.knobs)):
        levels += [curve] * (1 if curve.shape == "slope" else 2)
    return levels[:max_height]


def pair_features(space: SearchSpace, knobs: Sequence[str], positions: np.ndarray) -> np.ndarray:
    """SVM inputs for cells of a knob pair: ordered knobs as unit-cube coordinates, categorical ones one-hot."""
    columns = []
    for j, name in enumerate(knobs):
        knob = space.knob(name)
        if knob.ordered:
            columns.append(((positions[:, j] + 0.5) / len(knob.values))[:, None])
        else:
            columns.append(np.eye(len(knob.values))[positions[:, j]])
    return np.hstack(columns)


class RegionTree:
    """The region tree of one key operator (see the module docstring).

    Parameters: `max_height` (levels at most), `min_region` (a region with fewer configurations is not split),
    `random_state` (k-means initialisation). After `fit`: `root_`, `levels_` (knob pairs, one per level).
    """

    def __init__(self, op_type: str, max_height: int = 8, min_region: int = 8, random_state: int = 0):
        self.op_type = op_type
        self.max_height = max_height
        self.min_region = min_region
        self.random_state = random_state

    def fit(self, space: SearchSpace, response: np.ndarray, curves: Sequence[ResourceCurve]) -> "RegionTree":
        """Build the tree over `space` from the operator's response at every configuration and its curves."""
        self.space_ = space
        self._digits = space.grid_digits()
        response = np.asarray(response, dtype=float)
        levels = tree_levels(curves, self.max_height)
        self.levels_ = [c.knobs for c in levels]
        all_indices = np.arange(len(space))
        self.root_ = RegionNode(all_indices, float(response.mean()))
        # thread start-up costs far more than these tiny k-means and SVM fits; cells of equal value make
        # k-means warn about duplicate points, which are expected here
        with single_threaded(), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self._grow(self.root_, response, 0)
        return self

    def _grow(self, node: RegionNode, response: np.ndarray, level: int) -> None:
        while level < len(self.levels_) and len(node.indices) >= self.min_region:
            split = self._split(node.indices, response, self.levels_[level])
            level += 1
            if split is None:
                continue  # the node's configurations all share one cell of this pair, or cluster as one
            good = split.good_mask(self.space_, node.indices)
            node.split = split
            node.children = [RegionNode(node.indices[m], float(response[node.indices[m]].mean()))
                             for m in (good, ~good)]
            for child in node.children:
                self._grow(child, response, level)
            return

    def _split(self, indices: np.ndarray, response: np.ndarray, knobs: tuple[str, str]) -> Split | None:
        space = self.space_
        cols = [space.names.index(k) for k in knobs]
        digits = self._digits[indices][:, cols]
        cells, inverse, counts = np.unique(digits, axis=0, return_inverse=True, return_counts=True)
        if len(cells) < 2:
            return None
        values = np.bincount(inverse.ravel(), weights=response[indices]) / counts
        kmeans = KMeans(n_clusters=2, n_init=1, random_state=self.random_state)
        labels = kmeans.fit_predict(values[:, None], sample_weight=counts)
        good = labels == int(np.argmax(kmeans.cluster_centers_[:, 0]))
        if good.all() or not good.any():
            return None
        features = pair_features(space, knobs, cells)
        boundary = SVC(C=10.0, kernel="rbf", gamma="scale").fit(features, good, sample_weight=counts)
        predicted = boundary.predict(features).astype(bool)
        if predicted.all() or not predicted.any():
            predicted = good  # the boundary collapsed to one side: keep the clusters themselves
        return Split(tuple(knobs), frozenset((int(a), int(b)) for a, b in cells[predicted]))

    # -- JSON ---------------------------------------------------------------------------------------------
    def to_json(self) -> str:
        def node(n: RegionNode) -> dict:
            out = {"value": n.value, "size": int(len(n.indices))}
            if n.split is not None:
                out["split"] = {"knobs": list(n.split.knobs), "good_cells": sorted(map(list, n.split.good_cells))}
                out["children"] = [node(c) for c in n.children]
            return out

        return json.dumps({"op_type": self.op_type, "max_height": self.max_height, "min_region": self.min_region,
                           "random_state": self.random_state, "space": self.space_.to_dict(),
                           "levels": [list(k) for k in self.levels_], "root": node(self.root_)}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "RegionTree":
        """A tree saved by `to_json`; region memberships are recomputed from the stored splits."""
        data = json.loads(text)
        tree = cls(data["op_type"], data["max_height"], data["min_region"], data["random_state"])
        tree.space_ = SearchSpace.from_dict(data["space"])
        tree.levels_ = [tuple(k) for k in data["levels"]]

        def node(d: dict, indices: np.ndarray) -> RegionNode:
            n = RegionNode(indices, float(d["value"]))
            if "split" in d:
                n.split = Split(tuple(d["split"]["knobs"]), frozenset(map(tuple, d["split"]["good_cells"])))
                good = n.split.good_mask(tree.space_, indices)
                n.children = [node(d["children"][0], indices[good]), node(d["children"][1], indices[~good])]
            return n

        tree.root_ = node(data["root"], np.arange(len(tree.space_)))
        return tree
