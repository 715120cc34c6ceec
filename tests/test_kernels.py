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


@pytest.mark.parametrize("n, m", [(37, 3), (40, 4), (9, 1)])
def test_run_dynamics_equals_the_step_functions_composed(n, m):
    """run_dynamics (G packed in strips) does what products, network_outputs and update do."""
    from labelnoise_sim import SimulationConfig, sample_data
    from labelnoise_sim.dynamics import kernel_inputs

    config = SimulationConfig(n=n, d=3 * n, m=m, eta=0.3, steps=60)
    a0, b0, c, e, G, mu_sq, xi_sq, y, y_noisy, jsign = kernel_inputs(sample_data(config))
    steps = np.arange(config.steps + 1)
    gamma_out, rho_out, f_out = np.empty((61, 2 * m)), np.empty((61, 2 * m, n)), np.empty((61, n))
    status = _kernels.run_dynamics(a0, b0, c, e, G, mu_sq, xi_sq, y, y_noisy, jsign, m, config.eta,
                                   config.steps, steps, gamma_out, rho_out, f_out)
    assert status == -1
    gamma, rho = np.zeros(2 * m), np.zeros((2 * m, n))
    A, B, f, g = np.empty(2 * m), np.empty((2 * m, n)), np.empty(n), np.empty(n)
    for t in steps:
        _kernels.products(gamma, rho, a0, b0, c, e, G, jsign, A, B)
        _kernels.network_outputs(A, B, y, jsign, m, f)
        np.testing.assert_array_equal(f, f_out[t])
        np.testing.assert_array_equal(rho, rho_out[t])
        _kernels.update(gamma, rho, A, B, f, y, y_noisy, mu_sq, xi_sq, jsign, config.eta / (n * m), g)
