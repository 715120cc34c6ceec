"""The test-error law agrees with an explicit fresh test set."""

import numpy as np
import pytest

from labelnoise_sim import simulate

TEST_SET = 20_000


def _explicit_errors(result, k, rng):
    """Clean and noisy-label test error of record k on a freshly drawn test set."""
    c, data = result.config, result.data
    W = result.weights(result.t[k])
    y = np.where(rng.random(TEST_SET) < 0.5, 1, -1)
    xi = c.sigma_xi * rng.standard_normal((TEST_SET, c.d))
    if c.noise == "orthogonal":
        xi[:, 0] = 0.0
    signal = np.maximum((W @ data.mu)[:, :, None] * y, 0)
    noise = np.maximum(W @ xi.T, 0)
    f = ((signal + noise).sum(axis=1) * [[1.0], [-1.0]]).sum(axis=0) / c.m
    flip = rng.random(TEST_SET) < np.where(y == 1, c.tau_pos, c.tau_neg)
    y_noisy = np.where(flip, -y, y)
    return np.mean(y * f <= 0), np.mean(y_noisy * f <= 0)


def _tolerance(p, stderr):
    """Four standard errors of the difference of the two estimates: the test set's and the law's own."""
    p = max(p, 1.0 / TEST_SET)
    return 4 * np.sqrt(p * (1 - p) / TEST_SET + stderr**2)


# A harmful-overfitting run (d/n small) so the errors are far from 0 at the end.
@pytest.mark.parametrize("noise", ["isotropic", "orthogonal"])
def test_gaussian_law_matches_a_fresh_test_set(noise):
    result = simulate(n=100, d=300, m=5, eta=0.3, steps=1500, tau_pos=0.1, tau_neg=0.25,
                      n_snr2=2.0, noise=noise, seed=5, record=[0, 20, 1500])
    rng = np.random.default_rng(123)
    checked_nonzero = False
    for k in range(len(result.t)):
        clean, noisy = _explicit_errors(result, k, rng)
        stderr = result.test_error_stderr[k]
        assert abs(result.test_error[k] - clean) < _tolerance(clean, stderr)
        # The noisy-label error moves with each class's error by at most 1 - 2 tau (< 1) of its change.
        assert abs(result.test_error_noisy[k] - noisy) < _tolerance(noisy, result.test_error_estimate.stderr_by_class[k].max())
        checked_nonzero |= 0.02 < clean < 0.45
    assert checked_nonzero, "the comparison should include an error rate well away from 0 and 1/2"


def test_test_error_is_a_smooth_function_of_time():
    """Fixed draws: the curve moves little between neighbouring steps."""
    result = simulate(n=100, d=300, m=5, eta=0.3, steps=400, record=1, n_snr2=2.0, seed=1)
    jumps = np.abs(np.diff(result.test_error[50:]))
    assert jumps.max() < 5e-3


def test_noisy_test_error_follows_from_class_errors():
    result = simulate(n=60, d=200, steps=100, tau_pos=0.1, tau_neg=0.3, record=[100])
    e_pos, e_neg = result.test_error_by_class[0]
    expected = 0.5 * (0.9 * e_pos + 0.1 * (1 - e_pos)) + 0.5 * (0.7 * e_neg + 0.3 * (1 - e_neg))
    assert result.test_error_noisy[0] == pytest.approx(expected, rel=1e-12)
    assert result.test_error[0] == pytest.approx(0.5 * (e_pos + e_neg), rel=1e-12)
