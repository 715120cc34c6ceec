"""Exact test error from the Gaussian law of a fresh sample (no test set).

The filters are w_q = α w_q⁽⁰⁾ + j_q γ_q μ/‖μ‖² + Σ_k ρ_{q,k} ξ_k/‖ξ_k‖² (α = 1
without weight decay), q = (j, r) in class-major order. For a fresh sample of
true class y, the signal part of the output is fixed by A_q = ⟨w_q, μ⟩, and
the noise part depends on each of its P1 noise vectors ξ_p only through
Z_p = (⟨w_q, ξ_p⟩)_q ~ N(0, σ_ξ² W Σ Wᵀ), independent over p, with Σ = I
(isotropic noise) or I - μμᵀ/‖μ‖² (orthogonal noise). The output is

    patches:   f = s Σ_q j_q [σ(y A_q + b_q) + Σ_p σ(Z_{p,q} + b_q)]
    additive:  f = s Σ_q j_q σ(y A_q + Z_q + b_q)

(s = 1/m or 1, b the bias, 0 without one), and a sample of true class y is
misclassified (y f ≤ 0) with probability P(y f ≤ 0). That Gaussian
probability is integrated by Monte Carlo with draws fixed by the run's seed,
so the error curve over time is smooth and reproducible. W Σ Wᵀ follows from
the coefficients and the Gram matrix of (μ, ξ_1..ξ_N, W⁽⁰⁾): W = C V with the
coefficient matrix C below.

For the paper's model (ReLU, two patches, s = 1/m, no bias, α = 1) this is

    s_y  = (1/m) Σ_r [σ(y A_{+1,r}) - σ(y A_{-1,r})]
    h(Z) = (1/m) Σ_r [σ(Z_{+1,r}) - σ(Z_{-1,r})]

and P(y (s_y + h(Z)) ≤ 0), counted by ``_kernels.misclassified_draws``; every
other network of the family is counted by
``_kernels.misclassified_draws_family``. Both project the draws in a fixed
order of operations, without BLAS, so the estimate does not depend on the
BLAS library or its threads.
"""

from __future__ import annotations

import numpy as np

from . import _kernels
from .data import seed_streams

__all__ = ["coefficient_matrix", "filter_statistics", "class_errors", "DEFAULT_DRAWS"]

#: Monte Carlo draws of the noise projection per recorded step; the standard
#: error of an error rate p is sqrt(p (1 - p) / DEFAULT_DRAWS).
DEFAULT_DRAWS = 2**15


def coefficient_matrix(gamma, rho, mu_sq, xi_sq, alpha=None):
    """C with W = C V, V = [μ; ξ_1..ξ_N; W⁽⁰⁾ rows]; shape (K, 2m, 1 + N + 2m).

    gamma (K, 2, m); rho (K, 2, m, N), or (K, 2, m, n, P1) with the noise
    vectors sample by sample (k = i P1 + p); xi_sq (N,) the ‖ξ_k‖²; alpha
    (K,) the factor of W⁽⁰⁾, or None for 1.
    """
    K, _, m = gamma.shape
    q2 = 2 * m
    rho = rho.reshape(K, q2, -1)
    N = rho.shape[2]
    C = np.zeros((K, q2, 1 + N + q2))
    jsign = np.repeat([1.0, -1.0], m)
    C[:, :, 0] = jsign * gamma.reshape(K, q2) / mu_sq
    C[:, :, 1 : 1 + N] = rho / xi_sq
    if alpha is None:
        C[:, :, 1 + N :] = np.eye(q2)
    else:
        C[:, :, 1 + N :] = np.asarray(alpha, dtype=np.float64).reshape(K, 1, 1) * np.eye(q2)
    return C


def filter_statistics(gamma, rho, gram, config, *, alpha=None):
    """Signal products A (K, 2m) and the noise covariance W Σ Wᵀ (K, 2m, 2m), per unit σ_ξ².

    gamma, rho and alpha as :func:`coefficient_matrix` takes them; ``config``
    gives the number of noise vectors N = n P1 and the noise model.
    """
    N = config.n * config.noise_patches
    mu_sq = gram[0, 0]
    xi_sq = np.diag(gram)[1 : 1 + N]
    C = coefficient_matrix(gamma, rho, mu_sq, xi_sq, alpha)
    if C.shape[2] != gram.shape[0]:
        raise ValueError(f"coefficients over {C.shape[2]} vectors for a Gram matrix of side {gram.shape[0]}")
    CM = np.stack([_kernels.product(Ck, gram) for Ck in C])
    A = CM[:, :, 0]
    # Contiguous operands only: each layout would compile product() anew on a process's first call.
    cov = np.stack([_kernels.product(CMk, np.ascontiguousarray(Ck.T)) for CMk, Ck in zip(CM, C)])
    if config.noise == "orthogonal":
        cov -= A[:, :, None] * A[:, None, :] / mu_sq
    return A, 0.5 * (cov + cov.transpose(0, 2, 1))


