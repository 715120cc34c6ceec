"""The reference takes the steps PyTorch autograd and torch.optim.SGD take, for every option of the model family.

This is what makes ``reference.full_weight_gd`` an oracle: its gradients are
written by hand, so here they meet autograd's. The PyTorch side
(benchmarks/_torch_family.py) is written as a user would write the model:
every patch of a sample through the same filters, the activation as
``torch.relu``, ``F.leaky_relu`` or a ``torch.where``, the loss as
``F.softplus(-z)``, ``torch.relu(1 - z)``, ``torch.exp(-z)`` or
``(1 - z)**2 / 2``, ``loss.backward()`` and ``torch.optim.SGD`` with its
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

from _torch_family import full_batch, torch_family_gd  # noqa: E402

from labelnoise_sim import SimulationConfig  # noqa: E402
from labelnoise_sim.data import sample_data  # noqa: E402
from labelnoise_sim.reference import full_weight_gd, loss_slope  # noqa: E402
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
