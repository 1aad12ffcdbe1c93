"""The Gaussian-process surrogate and expected improvement that Falcon and the GP-based baselines share.

One Matern-5/2 kernel with one length scale per input, a signal variance and a white-noise term; scikit-learn's
GaussianProcessRegressor with standardised targets and no optimiser restarts, run single-threaded (on these
small matrices BLAS threads only contend); and expected improvement for maximisation. Callers choose the
kernel's bounds and, where an ask must stay in the tens of milliseconds, a cap on the optimiser's iterations.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import minimize
from scipy.stats import norm
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Kernel, Matern, WhiteKernel
from threadpoolctl import threadpool_limits


def matern_kernel(n_features: int, length_scale: float = 1.0, length_bounds: tuple = (5e-2, 1e2),
                  noise_bounds: tuple = (1e-6, 1.0)) -> Kernel:
    """Signal variance x Matern 5/2 (one length scale per input) + white noise."""
    return (ConstantKernel(1.0, (1e-2, 1e2)) * Matern(np.full(n_features, length_scale), length_bounds, nu=2.5)
            + WhiteKernel(1e-3, noise_bounds))


def fit_gp(x: np.ndarray, y: np.ndarray, kernel: Kernel, max_iter: int | None = None) -> GaussianProcessRegressor:
    """A GP fitted by marginal likelihood from `kernel`'s hyperparameters (a previous fit's kernel warm-starts it:
    deterministic, since it depends only on the search's history); `max_iter` caps L-BFGS's iterations (0: keep
    `kernel`'s hyperparameters as they are)."""
    optimizer = "fmin_l_bfgs_b"
    if max_iter == 0:
        optimizer = None
    elif max_iter is not None:
        def optimizer(obj_func, initial_theta, bounds):
            result = minimize(obj_func, initial_theta, method="L-BFGS-B", jac=True, bounds=bounds,
                              options={"maxiter": max_iter})
            return result.x, result.fun
    gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=0, optimizer=optimizer)
    with threadpool_limits(1), warnings.catch_warnings():
        # hyperparameters at their bounds are expected with a few points and one-hot inputs
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gp.fit(x, y)


def expected_improvement(mu: np.ndarray, sigma: np.ndarray, best: float, xi: float = 0.0) -> np.ndarray:
    """EI of maximisation at points with posterior mean `mu` and standard deviation `sigma` (where sigma is 0:
    the sure improvement, max(mu - best - xi, 0))."""
    mu, sigma = np.asarray(mu, dtype=float), np.asarray(sigma, dtype=float)
    gain = mu - best - xi
    with np.errstate(divide="ignore", invalid="ignore"):
        z = gain / sigma
        return np.where(sigma > 0, gain * norm.cdf(z) + sigma * norm.pdf(z), np.maximum(gain, 0.0))
