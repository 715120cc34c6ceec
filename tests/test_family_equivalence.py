"""The coefficient dynamics reproduce gradient descent on the raw weights, for every option of the model family.

``simulate`` keeps w_{j,r} = α w⁽⁰⁾_{j,r} + j γ_{j,r} μ/‖μ‖² + Σ_k ρ_{j,r,k} ξ_k/‖ξ_k‖²
and the bias; ``reference.full_weight_gd`` trains the d-dimensional filters
themselves, as tests/test_reference_autograd.py checks against PyTorch
autograd. Here both run the same data and schedule for 500 steps or more, and
must agree to 1e-10 relative: the outputs at every recorded step, the filters
rebuilt from γ, ρ and α, and the bias.
"""

import numpy as np
import pytest

from labelnoise_sim import SimulationConfig, run, simulate
from labelnoise_sim.data import Data, explicit_gram, sample_data
from labelnoise_sim.reference import full_weight_gd, network
from labelnoise_sim.result import loss_value
from labelnoise_sim.schedule import schedule

RTOL = 1e-10
STEPS = 500
BASE = dict(n=40, d=200, m=4, eta=0.2, tau=0.2, steps=STEPS, record=1, seed=3)
ODD = dict(n=37, d=311, m=3, eta=0.37, tau=0.15, n_snr2=3.3, sigma0=0.03, sigma_xi=1.7, steps=600, seed=5)

CASES = {
    "relu^2": dict(activation="relu^2"),
    "relu^1.5": dict(activation="relu^1.5"),
    "leaky_relu": dict(activation="leaky_relu(0.1)"),
    "smoothed_relu": dict(activation="smoothed_relu(3,0.2)"),
    "hinge": dict(loss="hinge"),
    "exponential": dict(loss="exponential"),
    "squared": dict(loss="squared", eta=0.05),
    "patches=3": dict(patches=3),
    "patches=5": dict(patches=5),
    "additive": dict(layout="additive"),
    "bias": dict(bias=True),
    "output_scale=sum": dict(output_scale="sum", eta=0.05),
    "batch_size dividing n": dict(batch_size=8),
    "batch_size not dividing n": dict(batch_size=7),
    "batch_size 1": dict(batch_size=1, eta=0.05),
    "momentum": dict(momentum=0.9, eta=0.05),
    "weight_decay": dict(weight_decay=0.01),
    "label_noise": dict(label_noise=0.2),
    "sam": dict(sam=0.05),
    "patches=2 with bias and sam": dict(bias=True, sam=0.05, record=(0, 1, 2, 17, 250, 499, 500)),
    "relu^2 + label_noise + minibatch": dict(activation="relu^2", label_noise=0.05, batch_size=8, eta=0.05,
                                             sigma0=0.05),
    "leaky + hinge + bias + momentum + decay": dict(activation="leaky_relu(0.2)", loss="hinge", bias=True,
                                                    momentum=0.9, weight_decay=0.005, eta=0.05),
    "smoothed + sam + patches=3": dict(activation="smoothed_relu(2,0.1)", sam=0.05, patches=3, eta=0.1),
    "additive + exponential + weight decay": dict(layout="additive", loss="exponential", weight_decay=0.01),
    "squared + sum + additive": dict(loss="squared", output_scale="sum", layout="additive", eta=0.02),
    "patches=5 + bias + sum + momentum, on a grid": dict(patches=5, bias=True, output_scale="sum", momentum=0.5,
                                                         eta=0.02, record=25),
    "sam + minibatch + label_noise + exact flips": dict(sam=0.02, batch_size=10, label_noise=0.1, flips="exact",
                                                        eta=0.1),
    "odd sizes: leaky + patches=3 + bias + minibatch + momentum": dict(
        ODD, activation="leaky_relu(0.1)", patches=3, bias=True, batch_size=10, momentum=0.5, eta=0.2, record=1),
    "odd sizes: additive + bias + squared + sum + decay": dict(ODD, layout="additive", bias=True, loss="squared",
                                                               output_scale="sum", weight_decay=0.01, eta=0.01,
                                                               record=37),
    "odd sizes: label_noise + sam + decay": dict(ODD, label_noise=0.05, sam=0.05, weight_decay=0.001, eta=0.3,
                                                 record=(0, 1, 5, 99, 300, 600)),
}


