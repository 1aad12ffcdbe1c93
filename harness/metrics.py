"""Scores of searches: trials to a target accuracy, the aggregates of accuracy curves over runs, and the scores
of a search under an SLO (accuracy at 1/3/6/15/30 trials, trials until one meets it, the share of trials and of
final recommendations that miss it)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from harness.stats import bootstrap_ci


def trials_to_target(curve: Sequence[float], target: float = 0.9) -> float:
    """First trial count t with accuracy >= target; NaN if the search never got there."""
    hits = np.flatnonzero(np.asarray(curve) >= target - 1e-12)
    return float(hits[0] + 1) if hits.size else float("nan")


def aggregate(curves: np.ndarray) -> dict[str, list[float]]:
    """Mean and 10th percentile over runs (rows) of accuracy curves (columns: t = 1..T)."""
    curves = np.asarray(curves, dtype=float)
    return {"accuracy_mean": curves.mean(axis=0).tolist(),
            "accuracy_p10": np.percentile(curves, 10, axis=0).tolist()}


# -- scores under a service-level objective (records of a constrained search: `slo_met`, `accuracy`) ------------
SLO_MARKS = (1, 3, 6, 15, 30)


def accuracy_at(curve: Sequence[float], marks: Sequence[int] = SLO_MARKS) -> dict[int, float]:
    """Accuracy after t trials for each mark t the curve reaches (under an SLO, the scorer's accuracy is already 0
    for a recommendation that misses it)."""
    return {t: float(curve[t - 1]) for t in marks if len(curve) >= t}


def trials_to_slo(slo_met: Sequence[bool]) -> float:
    """The first trial count t whose trial met the SLO; NaN if no trial did."""
    hits = np.flatnonzero(np.asarray(slo_met, dtype=bool))
    return float(hits[0] + 1) if hits.size else float("nan")


def miss_share(slo_met: Sequence[bool]) -> float:
    """The share of a search's trials that missed the SLO."""
    met = np.asarray(slo_met, dtype=bool)
    return float((~met).mean()) if met.size else float("nan")


def recommendation_missed(final_accuracy: float) -> bool:
    """Whether a search's final recommendation misses the SLO: under constraints the scorer gives exactly 0 to a
    recommendation that misses it on its mean measured values (or is infeasible), and more than 0 otherwise."""
    return not final_accuracy > 0


def slo_scores(records: Sequence[dict], marks: Sequence[int] = SLO_MARKS) -> dict[str, float]:
    """The SLO scores of one constrained search from its records (in trial order): `acc@t` per mark,
    `first_trial_met`, `trials_to_slo` (NaN: never), `miss_share`, `final_missed` (1.0 or 0.0)."""
    if not records or "slo_met" not in records[0]:
        raise ValueError("slo_scores needs the records of a search under constraints (they carry 'slo_met')")
    curve = [r["accuracy"] for r in records]
    met = [bool(r["slo_met"]) for r in records]
    scores = {f"acc@{t}": v for t, v in accuracy_at(curve, marks).items()}
    scores.update(first_trial_met=float(met[0]), trials_to_slo=trials_to_slo(met), miss_share=miss_share(met),
                  final_missed=float(recommendation_missed(curve[-1])))
    return scores


def mean_ci(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean of `values` (NaN ignored) and its 95 % bootstrap interval (`harness.stats.bootstrap_ci`)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    return (float(v.mean()), *bootstrap_ci(v))


def summarise_slo(runs: Sequence[dict[str, float]]) -> dict[str, tuple[float, float, float]]:
    """Per score of `slo_scores` over runs: (mean, 95 % CI low, high); `trials_to_slo` over the runs that met the
    SLO at all, plus `never_met`, the share of runs in which no trial met it."""
    keys = [k for k in runs[0] if k == "trials_to_slo" or isinstance(runs[0][k], float)]
    out = {k: mean_ci([r[k] for r in runs]) for k in keys}
    out["never_met"] = mean_ci([float(np.isnan(r["trials_to_slo"])) for r in runs])
    return out
