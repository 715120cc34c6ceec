"""Plain gradient descent on the d-dimensional weights: the oracle.

This is the textbook algorithm, written for clarity, not speed: at every step
it forms the pre-activations of every filter on every patch, the outputs, and
the gradient of the step's loss by hand, then takes the step of
``torch.optim.SGD`` (momentum, weight decay) or of SAM. The test suite checks
:func:`labelnoise_sim.simulate` against it (tests/test_equivalence.py,
tests/test_family_equivalence.py), and checks it against PyTorch autograd
(tests/test_reference_autograd.py); the benchmarks time against it. It costs
:math:`O(m n P d)` per step (twice that with SAM).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import schedule as schedules
from .config import SimulationConfig
from .data import Data

__all__ = ["full_weight_gd", "network", "Trajectory"]

#: The sign j of each class, index 0 is j = +1, index 1 is j = -1; shaped to broadcast over (2, m, n).
JSIGN = np.array([1.0, -1.0])[:, None]


class Trajectory(NamedTuple):
    """The recorded steps of :func:`full_weight_gd` and the run at those steps.

    Attributes
    ----------
    t : ndarray of int64, shape (K,)
        Recorded steps.
    outputs : ndarray of float64, shape (K, n)
        :math:`f(x_i)` on the training set.
    weights : ndarray of float64, shape (K, 2, m, d)
        The filters :math:`w_{j,r}`.
    bias : ndarray of float64, shape (K, 2, m), or None
        :math:`b_{j,r}` when the bias is trained, else None.
    """

    t: np.ndarray  #: recorded steps (K,)
    outputs: np.ndarray  #: :math:`f(x_i)` on the training set (K, n)
    weights: np.ndarray  #: filters :math:`w_{j,r}` (K, 2, m, d)
    bias: np.ndarray | None  #: :math:`b_{j,r}` (K, 2, m) when the bias is trained, else None


def activation(config: SimulationConfig):
    """σ and σ' of ``config.activation``, elementwise; σ' takes PyTorch autograd's value at a kink.

    relu: σ'(0) = 0 (``z > 0``); leaky_relu(a): σ'(0) = a, as ``F.leaky_relu``'s
    backward. relu^q and smoothed_relu have continuous slopes, 0 at z <= 0.
    """
    kind, params = config.activation_kind
    if kind == "relu":
        return (lambda z: np.maximum(z, 0)), (lambda z: z > 0)
    if kind == "relu^q":
        (q,) = params
        # max(z, 0) inside the power: a negative base with a fractional exponent is NaN.
        return (lambda z: np.maximum(z, 0) ** q), (lambda z: np.where(z > 0, q * np.maximum(z, 0) ** (q - 1), 0.0))
    if kind == "leaky_relu":
        (a,) = params
        return (lambda z: np.where(z > 0, z, a * z)), (lambda z: np.where(z > 0, 1.0, a))

    q, kappa = params

    def smoothed(z):
        return np.where(z <= 0, 0.0, np.where(z <= kappa, np.maximum(z, 0) ** q / (q * kappa ** (q - 1)),
                                              z - (1 - 1 / q) * kappa))

    def smoothed_slope(z):
        return np.where(z <= 0, 0.0, np.where(z <= kappa, (np.maximum(z, 0) / kappa) ** (q - 1), 1.0))

    return smoothed, smoothed_slope


def loss_slope(z, loss: str):
    """ℓ'(z) of the loss named ``loss`` at the margins z; hinge takes ``torch.relu(1 - z)``'s slope, 0 at z = 1."""
    if loss == "logistic":
        with np.errstate(over="ignore"):  # e^z = inf past z = 709 gives the limit, -0
            return -1.0 / (1.0 + np.exp(z))
    if loss == "hinge":
        return np.where(z < 1, -1.0, 0.0)
    if loss == "exponential":
        return -np.exp(-z)
    return z - 1.0


def network(W, b, patches, config: SimulationConfig | None = None):
    r"""The network's outputs on explicit patches.

    :math:`f(x_i) = s \sum_j j \sum_r \sum_p \sigma(\langle w_{j,r}, x_i^{(p)} \rangle + b_{j,r})`, with
    :math:`s = 1/m` or 1 as ``config.output_scale`` says. :func:`full_weight_gd` forms the same sum with
    the signal patch apart.

    Parameters
    ----------
    W : ndarray of float64, shape (2, m, d)
        The filters.
    b : ndarray of float64, shape (2, m)
        The bias.
    patches : ndarray of float64, shape (n, P, d)
        The patches of each sample, in any order (the additive layout is :math:`P = 1` patch
        :math:`y_i \mu + \xi_i`).
    config : SimulationConfig or None, default None
        The activation and the output scale; None for the defaults (ReLU, :math:`s = 1/m`).

    Returns
    -------
    ndarray of float64, shape (n,)
        :math:`f(x_i)`.
    """
    config = SimulationConfig() if config is None else config
    sigma, _ = activation(config)
    pre = np.einsum("npd,jrd->jrnp", patches, W) + b[:, :, None, None]  # (2, m, n, P)
    divisor = W.shape[1] if config.output_scale == "mean" else 1
    return (JSIGN * sigma(pre).sum(axis=3).sum(axis=1)).sum(axis=0) / divisor


def _full_batch(n: int):
    return lambda step: (np.arange(n), np.ones(n))


def full_weight_gd(data: Data, eta: float, steps: int, record_steps=None, *, config: SimulationConfig | None = None,
                   schedule=None) -> Trajectory:
    r"""Train the filters :math:`W \in \mathbb{R}^{2 \times m \times d}` from ``data.W0`` (and the bias :math:`b \in \mathbb{R}^{2 \times m}` from 0) on the raw weights.

    The network, with :math:`s = 1/m` (``output_scale="mean"``) or 1 (``"sum"``), :math:`\sigma` the
    activation and :math:`b = 0` unless ``config.bias``:

    .. math::

        \text{patches:} \quad f(x_i) &= s \sum_j j \sum_r \Big[\sigma(\langle w_{j,r}, y_i \mu \rangle + b_{j,r})
            + \sum_p \sigma(\langle w_{j,r}, \xi_{i,p} \rangle + b_{j,r})\Big]

        \text{additive:} \quad f(x_i) &= s \sum_j j \sum_r \sigma(\langle w_{j,r}, y_i \mu + \xi_i \rangle + b_{j,r})

    with :math:`\xi_{i,p}` the :math:`P - 1` noise patches of sample :math:`i` (``data.xi`` (n, d) or
    (n, P - 1, d)). The loss of step :math:`t`, over the minibatch :math:`B_t` with label
    multipliers :math:`\varepsilon_{t,i} = \pm 1`, ``(B_t, ε_t) = schedule(t)``:

    .. math::

        L_t(W, b) = \frac{1}{|B_t|} \sum_{i \in B_t} \ell(\varepsilon_{t,i} \tilde y_i f(x_i)),

    whose gradient, with
    :math:`c_{j,i} = j s \ell'(\varepsilon_{t,i} \tilde y_i f(x_i)) \varepsilon_{t,i} \tilde y_i / |B_t|`
    for :math:`i \in B_t` (0 otherwise), is:

    .. math::

        \text{patches:} \quad \frac{\partial L_t}{\partial w_{j,r}}
            &= \sum_i c_{j,i} \Big[\sigma'(\cdot) y_i \mu + \sum_p \sigma'(\cdot) \xi_{i,p}\Big],

        \frac{\partial L_t}{\partial b_{j,r}} &= \sum_i c_{j,i} \Big[\sigma'(\cdot) + \sum_p \sigma'(\cdot)\Big]

        \text{additive:} \quad \frac{\partial L_t}{\partial w_{j,r}}
            &= \sum_i c_{j,i} \sigma'(\cdot) (y_i \mu + \xi_i),
        \qquad \frac{\partial L_t}{\partial b_{j,r}} = \sum_i c_{j,i} \sigma'(\cdot)

    each :math:`\sigma'` at the pre-activation of its patch. The step is torch.optim.SGD's
    on :math:`\theta = (W, b)` (:math:`b` only when trained), with :math:`\lambda` = ``weight_decay`` and
    :math:`\beta` = ``momentum``:

    .. math::

        & g = \nabla L_t(\theta + e) + \lambda \theta, \qquad v = \beta v + g \ (v = g \text{ at step } 0),

        & \theta \leftarrow \theta - \eta v \quad (\theta \leftarrow \theta - \eta g \text{ without momentum})

    where :math:`e = 0` without SAM, and with SAM of radius :math:`r`,
    :math:`e = r \nabla L_t(\theta) / \|\nabla L_t(\theta)\|`
    (the norm over all of :math:`\theta`; :math:`e = 0` if it vanishes), on the same minibatch and
    labels. ``config=None`` is the paper's model: ReLU, logistic loss, two
    patches, :math:`s = 1/m`, full-batch plain gradient descent.

    Parameters
    ----------
    data : Data
        Only ``mu`` (d,), ``xi``, ``W0`` (2, m, d), ``y`` and ``y_noisy`` (n,)
        are read, so any object holding them will do.
    eta : float
        The learning rate :math:`\eta` (``config.eta`` is not read).
    steps : int
        Gradient steps; the schedule is asked for the steps 0..steps-1.
    record_steps : array of int, optional
        The steps to record (every step by default).
    config : SimulationConfig, optional
        The model and optimizer options; the sizes come from ``data``.
    schedule : callable, optional
        ``schedule(t) -> (indices (|B_t|,), signs (|B_t|,))`` with distinct
        indices. By default the full batch with every sign +1, or for a
        stochastic ``config`` :func:`labelnoise_sim.schedule.schedule`.

    Returns
    -------
    Trajectory
        ``t`` (K,), ``outputs`` (K, n), ``weights`` (K, 2, m, d) and ``bias``
        (K, 2, m) (None unless ``config.bias``) at the recorded steps.
    """
    config = SimulationConfig() if config is None else config
    mu, W = data.mu, data.W0.copy()
    y = data.y.astype(np.float64)
    y_noisy = data.y_noisy.astype(np.float64)
    n, m, d = y.shape[0], W.shape[1], W.shape[2]
    P1 = config.noise_patches
    additive = config.layout == "additive"
    xi = data.xi.reshape(n * P1, d)  # noise vector k = i (P - 1) + p
    X = y[:, None] * mu + xi if additive else None  # (n, d): the one vector of each sample
    divisor = m if config.output_scale == "mean" else 1
    sigma, slope = activation(config)
    if schedule is None:
        schedule = (lambda step: schedules.schedule(config, step)) if config.stochastic else _full_batch(n)
    record = np.arange(steps + 1) if record_steps is None else np.asarray(record_steps)

    def forward(W, b):
        """Pre-activations of the signal patch (2, m, n) and of the noise patches (2, m, n, P - 1), and f (n,).

        Additive layout: the pre-activations of y_i μ + ξ_i (2, m, n), None, and f.
        """
        if additive:
            signal, noise = W @ X.T + b[:, :, None], None
            per_filter = sigma(signal)
        else:
            signal = (W @ mu)[:, :, None] * y + b[:, :, None]  # ⟨w, y_i μ⟩ = y_i ⟨w, μ⟩
            noise = (W @ xi.T).reshape(2, m, n, P1) + b[:, :, None, None]
            per_filter = sigma(signal) + sigma(noise).sum(axis=3)
        return signal, noise, (JSIGN * per_filter.sum(axis=1)).sum(axis=0) / divisor

    def gradient(state, member, labels, size):
        """(∂L_t/∂W, ∂L_t/∂b) at the point whose ``forward`` is ``state``.

        The loss is over the samples whose ``member`` is 1, of ``size`` in all, with the labels ε ỹ.
        """
        signal, noise, f = state
        dloss = loss_slope(labels * f, config.loss)
        coef = (dloss * labels * member)[None, None, :] * JSIGN[:, :, None] / (size * divisor)  # c_{j,i}, (2, 1, n)
        if additive:
            weighted = coef * slope(signal)
            return weighted @ X, weighted.sum(axis=2)
        weighted_signal = coef * slope(signal)  # (2, m, n)
        weighted_noise = coef[:, :, :, None] * slope(noise)  # (2, m, n, P - 1)
        grad_W = (weighted_signal * y @ np.ones(n))[:, :, None] * mu + weighted_noise.reshape(2, m, n * P1) @ xi
        return grad_W, weighted_signal.sum(axis=2) + weighted_noise.sum(axis=(2, 3))

    # θ = [W] or [W, b], as the parameter list given to torch.optim.SGD.
    theta = [W, np.zeros((2, m))]
    trained = 2 if config.bias else 1
    buffers = [None] * trained
    outs, weights, biases = [], [], []
    for t in range(steps + 1):
        W, b = theta
        state = forward(W, b)
        if t in record:
            outs.append(state[2])
            weights.append(W.copy())
            biases.append(b.copy())
        if t == steps:
            break
        indices, signs = schedule(t)
        member = np.zeros(n)
        member[indices] = 1.0
        labels = y_noisy.copy()
        labels[indices] = signs * y_noisy[indices]
        grads = gradient(state, member, labels, len(indices))[:trained]
        if config.sam > 0:
            norm = np.sqrt(sum((g**2).sum() for g in grads))
            if norm > 0:
                e = [config.sam / norm * g for g in grads] + [0.0] * (2 - trained)
                grads = gradient(forward(W + e[0], b + e[1]), member, labels, len(indices))[:trained]
        for k, g in enumerate(grads):
            if config.weight_decay:
                g = g + config.weight_decay * theta[k]
            if config.momentum:
                buffers[k] = g if t == 0 else config.momentum * buffers[k] + g
                g = buffers[k]
            theta[k] = theta[k] - eta * g
    return Trajectory(record, np.array(outs), np.array(weights), np.array(biases) if config.bias else None)
