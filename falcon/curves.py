"""Key operator resource curves (KOP-RCs): how one operator's performance per budget responds to two knobs.

A curve is a surface over the value positions of a pair of knobs, with one of four shapes (Falcon, Section 3):
*slope* (one knob dominates), *convex* and *concave* (the two knobs must be set together; positive or negative
curvature) and *plane* (the knobs barely matter). Curves come from one of two places:

- `learn_responses` + `curves_of_response`: learned from source models whose traces carry an operator profile at
  every configuration. An operator's performance per budget at a configuration is, by `kind`, either
  "share_quotient": the model's objective divided by the operator's share of the model's GPU time (the
  objective the model would reach if only that operator's time counted), or "model_objective": the model's own
  objective (the performance per budget of a model this operator drives); it is min-max normalised per model
  and averaged over the source models where the operator is key. A curve is the mean of that response over the
  other knobs (a partial dependence surface).
- `curves_from_table`: the authors' released curves (the `kop_curves` auxiliary table of the release import).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from harness.space import SearchSpace
from harness.traces import Trace

SHAPES = ("slope", "convex", "concave", "plane")


@dataclass(frozen=True)
class ResourceCurve:
    """One operator's response surface over two knobs: `surface[i, j]` at positions i of knob_a, j of knob_b."""

    op_type: str
    knob_a: str
    knob_b: str
    surface: np.ndarray
    shape: str

    @property
    def knobs(self) -> tuple[str, str]:
        return self.knob_a, self.knob_b

    @property
    def mean_value(self) -> float:
        return float(np.nanmean(self.surface))

    def at(self, space: SearchSpace, digits: np.ndarray) -> np.ndarray:
        """The curve's value at each configuration (rows of value positions); NaN where the curve has no point."""
        return self.surface[digits[:, space.names.index(self.knob_a)], digits[:, space.names.index(self.knob_b)]]


def classify_shape(surface: np.ndarray, ordered: Sequence[bool] = (True, True), plane_tol: float = 0.1,
                   slope_share: float = 0.75) -> str:
    """Shape of a response surface whose values are on a 0..1 scale.

    plane: the surface varies by less than `plane_tol`. slope: one knob's main effect carries at least
    `slope_share` of the surface's variance. Otherwise convex or concave by the sign of the curvature of a
    least-squares quadratic; an unordered (categorical) knob's values are first ranked by their main effect,
    since their listed order means nothing.
    """
    s = np.asarray(surface, dtype=float)
    s = np.where(np.isnan(s), np.nanmean(s), s)
    if s.max() - s.min() < plane_tol:
        return "plane"
    mean = s.mean()
    effect_a, effect_b = s.mean(axis=1) - mean, s.mean(axis=0) - mean
    var_a, var_b = (effect_a ** 2).mean(), (effect_b ** 2).mean()
    var_rest = ((s - mean - effect_a[:, None] - effect_b[None, :]) ** 2).mean()
    if max(var_a, var_b) >= slope_share * (var_a + var_b + var_rest):
        return "slope"
    a = _axis_coordinates(effect_a, ordered[0])
    b = _axis_coordinates(effect_b, ordered[1])
    aa, bb = np.meshgrid(a, b, indexing="ij")
    aa, bb, z = aa.ravel(), bb.ravel(), s.ravel()
    design = np.column_stack([np.ones_like(aa), aa, bb, aa ** 2, bb ** 2, aa * bb])
    coef = np.linalg.lstsq(design, z, rcond=None)[0]
    return "convex" if coef[3] + coef[4] > 0 else "concave"


def _axis_coordinates(effect: np.ndarray, ordered: bool) -> np.ndarray:
    n = len(effect)
    coords = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)
    return coords if ordered else coords[np.argsort(np.argsort(effect, kind="stable"), kind="stable")]


