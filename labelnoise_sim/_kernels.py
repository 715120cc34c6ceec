"""Numba kernels of the coefficient dynamics (private).

State of a run, with q = 0..2m-1 indexing the filters (j, r) in class-major
order (q < m is j = +1):

    gamma[q]     signal coefficient γ_{j,r}
    rho[q, i]    noise coefficient ρ_{j,r,i}

Fixed statistics (all derived from the Gram matrix, see ``data.Data``):

    a0[q]     = ⟨w_q⁽⁰⁾, μ⟩                b0[q, k] = ⟨w_q⁽⁰⁾, ξ_k⟩
    c[i]      = ⟨ξ_i, μ⟩ / ‖ξ_i‖²          e[k]     = ⟨μ, ξ_k⟩ / ‖μ‖²
    G[i, k]   = ⟨ξ_i, ξ_k⟩ / ‖ξ_i‖²        jsign[q] = j ∈ {+1, -1}

Inner products of the current filters with the two patches:

    A[q]    = ⟨w_q, μ⟩   = a0[q] + j γ[q] + Σ_i ρ[q, i] c[i]
    B[q, k] = ⟨w_q, ξ_k⟩ = b0[q, k] + j γ[q] e[k] + Σ_i ρ[q, i] G[i, k]

Everything here takes plain arrays and scalars; inputs are trusted (the
public functions validate them).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["products", "network_outputs", "update", "run_dynamics"]


@njit(cache=True)
def products(gamma, rho, a0, b0, c, e, G, jsign, A, B):
    """Fill A (2m,) and B (2m, n) from the coefficients; O(m n²)."""
    q2, n = rho.shape
    for q in range(q2):
        jg = jsign[q] * gamma[q]
        acc = a0[q] + jg
        for i in range(n):
            acc += rho[q, i] * c[i]
        A[q] = acc
        row = B[q]
        for k in range(n):
            row[k] = b0[q, k] + jg * e[k]
        for i in range(n):
            r = rho[q, i]
            if r != 0.0:
                Gi = G[i]
                for k in range(n):
                    row[k] += r * Gi[k]


@njit(cache=True)
def network_outputs(A, B, y, jsign, m, f):
    """f_i = (1/m) Σ_q j_q [σ(y_i A_q) + σ(B_{q,i})], written to f (n,)."""
    q2, n = B.shape
    for i in range(n):
        f[i] = 0.0
    for q in range(q2):
        j = jsign[q]
        sig_pos = max(A[q], 0.0)
        sig_neg = max(-A[q], 0.0)
        for i in range(n):
            signal = sig_pos if y[i] > 0 else sig_neg
            f[i] += j * (signal + max(B[q, i], 0.0))
    for i in range(n):
        f[i] /= m


@njit(cache=True)
def update(gamma, rho, A, B, f, y, y_noisy, mu_sq, xi_sq, jsign, scale, g):
    """One gradient step on (γ, ρ), given the products at the current state.

    With g_i = -ℓ'(ỹ_i f_i) = 1 / (1 + exp(ỹ_i f_i)) and scale = η / (n m):

        γ_q     += scale ‖μ‖² Σ_i g_i 1(y_i A_q > 0) ỹ_i y_i
        ρ_{q,i} += scale g_i 1(B_{q,i} > 0) j_q ỹ_i ‖ξ_i‖²
    """
    q2, n = B.shape
    # The signal activation 1(y_i A_q > 0) depends on i only through y_i, so
    # the γ sum splits into one sum per true class.
    s_pos = 0.0
    s_neg = 0.0
    for i in range(n):
        z = y_noisy[i] * f[i]
        # Logistic sigmoid of -z, in the form that cannot overflow.
        if z > 0.0:
            ez = math.exp(-z)
            g[i] = ez / (1.0 + ez)
        else:
            g[i] = 1.0 / (1.0 + math.exp(z))
        if y[i] > 0:
            s_pos += g[i] * y_noisy[i]
        else:
            s_neg -= g[i] * y_noisy[i]
    for q in range(q2):
        if A[q] > 0.0:
            gamma[q] += scale * mu_sq * s_pos
        elif A[q] < 0.0:
            gamma[q] += scale * mu_sq * s_neg
        jscale = scale * jsign[q]
        for i in range(n):
            if B[q, i] > 0.0:
                rho[q, i] += jscale * g[i] * y_noisy[i] * xi_sq[i]


@njit(cache=True)
def run_dynamics(a0, b0, c, e, G, mu_sq, xi_sq, y, y_noisy, jsign, m, eta, steps, record_steps,
                 gamma_out, rho_out, f_out):
    """Run ``steps`` gradient steps from γ = ρ = 0, recording at ``record_steps``.

    record_steps : sorted int64 (K,), within [0, steps]
    gamma_out (K, 2m), rho_out (K, 2m, n), f_out (K, n) : filled in place.

    Returns -1 on success, or the first step at which an output is not finite.
    """
    n = y.shape[0]
    q2 = 2 * m
    gamma = np.zeros(q2)
    rho = np.zeros((q2, n))
    A = np.empty(q2)
    B = np.empty((q2, n))
    f = np.empty(n)
    g = np.empty(n)
    scale = eta / (n * m)
    k = 0
    n_records = record_steps.shape[0]
    for t in range(steps + 1):
        products(gamma, rho, a0, b0, c, e, G, jsign, A, B)
        network_outputs(A, B, y, jsign, m, f)
        for i in range(n):
            if not math.isfinite(f[i]):
                return t
        if k < n_records and record_steps[k] == t:
            gamma_out[k] = gamma
            rho_out[k] = rho
            f_out[k] = f
            k += 1
        if t == steps:
            break
        update(gamma, rho, A, B, f, y, y_noisy, mu_sq, xi_sq, jsign, scale, g)
    return -1
