"""The model family's activations and losses, by code (``ACTIVATION_CODES``, ``LOSS_CODES``)."""

from __future__ import annotations

import math

from ._vectors import _inner, _kernel


# The model family: activations and losses -----------------------------------

#: Codes of the activations (``config.activation_kind``) and of the losses, as the kernels take them.
ACTIVATION_CODES = {"relu": 0, "relu^q": 1, "leaky_relu": 2, "smoothed_relu": 3}
LOSS_CODES = {"logistic": 0, "hinge": 1, "exponential": 2, "squared": 3}


@_inner()
def _power(z, q):
    """z**q, by repeated products for a small integral q (relu^2, relu^3: several times cheaper than pow)."""
    if q == math.floor(q) and q <= 8.0:
        out = z
        for _ in range(int(q) - 1):
            out *= z
        return out
    return z**q


@_inner()
def activation_pair(z, kind, p1, p2):
    """(σ(z), σ'(z)) for the activation ``kind`` with parameters p1, p2.

    0 relu max(z, 0); 1 relu^q (q = p1) max(z, 0)^q; 2 leaky_relu (a = p1)
    z or a z; 3 smoothed_relu (q = p1, κ = p2): 0 for z <= 0, z^q / (q κ^(q-1))
    on (0, κ], z - (1 - 1/q) κ above. The slope at a kink is PyTorch
    autograd's: relu'(0) = 0, leaky_relu'(0) = a (relu^q and smoothed_relu
    have continuous slopes).
    """
    if z <= 0.0:
        if kind == 2:
            return p1 * z, p1
        return 0.0, 0.0
    if kind == 0:
        return z, 1.0
    if kind == 1:
        lower = _power(z, p1 - 1.0)
        return lower * z, p1 * lower
    if kind == 2:
        return z, 1.0
    if z <= p2:
        ratio = _power(z / p2, p1 - 1.0)
        return ratio * z / p1, ratio
    return z - (1.0 - 1.0 / p1) * p2, 1.0


@_kernel()
def activation(z, kind, p1, p2):
    """σ(z) (see ``activation_pair``)."""
    return activation_pair(z, kind, p1, p2)[0]


@_inner()
def loss_slope(z, kind):
    """ℓ'(z) of the loss ``kind`` at the margin z, with PyTorch autograd's value at a kink.

    0 logistic -1 / (1 + e^z) (in a form that cannot overflow); 1 hinge
    max(0, 1 - z) written ``relu(1 - z)``: -1 for z < 1, 0 from z = 1 on;
    2 exponential -e^(-z); 3 squared (1 - z)² / 2: z - 1.
    """
    if kind == 0:
        if z > 0.0:
            ez = math.exp(-z)
            return -ez / (1.0 + ez)
        return -1.0 / (1.0 + math.exp(z))
    if kind == 1:
        return -1.0 if z < 1.0 else 0.0
    if kind == 2:
        return -math.exp(-z)
    return z - 1.0


@_inner()
def loss_value(z, kind):
    """ℓ(z) of the loss ``kind`` (as ``loss_slope``) at the margin z, without overflow for the logistic loss.

    0 logistic log(1 + e^-z), as log1p(e^-z) for z > 0 and -z + log1p(e^z) below; 1 hinge max(0, 1 - z);
    2 exponential e^-z; 3 squared (1 - z)² / 2.
    """
    if kind == 0:
        if z > 0.0:
            return math.log1p(math.exp(-z))
        return -z + math.log1p(math.exp(z))
    if kind == 1:
        return 1.0 - z if z < 1.0 else 0.0
    if kind == 2:
        return math.exp(-z)
    return 0.5 * (1.0 - z) * (1.0 - z)


@_inner()
def activate(x, kind, p1, p2, value, slope):
    """value[k], slope[k] = σ(x[k]), σ'(x[k]) (``activation_pair``), with one loop per kind so that the loops
    of the kinds without powers run in vectors."""
    if kind == 0:
        for k in range(x.shape[0]):
            z = x[k]
            value[k] = z if z > 0.0 else 0.0
            slope[k] = 1.0 if z > 0.0 else 0.0
    elif kind == 2:
        for k in range(x.shape[0]):
            z = x[k]
            value[k] = z if z > 0.0 else p1 * z
            slope[k] = 1.0 if z > 0.0 else p1
    elif kind == 1 and p1 == 2.0:  # squared ReLU: the power as the product activation_pair forms
        for k in range(x.shape[0]):
            z = x[k] if x[k] > 0.0 else 0.0
            value[k] = z * z
            slope[k] = 2.0 * z
    elif kind == 1 and p1 == 3.0:
        for k in range(x.shape[0]):
            z = x[k] if x[k] > 0.0 else 0.0
            lower = z * z
            value[k] = lower * z
            slope[k] = 3.0 * lower
    elif kind == 3:
        tail = (1.0 - 1.0 / p1) * p2
        for k in range(x.shape[0]):
            z = x[k]
            if z <= 0.0:
                value[k], slope[k] = 0.0, 0.0
            elif z > p2:
                value[k], slope[k] = z - tail, 1.0
            else:
                ratio = _power(z / p2, p1 - 1.0)
                value[k], slope[k] = ratio * z / p1, ratio
    else:
        for k in range(x.shape[0]):
            value[k], slope[k] = activation_pair(x[k], kind, p1, p2)
