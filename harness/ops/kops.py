"""Key operators (KOPs), the one definition: the few operator types that take most of a model's GPU time and
memory (Falcon, SoCC '22, Section 3).

An operator type is key when its share of time and its share of memory are both at or above one threshold
(the paper merges the two thresholds into one and evaluates 1, 5 and 10 %; 5 % is the default). Where the
memory share is unknown (NaN; the authors' release has time shares only) the time share decides alone.
KOPs are ordered by their mean share (of time and memory), descending; ties by name.
Used by Falcon (on a trial's operator profile) and by `python -m harness.ops.profile` (on a measured profile).
"""

from __future__ import annotations

import math
from typing import Mapping

from harness.traces import OpStat


def kop_weights(profile: Mapping[str, OpStat] | None, threshold: float = 0.05) -> dict[str, float]:
    """Key operator types -> their mean share (of time and memory), most important first."""
    if not profile:
        return {}
    keys = {}
    for op, stat in profile.items():
        shares = [s for s in (stat.time_share, stat.mem_share) if not math.isnan(s)]
        if shares and all(s >= threshold for s in shares):
            keys[op] = sum(shares) / len(shares)
    return dict(sorted(keys.items(), key=lambda kv: (-kv[1], kv[0])))


def identify_kops(profile: Mapping[str, OpStat] | None, threshold: float = 0.05) -> list[str]:
    """Key operator types of an operator profile, most important first (see `kop_weights`)."""
    return list(kop_weights(profile, threshold))
