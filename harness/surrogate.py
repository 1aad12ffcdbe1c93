"""The Gaussian-process surrogate and expected improvement that Falcon and the GP-based baselines share.

A neutral module (in the harness, not in `falcon/`), so that no baseline depends on the method under test.

One Matern-5/2 kernel with one length scale per input, a signal variance and a white-noise term; scikit-learn's
GaussianProcessRegressor with standardised targets and no optimiser restarts, run single-threaded (on these
small matrices BLAS threads only contend: `single_threaded`); and expected improvement for maximisation.
Callers choose the kernel's bounds and, where an ask must stay in the tens of milliseconds, a cap on the
optimiser's iterations.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from typing import Iterator

import numpy as np
from scipy.linalg import LinAlgError, cho_solve, cholesky
from scipy.optimize import minimize
from scipy.stats import norm
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Kernel, Matern, Product, Sum, WhiteKernel
from threadpoolctl import ThreadpoolController

@functools.cache
def _controller() -> ThreadpoolController:
    """The process's thread-pool controller, made on first use (once the BLAS and OpenMP libraries are loaded)."""
    return ThreadpoolController()


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run the block (or, as `@single_threaded()`, the decorated function) with BLAS and OpenMP limited to one
    thread. One controller per process: finding the loaded libraries takes ~4 ms, more than a small GP fit, at
    every call of `threadpoolctl.threadpool_limits`."""
    with _controller().limit(limits=1):
        yield


def matern_kernel(n_features: int, length_scale: float = 1.0, length_bounds: tuple = (5e-2, 1e2),
                  noise_bounds: tuple = (1e-6, 1.0)) -> Kernel:
    """Signal variance x Matern 5/2 (one length scale per input) + white noise."""
    return (ConstantKernel(1.0, (1e-2, 1e2)) * Matern(np.full(n_features, length_scale), length_bounds, nu=2.5)
            + WhiteKernel(1e-3, noise_bounds))


def fit_gp(x: np.ndarray, y: np.ndarray, kernel: Kernel, max_iter: int | None = None) -> GaussianProcessRegressor:
    """A GP fitted by marginal likelihood from `kernel`'s hyperparameters (a `matern_kernel`, or a previous fit's
    kernel, which warm-starts it: deterministic, since it depends only on the search's history); `max_iter` caps
    L-BFGS's iterations (None: scipy's default; 0: keep `kernel`'s hyperparameters as they are).

    L-BFGS runs scikit-learn's own optimisation (`scipy.optimize.minimize`, L-BFGS-B, within the kernel's bounds)
    on `matern_objective`, the same likelihood without the kernel objects' Python overhead; scikit-learn then
    fits the GP at the optimum it returns."""
    if not _is_matern_kernel(kernel):
        raise ValueError(f"fit_gp takes a kernel made by matern_kernel, not {kernel}")
    optimizer = None
    if max_iter != 0:
        objective = matern_objective(x, y)

        def optimizer(_sklearn_objective, initial_theta, bounds):
            options = {} if max_iter is None else {"maxiter": max_iter}
            result = minimize(objective, initial_theta, method="L-BFGS-B", jac=True, bounds=bounds, options=options)
            return result.x, result.fun
    gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=0, optimizer=optimizer)
    with single_threaded(), warnings.catch_warnings():
        # hyperparameters at their bounds are expected with a few points and one-hot inputs
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gp.fit(x, y)


def _is_matern_kernel(kernel: Kernel) -> bool:
    """Signal variance x Matern 5/2 with one length scale per input + white noise, nothing fixed."""
    return (isinstance(kernel, Sum) and isinstance(kernel.k1, Product) and isinstance(kernel.k2, WhiteKernel)
            and isinstance(kernel.k1.k1, ConstantKernel) and isinstance(kernel.k1.k2, Matern)
            and kernel.k1.k2.nu == 2.5 and np.ndim(kernel.k1.k2.length_scale) == 1
            and not any(h.fixed for h in kernel.hyperparameters))


def matern_objective(x: np.ndarray, y: np.ndarray):
    """The negative log marginal likelihood of a `matern_kernel` GP on (x, y) and its gradient, as a function of
    the kernel's log-hyperparameters theta = [log signal variance, log length scales..., log noise]: the numbers
    `GaussianProcessRegressor(normalize_y=True).log_marginal_likelihood(theta, eval_gradient=True)` gives, negated
    (tested against it), at a fraction of its cost (scikit-learn rebuilds its kernel objects at every call)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    std = y.std()
    y = (y - y.mean()) / (std if std >= 10 * np.finfo(float).eps else 1.0)  # normalize_y's rule
    n = len(y)
    sq_diff = (x[:, None, :] - x[None, :, :]) ** 2  # (n, n, features)
    half_log_2pi = 0.5 * n * np.log(2 * np.pi)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        signal, lengths, noise = np.exp(theta[0]), np.exp(theta[1:-1]), np.exp(theta[-1])
        scaled = sq_diff / lengths ** 2
        r = np.sqrt(5.0 * scaled.sum(axis=-1))
        decay = np.exp(-r)
        matern = (1.0 + r + r ** 2 / 3.0) * decay
        k = signal * matern
        k[np.diag_indices(n)] += noise + 1e-10  # white noise, and the regressor's default alpha
        try:
            chol = cholesky(k, lower=True, check_finite=False)
        except LinAlgError:
            return np.inf, np.zeros_like(theta)
        alpha = cho_solve((chol, True), y, check_finite=False)
        lml = -0.5 * y @ alpha - np.log(np.diag(chol)).sum() - half_log_2pi
        inner = np.outer(alpha, alpha) - cho_solve((chol, True), np.eye(n), check_finite=False)
        grad_signal = 0.5 * np.sum(inner * signal * matern)
        grad_lengths = 0.5 * np.einsum("ij,ijk->k", inner * (signal * 5.0 / 3.0 * (1.0 + r) * decay), scaled)
        grad_noise = 0.5 * np.trace(inner) * noise
        return -lml, -np.concatenate([[grad_signal], grad_lengths, [grad_noise]])

    return objective


def expected_improvement(mu: np.ndarray, sigma: np.ndarray, best: float, xi: float = 0.0) -> np.ndarray:
    """EI of maximisation at points with posterior mean `mu` and standard deviation `sigma` (where sigma is 0:
    the sure improvement, max(mu - best - xi, 0))."""
    mu, sigma = np.asarray(mu, dtype=float), np.asarray(sigma, dtype=float)
    gain = mu - best - xi
    with np.errstate(divide="ignore", invalid="ignore"):
        z = gain / sigma
        return np.where(sigma > 0, gain * norm.cdf(z) + sigma * norm.pdf(z), np.maximum(gain, 0.0))
