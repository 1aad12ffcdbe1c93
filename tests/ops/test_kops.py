import math

import pytest

from harness.ops.kops import identify_kops, kop_weights
from harness.traces import OpStat


def stat(time_share, mem_share=math.nan):
    return OpStat(time_share, mem_share, math.nan, math.nan)


def test_both_shares_must_reach_the_threshold_and_order_is_by_mean_share():
    profile = {"conv2d": stat(0.70, 0.60), "dense": stat(0.20, 0.30), "relu": stat(0.08, 0.02),
               "add": stat(0.02, 0.08)}
    assert identify_kops(profile, 0.05) == ["conv2d", "dense"]
    assert kop_weights(profile, 0.05) == pytest.approx({"conv2d": 0.65, "dense": 0.25})
    assert identify_kops(profile, 0.01) == ["conv2d", "dense", "add", "relu"]  # equal shares: by name


def test_unknown_memory_share_lets_time_decide_alone():
    profile = {"transpose": stat(0.60), "dense": stat(0.385), "add": stat(0.01)}
    assert identify_kops(profile, 0.05) == ["transpose", "dense"]
    assert identify_kops(profile, 0.5) == ["transpose"]


def test_no_profile_means_no_kops():
    assert identify_kops(None) == [] and identify_kops({}) == []
