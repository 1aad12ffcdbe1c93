"""Decisions at a stated precision and BLAS-free products (harness/portable.py)."""

import numpy as np

from baselines.common import best_untried
from baselines.ernest import ridge_nnls
from harness import portable


def test_scores_equal_at_the_stated_precision_are_ties_broken_by_the_lowest_index():
    scores = np.array([0.5, 1.0 - 1e-13, 1.0, 1.0 - 1e-6])
    assert int(np.argmax(scores)) == 2 and portable.argmax(scores) == 1
    assert portable.argmax(scores, digits=15) == 2
    assert list(portable.rank(scores)) == [1, 2, 3, 0]


def test_precision_is_relative_to_the_largest_score_and_masked_scores_stay_masked():
    small = np.array([3e-9, 3e-9 * (1 + 1e-12), 1e-9, -np.inf])
    assert portable.argmax(small) == 0 and portable.argmax(small * 1e12) == 0
    assert portable.argmax(np.array([-np.inf, -2.0, -1.0])) == 2
    assert portable.argmax(np.zeros(3)) == 0
    assert best_untried(np.array([2.0, 1.0, 1.0 + 1e-14]), tried={0}) == 1


def test_matmul_is_a_matrix_product():
    rng = np.random.default_rng(0)
    a, b, v = rng.normal(size=(7, 5)), rng.normal(size=(5, 3)), rng.normal(size=5)
    np.testing.assert_allclose(portable.matmul(a, b), a @ b, rtol=1e-12)
    np.testing.assert_allclose(portable.matmul(a, v), a @ v, rtol=1e-12)
    np.testing.assert_allclose(portable.matmul(a.T, a), a.T @ a, rtol=1e-12)


def test_ridge_nnls_picks_the_smallest_of_equally_good_fits():
    a = np.array([[1.0, 1.0], [2.0, 2.0]])  # two identical columns: every split of the weight fits as well
    theta = ridge_nnls(a, np.array([2.0, 4.0]))
    np.testing.assert_allclose(theta, [1.0, 1.0], rtol=1e-6)
    assert (ridge_nnls(a, np.array([-1.0, -1.0])) == 0).all()
