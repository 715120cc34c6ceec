"""Exact test error from the Gaussian law of a fresh sample (no test set).

For a fresh sample x = [yμ, ξ], the signal part of the output is fixed by
A_q = ⟨w_q, μ⟩, and the noise part depends on ξ only through
Z = (⟨w_q, ξ⟩)_q ~ N(0, σ_ξ² W Σ Wᵀ), with Σ = I (isotropic noise) or
I - μμᵀ/‖μ‖² (orthogonal noise). With

    s_y  = (1/m) Σ_r [σ(y A_{+1,r}) - σ(y A_{-1,r})]
    h(Z) = (1/m) Σ_r [σ(Z_{+1,r}) - σ(Z_{-1,r})]

a sample of true class y is misclassified (y f ≤ 0) with probability
P(y (s_y + h(Z)) ≤ 0). That 2m-dimensional Gaussian probability is integrated
by Monte Carlo with draws fixed by the run's seed, so the error curve over time
is smooth and reproducible. W Σ Wᵀ follows from the coefficients and the Gram
matrix of (μ, ξ_1..ξ_n, W⁽⁰⁾): W = C V with the coefficient matrix C below.

The draws are projected and counted by a numba kernel
(``_kernels.misclassified_draws``) in a fixed order of operations, without
BLAS, so the estimate does not depend on the BLAS library or its threads.
"""

from __future__ import annotations

import numpy as np

from . import _kernels
from .data import seed_streams

__all__ = ["coefficient_matrix", "filter_statistics", "class_errors", "DEFAULT_DRAWS"]

#: Monte Carlo draws of the noise projection per recorded step; the standard
#: error of an error rate p is sqrt(p (1 - p) / DEFAULT_DRAWS).
DEFAULT_DRAWS = 2**15


def coefficient_matrix(gamma, rho, mu_sq, xi_sq):
    """C with W = C V, V = [μ; ξ_1..ξ_n; W⁽⁰⁾ rows]; shape (K, 2m, 1 + n + 2m).

    gamma (K, 2, m), rho (K, 2, m, n).
    """
    K, _, m, n = rho.shape
    q2 = 2 * m
    C = np.zeros((K, q2, 1 + n + q2))
    jsign = np.repeat([1.0, -1.0], m)
    C[:, :, 0] = jsign * gamma.reshape(K, q2) / mu_sq
    C[:, :, 1 : 1 + n] = rho.reshape(K, q2, n) / xi_sq
    C[:, :, 1 + n :] = np.eye(q2)
    return C


def filter_statistics(gamma, rho, gram, n, noise):
    """Signal products A (K, 2m) and the noise covariance W Σ Wᵀ (K, 2m, 2m), per unit σ_ξ²."""
    mu_sq = gram[0, 0]
    xi_sq = np.diag(gram)[1 : 1 + n]
    C = coefficient_matrix(gamma, rho, mu_sq, xi_sq)
    CM = np.stack([_kernels.product(Ck, gram) for Ck in C])
    A = CM[:, :, 0]
    cov = np.stack([_kernels.product(CMk, Ck.T) for CMk, Ck in zip(CM, C)])
    if noise == "orthogonal":
        cov -= A[:, :, None] * A[:, None, :] / mu_sq
    return A, 0.5 * (cov + cov.transpose(0, 2, 1))


def class_errors(gamma, rho, gram, n, noise, sigma_xi, seed, draws=DEFAULT_DRAWS):
    """Misclassification probability of each true class, shape (K, 2): [y = +1, y = -1].

    A record whose statistics A or W Σ Wᵀ are not finite gets NaN: its error
    is undefined. That happens when η is so large that the filters outgrow the
    floating-point range in W Σ Wᵀ (a product of two filters) while the
    training outputs, linear in the filters, stay finite.
    """
    K, _, m, _ = rho.shape
    # Overflow here is a diverged run, reported as NaN rows rather than as warnings.
    with np.errstate(over="ignore", invalid="ignore"):
        A, cov = filter_statistics(gamma, rho, gram, n, noise)
        relu = np.maximum
        s_pos = (relu(A[:, :m], 0).sum(1) - relu(A[:, m:], 0).sum(1)) / m
        s_neg = (relu(-A[:, :m], 0).sum(1) - relu(-A[:, m:], 0).sum(1)) / m
    finite = np.isfinite(A).all(axis=1) & np.isfinite(cov).all(axis=(1, 2))
    z = seed_streams(seed)["test"].standard_normal((draws, 2 * m))
    # One column per draw, so the kernel's product runs along contiguous rows.
    z_t = np.ascontiguousarray(z.T)
    errors = np.full((K, 2), np.nan)
    for k in np.flatnonzero(finite):
        lam, vec = np.linalg.eigh(cov[k])
        root = np.ascontiguousarray(vec * np.sqrt(np.clip(lam, 0.0, None)))
        wrong = _kernels.misclassified_draws(root, z_t, float(sigma_xi), s_pos[k], s_neg[k], m)
        errors[k] = np.asarray(wrong) / draws
    return errors
