"""The fast kernels compute exactly what their plain definitions compute."""

import numpy as np
import pytest
from numba import njit

from labelnoise_sim import _kernels
from labelnoise_sim.data import seed_streams


@njit
def _tiled(rho, G, B):
    _kernels._accumulate_product(rho, G, B)


def _sequential(rho, G, B):
    """B += ρ G with each sum in ascending i, one multiply and one add per term."""
    out = B.copy()
    for i in range(rho.shape[1]):
        out += rho[:, i : i + 1] * G[i]
    return out


@pytest.mark.parametrize("rows, inner, cols", [(20, 200, 200), (6, 37, 37), (7, 13, 45), (1, 5, 3), (9, 20, 260)])
def test_register_tiled_product_is_bit_identical_to_the_sequential_sum(rows, inner, cols):
    rng = np.random.default_rng(rows * inner + cols)
    rho = rng.standard_normal((rows, inner))
    rho[rng.random(rho.shape) < 0.3] = 0.0  # exact zeros are skipped by the edge loops
    G = rng.standard_normal((inner, cols))
    B = rng.standard_normal((rows, cols))
    expected = _sequential(rho, G, B)
    _tiled(rho, G, B)
    np.testing.assert_array_equal(B, expected)
    # Non-contiguous operands take the plain loops, with the same result.
    B2 = np.asfortranarray(expected - expected)
    _tiled(rho, np.asfortranarray(G), B2)
    np.testing.assert_array_equal(B2, _sequential(rho, G, np.zeros_like(B)))


@pytest.mark.parametrize("m, draws", [(10, 2**12), (3, 1000), (1, 257)])
def test_monte_carlo_kernel_counts_what_the_numpy_expression_counts(m, draws):
    rng = np.random.default_rng(m)
    M = rng.standard_normal((2 * m, 2 * m))
    lam, vec = np.linalg.eigh(M @ M.T)
    root = np.ascontiguousarray(vec * np.sqrt(lam))
    z = seed_streams(7)["test"].standard_normal((draws, 2 * m))
    sigma_xi, s_pos, s_neg = 1.3, 0.4, -0.2
    Z = sigma_xi * (z @ root.T)
    h = (np.maximum(Z[:, :m], 0).sum(1) - np.maximum(Z[:, m:], 0).sum(1)) / m
    expected = (np.sum(s_pos + h <= 0), np.sum(s_neg + h >= 0))
    got = _kernels.misclassified_draws(root, np.ascontiguousarray(z.T), sigma_xi, s_pos, s_neg, m)
    assert tuple(got) == expected
