"""Statistics for comparing search methods over blocks (target models, or (world, target) pairs): pure functions.

A comparison is a score table: one row per block, one column per method, higher is better (mean accuracy after
t trials). Ranks follow Demšar (JMLR 2006): rank 1 is the best method of a block, ties share the mean rank.
`compare` gives the mean ranks, the paired difference of every method to the best one with a bootstrap 95 %
confidence interval (blocks resampled), the Friedman test over all methods and the Nemenyi post-hoc test
(scikit-posthocs) of every method against the best, with the paired effect size (Cohen's d_z); `describe` says in
words which differences are significant. `plot_critical_difference` draws Demšar's critical-difference diagram from
the same mean ranks and Nemenyi p-values, and `rank_curves` gives the mean ranks after every number of trials.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scikit_posthocs
from scipy import stats

ALPHA = 0.05


def ranks(scores: pd.DataFrame) -> pd.DataFrame:
    """Rank of each method within each block (row): 1 = highest score, ties get the mean of their ranks."""
    return scores.rank(axis=1, ascending=False, method="average")


def mean_ranks(scores: pd.DataFrame) -> pd.Series:
    """Mean rank of each method over the blocks, best (lowest) first."""
    return ranks(scores).mean(axis=0).sort_values(kind="stable")


def effect_size(differences: np.ndarray) -> float:
    """Cohen's d_z of paired differences: their mean over their standard deviation (ddof 1); 0 where every
    difference is 0, +-inf where all are equal and not 0."""
    differences = np.asarray(differences, dtype=float)
    mean = float(differences.mean())
    if len(differences) > 1 and np.ptp(differences) > 0:
        return mean / float(differences.std(ddof=1))
    return 0.0 if mean == 0 else math.copysign(math.inf, mean)


def bootstrap_ci(differences: np.ndarray, seed: int = 0, n_resamples: int = 10_000,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean of paired differences (blocks resampled)."""
    differences = np.asarray(differences, dtype=float)
    if len(differences) < 2 or np.ptp(differences) == 0:
        mean = float(differences.mean())
        return mean, mean
    result = stats.bootstrap((differences,), np.mean, n_resamples=n_resamples, confidence_level=level,
                             method="percentile", rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def friedman(scores: pd.DataFrame) -> tuple[float, float]:
    """Friedman's chi-square statistic and p-value over all methods (needs >= 3 methods and >= 2 blocks)."""
    if scores.shape[1] < 3 or scores.shape[0] < 2:
        raise ValueError(f"the Friedman test needs at least 3 methods and 2 blocks, not {scores.shape[1]} "
                         f"methods and {scores.shape[0]} blocks")
    statistic, p = stats.friedmanchisquare(*(scores[m].to_numpy(dtype=float) for m in scores.columns))
    return float(statistic), float(p)


def nemenyi(scores: pd.DataFrame) -> pd.DataFrame:
    """Nemenyi post-hoc p-values for every pair of methods after a Friedman test (scikit-posthocs)."""
    return scikit_posthocs.posthoc_nemenyi_friedman(scores.to_numpy(dtype=float)).set_axis(
        scores.columns, axis=0).set_axis(scores.columns, axis=1)


@dataclass(frozen=True)
class Difference:
    """A method's paired difference in score to the best method: mean, bootstrap CI, Nemenyi p-value and effect
    size (Cohen's d_z)."""

    method: str
    mean: float
    low: float
    high: float
    p_nemenyi: float | None
    effect_size: float

    def significant(self, alpha: float = ALPHA) -> bool:
        """Worse than the best by the post-hoc test and by a confidence interval that excludes 0."""
        return self.p_nemenyi is not None and self.p_nemenyi < alpha and self.high < 0


@dataclass(frozen=True)
class Comparison:
    """Everything `compare` finds for one score table."""

    blocks: int
    mean_ranks: dict[str, float]
    best: str
    differences: list[Difference]        # every other method vs the best, by mean rank
    friedman_chi2: float | None
    friedman_p: float | None

    def to_dict(self) -> dict:
        return {"blocks": self.blocks, "mean_ranks": self.mean_ranks, "best": self.best,
                "friedman": {"chi2": self.friedman_chi2, "p": self.friedman_p},
                "differences_to_best": [d.__dict__ for d in self.differences]}


def compare(scores: pd.DataFrame, seed: int = 0) -> Comparison:
    """Mean ranks, differences to the best method (by mean rank) with CIs, Friedman and Nemenyi tests.

    The tests are skipped (None) where they are undefined: fewer than 3 methods or 2 blocks.
    """
    if scores.empty or scores.isna().any().any():
        raise ValueError("a comparison needs a complete score table (every method scored on every block)")
    order = mean_ranks(scores)
    best = str(order.index[0])
    testable = scores.shape[1] >= 3 and scores.shape[0] >= 2
    if testable and (ranks(scores).nunique(axis=1) == 1).all():
        chi2, p, post = 0.0, 1.0, None  # every block a tie: no evidence of any difference (scipy gives nan)
    else:
        chi2, p = friedman(scores) if testable else (None, None)
        post = nemenyi(scores) if testable else None
    differences = []
    for method in order.index[1:]:
        d = scores[method].to_numpy(dtype=float) - scores[best].to_numpy(dtype=float)
        low, high = bootstrap_ci(d, seed=seed)
        differences.append(Difference(str(method), float(d.mean()), low, high,
                                      None if post is None else float(post.loc[method, best]), effect_size(d)))
    return Comparison(len(scores), {str(m): float(r) for m, r in order.items()}, best, differences, chi2, p)


def describe(c: Comparison, alpha: float = ALPHA) -> str:
    """One paragraph in words: the best method, whether the methods differ, and which are significantly worse."""
    text = f"Best mean rank: **{c.best}** ({c.mean_ranks[c.best]:.2f} over {c.blocks} blocks)."
    if c.friedman_p is None:
        return text + " Too few blocks or methods for significance tests."
    if c.friedman_p >= alpha:
        return text + (f" The Friedman test finds no significant difference between the methods (p = "
                       f"{c.friedman_p:.3g}), so no ranking below is significant.")
    worse = [d.method for d in c.differences if d.significant(alpha)]
    level = [d.method for d in c.differences if not d.significant(alpha)]
    text += f" The methods differ (Friedman p = {c.friedman_p:.3g})."
    if worse:
        sizes = {d.method: d.effect_size for d in c.differences}
        text += (f" Significantly worse than {c.best} (Nemenyi p < {alpha} and CI below 0; effect size d_z): "
                 + ", ".join(f"{m} ({sizes[m]:.2f})" for m in worse) + ".")
    if level:
        text += f" Not significantly different from {c.best}: {', '.join(level)}."
    return text


def markdown(c: Comparison, title: str, alpha: float = ALPHA) -> list[str]:
    """A table of mean ranks and differences to the best, followed by `describe`'s paragraph."""
    lines = [title, "", f"| method | mean rank | difference to {c.best} | 95 % CI | Nemenyi p | effect size d_z |",
             "| --- | --- | --- | --- | --- | --- |", f"| {c.best} | {c.mean_ranks[c.best]:.2f} | - | - | - | - |"]
    for d in c.differences:
        p = "-" if d.p_nemenyi is None else f"{d.p_nemenyi:.3g}"
        mark = " *" if d.significant(alpha) else ""
        lines.append(f"| {d.method} | {c.mean_ranks[d.method]:.2f} | {d.mean:+.3f}{mark} | "
                     f"[{d.low:+.3f}, {d.high:+.3f}] | {p} | {d.effect_size:+.2f} |")
    return lines + ["", describe(c, alpha), ""]


# -- from trial records to score tables --------------------------------------------------------------------
MIN_TARGETS = 3  # below this many target models, a trace set's blocks are its (target, seed) runs


def score_table(results: pd.DataFrame, t: int, methods: list[str]) -> pd.DataFrame:
    """Blocks x methods: mean accuracy after `t` trials.

    `results` holds one row per (trace_set, method, target, seed, trial) with its `accuracy`. A block is a target
    model of a trace set (mean over its seeds, which all methods share); a trace set with fewer than
    `MIN_TARGETS` targets contributes its (target, seed) runs instead. Blocks that lack a method are left out.
    """
    rows = results[(results["trial"] == t) & results["method"].isin(methods)]
    tables = []
    for trace_set, world in rows.groupby("trace_set", sort=True):
        keys = ["target"] if world["target"].nunique() >= MIN_TARGETS else ["target", "seed"]
        table = world.groupby(keys + ["method"])["accuracy"].mean().unstack("method")
        table.index = [f"{trace_set}/" + "/".join(map(str, k if isinstance(k, tuple) else (k,)))
                       for k in table.index]
        tables.append(table)
    if not tables:
        return pd.DataFrame(columns=methods)
    return pd.concat(tables).reindex(columns=methods).dropna()


def section(results: pd.DataFrame, methods: list[str], marks: tuple[int, ...], heading: str = "##",
            seed: int = 0) -> tuple[list[str], dict]:
    """Markdown and JSON for the comparisons at each of `marks` trials that every method reached."""
    lines, found = [], {}
    for t in marks:
        table = score_table(results, t, methods)
        if table.empty or len(methods) < 2:
            continue
        c = compare(table, seed=seed)
        found[str(t)] = c.to_dict()
        lines += markdown(c, f"{heading} After {t} trials ({len(table)} blocks)")
    return lines, found


def rank_curves(results: pd.DataFrame, methods: list[str], trials: int) -> pd.DataFrame:
    """Trials (1..`trials`) x methods: each method's mean rank over the blocks of `score_table` after t trials (the
    ranks of the comparison tables, at every t); a t without a complete table is left out."""
    rows = {}
    for t in range(1, trials + 1):
        table = score_table(results, t, methods)
        if not table.empty:
            rows[t] = ranks(table).mean(axis=0)
    return pd.DataFrame.from_dict(rows, orient="index").reindex(columns=methods)


def plot_critical_difference(scores: pd.DataFrame, ax, alpha: float = ALPHA) -> dict:
    """Demšar's critical-difference diagram of a score table on matplotlib axes `ax` (scikit-posthocs): each
    method at its mean rank (`mean_ranks`, as in the tables), methods not significantly different by the Nemenyi
    test (`nemenyi`, p >= `alpha`) joined by a bar. Returns scikit-posthocs' drawn elements (markers, elbows,
    labels, crossbars). Needs at least 3 methods and 2 blocks, as the tests do."""
    friedman(scores)  # refuses a table too small for the tests, with one line
    return scikit_posthocs.critical_difference_diagram(mean_ranks(scores), nemenyi(scores), alpha=alpha, ax=ax)
