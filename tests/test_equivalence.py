"""The coefficient dynamics reproduce gradient descent on the raw weights."""

import numpy as np
import pytest

from labelnoise_sim import simulate
from labelnoise_sim.reference import full_weight_gd
from labelnoise_sim.result import logistic_loss

RTOL = 1e-10

CASES = {
    "isotropic": dict(n=40, d=400, m=4, eta=0.2, tau=0.2),
    "orthogonal": dict(n=40, d=400, m=4, eta=0.2, tau=0.2, noise="orthogonal"),
    "asymmetric tau": dict(n=40, d=400, m=4, eta=0.2, tau_pos=0.05, tau_neg=0.35),
    "no label noise": dict(n=40, d=400, m=4, eta=0.2, tau=0.0),
    "odd sizes": dict(n=37, d=311, m=3, eta=0.37, tau=0.15, n_snr2=3.3, sigma0=0.03, sigma_xi=1.7),
    "d below n": dict(n=53, d=29, m=5, eta=0.05, tau=0.1),
}


def _relative_gap(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("params", CASES.values(), ids=CASES.keys())
def test_outputs_and_loss_match_full_weight_gradient_descent(params):
    steps = 1000
    result = simulate(steps=steps, record=1, seed=3, **params)
    reference = full_weight_gd(result.data, result.config.eta, steps)
    np.testing.assert_array_equal(result.t, reference.t)
    assert _relative_gap(result.outputs, reference.outputs) < RTOL
    loss = logistic_loss(reference.outputs * result.data.y_noisy).mean(axis=1)
    assert _relative_gap(result.train_loss, loss) < RTOL
    # The run must actually have moved: memorisation of noisy labels happened.
    assert result.train_loss[-1] < 0.5 * result.train_loss[0]


def test_rebuilt_weights_match_full_weight_gradient_descent():
    result = simulate(**CASES["odd sizes"], steps=300, record=[0, 17, 300])
    reference = full_weight_gd(result.data, result.config.eta, 300, record_steps=result.t)
    for k, step in enumerate(reference.t):
        assert _relative_gap(result.weights(step), reference.weights[k]) < RTOL


def test_coefficients_reproduce_the_recorded_outputs():
    result = simulate(n=30, d=300, m=3, steps=200, record=50, tau=0.2)
    data = result.data
    for k in range(len(result.t)):
        W = result.weights(result.t[k])
        signal = np.maximum((W @ data.mu)[:, :, None] * data.y, 0)
        noise = np.maximum(W @ data.xi.T, 0)
        f = ((signal + noise).sum(axis=1) * [[1.0], [-1.0]]).sum(axis=0) / result.config.m
        np.testing.assert_allclose(result.outputs[k], f, rtol=1e-10, atol=1e-12)