def _is_paper_network(config, alpha, bias) -> bool:
    """Whether the test error is the paper's: ReLU, two patches, s = 1/m, and α = 1, b = 0 at every record."""
    return (config.activation_kind[0] == "relu" and config.layout == "patches" and config.noise_patches == 1
            and config.output_scale == "mean" and (alpha is None or bool(np.all(np.asarray(alpha) == 1.0)))
            and (bias is None or bool(np.all(np.asarray(bias) == 0.0))))


def class_errors(gamma, rho, gram, config, *, alpha=None, bias=None, draws=DEFAULT_DRAWS):
    """Misclassification probability of each true class, shape (K, 2): [y = +1, y = -1].

    gamma (K, 2, m); rho (K, 2, m, N) (or (K, 2, m, n, P1)); alpha (K,) or
    None (α = 1); bias (K, 2, m) or None (b = 0); ``config`` the run's
    SimulationConfig (n, noise, sigma_xi, seed, activation, layout, patches,
    output_scale). The draws are ``draws × P1 × 2m`` standard normals of the
    seed's "test" stream, draw by draw; for one noise patch, those of the
    paper's model.

    The paper's network (ReLU, two patches, s = 1/m, α = 1, b = 0) is counted
    by ``_kernels.misclassified_draws`` as it always was, every other by
    ``_kernels.misclassified_draws_family``.

    A record whose statistics A, W Σ Wᵀ or bias are not finite gets NaN: its
    error is undefined. That happens when η is so large that the filters
    outgrow the floating-point range in W Σ Wᵀ (a product of two filters)
    while the training outputs, linear in the filters, stay finite.
    """
    K, _, m = gamma.shape
    q2 = 2 * m
    # Overflow here is a diverged run, reported as NaN rows rather than as warnings.
    with np.errstate(over="ignore", invalid="ignore"):
        A, cov = filter_statistics(gamma, rho, gram, config, alpha=alpha)
    finite = np.isfinite(A).all(axis=1) & np.isfinite(cov).all(axis=(1, 2))
    if bias is not None:
        bias = np.ascontiguousarray(bias, dtype=np.float64).reshape(K, q2)
        finite &= np.isfinite(bias).all(axis=1)
    errors = np.full((K, 2), np.nan)
    if _is_paper_network(config, alpha, bias):
        with np.errstate(over="ignore", invalid="ignore"):
            relu = np.maximum
            s_pos = (relu(A[:, :m], 0).sum(1) - relu(A[:, m:], 0).sum(1)) / m
            s_neg = (relu(-A[:, :m], 0).sum(1) - relu(-A[:, m:], 0).sum(1)) / m
        z = seed_streams(config.seed)["test"].standard_normal((draws, q2))
        # One column per draw, so the kernel's product runs along contiguous rows.
        z_t = np.ascontiguousarray(z.T)
        for k in np.flatnonzero(finite):
            wrong = _kernels.misclassified_draws(_root(cov[k]), z_t, float(config.sigma_xi), s_pos[k], s_neg[k], m)
            errors[k] = np.asarray(wrong) / draws
        return errors
    P1 = config.noise_patches
    kind, params = config.activation_kind
    p1, p2 = (tuple(float(v) for v in params) + (0.0, 0.0))[:2]
    scale = 1.0 / m if config.output_scale == "mean" else 1.0
    additive = config.layout == "additive"
    if bias is None:
        bias = np.zeros((K, q2))
    z = seed_streams(config.seed)["test"].standard_normal((draws, P1, q2))
    # Row p 2m + q holds coordinate q of noise patch p, one column per draw.
    z_t = np.ascontiguousarray(z.reshape(draws, P1 * q2).T)
    for k in np.flatnonzero(finite):
        wrong = _kernels.misclassified_draws_family(
            _root(cov[k]), z_t, float(config.sigma_xi), np.ascontiguousarray(A[k]), bias[k], scale,
            _kernels.ACTIVATION_CODES[kind], p1, p2, P1, additive)
        errors[k] = np.asarray(wrong) / draws
    return errors


def _root(cov):
    """A square root R of the covariance (R Rᵀ = cov), from its eigendecomposition, negative eigenvalues clipped."""
    lam, vec = np.linalg.eigh(cov)
    return np.ascontiguousarray(vec * np.sqrt(np.clip(lam, 0.0, None)))
