"""Gradient descent in coefficient space: :func:`simulate` and :func:`run`.

The filters are never formed. Every gradient of the loss lies in
span{μ, ξ_1, …, ξ_n}, so

    w_{j,r}⁽ᵗ⁾ = w_{j,r}⁽⁰⁾ + j γ_{j,r}⁽ᵗ⁾ μ/‖μ‖² + Σ_i ρ_{j,r,i}⁽ᵗ⁾ ξ_i/‖ξ_i‖²

holds exactly, and gradient descent on W is gradient descent on (γ, ρ) driven
by the Gram statistics of the data (see ``_kernels`` for the update). A step
costs O(m n²), whatever the dimension d.
"""

from __future__ import annotations

import numpy as np

from . import _kernels
from .config import SimulationConfig
from .data import Data, sample_data
from .result import SimulationResult

__all__ = ["simulate", "run", "DivergenceError"]


class DivergenceError(FloatingPointError):
    """Gradient descent left the floating-point range (η too large)."""

    def __init__(self, step: int, eta: float):
        self.step = step
        super().__init__(
            f"gradient descent diverged at step {step}: the network output is no longer finite; "
            f"lower eta (got eta={eta!r})"
        )


def simulate(
    n: int = 200,
    d: int = 2000,
    m: int = 10,
    eta: float = 0.1,
    steps: int = 2000,
    *,
    tau: float | None = None,
    tau_pos: float | None = None,
    tau_neg: float | None = None,
    mu_norm: float | None = None,
    snr: float | None = None,
    n_snr2: float | None = None,
    sigma0: float = 0.01,
    sigma_xi: float = 1.0,
    noise: str = "isotropic",
    seed: int = 0,
    record=None,
    sampling: str = "explicit",
) -> SimulationResult:
    """Train the two-layer ReLU CNN on signal-noise data with label noise.

    Runs full-batch gradient descent on the logistic loss, exactly, in the
    coefficient space of the weights, and records the coefficients and the
    network outputs on the training set.

    Parameters
    ----------
    n, d, m : int
        Training samples, patch dimension, filters per class.
    eta : float
        Learning rate, > 0.
    steps : int
        Number of gradient steps, >= 0.
    tau : float, optional
        Flip rate of both classes, in [0, 1/2). Default 0.2 (``DEFAULT_TAU``).
    tau_pos, tau_neg : float, optional
        Class-conditional flip rates P(ỹ=-1 | y=+1) and P(ỹ=+1 | y=-1);
        exclusive with ``tau``.
    mu_norm, snr, n_snr2 : float, optional
        The signal strength, as ‖μ‖, as SNR = ‖μ‖/(σ_ξ √d), or as n·SNR². At
        most one may be given; the default is n·SNR² = 6 (``DEFAULT_N_SNR2``).
    sigma0, sigma_xi : float
        Standard deviation of the initial weights and of the noise, > 0.
    noise : {"isotropic", "orthogonal"}
        ξ ~ N(0, σ_ξ² I), or the same projected orthogonally to μ.
    seed : int
        Seed of every random draw; equal arguments give bit-identical results.
    record : None, int or sequence of int
        Steps to record: None for a logarithmic grid, k for every k-th step
        (plus the last), or the steps themselves, each in [0, steps].
    sampling : {"explicit", "gram"}
        "explicit" draws μ, ξ_i and W⁽⁰⁾ in R^d and forms their Gram matrix;
        "gram" draws the Gram matrix directly from the same law, at a cost
        independent of d (the vectors are then not available). Labels are the
        same for both.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ValueError
        For any parameter outside its allowed range; the message names it.
    DivergenceError
        If the outputs stop being finite (η far too large).

    Examples
    --------
    >>> res = simulate(n=200, d=2000, eta=0.1)
    >>> float(res.train_acc_clean[-1])
    1.0
    """
    config = SimulationConfig.from_params(
        n=n, d=d, m=m, eta=eta, steps=steps, tau=tau, tau_pos=tau_pos, tau_neg=tau_neg,
        mu_norm=mu_norm, snr=snr, n_snr2=n_snr2, sigma0=sigma0, sigma_xi=sigma_xi,
        noise=noise, seed=seed, record=record, sampling=sampling,
    )
    return run(config)


def run(config: SimulationConfig, data: Data | None = None) -> SimulationResult:
    """Run the dynamics for a validated ``config``.

    ``data`` defaults to the draw that ``config`` (its seed) determines; pass
    another :class:`Data` to train on given statistics.
    """
    if data is None:
        data = sample_data(config)
    inputs = kernel_inputs(data)
    record_steps = config.record_steps
    K, m, n = record_steps.shape[0], config.m, config.n
    gamma = np.empty((K, 2 * m))
    rho = np.empty((K, 2 * m, n))
    outputs = np.empty((K, n))
    status = _kernels.run_dynamics(
        *inputs, m, config.eta, config.steps, record_steps, gamma, rho, outputs
    )
    if status >= 0:
        raise DivergenceError(int(status), config.eta)
    return assemble_result(config, data, record_steps, gamma, rho, outputs)


def assemble_result(config, data, t, gamma, rho, outputs) -> SimulationResult:
    """A result from the kernel's arrays: gamma (K, 2m), rho (K, 2m, n), outputs (K, n)."""
    K, m, n = len(t), config.m, config.n
    return SimulationResult(config=config, data=data, t=t, gamma=gamma.reshape(K, 2, m),
                            rho=rho.reshape(K, 2, m, n), outputs=outputs)


def kernel_inputs(data: Data) -> tuple:
    """The fixed statistics of ``_kernels.run_dynamics``, in its argument order."""
    n, m = data.n, data.m
    xi_sq = data.xi_sq
    mu_sq = data.mu_sq
    a0 = np.ascontiguousarray(data.w0_mu.reshape(2 * m))
    b0 = np.ascontiguousarray(data.w0_xi.reshape(2 * m, n))
    c = data.xi_mu / xi_sq
    e = data.xi_mu / mu_sq
    G = np.ascontiguousarray(data.xi_gram / xi_sq[:, None])
    jsign = np.repeat([1.0, -1.0], m)
    return (a0, b0, c, e, G, mu_sq, xi_sq, data.y.astype(np.float64),
            data.y_noisy.astype(np.float64), jsign)
