"""harness.stats on hand-made score tables whose answers are known in closed form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2, studentized_range

from harness import stats


@pytest.fixture
def ordered() -> pd.DataFrame:
    """4 blocks in which a > b > c every time."""
    return pd.DataFrame({"c": [0.1, 0.2, 0.3, 0.4], "a": [0.9, 0.8, 0.7, 0.95], "b": [0.5, 0.4, 0.6, 0.5]})


def test_ranks_best_is_one_and_ties_share_the_mean_rank():
    scores = pd.DataFrame({"x": [0.9, 0.5], "y": [0.5, 0.5], "z": [0.1, 0.5]})
    assert stats.ranks(scores).to_numpy().tolist() == [[1.0, 2.0, 3.0], [2.0, 2.0, 2.0]]
    assert stats.mean_ranks(scores).to_dict() == {"x": 1.5, "y": 2.0, "z": 2.5}


def test_friedman_matches_the_closed_form(ordered):
    # identical ranks in n = 4 blocks, k = 3 methods: chi2 = 12 / (n k (k+1)) * sum R_j^2 - 3 n (k+1) = 8
    statistic, p = stats.friedman(ordered)
    assert statistic == pytest.approx(8.0)
    assert p == pytest.approx(chi2.sf(8.0, 2)) and p == pytest.approx(np.exp(-4.0))


def test_friedman_refuses_two_methods():
    with pytest.raises(ValueError, match="at least 3 methods"):
        stats.friedman(pd.DataFrame({"a": [1.0, 2.0], "b": [2.0, 1.0]}))


def test_nemenyi_matches_the_studentized_range(ordered):
    # mean ranks 1 (a) and 3 (c): q = |R_a - R_c| / sqrt(k (k+1) / (6 n)) * sqrt(2), df = infinity
    q = 2.0 / np.sqrt(3 * 4 / (6 * 4)) * np.sqrt(2)
    p = stats.nemenyi(ordered)
    assert p.loc["a", "c"] == pytest.approx(studentized_range.sf(q, 3, np.inf), rel=1e-6)
    assert p.loc["a", "b"] > 0.3


def test_bootstrap_ci_of_constant_differences_is_that_constant():
    assert stats.bootstrap_ci(np.full(7, -0.25)) == (-0.25, -0.25)


def test_bootstrap_ci_covers_the_mean_and_is_reproducible():
    d = np.random.default_rng(1).normal(0.1, 0.05, size=40)
    low, high = stats.bootstrap_ci(d, seed=3)
    assert low < d.mean() < high and high - low < 0.06
    assert stats.bootstrap_ci(d, seed=3) == (low, high)
    # a mean of 0.1 with a standard error of ~0.008 excludes 0
    assert low > 0


def test_compare_finds_the_best_and_which_differences_are_significant():
    rng = np.random.default_rng(0)
    n = 30
    scores = pd.DataFrame({"good": 0.9 + rng.normal(0, 0.01, n), "close": 0.899 + rng.normal(0, 0.01, n),
                           "bad": 0.5 + rng.normal(0, 0.01, n)})
    c = stats.compare(scores)
    assert c.best in {"good", "close"} and c.blocks == n
    by_method = {d.method: d for d in c.differences}
    assert by_method["bad"].significant() and by_method["bad"].high < -0.35
    other = "close" if c.best == "good" else "good"
    assert not by_method[other].significant()
    text = stats.describe(c)
    assert "Significantly worse" in text and "bad" in text and f"Not significantly different from {c.best}: " \
        f"{other}" in text


def test_compare_without_differences_says_nothing_is_significant():
    scores = pd.DataFrame({"a": [0.5, 0.6, 0.7, 0.8], "b": [0.6, 0.5, 0.8, 0.7], "c": [0.7, 0.8, 0.5, 0.6]})
    text = stats.describe(stats.compare(scores))
    assert "no significant difference" in text


def test_compare_on_one_block_skips_the_tests():
    c = stats.compare(pd.DataFrame({"a": [0.5], "b": [0.6], "c": [0.7]}))
    assert c.best == "c" and c.friedman_p is None and all(d.p_nemenyi is None for d in c.differences)
    assert "Too few blocks" in stats.describe(c)


def test_compare_refuses_an_incomplete_table():
    with pytest.raises(ValueError, match="complete score table"):
        stats.compare(pd.DataFrame({"a": [0.5, np.nan], "b": [0.6, 0.7], "c": [0.1, 0.2]}))


def records(trace_set: str, targets: list[str], seeds: int, accuracy: dict[str, float]) -> pd.DataFrame:
    """Trial records at t = 6 whose accuracy is `accuracy[method]` plus a small per-target offset."""
    return pd.DataFrame([{"trace_set": trace_set, "method": m, "target": tg, "seed": s, "trial": 6,
                          "accuracy": a + 0.01 * i} for m, a in accuracy.items() for i, tg in enumerate(targets)
                         for s in range(seeds)])


def test_score_table_blocks_are_targets_or_runs_where_targets_are_few():
    many = records("w1", ["t1", "t2", "t3"], 2, {"a": 0.9, "b": 0.5})
    few = records("w2", ["t1"], 2, {"a": 0.8, "b": 0.6})
    table = stats.score_table(pd.concat([many, few]), 6, ["a", "b"])
    assert list(table.index) == ["w1/t1", "w1/t2", "w1/t3", "w2/t1/0", "w2/t1/1"]
    assert table.loc["w1/t2", "a"] == pytest.approx(0.91) and table.loc["w2/t1/1", "b"] == pytest.approx(0.6)
    # a block that lacks a method is left out
    assert len(stats.score_table(many[~((many.method == "b") & (many.target == "t3"))], 6, ["a", "b"])) == 2


def test_section_reports_only_the_marks_every_method_reached():
    results = records("w", ["t1", "t2", "t3", "t4"], 1, {"a": 0.9, "b": 0.5, "c": 0.7})
    lines, found = stats.section(results, ["a", "b", "c"], (6, 15))
    assert set(found) == {"6"} and found["6"]["best"] == "a"
    assert lines[0] == "## After 6 trials (4 blocks)"


def test_compare_on_ties_in_every_block_finds_no_difference():
    c = stats.compare(pd.DataFrame({"a": [1.0, 0.5], "b": [1.0, 0.5], "c": [1.0, 0.5]}))
    assert c.friedman_p == 1.0 and not any(d.significant() for d in c.differences)
    assert "no significant difference" in stats.describe(c)


# -- effect sizes, critical-difference diagrams and rank curves ---------------------------------------------
def test_effect_size_is_cohens_dz_of_the_paired_differences():
    assert stats.effect_size(np.array([1.0, 2.0, 3.0])) == pytest.approx(2.0)  # mean 2, sd 1
    assert stats.effect_size(np.zeros(4)) == 0.0
    assert stats.effect_size(np.full(3, -0.1)) == -np.inf
    c = stats.compare(pd.DataFrame({"a": [0.9, 0.8, 0.7], "b": [0.8, 0.6, 0.4], "c": [0.5, 0.5, 0.5]}))
    by_method = {d.method: d.effect_size for d in c.differences}
    assert by_method["b"] == pytest.approx(-2.0)  # differences -0.1, -0.2, -0.3
    assert "effect size d_z" in stats.markdown(c, "## t")[2]


@pytest.fixture
def known() -> pd.DataFrame:
    """6 blocks, 4 methods; mean ranks by hand: a 7.5/6, b 10.5/6, c 19/6, d 23/6 (one tie, two swaps)."""
    return pd.DataFrame({"a": [0.9, 0.9, 0.8, 0.9, 0.9, 0.9], "b": [0.8, 0.9, 0.9, 0.8, 0.8, 0.8],
                         "c": [0.7, 0.7, 0.7, 0.6, 0.7, 0.7], "d": [0.6, 0.6, 0.6, 0.7, 0.6, 0.6]})


def test_the_critical_difference_diagram_is_drawn_from_the_tables_ranks(known):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    expected = {"a": 7.5 / 6, "b": 10.5 / 6, "c": 19 / 6, "d": 23 / 6}
    assert stats.compare(known).mean_ranks == pytest.approx(expected)
    fig, ax = plt.subplots()
    drawn = stats.plot_critical_difference(known, ax)
    at = sorted(float(m.get_offsets()[0, 0]) for m in drawn["markers"])
    assert at == pytest.approx(sorted(expected.values()))
    labels = {t.get_text() for t in drawn["labels"]}
    assert {"a (1.2)", "b (1.8)"} <= labels and {"(3.2) c", "(3.8) d"} <= labels
    # a and d differ (Nemenyi p < 0.05: rank gap 2.58 > CD 1.92 for k = 4, N = 6); a and b do not (gap 0.5)
    assert stats.nemenyi(known).loc["a", "d"] < 0.05 < stats.nemenyi(known).loc["a", "b"]
    spans = [(min(line.get_xdata()), max(line.get_xdata())) for level in drawn["crossbars"] for line in level]
    assert any(lo <= expected["a"] and hi >= expected["b"] for lo, hi in spans)
    assert not any(lo <= expected["a"] and hi >= expected["d"] for lo, hi in spans)
    plt.close(fig)


def test_the_critical_difference_diagram_refuses_two_methods():
    with pytest.raises(ValueError, match="at least 3 methods"):
        stats.plot_critical_difference(pd.DataFrame({"a": [1.0, 0.5], "b": [0.2, 0.1]}), None)


def test_rank_curves_are_the_tables_mean_ranks_at_every_trial():
    late = records("w", ["t1", "t2", "t3"], 1, {"a": 0.4, "b": 0.6, "c": 0.5})  # at t = 6 b leads
    early = late.assign(trial=3, accuracy=late["method"].map({"a": 0.9, "b": 0.1, "c": 0.5}))  # at t = 3 a leads
    curves = stats.rank_curves(pd.concat([early, late]), ["a", "b", "c"], 6)
    assert list(curves.index) == [3, 6]  # trials without records are left out
    assert curves.loc[3].to_dict() == {"a": 1.0, "b": 3.0, "c": 2.0}
    assert curves.loc[6].to_dict() == stats.mean_ranks(stats.score_table(late, 6, ["a", "b", "c"])).to_dict()
