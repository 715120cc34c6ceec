"""The reference takes the steps PyTorch autograd and torch.optim.SGD take, for every option of the model family.

This is what makes ``reference.full_weight_gd`` and ``reference.patch_gd`` an
oracle: their gradients are written by hand, so here they meet autograd's. The
PyTorch side (benchmarks/_torch_family.py, and ``torch_patch_gd`` below for the
data family: G groups of filters, one output per class, a trained output
layer, on any patches) is written as a user would write the model:
every patch of a sample through the same filters, the activation as
``torch.relu``, ``F.leaky_relu`` or a ``torch.where``, the loss as
``F.softplus(-z)``, ``torch.relu(1 - z)``, ``torch.exp(-z)`` or
``(1 - z)**2 / 2`` or ``F.cross_entropy``, ``loss.backward()`` and ``torch.optim.SGD`` with its
momentum and weight decay; SAM by hand, as the sam package of davda54 does it
(the step at the perturbed weights, taken from the unperturbed ones).
Everything is float64.
"""

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from _torch_family import LOSSES, full_batch, torch_family_gd  # noqa: E402
from _torch_family import activation as torch_activation  # noqa: E402

from labelnoise_sim import SimulationConfig  # noqa: E402
from labelnoise_sim.data import sample_data  # noqa: E402
from labelnoise_sim.reference import full_weight_gd, loss_slope, network, patch_gd  # noqa: E402
from labelnoise_sim.schedule import schedule  # noqa: E402

RTOL = 1e-10
STEPS = 80
SMALL = dict(n=16, d=40, m=3, eta=0.5, tau=0.2, seed=1, steps=STEPS)

CASES = {
    "relu": {},
    "relu^2": dict(activation="relu^2"),
    "relu^1.5": dict(activation="relu^1.5"),
    "leaky_relu": dict(activation="leaky_relu(0.1)"),
    "smoothed_relu": dict(activation="smoothed_relu(3,0.2)"),
    "hinge": dict(loss="hinge"),
    "exponential": dict(loss="exponential"),
    "squared": dict(loss="squared", eta=0.2),
    "patches=3": dict(patches=3),
    "patches=4": dict(patches=4),
    "additive": dict(layout="additive"),
    "bias": dict(bias=True),
    "output_scale=sum": dict(output_scale="sum", eta=0.1),
    "momentum": dict(momentum=0.9, eta=0.1),
    "weight_decay": dict(weight_decay=0.05),
    "sam": dict(sam=0.05),
    "sam with bias": dict(sam=0.05, bias=True),
    "minibatch dividing n": dict(batch_size=4),
    "minibatch not dividing n": dict(batch_size=5),
    "label_noise": dict(label_noise=0.2),
    "relu^2 + label_noise + minibatch + momentum": dict(activation="relu^2", label_noise=0.1, batch_size=6,
                                                         momentum=0.5, eta=0.1),
    "leaky + hinge + bias + momentum + decay": dict(activation="leaky_relu(0.2)", loss="hinge", bias=True,
                                                    momentum=0.9, weight_decay=0.01, eta=0.1),
    "smoothed + sam + patches=3 + bias": dict(activation="smoothed_relu(2,0.1)", sam=0.1, patches=3, bias=True,
                                              eta=0.2),
    "additive + exponential + decay + sam": dict(layout="additive", loss="exponential", weight_decay=0.02, sam=0.05),
    "squared + sum + additive + bias + minibatch": dict(loss="squared", output_scale="sum", layout="additive",
                                                        bias=True, batch_size=5, eta=0.02, sigma0=0.002),
    "everything": dict(activation="leaky_relu(0.05)", loss="logistic", patches=4, bias=True, output_scale="sum",
                       batch_size=7, momentum=0.8, weight_decay=0.01, label_noise=0.1, sam=0.02, eta=0.02),
}


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Run torch on one thread: on these tiny tensors a second thread's hand-offs cost far more than the work.

    With two threads on a busy machine an einsum of a few hundred numbers took 30 ms, against 25 µs on one.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def assert_close(a, b):
    """max |a - b| <= RTOL max |b|: relative to the largest entry, and exact where b is all zeros."""
    assert np.max(np.abs(a - b)) <= RTOL * np.max(np.abs(b))


