"""Method-specific details: HeterBO's cost proxy, Ernest's design matrix and design, TPE's repeat handling."""

from __future__ import annotations

import numpy as np

from baselines.ernest import Ernest, scale_features
from baselines.heterbo import HeterBO
from harness.search import Knowledge
from harness.space import Knob, SearchSpace


def priced(trace, price_of):
    """The same trace with a price_per_hour column given by `price_of(config)`."""
    m = trace.measurements.copy()
    m["price_per_hour"] = [price_of({k: row[k] for k in trace.space.names}) for _, row in m.iterrows()]
    return type(trace)(trace.model, trace.space, m.drop(columns=["config_index"]), trace.operators, {})


def test_heterbo_costs_come_from_source_prices_else_unit(small_space, make_trace):
    base = [make_trace(small_space, lambda c: c["batch"] * c["cores"], model=f"m{i}") for i in range(2)]
    unpriced = HeterBO().fit(Knowledge(base))
    unpriced.start(small_space, 0, 10)
    assert np.allclose(unpriced.cost_, 1.0)

    price = {"a": 1.0, "b": 2.0, "c": 4.0}
    with_price = HeterBO().fit(Knowledge([priced(t, lambda c: price[c["gpu"]]) for t in base]))
    with_price.start(small_space, 0, 10)
    gpus = [c["gpu"] for c in small_space]
    expected = np.array([price[g] for g in gpus])
    assert np.allclose(with_price.cost_, expected / expected.mean())


def test_ernest_features_cover_every_ordered_knob_and_one_hot_categoricals(small_space):
    a = scale_features(small_space)
    assert a.shape == (60, 3 + 3 + 3)          # cores and batch: [u, 1/u, log u]; gpu: one-hot of 3
    only_ordered = SearchSpace([Knob("x", (1, 2, 4)), Knob("y", ("lo", "hi"))], name="o")
    b = scale_features(only_ordered)
    assert b.shape == (6, 1 + 3 + 3) and np.all(b[:, 0] == 1.0)  # intercept; 'y' by position + 1


def test_ernest_design_is_informative_and_full_rank(small_space):
    a = scale_features(small_space)
    s = Ernest(n_init=9)
    s.start(small_space, 0, 20)
    assert np.linalg.matrix_rank(a[s.design_]) >= 8  # 9 features, one-hot columns sum to a constant
