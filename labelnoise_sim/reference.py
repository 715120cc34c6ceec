"""Plain gradient descent on the d-dimensional weights: the oracle.

This is the textbook algorithm, written for clarity, not speed: it forms the
filters, both patches and the full gradient at every step. The test suite
checks :func:`labelnoise_sim.simulate` against it, and the benchmarks time
against it. It costs O(m n d) per step.
"""

from __future__ import annotations

import numpy as np

from .data import Data

__all__ = ["full_weight_gd"]


def full_weight_gd(data: Data, eta: float, steps: int, record_steps=None):
    """Run gradient descent on W ∈ R^{2×m×d} from ``data.W0``.

    f(W, x_i) = (1/m) Σ_r [σ(⟨w_{+1,r}, y_i μ⟩) + σ(⟨w_{+1,r}, ξ_i⟩)]
              - (1/m) Σ_r [σ(⟨w_{-1,r}, y_i μ⟩) + σ(⟨w_{-1,r}, ξ_i⟩)]
    L(W) = (1/n) Σ_i log(1 + exp(-ỹ_i f(W, x_i))),  σ'(0) = 0.

    Returns ``(t, outputs, weights)``: recorded steps (K,), outputs (K, n) and
    the filters (K, 2, m, d) at those steps (every step by default).
    """
    mu, xi, W = data.mu, data.xi, data.W0.copy()
    y = data.y.astype(np.float64)
    y_noisy = data.y_noisy.astype(np.float64)
    n, m = xi.shape[0], W.shape[1]
    jsign = np.array([1.0, -1.0])[:, None]
    record = np.arange(steps + 1) if record_steps is None else np.asarray(record_steps)
    outs, weights = [], []
    for t in range(steps + 1):
        signal = (W @ mu)[:, :, None] * y  # (2, m, n): ⟨w, y_i μ⟩
        noise = W @ xi.T  # (2, m, n): ⟨w, ξ_i⟩
        f = (jsign * (np.maximum(signal, 0) + np.maximum(noise, 0)).sum(axis=1)).sum(axis=0) / m
        if t in record:
            outs.append(f.copy())
            weights.append(W.copy())
        if t == steps:
            break
        dloss = -1.0 / (1.0 + np.exp(y_noisy * f))  # ℓ'(ỹ f)
        coef = (dloss * y_noisy)[None, None, :] * jsign[:, :, None] / (n * m)  # (2, 1, n)
        grad = ((coef * (signal > 0) * y) @ np.ones(n))[:, :, None] * mu + (coef * (noise > 0)) @ xi
        W = W - eta * grad
    return record, np.array(outs), np.array(weights)