def assert_same_run(data, config, steps, steps_schedule=None):
    reference = full_weight_gd(data, config.eta, steps, config=config, schedule=steps_schedule)
    if steps_schedule is None:
        steps_schedule = (lambda t: schedule(config, t)) if config.stochastic else full_batch(data.y.shape[0])
    outputs, weights, bias = torch_family_gd(data, config, steps, steps_schedule)
    if config.loss == "logistic":
        assert np.abs(outputs).max() < 20  # no margin where F.softplus(-z) has turned linear
    assert_close(reference.outputs, outputs)
    # The change of the filters, not the filters: W0 would hide an error in the steps.
    assert_close(reference.weights - data.W0, weights - data.W0)
    if config.bias:
        assert_close(reference.bias, bias)
    else:
        assert reference.bias is None
    return reference


@pytest.mark.parametrize("options", CASES.values(), ids=CASES.keys())
def test_reference_steps_are_those_of_autograd_and_torch_sgd(options):
    config = SimulationConfig.from_params(**{**SMALL, **options})
    data = sample_data(config)
    reference = assert_same_run(data, config, STEPS)
    # The run went somewhere: the outputs grew far past those of the initial filters.
    assert np.abs(reference.outputs[-1]).max() > 10 * np.abs(reference.outputs[0]).max()


def test_default_config_is_the_paper_model_in_autograd():
    config = SimulationConfig.from_params(**SMALL)
    data = sample_data(config)
    default = full_weight_gd(data, config.eta, STEPS)
    np.testing.assert_array_equal(default.outputs, assert_same_run(data, config, STEPS).outputs)


def test_a_given_schedule_is_the_one_followed():
    config = SimulationConfig.from_params(**SMALL, bias=True)
    rng = np.random.default_rng(5)
    draws = [(rng.permutation(config.n)[: 3 + t % 5], rng.choice([-1.0, 1.0], 3 + t % 5)) for t in range(STEPS)]
    assert_same_run(sample_data(config), config, STEPS, lambda t: draws[t])


def kink_data(n=8, d=6, m=2, seed=0):
    """Data on which pre-activations and margins sit exactly at the kinks, at step 0.

    μ = e₀ and every ξ_i ⊥ μ; the filter w_{+1,0} = e₀ and the others 0. So
    ⟨w, ξ_i⟩ = 0 for every filter (and ⟨w, y_i μ⟩ = 0 for the zero filters),
    and with output_scale="sum" f(x_i) = σ(y_i) exactly: σ(1) = 1 for y_i = +1
    (a hinge margin of exactly 1 when ỹ_i = +1) and σ(-1) for y_i = -1.
    """
    rng = np.random.default_rng(seed)
    mu = np.zeros(d)
    mu[0] = 1.0
    xi = rng.standard_normal((n, d))
    xi[:, 0] = 0.0
    W0 = np.zeros((2, m, d))
    W0[0, 0, 0] = 1.0
    y = np.where(np.arange(n) % 2 == 0, 1, -1)
    return SimpleNamespace(mu=mu, xi=xi, W0=W0, y=y, y_noisy=y.copy())


@pytest.mark.parametrize("activation", ["relu", "leaky_relu(0.1)", "relu^2"])
@pytest.mark.parametrize("loss", ["hinge", "logistic"])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("sam", [0.0, 0.05])
def test_reference_takes_autograds_slope_at_every_kink(activation, loss, bias, sam):
    # One step: the one taken at the kinks (later steps can return to one only through the symmetry of this data,
    # and which side of it they fall on is then a matter of rounding). ReLU and the hinge loss without bias: the
    # gradient is exactly 0, and so is SAM's perturbation.
    config = SimulationConfig(n=8, d=6, m=2, eta=0.1, steps=1, activation=activation, loss=loss, bias=bias,
                              output_scale="sum", sam=sam)
    data = kink_data()
    reference = assert_same_run(data, config, config.steps)
    np.testing.assert_array_equal(reference.outputs[0][data.y == 1], 1.0)


def test_logistic_slope_is_the_formula_even_where_softplus_turns_linear():
    """ℓ'(z) = -1/(1 + e^z) for all z, as the gradient of F.soft_margin_loss; F.softplus(-z) would give -1 below -20."""
    z = np.linspace(-40, 40, 161)
    margins = torch.tensor(z, requires_grad=True)
    F.soft_margin_loss(margins, torch.ones_like(margins), reduction="sum").backward()
    np.testing.assert_allclose(loss_slope(z, "logistic"), margins.grad.numpy(), rtol=1e-14)


# The data family on plain patches: several signal vectors, several classes, a trained output layer. -------------

#: Tiny runs: torch's steps dominate the time of this file.
TINY = dict(n=10, d=30, m=2, eta=0.2, tau=0.2, seed=3)
FAMILY_STEPS = 30