def relative_gap(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def rebuilt_weights(result):
    """W = α W⁽⁰⁾ + j γ μ/‖μ‖² + Σ_k ρ_k ξ_k/‖ξ_k‖², from the result's arrays alone; shape (K, 2, m, d)."""
    data, K, m = result.data, len(result.t), result.config.m
    xi = data.xi.reshape(data.n_vectors, -1)
    alpha = np.ones(K) if result.alpha is None else result.alpha
    jsign = np.array([1.0, -1.0])[:, None, None]
    signal = jsign * result.gamma[..., None] * (data.mu / (data.mu @ data.mu))
    noise = result.rho.reshape(K, 2, m, data.n_vectors) @ (xi / (xi**2).sum(axis=1)[:, None])
    return alpha[:, None, None, None] * data.W0 + signal + noise


def assert_same_run(result, reference):
    np.testing.assert_array_equal(result.t, reference.t)
    assert relative_gap(result.outputs, reference.outputs) < RTOL
    # The change of the filters, not the filters: W0 would hide an error in the steps.
    W0 = result.data.W0
    assert relative_gap(rebuilt_weights(result) - W0, reference.weights - W0) < RTOL
    if result.config.bias:
        assert relative_gap(result.bias, reference.bias) < RTOL
    else:
        assert result.bias is None and reference.bias is None


@pytest.mark.parametrize("params", CASES.values(), ids=CASES.keys())
def test_simulate_matches_full_weight_gradient_descent(params):
    params = {**BASE, **params}
    result = simulate(**params)
    config = result.config
    K, m, n, P1 = len(result.t), config.m, config.n, config.noise_patches
    assert result.gamma.shape == (K, 2, m)
    assert result.rho.shape == (K, 2, m, n) + ((P1,) if P1 > 1 else ())
    assert (result.alpha is None) == (config.weight_decay == 0)
    reference = full_weight_gd(result.data, config.eta, config.steps, result.t, config=config)
    assert_same_run(result, reference)
    loss = loss_value(reference.outputs * result.data.y_noisy, config.loss).mean(axis=1)
    assert relative_gap(result.train_loss, loss) < RTOL
    # The run must have moved: the noisy labels are being fitted.
    assert result.train_loss[-1] < 0.5 * result.train_loss[0]


STOCHASTIC = {name: params for name, params in CASES.items()
              if "batch_size" in params or "label_noise" in params}


@pytest.mark.parametrize("params", STOCHASTIC.values(), ids=STOCHASTIC.keys())
def test_a_stochastic_run_is_replayed_by_its_schedule(params):
    result = simulate(**{**BASE, **params})
    config = result.config
    for step in (0, 1, config.steps // 2, config.steps - 1):
        for got, expected in zip(result.schedule(step), schedule(config, step)):
            np.testing.assert_array_equal(got, expected)
    reference = full_weight_gd(result.data, config.eta, config.steps, result.t, config=config,
                               schedule=result.schedule)
    assert_same_run(result, reference)


def test_larger_run_matches_full_weight_gradient_descent():
    result = simulate(n=60, d=1000, m=5, eta=0.3, steps=1000, record=50, seed=11, activation="leaky_relu(0.05)",
                      patches=3, bias=True, batch_size=16, momentum=0.5, weight_decay=0.002, label_noise=0.05)
    config = result.config
    assert_same_run(result, full_weight_gd(result.data, config.eta, config.steps, result.t, config=config))
    assert result.train_loss[-1] < 0.5 * result.train_loss[0]


@pytest.mark.parametrize("patches", [3, 5])
def test_the_position_of_the_signal_patch_does_not_change_the_outputs(patches):
    result = simulate(**{**BASE, "record": 100, "patches": patches, "bias": True,
                         "activation": "smoothed_relu(2,0.3)"})
    config, data = result.config, result.data
    reference = full_weight_gd(data, config.eta, config.steps, result.t, config=config)
    signal = data.y[:, None] * data.mu  # (n, d)
    for p in range(patches):
        x = np.insert(data.xi, p, signal, axis=1)  # (n, P, d), the signal patch at position p
        assert np.array_equal(x[:, p], signal)
        for k in range(len(result.t)):
            f = network(reference.weights[k], reference.bias[k], x, config)
            assert relative_gap(f, result.outputs[k]) < RTOL


def _paper_gd_before_the_family(data, eta, steps):
    """``reference.full_weight_gd`` as it was before the model family (commit 365e0c8), every step recorded."""
    mu, xi, W = data.mu, data.xi, data.W0.copy()
    y = data.y.astype(np.float64)
    y_noisy = data.y_noisy.astype(np.float64)
    n, m = xi.shape[0], W.shape[1]
    jsign = np.array([1.0, -1.0])[:, None]
    outs, weights = [], []
    for t in range(steps + 1):
        signal = (W @ mu)[:, :, None] * y
        noise = W @ xi.T
        f = (jsign * (np.maximum(signal, 0) + np.maximum(noise, 0)).sum(axis=1)).sum(axis=0) / m
        outs.append(f.copy())
        weights.append(W.copy())
        if t == steps:
            break
        dloss = -1.0 / (1.0 + np.exp(y_noisy * f))
        coef = (dloss * y_noisy)[None, None, :] * jsign[:, :, None] / (n * m)
        grad = ((coef * (signal > 0) * y) @ np.ones(n))[:, :, None] * mu + (coef * (noise > 0)) @ xi
        W = W - eta * grad
    return np.array(outs), np.array(weights)


@pytest.mark.parametrize("params", [dict(n=40, d=400, m=4, eta=0.2, tau=0.2), ODD], ids=["default", "odd sizes"])
def test_paper_model_reference_is_bit_for_bit_what_it_was(params):
    config = SimulationConfig.from_params(**params)
    data = sample_data(config)
    outputs, weights = _paper_gd_before_the_family(data, config.eta, 300)
    for paper in (None, config, config.replace(batch_size=config.n)):
        reference = full_weight_gd(data, config.eta, 300, config=paper)
        np.testing.assert_array_equal(reference.t, np.arange(301))
        np.testing.assert_array_equal(reference.outputs, outputs)
        np.testing.assert_array_equal(reference.weights, weights)
        assert reference.bias is None


def kink_data(config):
    """Data whose pre-activations sit exactly at 0 and whose hinge margins sit exactly at 1, at step 0.

    μ = e₁ and every ξ ⊥ μ (orthogonal noise); the filter w_{+1,0} = e₁ and
    the others 0: ⟨w, ξ⟩ = 0 for every filter, ⟨w, y_i μ⟩ = 0 for the zero
    ones, and with output_scale="sum" f(x_i) = σ(1) = 1 for y_i = +1.
    """
    data = sample_data(config)
    W0 = np.zeros_like(data.W0)
    W0[0, 0, 0] = 1.0
    gram = explicit_gram(config.mu_norm, data.xi.reshape(data.n_vectors, -1), W0)
    return Data(data.y, data.y, gram, mu=data.mu, xi=data.xi, W0=W0, noise_patches=config.noise_patches,
                bias=config.bias)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu(0.1)", "relu^2"])
@pytest.mark.parametrize("loss", ["hinge", "logistic"])
@pytest.mark.parametrize("options", [dict(), dict(bias=True, patches=3), dict(layout="additive", bias=True, sam=0.05)],
                         ids=["plain", "bias, patches=3", "additive, bias, sam"])
def test_simulate_takes_autograds_slope_at_every_kink(activation, loss, options):
    # One step: the one taken at the kinks. Later steps can land on a kink again only through the symmetry of this
    # data, where which side a pre-activation of exactly 0 falls on is a matter of rounding.
    config = SimulationConfig(n=8, d=6, m=2, eta=0.1, steps=1, record=1, mu_norm=1.0, noise="orthogonal",
                              output_scale="sum", activation=activation, loss=loss, **options)
    data = kink_data(config)
    result = run(config, data)
    reference = full_weight_gd(data, config.eta, config.steps, result.t, config=config)
    if config.layout == "patches":
        np.testing.assert_array_equal(reference.outputs[0][data.y == 1], 1.0)
    np.testing.assert_allclose(result.outputs, reference.outputs, rtol=RTOL, atol=1e-15)
    np.testing.assert_allclose(rebuilt_weights(result), reference.weights, rtol=RTOL, atol=1e-15)
    if config.bias:
        np.testing.assert_allclose(result.bias, reference.bias, rtol=RTOL, atol=1e-15)


@pytest.mark.slow  # compiles the family's two-thread kernel: 10-20 s of a fresh environment
def test_the_two_thread_family_kernel_gives_the_one_thread_bits(monkeypatch, numba_thread_counts):
    """run_family_halves (each class's rows of R G on a thread of its own) replays every case, stochastic
    schedules, SAM, momentum, leaky slopes and patches included, bit for bit, with one thread and with two."""
    from labelnoise_sim import _kernels, dynamics

    # 80 steps of each case: every option's path runs many times (the bits of a step do not depend on how many).
    configs = [SimulationConfig.from_params(**params).replace(steps=80, record=None) for params in CASES.values()]
    expected = dynamics.run_many(configs, parallel=False)
    monkeypatch.setattr(_kernels, "run_family", _kernels.run_family_halves)
    for _ in numba_thread_counts:
        for config, want in zip(configs, expected):
            got, = dynamics.run_many([config], parallel=False)
            for name in ("outputs", "gamma", "rho", "alpha", "bias"):
                np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)


@pytest.mark.slow  # compiles the family's two-thread kernel: 10-20 s of a fresh environment
def test_a_single_large_family_run_uses_both_threads(monkeypatch):
    """simulate() takes run_family_halves for a large full-batch run where two threads may pay (its first
    probe runs both kernels: dynamics.ThreadChooser), not for minibatches, and the result is the one-thread
    run's."""
    from labelnoise_sim import _kernels, dynamics

    if not dynamics.halves_pay(10, 400):
        pytest.skip("one thread, or a threading layer without cheap parallel regions: runs keep to one thread")
    taken = []
    halves = _kernels.run_family_halves
    monkeypatch.setattr(_kernels, "run_family_halves", lambda *args: taken.append(1) or halves(*args))
    params = dict(n=400, d=800, steps=100, activation="leaky_relu(0.1)")  # longer than the first probe's two calls
    two = simulate(**params)
    assert taken
    one, = dynamics.run_many([SimulationConfig(**params)], parallel=False)
    np.testing.assert_array_equal(two.outputs, one.outputs)
    np.testing.assert_array_equal(two.rho, one.rho)
    taken.clear()
    simulate(**params, batch_size=100)
    assert not taken
