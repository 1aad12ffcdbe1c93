import numpy as np

from falcon.curves import curves_of_response
from falcon.trees import RegionTree, tree_levels


def planted(small_space):
    """Response 1 in a planted good region (cores >= 4 and batch >= 8), 0.1 elsewhere, plus a small slope."""
    digits = small_space.grid_digits()
    good = (digits[:, 0] >= 2) & (digits[:, 2] >= 3)
    return np.where(good, 1.0, 0.1) + 0.01 * digits[:, 1], good


def test_first_split_separates_the_planted_good_region(small_space):
    response, good = planted(small_space)
    curves = [c for c in curves_of_response(small_space, "conv2d", response) if c.knobs == ("cores", "batch")]
    tree = RegionTree("conv2d", max_height=8).fit(small_space, response, curves)
    assert tree.levels_[0] == ("cores", "batch")
    good_child, bad_child = tree.root_.children
    assert set(good_child.indices) == set(np.flatnonzero(good))
    assert good_child.value > bad_child.value
    assert 1 <= tree.root_.height() <= 8
    assert sorted(i for leaf in tree.root_.leaves() for i in leaf.indices) == list(range(len(small_space)))


def test_convex_and_concave_curves_take_two_levels_and_height_is_capped(small_space):
    response, _ = planted(small_space)
    curves = curves_of_response(small_space, "conv2d", response)
    levels = tree_levels(curves, max_height=8)
    means = [c.mean_value for c in levels]
    assert means == sorted(means, reverse=True)  # levels by mean normalised value, descending
    for curve in curves:
        if curve.shape != "plane":
            assert levels.count(curve) == (1 if curve.shape == "slope" else 2)
    assert len(tree_levels(curves, max_height=2)) == 2
    tree = RegionTree("conv2d", max_height=1).fit(small_space, response, curves)
    assert tree.root_.height() == 1


def test_json_round_trip(small_space):
    response, _ = planted(small_space)
    tree = RegionTree("conv2d", max_height=4, min_region=2).fit(
        small_space, response, curves_of_response(small_space, "conv2d", response))
    loaded = RegionTree.from_json(tree.to_json())
    assert loaded.to_json() == tree.to_json()
    for a, b in zip(tree.root_.leaves(), loaded.root_.leaves()):
        assert list(a.indices) == list(b.indices) and a.value == b.value
