"""Plain gradient descent on the d-dimensional weights: the oracle.

This is the textbook algorithm, written for clarity, not speed: at every step
it forms the pre-activations of every filter on every patch, the outputs, and
the gradient of the step's loss by hand, then takes the step of
``torch.optim.SGD`` (momentum, weight decay) or of SAM. The test suite checks
:func:`labelnoise_sim.simulate` against it (tests/test_equivalence.py,
tests/test_family_equivalence.py), and checks it against PyTorch autograd
(tests/test_reference_autograd.py); the benchmarks time against it. It costs
:math:`O(G m n P d)` per step (twice that with SAM).

:func:`patch_gd` is the algorithm on plain arrays: the patches of every sample,
the labels, the initial filters and output weights; it knows nothing of how
the samples were drawn (any ``features`` option, any layout: it sees patches).
:func:`full_weight_gd` runs it on the patches of a
:class:`~labelnoise_sim.data.Data`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import schedule as schedules
from .config import SimulationConfig
from .data import Data

__all__ = ["full_weight_gd", "patch_gd", "network", "initial_output_weights", "Trajectory"]


class Trajectory(NamedTuple):
    """The recorded steps of :func:`patch_gd` (or :func:`full_weight_gd`) and the run at those steps.

    Attributes
    ----------
    t : ndarray of int64, shape (K,)
        Recorded steps.
    outputs : ndarray of float64, shape (K, n) or (K, n, C)
        On the training set: :math:`f(x_i)` for the binary model, the C outputs
        :math:`F_g(x_i)` for a model with one output per class (``config.multiclass``).
    weights : ndarray of float64, shape (K, G, m, d)
        The filters :math:`w_q`, G groups of m (G = 2 for the binary model: :math:`w_{+1,r}`, then :math:`w_{-1,r}`).
    bias : ndarray of float64, shape (K, G, m), or None
        :math:`b_q` when the bias is trained, else None.
    output_weights : ndarray of float64, shape (K, G, m)
        The output weights :math:`v_q`, always filled: constant when the output layer is fixed.
    """

    t: np.ndarray  #: recorded steps (K,)
    outputs: np.ndarray  #: :math:`f(x_i)` (K, n), or :math:`F_g(x_i)` (K, n, C), on the training set
    weights: np.ndarray  #: filters :math:`w_q` (K, G, m, d)
    bias: np.ndarray | None  #: :math:`b_q` (K, G, m) when the bias is trained, else None
    output_weights: np.ndarray  #: output weights :math:`v_q` (K, G, m), constant for a fixed output layer


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




def softmax_slope(F, classes):
    r"""The slope of the softmax cross-entropy in the outputs: :math:`\mathrm{softmax}(F_i)_g - [g = c_i]`.

    ``F`` (n, C) holds the outputs, ``classes`` (n,) the labels in 0..C-1; the softmax is taken
    after subtracting each row's largest output, so no exponential overflows.
    """
    z = np.exp(F - F.max(axis=1, keepdims=True))
    slope = z / z.sum(axis=1, keepdims=True)
    slope[np.arange(F.shape[0]), classes] -= 1.0
    return slope


def _output_layer(config: SimulationConfig, groups: int, m: int):
    """The fixed output layer as numerators and a divisor: v_q = a_q / s.

    a_q = j = ±1 by group for the binary model (+1 for the first m filters), 1 for every filter of a model with
    one output per class; s = m for ``output_scale="mean"``, 1 for ``"sum"``.
    """
    if config.multiclass:
        signs = np.ones((groups, m))
    else:
        if groups != 2:
            raise ValueError(f"the binary model has 2 groups of filters (j = +1 and j = -1); got {groups} groups")
        signs = np.repeat([[1.0], [-1.0]], m, axis=1)
    return signs, (m if config.output_scale == "mean" else 1)


def initial_output_weights(config: SimulationConfig, m: int | None = None) -> np.ndarray:
    r"""The output weights :math:`v_q` a run starts from (and keeps, with ``output_layer="fixed"``).

    Binary model: :math:`v = +1/m` for the m filters of group 0 (:math:`j = +1`) and :math:`-1/m` for those
    of group 1 (:math:`j = -1`); one output per class: :math:`v = 1/m` for every filter. With
    ``output_scale="sum"`` the same with 1 in place of :math:`1/m`.

    Parameters
    ----------
    config : SimulationConfig
        The model: ``classes``, ``loss`` and ``output_scale`` are read.
    m : int, optional
        Filters per group; ``config.m`` by default.

    Returns
    -------
    ndarray of float64, shape (G, m)
        :math:`v_q`, with :math:`G` = ``config.groups``.
    """
    m = config.m if m is None else m
    signs, divisor = _output_layer(config, config.groups, m)
    return signs / divisor


def _outputs(a, s, per_filter, multiclass: bool):
    r"""The network's outputs from :math:`S_{q,i} = \sum_p \sigma(\cdot)` (G, m, n) and :math:`v = a / s`.

    Binary: f (n,) = (Σ_q a_q S_q) / s; multiclass: F (n, G), F_g = (Σ_{q in g} a_q S_q) / s. The division comes
    last, as the reference always formed (Σ_j j Σ_r S_{j,r}) / m: that keeps its bits.
    """
    per_group = (a[:, :, None] * per_filter).sum(axis=1)  # (G, n)
    return (per_group / s).T.copy() if multiclass else per_group.sum(axis=0) / s


def network(W, b, patches, config: SimulationConfig | None = None, v=None):
    r"""The network's outputs on explicit patches.

    Binary model: :math:`f(x_i) = \sum_q v_q \sum_p \sigma(\langle w_q, x_i^{(p)} \rangle + b_q)`;
    with one output per class (``config.multiclass``), one such sum :math:`F_g(x_i)` over the filters of each
    group g. :func:`patch_gd` forms the same sums.

    Parameters
    ----------
    W : ndarray of float64, shape (G, m, d)
        The filters, G = 2 for the binary model.
    b : ndarray of float64, shape (G, m), or None
        The bias; None for none.
    patches : ndarray of float64, shape (n, P, d)
        The patches of each sample, in any order (the additive layout is :math:`P = 1` patch
        :math:`s_i u_{k_i} + \xi_i`).
    config : SimulationConfig or None, default None
        The activation, the kind of model and the output scale; None for the defaults (ReLU, binary,
        :math:`v = \pm 1/m`).
    v : ndarray of float64, shape (G, m), optional
        The output weights :math:`v_q`; by default :func:`initial_output_weights`, the fixed output layer.

    Returns
    -------
    ndarray of float64, shape (n,) or (n, C)
        :math:`f(x_i)`, or :math:`F_g(x_i)` with one output per class.
    """
    config = SimulationConfig() if config is None else config
    sigma, _ = activation(config)
    W = np.asarray(W, dtype=np.float64)
    G, m = W.shape[:2]
    a, s = _output_layer(config, G, m) if v is None else (np.asarray(v, dtype=np.float64), 1)
    pre = np.einsum("npd,grd->grnp", np.asarray(patches, dtype=np.float64), W)
    if b is not None:
        pre = pre + np.asarray(b)[:, :, None, None]
    return _outputs(a, s, sigma(pre).sum(axis=3), config.multiclass)


def _repeated_vectors(rows):
    """Split the rows (N, d) into vectors repeated up to sign and the rows that are not.

    Returns the repeated vectors as a list of (u (d,), the rows equal to ±u, their signs (float64)), in the
    order of first appearance, and the indices of the other rows. u is the vector with its first nonzero
    coordinate positive, so row = sign * u exactly.
    """
    nonzero = rows != 0
    first = np.argmax(nonzero, axis=1)
    sign = np.where(rows[np.arange(len(rows)), first] < 0, -1.0, 1.0)
    canonical = rows * sign[:, None] + 0.0  # + 0.0: a -0.0 coordinate is 0.0, so that equal vectors have equal bytes
    members: dict[bytes, list[int]] = {}
    for k, row in enumerate(canonical):
        members.setdefault(row.tobytes(), []).append(k)
    repeated = [np.array(ks) for ks in members.values() if len(ks) > 1]
    others = np.array(sorted(k for ks in members.values() if len(ks) == 1 for k in ks), dtype=np.int64)
    return [(canonical[ks[0]], ks, sign[ks]) for ks in repeated], others


def _full_batch(n: int):
    return lambda step: (np.arange(n), np.ones(n))


def _check_arrays(patches, labels, W0, v0, config: SimulationConfig):
    """The arrays of :func:`patch_gd` as float64 (labels: float ±1, or int64 classes), checked together."""
    patches = np.asarray(patches, dtype=np.float64)
    W0 = np.asarray(W0, dtype=np.float64)
    if patches.ndim != 3:
        raise ValueError(f"patches must have shape (n, P, d); got shape {patches.shape}")
    n, _, d = patches.shape
    if W0.ndim != 3 or W0.shape[2] != d:
        raise ValueError(f"W0 must have shape (G, m, d) with d = {d}, the patches' dimension; got shape {W0.shape}")
    G, m = W0.shape[:2]
    if v0 is not None:
        v0 = np.asarray(v0, dtype=np.float64)
        if v0.shape != (G, m):
            raise ValueError(f"v0 must be None or have shape (G, m) = {(G, m)}, as W0; got shape {v0.shape}")
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape (n,) = ({n},), one per sample; got shape {labels.shape}")
    if config.multiclass:
        if G != config.classes:
            raise ValueError(f"W0 must have one group of filters per class, {config.classes}; got {G} groups")
        if not np.all((labels == np.round(labels)) & (labels >= 0) & (labels < G)):
            raise ValueError(f"labels must be classes 0..{G - 1} with one output per class; got {labels!r}")
        labels = labels.astype(np.int64)
    else:
        if G != 2:
            raise ValueError(f"W0 must have 2 groups of filters (j = +1, j = -1) for the binary model; got {G}")
        if not np.all(np.abs(labels) == 1):
            raise ValueError(f"labels must be +1 or -1 for the binary model; got {labels!r}")
        labels = labels.astype(np.float64)
    return patches, labels, W0, v0


def patch_gd(patches, labels, W0, v0, eta: float, steps: int, record_steps=None, *,
             config: SimulationConfig | None = None, schedule=None) -> Trajectory:
    r"""Train the filters :math:`w_q \in \mathbb{R}^d` (and the bias, the output weights) on given patches.

    The network has G groups of m filters :math:`w_q`, each with a bias :math:`b_q` (0 and untrained unless
    ``config.bias``) and an output weight :math:`v_q`. Each sample :math:`i` is its P patches
    :math:`x_i^{(p)}`, all through the same filters:

    .. math::

        S_{q,i} = \sum_p \sigma(\langle w_q, x_i^{(p)} \rangle + b_q).

    The binary model (G = 2) has one output, :math:`f(x_i) = \sum_q v_q S_{q,i}`, and labels
    :math:`\tilde y_i = \pm 1`; a model with one output per class (``config.multiclass``, G = C) has
    :math:`F_g(x_i) = \sum_{q \in g} v_q S_{q,i}` and labels :math:`\tilde c_i \in \{0, \dots, C - 1\}`.
    The loss of step :math:`t`, over the minibatch :math:`B_t` with label multipliers
    :math:`\varepsilon_{t,i} = \pm 1`, ``(B_t, ε_t) = schedule(t)`` (binary only: with one output per
    class every :math:`\varepsilon_{t,i}` must be +1):

    .. math::

        \text{binary:} \quad L_t &= \frac{1}{|B_t|} \sum_{i \in B_t} \ell(\varepsilon_{t,i} \tilde y_i f(x_i)),

        \text{one output per class:} \quad L_t &= \frac{1}{|B_t|} \sum_{i \in B_t}
            -\log \operatorname{softmax}(F(x_i))_{\tilde c_i}.

    With :math:`\delta_{i,g} = \partial L_t / \partial F_g(x_i)` (binary: the same for both groups,
    :math:`\ell'(\varepsilon_{t,i} \tilde y_i f(x_i)) \varepsilon_{t,i} \tilde y_i / |B_t|`; per class:
    :math:`(\operatorname{softmax}(F(x_i))_g - [g = \tilde c_i]) / |B_t|`; 0 for :math:`i \notin B_t`)
    and :math:`g(q)` the group of filter :math:`q`, the gradient is

    .. math::

        \frac{\partial L_t}{\partial w_q} &= \sum_i \delta_{i,g(q)} v_q \sum_p \sigma'(\cdot) x_i^{(p)},
        \qquad \frac{\partial L_t}{\partial b_q} = \sum_i \delta_{i,g(q)} v_q \sum_p \sigma'(\cdot),

        \frac{\partial L_t}{\partial v_q} &= \sum_i \delta_{i,g(q)} S_{q,i},

    each :math:`\sigma'` at the pre-activation of its patch. The step is torch.optim.SGD's on the trained
    parameters :math:`\theta`: :math:`W`, with :math:`b` when ``config.bias`` and :math:`v` when
    ``config.output_layer == "trained"``; with :math:`\lambda` = ``weight_decay`` and :math:`\beta` =
    ``momentum``:

    .. math::

        & g = \nabla L_t(\theta + e) + \lambda \theta, \qquad u = \beta u + g \ (u = g \text{ at step } 0),

        & \theta \leftarrow \theta - \eta u \quad (\theta \leftarrow \theta - \eta g \text{ without momentum})

    where :math:`e = 0` without SAM, and with SAM of radius :math:`r`,
    :math:`e = r \nabla L_t(\theta) / \|\nabla L_t(\theta)\|` (the norm over all of :math:`\theta`,
    :math:`v` included when trained; :math:`e = 0` if it vanishes), on the same minibatch and labels.

    The sums are the textbook ones, in an order that keeps the bits the reference has always given for
    the paper's model: a vector that several patches repeat up to sign (the signal vectors) is dotted with
    each filter once, :math:`\langle w, s u \rangle = s \langle w, u \rangle`, the other patches in one
    matrix product; with ``v0=None`` and a fixed output layer, :math:`v_q = a_q / s` (:math:`a_q = \pm 1`,
    :math:`s = m` or 1) and :math:`f = (\sum_q a_q S_q) / s`, the division last.

    Parameters
    ----------
    patches : array_like of float, shape (n, P, d)
        The patches of every sample, in any order; the additive layout is :math:`P = 1`.
    labels : array_like, shape (n,)
        :math:`\tilde y_i = \pm 1` for the binary model, :math:`\tilde c_i \in \{0, \dots, C - 1\}` with one
        output per class.
    W0 : array_like of float, shape (G, m, d)
        The initial filters: G = 2 for the binary model (group 0 the :math:`j = +1` filters), G = C with one
        output per class.
    v0 : array_like of float, shape (G, m), or None
        The initial output weights :math:`v_q`; None for the model's own, :func:`initial_output_weights`
        (:math:`\pm 1/m`, or :math:`1/m` per class; 1 in place of :math:`1/m` with ``output_scale="sum"``).
    eta : float
        The learning rate :math:`\eta` (``config.eta`` is not read).
    steps : int
        Gradient steps; the schedule is asked for the steps 0..steps-1.
    record_steps : array of int, optional
        The steps to record (every step by default).
    config : SimulationConfig, optional
        The model and optimizer options (activation, loss, classes, bias, output_scale, output_layer,
        momentum, weight_decay, sam and, for the default schedule, batch_size and label_noise); the sizes come
        from the arrays, and ``layout``, ``patches`` and ``features`` are not read: the patches are the
        samples. None for the paper's model: ReLU, logistic loss, :math:`v = \pm 1/m` fixed, full-batch
        plain gradient descent.
    schedule : callable, optional
        ``schedule(t) -> (indices (|B_t|,), signs (|B_t|,))`` with distinct indices. By default the full
        batch with every sign +1, or for a stochastic ``config`` :func:`labelnoise_sim.schedule.schedule`
        (which needs ``config.n`` = n).

    Returns
    -------
    Trajectory
        ``t`` (K,), ``outputs`` (K, n) or (K, n, C), ``weights`` (K, G, m, d), ``bias`` (K, G, m) (None
        unless ``config.bias``) and ``output_weights`` (K, G, m) at the recorded steps.

    Raises
    ------
    ValueError
        For arrays whose shapes do not fit together or with ``config`` (G = 2 for the binary model, C with one
        output per class), labels outside ±1 or 0..C-1, or a schedule that flips a label of a model with one
        output per class.
    """
    config = SimulationConfig() if config is None else config
    patches, labels, W, v0 = _check_arrays(patches, labels, W0, v0, config)
    W = W.copy()
    n, P, d = patches.shape
    G, m = W.shape[:2]
    multiclass = config.multiclass
    trained_output = config.output_layer == "trained"
    a, s = _output_layer(config, G, m) if v0 is None else (v0.copy(), 1)
    if trained_output and s != 1:
        a, s = a / s, 1  # v itself is the parameter SGD moves
    sigma, slope = activation(config)
    rows = patches.reshape(n * P, d)
    repeated, others = _repeated_vectors(rows)
    U = rows[others]  # (N', d): the patches no other patch repeats
    if schedule is None:
        if config.stochastic and config.n != n:
            raise ValueError(f"the default schedule of a stochastic config draws for config.n = {config.n} samples; "
                             f"the patches have n = {n}: give a schedule, or a config with n = {n}")
        schedule = (lambda step: schedules.schedule(config, step)) if config.stochastic else _full_batch(n)
    record = np.arange(steps + 1) if record_steps is None else np.asarray(record_steps)

    def forward(W, b, a):
        """Pre-activations of patch 0 (G, m, n) and of the others (G, m, n, P - 1) or None, S (G, m, n), outputs."""
        dots = np.empty((G, m, n * P))
        for u, members, signs in repeated:
            dots[:, :, members] = (W @ u)[:, :, None] * signs
        if len(others):
            dots[:, :, others] = W @ U.T
        dots = dots.reshape(G, m, n, P)
        first = dots[..., 0] + b[:, :, None]
        rest = dots[..., 1:] + b[:, :, None, None] if P > 1 else None
        per_filter = sigma(first) if rest is None else sigma(first) + sigma(rest).sum(axis=3)
        return first, rest, per_filter, _outputs(a, s, per_filter, multiclass)

    def gradient(state, a, member, targets, size):
        """(∂L_t/∂W, ∂L_t/∂b, ∂L_t/∂v) at the point whose ``forward`` is ``state``, output layer a/s.

        The loss is over the samples whose ``member`` is 1, of ``size`` in all, with the labels ``targets``
        (ε ỹ binary, c̃ per class). ∂L_t/∂v is for s = 1 (a trained output layer).
        """
        first, rest, per_filter, out = state
        if multiclass:
            delta = (softmax_slope(out, targets) * member[:, None]).T  # (G, n), times |B_t|
        else:
            delta = (loss_slope(targets * out, config.loss) * targets * member)[None, :]  # (1, n), times |B_t|
        coef = delta[:, None, :] * a[:, :, None] / (size * s)  # δ_{i,g(q)} v_q, (G, m, n)
        weighted_first = coef * slope(first)
        grad_b = weighted_first.sum(axis=2)
        weighted = weighted_first[..., None]
        if rest is not None:
            weighted_rest = coef[..., None] * slope(rest)
            grad_b = grad_b + weighted_rest.sum(axis=(2, 3))
            weighted = np.concatenate([weighted, weighted_rest], axis=3)
        weighted = weighted.reshape(G, m, n * P)  # the coefficient of each patch, (G, m, n P)
        terms = [(np.ascontiguousarray(weighted[:, :, members] * signs) @ np.ones(len(members)))[:, :, None] * u
                 for u, members, signs in repeated]
        if len(others):
            terms.append(np.ascontiguousarray(weighted[:, :, others]) @ U)
        grad_W = terms[0]
        for term in terms[1:]:
            grad_W = grad_W + term
        grad_v = (delta[:, None, :] * per_filter).sum(axis=2) / size
        return grad_W, grad_b, grad_v

    # θ = [W, b, v], of which torch.optim.SGD is given the trained ones.
    theta = [W, np.zeros((G, m)), a]
    trained = [True, config.bias, trained_output]
    buffers = [None] * 3
    outs, weights, biases, output_weights = [], [], [], []
    for t in range(steps + 1):
        W, b, a = theta
        state = forward(W, b, a)
        if t in record:
            outs.append(state[3])
            weights.append(W.copy())
            biases.append(b.copy())
            output_weights.append(a / s)
        if t == steps:
            break
        indices, signs = schedule(t)
        member = np.zeros(n)
        member[indices] = 1.0
        if multiclass:
            if np.any(np.asarray(signs) != 1):
                raise ValueError(f"the schedule's label multipliers must all be +1 with one output per class "
                                 f"(label-noise GD flips binary labels); got {signs!r} at step {t}")
            targets = labels
        else:
            targets = labels.copy()
            targets[indices] = signs * labels[indices]
        grads = gradient(state, a, member, targets, len(indices))
        if config.sam > 0:
            norm = np.sqrt(sum((g**2).sum() for g, on in zip(grads, trained) if on))
            if norm > 0:
                moved = [p + config.sam / norm * g if on else p for p, g, on in zip(theta, grads, trained)]
                grads = gradient(forward(*moved), moved[2], member, targets, len(indices))
        for k, g in enumerate(grads):
            if not trained[k]:
                continue
            if config.weight_decay:
                g = g + config.weight_decay * theta[k]
            if config.momentum:
                buffers[k] = g if buffers[k] is None else config.momentum * buffers[k] + g
                g = buffers[k]
            theta[k] = theta[k] - eta * g
    return Trajectory(record, np.array(outs), np.array(weights), np.array(biases) if config.bias else None,
                      np.array(output_weights))


def _data_patches(data, config: SimulationConfig) -> np.ndarray:
    """The (n, P, d) patches of ``data``, in ``config``'s layout.

    ``data.patches()`` where it exists; else, from ``mu`` and ``xi``, the signal patch y_i μ and the noise
    patches. The layout is the config's: patches laid out as signal and one noise patch are read additively,
    s_i u_{k_i} + ξ_i, for ``layout="additive"``.
    """
    if hasattr(data, "patches"):
        patches = np.asarray(data.patches(), dtype=np.float64)
    else:
        y = np.asarray(data.y)
        if not np.all(np.abs(y) == 1):
            raise ValueError("data without patches() must be binary, labels y = ±1, to build the patches y_i mu, xi_i")
        mu, xi = data.mu, data.xi
        signal = y.astype(np.float64)[:, None] * mu  # (n, d)
        noise = xi.reshape(y.shape[0], -1, mu.shape[0])  # (n, P - 1, d)
        patches = np.concatenate([signal[:, None], noise], axis=1)
    additive = config.layout == "additive"
    if additive and patches.shape[1] == 2:
        patches = (patches[:, 0] + patches[:, 1])[:, None]
    expected = 1 if additive else config.patches
    if patches.shape[1] != expected:
        raise ValueError(f"config has {expected} patch(es) per sample (layout={config.layout!r}, "
                         f"patches={config.patches}); the data has {patches.shape[1]}")
    return patches


def full_weight_gd(data: Data, eta: float, steps: int, record_steps=None, *, config: SimulationConfig | None = None,
                   schedule=None) -> Trajectory:
    r"""Train the filters from ``data.W0`` on the raw weights: :func:`patch_gd` on the patches of ``data``.

    The samples are the patches :math:`s_i u_{k_i}` (the signal patch) and :math:`\xi_{i,p}` (the
    :math:`P - 1` noise patches), or the one vector :math:`s_i u_{k_i} + \xi_i` of the additive layout
    (for the binary ``features="single"``, :math:`s_i u_{k_i} = y_i \mu`); the labels are ``data.y_noisy``
    (:math:`\pm 1`, or the classes 0..C-1 with one output per class), the output weights start at
    :func:`initial_output_weights`, the bias at 0. See :func:`patch_gd` for the network, the loss and the
    steps. ``config=None`` is the paper's model: ReLU, logistic loss, two patches, :math:`v = \pm 1/m`,
    full-batch plain gradient descent.

    Parameters
    ----------
    data : Data
        ``data.patches()`` (n, P, d), ``W0`` (G, m, d) and ``y_noisy`` (n,) are read; an object without
        ``patches`` gives ``mu`` (d,), ``xi`` and ``y`` (n,) instead, for the binary patches
        :math:`y_i \mu` and :math:`\xi_{i,p}`.
    eta : float
        The learning rate :math:`\eta` (``config.eta`` is not read).
    steps : int
        Gradient steps; the schedule is asked for the steps 0..steps-1.
    record_steps : array of int, optional
        The steps to record (every step by default).
    config : SimulationConfig, optional
        The model and optimizer options; the sizes come from ``data``. The layout is the config's:
        data drawn as a signal and one noise patch run the additive layout as their sum.
    schedule : callable, optional
        ``schedule(t) -> (indices (|B_t|,), signs (|B_t|,))`` with distinct
        indices. By default the full batch with every sign +1, or for a
        stochastic ``config`` :func:`labelnoise_sim.schedule.schedule`.

    Returns
    -------
    Trajectory
        ``t`` (K,), ``outputs`` (K, n) or (K, n, C), ``weights`` (K, G, m, d), ``bias`` (K, G, m) (None
        unless ``config.bias``) and ``output_weights`` (K, G, m) at the recorded steps.

    Raises
    ------
    ValueError
        When the data's patches per sample are not the config's, or as :func:`patch_gd`.
    """
    config = SimulationConfig() if config is None else config
    return patch_gd(_data_patches(data, config), data.y_noisy, data.W0, None, eta, steps, record_steps,
                    config=config, schedule=schedule)
