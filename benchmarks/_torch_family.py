"""The model family in PyTorch, written as a user would write it: autograd's answer for every option.

The ground truth of tests/test_reference_autograd.py (which checks
``labelnoise_sim.reference`` against it) and the baseline of
bench_family_autograd.py (which checks ``simulate`` against it). Nothing here
is derived by hand:

- every patch of a sample goes through the same filters W (2, m, d), plus the
  bias b (2, m) when it is trained: ``einsum`` over the (n, P, d) patches (the
  signal patch y_i μ first, then the noise patches; one patch y_i μ + ξ_i for
  the additive layout);
- the activations are ``torch.relu``, ``torch.relu(z) ** q``,
  ``F.leaky_relu`` and, for smoothed_relu, a ``torch.where`` of the two pieces;
- the losses are ``F.softplus(-z)``, ``torch.relu(1 - z)``, ``torch.exp(-z)``
  and ``(1 - z) ** 2 / 2`` of the margins z = ε ỹ f on the step's minibatch,
  averaged;
- ``loss.backward()`` and ``torch.optim.SGD(lr, momentum, weight_decay)``;
  SAM by hand as the sam package of davda54 does it: the gradient at the
  weights moved by ρ g/‖g‖ (‖g‖ over all parameters, no 1e-12 added), then
  the optimizer's step from the unmoved weights.
"""

from __future__ import annotations

import numpy as np
import torch

F = torch.nn.functional

LOSSES = {
    # Linear past -z = 20 (softplus's threshold): its slope there is -1, not -1/(1 + e^z), 2e-9 off at z = -20.
    "logistic": lambda z: F.softplus(-z),
    "hinge": lambda z: torch.relu(1 - z),
    "exponential": lambda z: torch.exp(-z),
    "squared": lambda z: (1 - z) ** 2 / 2,
}


def activation(config):
    """σ of ``config.activation`` as torch code."""
    kind, params = config.activation_kind
    if kind == "relu":
        return torch.relu
    if kind == "relu^q":
        return lambda z: torch.relu(z) ** params[0]
    if kind == "leaky_relu":
        return lambda z: F.leaky_relu(z, params[0])
    q, kappa = params
    # relu inside the power keeps the branch that where() discards finite (a NaN there would poison the gradient).
    return lambda z: torch.where(z <= kappa, torch.relu(z) ** q / (q * kappa ** (q - 1)), z - (1 - 1 / q) * kappa)


def full_batch(n: int):
    """The schedule of full-batch gradient descent: every sample, every sign +1."""
    return lambda step: (np.arange(n), np.ones(n))


def torch_family_gd(data, config, steps: int, schedule, record=None):
    """Train the network of ``config`` on ``data`` with autograd, float64.

    ``schedule(t) -> (indices, signs)`` gives the minibatch and label signs of
    step t. Returns the outputs (K, n), filters (K, 2, m, d) and bias (K, 2, m)
    at the steps in ``record`` (every step by default).
    """
    n, m, d = data.y.shape[0], data.W0.shape[1], data.W0.shape[2]
    record = set(range(steps + 1) if record is None else (int(s) for s in record))
    y = torch.tensor(data.y, dtype=torch.float64)
    y_noisy = torch.tensor(data.y_noisy, dtype=torch.float64)
    mu = torch.tensor(data.mu)
    xi = torch.tensor(data.xi).reshape(n, -1, d)
    if config.layout == "additive":
        x = (y[:, None] * mu + xi[:, 0])[:, None, :]  # (n, 1, d)
    else:
        x = torch.cat([(y[:, None] * mu)[:, None, :], xi], dim=1)  # (n, P, d), the signal patch first
    W = torch.tensor(data.W0, requires_grad=True)
    b = torch.zeros(2, m, dtype=torch.float64, requires_grad=config.bias)
    params = [W, b] if config.bias else [W]
    optimizer = torch.optim.SGD(params, lr=config.eta, momentum=config.momentum, weight_decay=config.weight_decay)
    sigma, ell = activation(config), LOSSES[config.loss]

    def network(x):
        per_class = sigma(torch.einsum("npd,jrd->njrp", x, W) + b[None, :, :, None]).sum(dim=(2, 3))  # (n, 2)
        f = per_class[:, 0] - per_class[:, 1]
        return f / m if config.output_scale == "mean" else f

    def loss(indices, signs):
        return ell(signs * y_noisy[indices] * network(x[indices])).mean()

    outputs, weights, biases = [], [], []
    for t in range(steps + 1):
        if t in record:
            with torch.no_grad():
                outputs.append(network(x).numpy().copy())
                weights.append(W.numpy().copy())
                biases.append(b.numpy().copy())
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
    return np.array(outputs), np.array(weights), np.array(biases)
