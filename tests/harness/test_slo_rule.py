"""The one definition of an SLO miss (harness.slo.Constraints)."""

import math

import pytest

from harness.slo import ConstraintError, Constraints, check_slo


def test_no_limits_means_nothing_is_missed():
    c = Constraints()
    assert c.active == {} and c.misses({"latency_p99_ms": 1e9, "rps": 0.0}) == () and str(c) == "no constraints"


def test_each_limit_names_what_it_breaks():
    c = Constraints(latency_p99_ms=500, min_rps=10, max_usd_per_h=1.5)
    ok = {"latency_p99_ms": 500.0, "rps": 10.0, "price_per_hour": 1.5}
    assert c.misses(ok) == ()  # limits are inclusive
    bad = {"latency_p99_ms": 812.3, "rps": 9.5, "price_per_hour": 2.0}
    assert c.misses(bad) == ("latency_p99_ms 812.3 > 500", "min_rps 9.5 < 10", "max_usd_per_h 2 > 1.5")


def test_a_failed_measurement_misses_the_limit():
    c = Constraints(latency_p99_ms=100)
    assert c.misses({"latency_p99_ms": math.nan}) == ("latency_p99_ms: no latency_p99_ms measured",)
    assert c.misses({}) == ("latency_p99_ms: no latency_p99_ms measured",)


@pytest.mark.parametrize("value", [0, -1, math.inf, math.nan, "abc", True])
def test_bad_values_are_refused_with_one_line(value):
    with pytest.raises(ConstraintError, match="constraints.min_rps=.*finite number > 0"):
        Constraints(min_rps=value)


def test_unknown_keys_and_unjudgeable_limits_are_refused():
    with pytest.raises(ConstraintError, match="constraints.p99 is not a constraint"):
        check_slo({"p99": 3})
    c, percentile = check_slo({"latency_p99_ms": 50, "min_rps": None})
    assert percentile is None
    assert c.to_dict() == {"latency_p99_ms": 50.0, "min_rps": None, "max_usd_per_h": None}
    c.require({"rps", "latency_p99_ms"}, "trace x")
    with pytest.raises(ConstraintError, match="constraints.max_usd_per_h cannot be judged: trace x has no"):
        Constraints(max_usd_per_h=1).require({"rps"}, "trace x")


def test_a_trial_that_misses_is_worth_nothing():
    c = Constraints(min_rps=10)
    assert c.judge(3.5, {"rps": 12.0}) == (3.5, ())
    assert c.judge(3.5, {"rps": 8.0}) == (0.0, ("min_rps 8 < 10",))
