"""The coefficient dynamics reproduce gradient descent on the raw weights for every option of the data family.

Several signal vectors (``features``), one output per class (``classes``,
``loss="cross_entropy"``) and a trained second layer (``output_layer``), each
alone and combined with the model family's options: ``simulate`` against
``reference.full_weight_gd`` on the same patches, labels, initial filters and
schedule, to 1e-10 relative: the outputs at every record, the change of the
filters rebuilt from the coefficients (``result.weights``), the bias and the
output weights. The reference itself is checked against PyTorch autograd
(tests/test_reference_autograd.py).
"""

import numpy as np
import pytest

from labelnoise_sim import simulate
from labelnoise_sim.data import signal_law
from labelnoise_sim.reference import full_weight_gd

RTOL = 1e-10
BASE = dict(n=30, d=150, m=3, eta=0.2, tau=0.2, steps=300, record=(0, 1, 2, 7, 50, 151, 299, 300), seed=4)

CASES = {
    # Alone.
    "xor": dict(features="xor"),
    "common_rare": dict(features="common_rare(0.3)"),
    "classes=3": dict(classes=3),
    "classes=2 cross_entropy": dict(loss="cross_entropy"),
    "trained output layer": dict(output_layer="trained"),
    # With each other.
    "xor + trained": dict(features="xor", output_layer="trained"),
    "common_rare + classes=4 + trained": dict(features="common_rare(0.25)", classes=4, output_layer="trained"),
    "xor + cross_entropy": dict(features="xor", loss="cross_entropy"),
    # With the model family's options.
    "xor + additive + leaky + hinge": dict(features="xor", layout="additive", activation="leaky_relu(0.1)",
                                           loss="hinge"),
    "xor + orthogonal noise + patches=3 + bias": dict(features="xor", noise="orthogonal", patches=3, bias=True),
    "common_rare + relu^2 + exponential": dict(features="common_rare(0.2)", activation="relu^2", loss="exponential",
                                               eta=0.1),
    "classes=3 + smoothed + sum + decay": dict(classes=3, activation="smoothed_relu(3,0.2)", output_scale="sum",
                                              weight_decay=0.01, eta=0.05),
    "classes=3 + minibatch + momentum": dict(classes=3, batch_size=7, momentum=0.5, eta=0.1),
    "classes=4 + additive + exact flips": dict(classes=4, layout="additive", flips="exact"),
    "trained + sam + bias + momentum + decay": dict(output_layer="trained", sam=0.05, bias=True, momentum=0.5,
                                                    weight_decay=0.005, eta=0.1),
    "trained + classes=3 + leaky + sam": dict(output_layer="trained", classes=3, activation="leaky_relu(0.2)",
                                              sam=0.05),
    "trained + xor + label_noise + minibatch": dict(output_layer="trained", features="xor", label_noise=0.1,
                                                    batch_size=10),
    "trained + sum + squared": dict(output_layer="trained", output_scale="sum", loss="squared", eta=0.01),
    "odd sizes: common_rare + classes=3 + trained + patches=4": dict(
        n=37, d=211, m=2, eta=0.3, features="common_rare(0.4)", classes=3, output_layer="trained", patches=4,
        sigma0=0.05, seed=9),
}


def relative_gap(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("params", CASES.values(), ids=CASES.keys())
def test_simulate_matches_full_weight_gradient_descent(params):
    result = simulate(**{**BASE, **params}, progress=False)
    config, data = result.config, result.data
    K, G, m, S = len(result.t), config.groups, config.m, config.signal_vectors
    assert result.gamma.shape == (K, G, m) + ((S,) if S > 1 else ())
    assert result.outputs.shape == ((K, config.n, config.classes) if config.multiclass else (K, config.n))
    assert result.output_weights.shape == (K, G, m)
    assert data.W0.shape == (G, m, config.d)
    reference = full_weight_gd(data, config.eta, config.steps, result.t, config=config)
    np.testing.assert_array_equal(result.t, reference.t)
    assert relative_gap(result.outputs, reference.outputs) < RTOL
    change = np.array([result.weights(t) for t in result.t]) - data.W0
    assert relative_gap(change, reference.weights - data.W0) < RTOL
    assert relative_gap(result.output_weights, reference.output_weights) < RTOL
    if config.bias:
        assert relative_gap(result.bias, reference.bias) < RTOL
    if config.output_layer == "fixed":
        assert np.array_equal(result.output_weights[-1], result.output_weights[0])
    else:
        assert not np.array_equal(result.output_weights[-1], result.output_weights[0])
    # The run must have moved.
    assert result.train_loss[-1] < 0.7 * result.train_loss[0]


@pytest.mark.parametrize("params", [dict(features="xor"), dict(features="common_rare(0.3)"), dict(classes=3),
                                    dict(features="xor", layout="additive")],
                         ids=["xor", "common_rare", "classes=3", "xor additive"])
def test_patches_hold_each_samples_signal_and_noise(params):
    """What outside checks feed autograd: the signal patch is s_i u_{k_i}, drawn from the features' law."""
    result = simulate(**{**BASE, **params, "steps": 0, "record": None}, progress=False)
    config, data = result.config, result.data
    x = data.patches()
    P = 1 if config.layout == "additive" else config.patches
    assert x.shape == (config.n, P, config.d)
    signal = data.signal_sign[:, None] * data.signal_vectors[data.signal_index]
    if config.layout == "additive":
        np.testing.assert_allclose(x[:, 0], signal + data.xi, rtol=0, atol=1e-12)
    else:
        np.testing.assert_array_equal(x[:, 0], signal)
        np.testing.assert_array_equal(x[:, 1], data.xi)
    true_class = data.y if config.multiclass else np.where(data.y == 1, 0, 1)
    for c, patterns in enumerate(signal_law(config)):
        allowed = {(k, s) for k, s, _ in patterns}
        got = set(zip(data.signal_index[true_class == c].tolist(), data.signal_sign[true_class == c].tolist()))
        assert got <= allowed


def test_two_logits_are_the_binary_logistic_model():
    """classes=2 with the cross-entropy is the binary logistic model written with two outputs: F_0 - F_1 = f."""
    binary = simulate(**BASE, progress=False)
    logits = simulate(**BASE, loss="cross_entropy", progress=False)
    assert np.array_equal(logits.data.gram, binary.data.gram)
    np.testing.assert_array_equal(logits.data.y_noisy, (1 - binary.data.y_noisy) // 2)
    f = logits.outputs[..., 0] - logits.outputs[..., 1]
    assert relative_gap(f, binary.outputs) < 1e-13
    assert relative_gap(logits.train_loss, binary.train_loss) < 1e-13
