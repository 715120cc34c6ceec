"""The activations of the model family, written from their definitions: the reference that the tests of the
test error and the test loss evaluate networks with, independent of ``_kernels.activation``."""

import numpy as np

from labelnoise_sim import SimulationConfig


def sigma(z, activation):
    """σ(z) elementwise for the activation named ``activation`` (as ``simulate`` takes it)."""
    kind, params = SimulationConfig(activation=activation).activation_kind
    pos = np.maximum(z, 0.0)
    if kind == "relu":
        return pos
    if kind == "relu^q":
        return pos ** params[0]
    if kind == "leaky_relu":
        return np.where(z > 0, z, params[0] * z)
    q, kappa = params
    return np.where(z <= kappa, pos**q / (q * kappa ** (q - 1)), z - (1 - 1 / q) * kappa)
