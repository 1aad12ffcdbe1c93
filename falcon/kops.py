"""Key operators (KOPs): the few operator types that take most of a model's GPU time and memory.

Falcon profiles the target's operators once (its first trial) and keeps the operator types whose share of GPU
time and of GPU memory both reach one threshold (the paper evaluates 1, 5 and 10 %; 5 % is the default).
"""

from __future__ import annotations

import math
from typing import Mapping

from harness.traces import OpStat


def kop_weights(profile: Mapping[str, OpStat] | None, threshold: float = 0.05) -> dict[str, float]:
    """Key operator types -> their mean share (of time and memory), ordered by that share, descending.

    An operator is key when its time share and its memory share are both >= `threshold`. Where the memory
    share is unknown (NaN; the authors' release has time shares only) the time share decides alone and is the
    operator's weight. Ties are broken by name so the order is deterministic.
    """
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
