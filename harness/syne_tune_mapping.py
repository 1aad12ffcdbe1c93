"""How this project's grids map onto Syne Tune's types: the one mapping, shared by the Syne Tune export
(`harness.export`) and the Syne Tune peers (`baselines/`), so neither depends on the other.

Needs the `peers` extra (syne-tune); imported only where Syne Tune is used.
"""

from __future__ import annotations

from syne_tune.config_space import choice, ordinal

from harness.space import SearchSpace


def syne_tune_space(space: SearchSpace) -> dict:
    """The grid as a Syne Tune config space: `ordinal` (Syne Tune's default kind) for ordered knobs, `choice` for
    unordered ones."""
    return {k.name: ordinal(list(k.values)) if k.ordered else choice(list(k.values)) for k in space.knobs}
