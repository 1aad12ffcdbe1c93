"""The shared GP (harness.surrogate): its fast likelihood is scikit-learn's, and a fit follows it."""

import numpy as np
import pytest
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF

from harness.surrogate import fit_gp, matern_kernel, matern_objective


@pytest.mark.parametrize("n, d", [(2, 1), (7, 3), (25, 12)])
def test_the_likelihood_and_its_gradient_are_scikit_learns(n, d):
    rng = np.random.default_rng(n)
    x, y = rng.random((n, d)), 5 + 3 * rng.normal(size=n)
    kernel = matern_kernel(d)
    gp = GaussianProcessRegressor(kernel, normalize_y=True, optimizer=None).fit(x, y)
    objective = matern_objective(x, y)
    for theta in rng.uniform(kernel.bounds[:, 0], kernel.bounds[:, 1], size=(4, len(kernel.theta))):
        lml, grad = gp.log_marginal_likelihood(theta, eval_gradient=True)
        value, gradient = objective(theta)
        assert value == pytest.approx(-lml, rel=1e-10)
        np.testing.assert_allclose(gradient, -grad, rtol=1e-8, atol=1e-10)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # the reference fit's bounds
def test_a_fit_reaches_scikit_learns_optimum_and_refuses_other_kernels():
    rng = np.random.default_rng(0)
    x = rng.random((20, 4))
    y = np.sin(6 * x[:, 0]) + 0.1 * x[:, 1] + 0.01 * rng.normal(size=20)
    ours = fit_gp(x, y, matern_kernel(4))
    theirs = GaussianProcessRegressor(matern_kernel(4), normalize_y=True, n_restarts_optimizer=0).fit(x, y)
    assert ours.log_marginal_likelihood_value_ == pytest.approx(theirs.log_marginal_likelihood_value_, rel=1e-6)
    kept = fit_gp(x, y, ours.kernel_, max_iter=0)
    np.testing.assert_array_equal(kept.kernel_.theta, ours.kernel_.theta)
    with pytest.raises(ValueError, match="fit_gp takes a kernel made by matern_kernel"):
        fit_gp(x, y, RBF())
