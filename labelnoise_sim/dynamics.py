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
from ._validation import check_choice
from .config import PARAMETERS, SimulationConfig, fill_parameters_doc
from .data import Data, sample_data
from .result import SimulationResult

__all__ = ["simulate", "run", "run_many", "DivergenceError"]


class DivergenceError(FloatingPointError):
    """Gradient descent left the floating-point range (η too large).

    ``step`` is the step at which a quantity stopped being finite: the network
    output (checked at every step) or, found later, the test statistics of a
    recorded step; ``what`` says which.
    """

    def __init__(self, step: int, eta: float, what: str = "the network output is no longer finite"):
        self.step = step
        super().__init__(f"gradient descent diverged at step {step}: {what}; lower eta (got eta={eta!r})")


def simulate(
    n: int = 200,
    d: int = 2000,
    m: int = 10,
    eta: float = 0.1,
    steps: int = 2000,
    *,
    tau_pos: float | None = None,
    tau_neg: float | None = None,
    tau: float | None = None,
    mu_norm: float | None = None,
    snr: float | None = None,
    n_snr2: float | None = None,
    sigma0: float = 0.01,
    sigma_xi: float = 1.0,
    noise: str = "isotropic",
    seed: int = 0,
    record: None | int | tuple[int, ...] = None,
    sampling: str = "explicit",
) -> SimulationResult:
    """Train the two-layer ReLU CNN on signal-noise data with label noise.

    Runs full-batch gradient descent on the logistic loss, exactly, in the
    coefficient space of the weights, and records the coefficients and the
    network outputs on the training set. Equal arguments give bit-identical
    results.

    The parameters are declared in :mod:`labelnoise_sim.config` (see
    ``PARAMETERS``); a field that an alternative replaces (``tau_pos``,
    ``tau_neg``, ``mu_norm``) defaults to None here, meaning "not given". At
    most one of ``mu_norm``, ``snr`` and ``n_snr2`` may be given, and ``tau``
    excludes ``tau_pos`` and ``tau_neg``.

    Parameters
    ----------
    {parameters}

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
    # locals() holds exactly the arguments here, by name.
    return run(SimulationConfig.from_params(**locals()))


fill_parameters_doc(simulate, PARAMETERS.values())


def run(config: SimulationConfig, data: Data | None = None) -> SimulationResult:
    """Run the dynamics for a validated ``config``: :func:`run_many` with one configuration.

    ``data`` defaults to the draw that ``config`` (its seed) determines; pass
    another :class:`Data` to train on given statistics.
    """
    return run_many([config], None if data is None else [data])[0]


def run_many(configs, datas=None, *, parallel: bool = True, diverged: str = "raise") -> list:
    """Run the dynamics of several validated configurations; one result each, in order.

    Configurations of equal shape (n, m, steps and recorded steps) run as one
    batch in the kernel, in parallel over numba threads when ``parallel`` is
    true and the batch has more than one run. A run does the very same
    floating-point operations whatever its batch, so every result is
    bit-identical to ``run(config)``.

    Parameters
    ----------
    configs : sequence of SimulationConfig
    datas : sequence of Data, optional
        The data of each run; by default each config's own draw.
    parallel : bool
        Use numba threads across the runs of a batch (``False`` for callers
        that are parallel already, such as worker processes).
    diverged : {"raise", "return"}
        What a run that leaves the floating-point range gives: raise its
        :class:`DivergenceError`, or return it in place of the result.

    Returns
    -------
    list of SimulationResult (or DivergenceError, with ``diverged="return"``)
    """
    configs = list(configs)
    diverged = check_choice("diverged", diverged, ("raise", "return"))
    if datas is None:
        datas = [sample_data(config) for config in configs]
    elif len(datas) != len(configs):
        raise ValueError(f"datas must hold one Data per config ({len(configs)}); got {len(datas)}")
    batches: dict[tuple, list[int]] = {}
    for index, config in enumerate(configs):
        batches.setdefault(batch_key(config), []).append(index)
    results = [None] * len(configs)
    for members in batches.values():
        outcomes = _run_batch([configs[i] for i in members], [datas[i] for i in members], parallel)
        for index, outcome in zip(members, outcomes):
            if isinstance(outcome, DivergenceError) and diverged == "raise":
                raise outcome
            results[index] = outcome
    return results


def batch_key(config: SimulationConfig) -> tuple:
    """What runs must share to go through the kernel as one batch: n, m, steps and the recorded steps."""
    return config.n, config.m, config.steps, config.record_steps.tobytes()


def _run_batch(configs, datas, parallel):
    """Dynamics of runs of equal shape in one kernel call: SimulationResult or DivergenceError each."""
    first = configs[0]
    record_steps = first.record_steps
    C, K, q2, n = len(configs), record_steps.shape[0], 2 * first.m, first.n
    eta = np.array([c.eta for c in configs])
    gamma = np.empty((C, K, q2))
    rho = np.empty((C, K, q2, n))
    outputs = np.empty((C, K, n))
    state = _kernels.new_state(C, first.m, n)
    stats = kernel_statistics(datas)
    threads = parallel and C > 1
    chunk = chunk_steps(C, first.m, n)
    # Back in Python between chunks, so that Ctrl-C stops a long run within a chunk's time.
    for start in range(0, first.steps + 1, chunk):
        stop = start + chunk
        if threads:
            _kernels.run_batch(stats, state, eta, first.steps, record_steps, start, stop, gamma, rho, outputs)
        else:
            for b in np.flatnonzero(state.status < 0):
                _kernels.run_dynamics(stats, state, b, eta[b], first.steps, record_steps, start, stop,
                                      gamma[b], rho[b], outputs[b])
        if (state.status >= 0).all():
            break
    status = state.status
    results = []
    for b, (config, data) in enumerate(zip(configs, datas)):
        if status[b] >= 0:
            results.append(DivergenceError(int(status[b]), config.eta))
        else:
            results.append(SimulationResult(
                config=config, data=data, t=record_steps.copy(), gamma=gamma[b].reshape(K, 2, first.m),
                rho=rho[b].reshape(K, 2, first.m, n), outputs=outputs[b],
            ))
    return results


#: Multiply-adds of the product ρ G per chunk of steps: about a tenth of a second.
CHUNK_WORK = 2**31


def chunk_steps(runs: int, m: int, n: int) -> int:
    """Steps per kernel call of a batch: short enough to answer Ctrl-C promptly, long enough to cost nothing."""
    return max(1, CHUNK_WORK // (runs * 2 * m * n * n))


def kernel_statistics(datas) -> _kernels.Statistics:
    """The fixed statistics of the kernels for runs of equal n and m, stacked with the run index first."""
    n, m = datas[0].n, datas[0].m

    def stack(per_run):
        values = [per_run(data) for data in datas]
        # One run needs no copy: a view with the run axis in front.
        return np.ascontiguousarray(np.asarray(values[0])[None] if len(values) == 1 else np.stack(values),
                                    dtype=np.float64)

    return _kernels.Statistics(
        a0=stack(lambda d: d.w0_mu.reshape(2 * m)),
        b0=stack(lambda d: d.w0_xi.reshape(2 * m, n)),
        c=stack(lambda d: d.xi_mu / d.xi_sq),
        e=stack(lambda d: d.xi_mu / d.mu_sq),
        G=stack(lambda d: d.xi_gram / d.xi_sq[:, None]),
        mu_sq=stack(lambda d: d.mu_sq),
        xi_sq=stack(lambda d: d.xi_sq),
        y=stack(lambda d: d.y),
        y_noisy=stack(lambda d: d.y_noisy),
    )
