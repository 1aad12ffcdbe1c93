import numpy as np

from falcon.pruning import prune_knobs


def test_a_knob_without_effect_is_pruned_and_the_strong_ones_survive(small_space):
    digits = small_space.grid_digits()
    # cores: strong, batch: medium, gpu: nothing
    response = 1.0 * digits[:, 0] + 0.6 * digits[:, 2]
    assert prune_knobs(small_space, response, 0.85) == ["cores", "batch"]


def test_lower_cutoff_prunes_more(small_space):
    digits = small_space.grid_digits()
    response = 1.0 * digits[:, 0] + 0.25 * digits[:, 2] + 0.1 * (digits[:, 1] == 1)
    kept = {c: prune_knobs(small_space, response, c) for c in (0.80, 0.99, 1.0)}
    assert kept[0.80] == ["cores"]
    assert len(kept[0.80]) <= len(kept[0.99]) <= len(kept[1.0]) == 3


def test_flat_response_keeps_every_knob(small_space):
    assert prune_knobs(small_space, np.ones(len(small_space))) == small_space.names