def family_patches(kind, config, rng, mu_norm=2.0):
    """Random samples shaped as the data family draws them: the patches (n, P, d) and the noisy labels (n,).

    ``kind`` picks the signal patches s_i u_{k_i}: "single" (±μ binary, μ_c = ‖μ‖ e_c per class), "xor"
    (±‖μ‖(e₀ + e₁) for y = +1, ±‖μ‖(e₀ - e₁) for y = -1), "common_rare" (per class c a common ‖μ‖ e_{2c}
    or, with probability 0.3, a rare ‖μ‖ e_{2c+1}) or "random" (a random vector per sample: nothing
    repeats). The noise patches are standard normal; the additive layout adds the one noise vector to the
    signal patch. Labels: ±1 for the binary model, else 0..C-1; 20% of them replaced by another class.
    """
    n, d, C = config.n, config.d, config.classes
    true = rng.integers(0, C, n)  # class 0 <-> y = +1 in the binary model
    e = np.eye(d) * mu_norm
    if kind == "single":
        U, k, s = (e[:1], np.zeros(n, int), 1 - 2 * true) if C == 2 else (e[:C], true, np.ones(n))
    elif kind == "xor":
        U, k, s = np.stack([e[0] + e[1], e[0] - e[1]]), true, rng.choice([-1.0, 1.0], n)
    elif kind == "common_rare":
        U, k, s = e[: 2 * C], 2 * true + (rng.random(n) < 0.3), np.ones(n)
    else:
        U, k, s = rng.standard_normal((n, d)), np.arange(n), np.ones(n)
    signal = s[:, None] * U[k]
    noise = rng.standard_normal((n, config.noise_patches, d))
    if config.layout == "additive":
        patches = (signal + noise[:, 0])[:, None]
    else:
        patches = np.concatenate([signal[:, None], noise], axis=1)
    flipped = rng.random(n) < 0.2
    noisy = np.where(flipped, (true + rng.integers(1, C, n)) % C, true)
    return patches, (1 - 2 * noisy if not config.multiclass else noisy)


def torch_output_weights(config, G, m):
    """v at the start, as a user would set it: ±1/m by group (binary) or 1/m (per class); 1 for "sum"."""
    scale = 1.0 / m if config.output_scale == "mean" else 1.0
    signs = torch.ones(G, m, dtype=torch.float64)
    if not config.multiclass:
        signs[1] = -1.0
    return signs * scale


def torch_patch_gd(patches, labels, W0, v0, config, steps, schedule):
    """The data family's network and steps in PyTorch autograd, float64: outputs, W, b, v at every step.

    The C outputs F_g = Σ_{q in g} v_q Σ_p σ(⟨w_q, x^(p)⟩ + b_q) (binary: f = the sum of both groups'), the
    loss ``F.cross_entropy`` of the outputs (binary: the margin loss of ε ỹ f), ``torch.optim.SGD`` over W, b
    (when trained) and v (when trained); SAM as in ``torch_family_gd``.
    """
    x = torch.tensor(patches)
    G, m, _ = W0.shape
    multiclass = config.multiclass
    targets = torch.tensor(labels, dtype=torch.int64 if multiclass else torch.float64)
    W = torch.tensor(W0, requires_grad=True)
    b = torch.zeros(G, m, dtype=torch.float64, requires_grad=config.bias)
    v = (torch_output_weights(config, G, m) if v0 is None else torch.tensor(v0)).requires_grad_(
        config.output_layer == "trained")
    params = [W] + [b] * config.bias + [v] * (config.output_layer == "trained")
    optimizer = torch.optim.SGD(params, lr=config.eta, momentum=config.momentum, weight_decay=config.weight_decay)
    sigma = torch_activation(config)

    def network(x):
        per_filter = sigma(torch.einsum("npd,grd->ngrp", x, W) + b[None, :, :, None]).sum(dim=3)  # (n, G, m)
        F_ = (per_filter * v).sum(dim=2)  # (n, G)
        return F_ if multiclass else F_.sum(dim=1)

    def loss(indices, signs):
        out = network(x[indices])
        if multiclass:
            return F.cross_entropy(out, targets[indices])
        return LOSSES[config.loss](signs * targets[indices] * out).mean()

    record = [[], [], [], []]
    for t in range(steps + 1):
        with torch.no_grad():
            for rows, value in zip(record, (network(x), W, b, v)):
                rows.append(value.numpy().copy())
        if t == steps:
            break
        indices, signs = (torch.as_tensor(a) for a in schedule(t))
        optimizer.zero_grad()
        loss(indices, signs).backward()
        if config.sam > 0:
            with torch.no_grad():
                norm = torch.norm(torch.stack([p.grad.norm(p=2) for p in params]), p=2)
                unperturbed = [p.clone() for p in params]
                if norm > 0:
                    for p in params:
                        p.add_(p.grad * (config.sam / norm))
            optimizer.zero_grad()
            loss(indices, signs).backward()
            with torch.no_grad():
                for p, p0 in zip(params, unperturbed):
                    p.copy_(p0)
        optimizer.step()
    return [np.array(rows) for rows in record]