def curves_of_response(space: SearchSpace, op_type: str, response: np.ndarray, plane_tol: float = 0.1,
                       slope_share: float = 0.75) -> list[ResourceCurve]:
    """One curve per pair of knobs: the mean of an operator's response (over the grid) over the other knobs.

    The shape is classified on the response's scale (a plane is a pair that barely moves the response); the
    stored surface is min-max normalised to 0..1, as the released curves are.
    """
    digits = space.grid_digits()
    curves = []
    for i, j in itertools.combinations(range(len(space.knobs)), 2):
        ka, kb = space.knobs[i], space.knobs[j]
        frame = pd.DataFrame({"a": digits[:, i], "b": digits[:, j], "v": response})
        surface = frame.groupby(["a", "b"])["v"].mean().unstack().reindex(
            index=range(len(ka.values)), columns=range(len(kb.values))).to_numpy(dtype=float)
        shape = classify_shape(surface, (ka.ordered, kb.ordered), plane_tol, slope_share)
        span = np.nanmax(surface) - np.nanmin(surface)
        # stored min-max normalised like the authors' curves, so that their mean values rank them the same way
        normalised = (surface - np.nanmin(surface)) / span if span > 0 else np.zeros_like(surface)
        curves.append(ResourceCurve(op_type, ka.name, kb.name, normalised, shape))
    return curves


RESPONSE_KINDS = ("share_quotient", "model_objective")


def learn_responses(space: SearchSpace, sources: Iterable[Trace], threshold: float = 0.05,
                    kind: str = "share_quotient") -> dict[str, np.ndarray]:
    """Operator type -> its normalised performance-per-budget response over the grid, from the sources' profiles.

    Only sources with a per-configuration operator profile count; an operator contributes from a source where
    its mean time share reaches `threshold` (where it is a key operator), so tiny shares do not blow up.
    Infeasible configurations respond 0 for every operator. `kind`: see the module docstring.
    """
    per_op: dict[str, list[np.ndarray]] = {}
    for trace in sources:
        ops = trace.operators
        if ops is None or not (ops["config_index"] >= 0).any():
            continue
        ops = ops[ops["config_index"] >= 0]
        shares = ops.pivot(index="config_index", columns="op_type", values="time_share")
        shares = shares.reindex(range(len(space)))
        objective = trace.true_objective
        for op in shares.columns:
            share = shares[op].to_numpy(dtype=float)
            if not np.nanmean(share) >= threshold:
                continue
            # a share far below the threshold at a few configurations would make the quotient explode there
            share = np.nan_to_num(share, nan=0.0)
            if kind == "share_quotient":
                value = np.where(trace.feasible & (share > 0), objective / np.maximum(share, threshold / 2), 0.0)
            else:
                value = np.where(trace.feasible, objective, 0.0)
            span = value.max() - value.min()
            if span > 0:
                per_op.setdefault(op, []).append((value - value.min()) / span)
    return {op: np.mean(vs, axis=0) for op, vs in sorted(per_op.items())}


def curves_from_table(table: pd.DataFrame, space: SearchSpace) -> dict[str, list[ResourceCurve]]:
    """Operator type -> its curves, from tables in the release's `kop_curves` layout (one row per point).

    Curves of the same operator and knob pair from several models are averaged point by point; the shape is
    the authors' label that most of them carry (ties: the first in SHAPES order).
    """
    library: dict[str, list[ResourceCurve]] = {}
    for (op, ka, kb), rows in table.groupby(["op_type", "knob_a", "knob_b"], sort=True):
        surface = np.full((len(space.knob(ka).values), len(space.knob(kb).values)), np.nan)
        means = rows.groupby(["a_pos", "b_pos"])["value"].mean()
        for (a, b), v in means.items():
            surface[int(a), int(b)] = v
        counts = rows.drop_duplicates(["model", "curve"] if "model" in rows else ["curve"])["shape"].value_counts()
        shape = min(counts.index[counts == counts.max()], key=SHAPES.index)
        library.setdefault(op, []).append(ResourceCurve(op, ka, kb, surface, shape))
    return library


def curve_response(space: SearchSpace, curves: Sequence[ResourceCurve]) -> np.ndarray:
    """An operator's response over the grid predicted from its curves: the mean of the curves' values."""
    digits = space.grid_digits()
    values = np.array([c.at(space, digits) for c in curves])
    response = np.nanmean(values, axis=0)
    return np.where(np.isnan(response), np.nanmean(response), response)