FAMILY_CASES = {
    "xor": ("xor", dict(features="xor")),
    "xor + leaky + hinge": ("xor", dict(features="xor", activation="leaky_relu(0.1)", loss="hinge")),
    "common/rare, binary, patches=3": ("common_rare", dict(features="common_rare(0.3)", patches=3)),
    "random patches, bias": ("random", dict(bias=True)),
    "classes=3": ("single", dict(classes=3)),
    "classes=3, cross_entropy": ("single", dict(classes=3, loss="cross_entropy")),
    "classes=4, common/rare, patches=3": ("common_rare", dict(classes=4, features="common_rare(0.3)", patches=3)),
    "classes=2, cross_entropy (two logits)": ("single", dict(loss="cross_entropy")),
    "classes=2, cross_entropy, xor": ("xor", dict(features="xor", loss="cross_entropy")),
    "trained output layer": ("single", dict(output_layer="trained")),
    "trained output layer, sum": ("xor", dict(features="xor", output_layer="trained", output_scale="sum",
                                               eta=0.02)),
    "trained + momentum": ("single", dict(output_layer="trained", momentum=0.9, eta=0.05)),
    "classes=3, trained + momentum": ("single", dict(classes=3, output_layer="trained", momentum=0.9, eta=0.1)),
    "classes=3, weight decay": ("single", dict(classes=3, weight_decay=0.05)),
    "classes=4, trained + weight decay": ("common_rare", dict(classes=4, features="common_rare(0.3)",
                                                              output_layer="trained", weight_decay=0.05)),
    "trained + sam": ("xor", dict(features="xor", output_layer="trained", sam=0.05)),
    "classes=3, sam + bias": ("single", dict(classes=3, sam=0.05, bias=True)),
    "classes=3, trained + sam + bias": ("single", dict(classes=3, output_layer="trained", sam=0.05, bias=True)),
    "classes=3, bias + leaky": ("random", dict(classes=3, bias=True, activation="leaky_relu(0.2)")),
    "classes=4, smoothed_relu": ("single", dict(classes=4, activation="smoothed_relu(2,0.5)")),
    "classes=3, additive": ("single", dict(classes=3, layout="additive")),
    "xor, additive, trained + bias": ("xor", dict(features="xor", layout="additive", output_layer="trained",
                                                  bias=True)),
    "classes=3, minibatch": ("single", dict(classes=3, batch_size=4, output_layer="trained")),
    "xor, trained + label_noise + minibatch": ("xor", dict(features="xor", output_layer="trained", label_noise=0.2,
                                                           batch_size=4)),
    "classes=4, everything": ("common_rare", dict(classes=4, features="common_rare(0.3)", patches=3, bias=True,
                                                  activation="leaky_relu(0.05)", output_layer="trained",
                                                  batch_size=6, momentum=0.8, weight_decay=0.01, sam=0.02,
                                                  eta=0.1)),
}


def assert_same_patch_run(patches, labels, W0, v0, config, steps):
    steps_schedule = (lambda t: schedule(config, t)) if config.stochastic else full_batch(config.n)
    reference = patch_gd(patches, labels, W0, v0, config.eta, steps, config=config)
    outputs, weights, bias, v = torch_patch_gd(patches, labels, W0, v0, config, steps, steps_schedule)
    if not config.multiclass and config.loss == "logistic":
        assert np.abs(outputs).max() < 20  # no margin where F.softplus(-z) has turned linear
    assert reference.outputs.shape == outputs.shape == (steps + 1, config.n) + ((config.classes,) if
                                                                                 config.multiclass else ())
    assert_close(reference.outputs, outputs)
    assert_close(reference.weights - W0, weights - W0)
    if config.bias:
        assert_close(reference.bias, bias)
    else:
        assert reference.bias is None
    if config.output_layer == "trained":
        assert_close(reference.output_weights - v[0], v - v[0])
    else:
        np.testing.assert_array_equal(reference.output_weights, np.broadcast_to(v[0], v.shape))
    assert_close(reference.output_weights, v)
    return reference


@pytest.mark.parametrize("case", FAMILY_CASES.values(), ids=FAMILY_CASES.keys())
def test_patch_gd_steps_are_those_of_autograd_and_torch_sgd(case):
    kind, options = case
    config = SimulationConfig.from_params(**{**TINY, "steps": FAMILY_STEPS, **options})
    rng = np.random.default_rng(7)
    patches, labels = family_patches(kind, config, rng)
    W0 = 0.01 * rng.standard_normal((config.groups, config.m, config.d))
    reference = assert_same_patch_run(patches, labels, W0, None, config, FAMILY_STEPS)
    # The run went somewhere: the outputs grew far past those of the initial filters.
    assert np.abs(reference.outputs[-1]).max() > 10 * np.abs(reference.outputs[0]).max()
    # network() gives the recorded outputs from the recorded parameters.
    last = network(reference.weights[-1], reference.bias[-1] if config.bias else None, patches, config,
                   reference.output_weights[-1])
    assert_close(last, reference.outputs[-1])


@pytest.mark.parametrize("options", [dict(), dict(classes=3, momentum=0.5, sam=0.05, bias=True)],
                         ids=["binary", "classes=3, momentum, sam, bias"])
def test_patch_gd_trains_any_given_output_weights(options):
    config = SimulationConfig.from_params(**{**TINY, "steps": FAMILY_STEPS, "output_layer": "trained", **options})
    rng = np.random.default_rng(11)
    patches, labels = family_patches("random", config, rng)
    W0 = 0.01 * rng.standard_normal((config.groups, config.m, config.d))
    v0 = rng.standard_normal((config.groups, config.m))
    assert_same_patch_run(patches, labels, W0, v0, config, FAMILY_STEPS)


@pytest.mark.parametrize("options", [dict(), dict(output_layer="trained", momentum=0.5, sam=0.05, bias=True,
                                                  weight_decay=0.01, activation="leaky_relu(0.1)")],
                         ids=["fixed", "trained, momentum, sam, bias, decay, leaky"])
def test_binary_logistic_and_two_logit_cross_entropy_are_the_same_run(options):
    """f = F_0 - F_1: softmax cross-entropy of two logits is the logistic loss of their difference.

    The binary model's v = +1/m (group 0, j = +1), -1/m (group 1); the two-logit model's v = +1/m for both,
    and label c = (1 - y) / 2: -log softmax(F)_c = log(1 + e^{-y (F_0 - F_1)}). A trained v of group 1 moves
    in the two models by opposite steps (v ↦ -v commutes with SGD, momentum, decay and SAM's norm).
    """
    binary = SimulationConfig.from_params(**{**TINY, "steps": 40, **options})
    two_logits = binary.replace(loss="cross_entropy")
    rng = np.random.default_rng(5)
    patches, y = family_patches("xor", binary, rng)
    W0 = 0.01 * rng.standard_normal((2, binary.m, binary.d))
    f = patch_gd(patches, y, W0, None, binary.eta, binary.steps, config=binary)
    F_ = patch_gd(patches, (1 - y) // 2, W0, None, binary.eta, binary.steps, config=two_logits)
    assert F_.outputs.shape == (41, binary.n, 2)
    assert_close(F_.outputs[..., 0] - F_.outputs[..., 1], f.outputs)
    assert_close(F_.weights - W0, f.weights - W0)
    assert_close(F_.output_weights * [[1.0], [-1.0]], f.output_weights)
    assert np.abs(f.outputs[-1]).max() > 10 * np.abs(f.outputs[0]).max()


@pytest.mark.parametrize("change, message", [
    (dict(labels=np.zeros(10)), "labels must be \\+1 or -1"),
    (dict(W0=np.zeros((3, 2, 30))), "2 groups"),
    (dict(W0=np.zeros((2, 2, 31))), "W0 must have shape"),
    (dict(v0=np.zeros((2, 3))), "v0 must be None or have shape"),
    (dict(patches=np.zeros((10, 30))), "patches must have shape"),
])
def test_patch_gd_refuses_arrays_that_do_not_fit(change, message):
    arrays = dict(patches=np.zeros((10, 2, 30)), labels=np.ones(10), W0=np.zeros((2, 2, 30)), v0=None)
    with pytest.raises(ValueError, match=message):
        patch_gd(**{**arrays, **change}, eta=0.1, steps=1)
