r"""Gradient descent in coefficient space: :func:`~labelnoise_sim.simulate` and :func:`~labelnoise_sim.run`.

The filters are never formed. Every gradient of the loss lies in
:math:`\operatorname{span}\{\mu, \xi_1, \dots, \xi_n\}`, so

.. math::

    w_{j,r}^{(t)} = w_{j,r}^{(0)} + j \gamma_{j,r}^{(t)} \frac{\mu}{\|\mu\|^2}
        + \sum_i \rho_{j,r,i}^{(t)} \frac{\xi_i}{\|\xi_i\|^2}

holds exactly, and gradient descent on :math:`W` is gradient descent on :math:`(\gamma, \rho)` driven
by the Gram statistics of the data (see ``_kernels`` for the update). A step
costs :math:`O(m n^2)`, whatever the dimension :math:`d`.

Memory is checked before anything is drawn: :func:`memory_bytes` estimates
the peak of a call from its parameters, and :func:`~labelnoise_sim.run_many` refuses, with
a ValueError, a call that needs more than :func:`available_memory`.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Sequence
from typing import NamedTuple

import numba
import numpy as np

from . import _kernels, _progress
from ._progress import check_progress
from ._validation import check_choice
from .config import PARAMETERS, SimulationConfig, fill_parameters_doc, record_count
from .data import Data, sample_data
from .generalization import MAX_DRAWS
from .result import SimulationResult, Velocity
from .schedule import step_weights

__all__ = ["simulate", "run", "run_many", "DivergenceError", "StepSizeWarning", "memory_bytes", "result_bytes",
           "record_count", "available_memory", "check_memory", "describe_runs", "MEMORY_ENV"]


class DivergenceError(FloatingPointError):
    r"""Gradient descent left the floating-point range (:math:`\eta` too large).

    Parameters
    ----------
    step : int
        The step at which a quantity stopped being finite: the network
        output or, for the models of the family, the weights (:math:`\gamma`,
        :math:`\rho`, the bias, the heavy-ball buffer; both checked at every
        step), or, found later, the test statistics of a recorded step; ``what``
        says which. The weights can stop being finite while the outputs are
        not: with the exponential loss, the slope :math:`-e^{-z}` of a margin
        below about -709 overflows, and the step that follows makes
        :math:`\infty - \infty`; full-weight gradient descent (``reference``)
        overflows there too.
    eta : float
        The learning rate of the run, named in the message as the one to lower.
    what : str, default "the network output is no longer finite"
        Which quantity stopped being finite.

    Attributes
    ----------
    step : int
        ``step``.
    """

    def __init__(self, step: int, eta: float, what: str = "the network output is no longer finite"):
        self.step = step
        super().__init__(f"gradient descent diverged at step {step}: {what}; lower eta (got eta={eta!r})")


class StepSizeWarning(UserWarning):
    r"""A step took a margin where float64 rounds the slope of the loss to 0: :math:`\eta` far too large.

    The logistic and exponential losses have slopes :math:`\ell'(z)` that
    never vanish, but :math:`e^{-z}` rounds to 0 past :math:`z = 1075 \ln 2 \approx 745.1`
    (:data:`SLOPE_UNDERFLOW`), where the loss of the sample is exactly 0 and it no
    longer takes part in the steps. Gradient descent whose steps follow the
    loss raises a margin about logarithmically in time, and would need of the
    order of :math:`e^{745}` steps to get there; a run gets there only by
    steps so large that they jump past the whole range of the loss (with
    the default sizes, :math:`\eta = 10^6` does it in one step and ends at
    loss 0). The run is still what gradient descent does at that
    :math:`\eta`, exactly and in the float range (``reference`` gives the
    same), hence a warning and not a :class:`DivergenceError`, which means
    numbers that left the float range: its records are kept, and a sweep
    keeps the cell.
    """


#: The margin past which float64 rounds e^-z, the slope of the logistic and the exponential loss, to 0.
SLOPE_UNDERFLOW = 1075 * math.log(2)
#: The losses whose slope vanishes only by rounding (the hinge's is 0 from z = 1 on, the squared loss's at z = 1).
_NEVER_FLAT = ("logistic", "exponential")


def warn_step_size(result: SimulationResult) -> None:
    """Emit a :class:`StepSizeWarning` if a recorded margin of ``result`` is past :data:`SLOPE_UNDERFLOW` (and was
    not at step 0)."""
    config = result.config
    if config.loss not in _NEVER_FLAT or config.multiclass:
        return
    beyond = result.margins > SLOPE_UNDERFLOW
    if result.t[0] == 0:
        # Margins past it from the start come from the initial weights (sigma0 sqrt(d) sigma_xi in the
        # millions at d = 2**63), not from a step.
        beyond &= ~beyond[0]
    past = beyond.any(axis=1)
    if past.any():
        k = int(np.argmax(past))
        warnings.warn(
            f"by step {int(result.t[k])} a training margin passed {SLOPE_UNDERFLOW:.1f}, where float64 rounds the "
            f"slope of the {config.loss} loss to 0, so that sample no longer moves the weights: either a step "
            f"jumped past the range of the loss (lower eta, got eta={config.eta!r}) or the run trains far past the "
            f"fit of its samples (fewer steps)", StepSizeWarning, stacklevel=3)


#: The ``what`` of a DivergenceError raised for weights that stopped being finite under finite outputs.
WEIGHTS_NOT_FINITE = "the weights are no longer finite (a loss slope or a step overflowed)"


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
    activation: str = "relu",
    loss: str = "logistic",
    layout: str = "patches",
    patches: int = 2,
    flips: str = "bernoulli",
    bias: bool = False,
    output_scale: str = "mean",
    batch_size: int | None = None,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    label_noise: float = 0.0,
    sam: float = 0.0,
    features: str = "single",
    classes: int = 2,
    output_layer: str = "fixed",
    progress: bool | None = None,
) -> SimulationResult:
    r"""Train the two-layer ReLU CNN on signal-noise data with label noise.

    Runs full-batch gradient descent on the logistic loss, exactly, in the
    coefficient space of the weights, and records the coefficients and the
    network outputs on the training set. Equal arguments give bit-identical
    results. With the default options the network and its loss are

    .. math::

        f(W, x) = \frac{1}{m} \sum_{r=1}^{m} \sum_{p=1}^{2}
            \left[\sigma(\langle w_{+1,r}, x^{(p)} \rangle) - \sigma(\langle w_{-1,r}, x^{(p)} \rangle)\right],

        L_S(W) = \frac{1}{n} \sum_{i=1}^{n} \log\left(1 + e^{-\tilde y_i f(W, x_i)}\right),

    with :math:`\sigma` the ReLU, patches :math:`x^{(1)} = y \mu` and
    :math:`x^{(2)} = \xi`, and each filter kept as
    :math:`w_{j,r} = w_{j,r}^{(0)} + j \gamma_{j,r} \mu / \|\mu\|^2 + \sum_i \rho_{j,r,i} \xi_i / \|\xi_i\|^2`:
    the result holds :math:`\gamma` of shape :math:`(K, 2, m)` and :math:`\rho` of shape :math:`(K, 2, m, n)`
    at the :math:`K` recorded steps.

    The parameters are declared in :mod:`labelnoise_sim.config` (see
    ``PARAMETERS``); a field that an alternative replaces (``tau_pos``,
    ``tau_neg``, ``mu_norm``) defaults to None here, meaning "not given". At
    most one of ``mu_norm``, ``snr`` and ``n_snr2`` may be given, and ``tau``
    excludes ``tau_pos`` and ``tau_neg``.

    Parameters
    ----------
    {parameters}
    progress : bool or None, default None
        What the call says on standard error while it works, and what
        reading the result's test error then says: None (automatic) shows a
        progress bar only once the work has run for 2 s, and only on a
        terminal or in Jupyter, so that quick calls print nothing; True shows
        it from the start; False prints nothing. A first call also says once
        that numba compiles its kernels, unless False. Bars need tqdm (the
        ``sweep`` extra). The numbers are the same whatever ``progress``.

    Returns
    -------
    SimulationResult
        The recorded trajectory.

    Raises
    ------
    ValueError
        For any parameter outside its allowed range, and for a run that
        needs more memory than is available
        (:func:`~labelnoise_sim.dynamics.memory_bytes`); the
        message names the parameters.
    DivergenceError
        If the outputs or the weights stop being finite (:math:`\eta` far
        too large, or a loss slope that overflows, as :math:`-e^{-z}` of
        the exponential loss does at margins below about -709).

    Warns
    -----
    StepSizeWarning
        If a step took a training margin of the logistic or the exponential
        loss where float64 rounds its slope to 0 (:math:`\eta` so large that
        a step jumps past the range of the loss, as :math:`\eta = 10^6` does
        at the default sizes).

    Examples
    --------
    >>> res = simulate(n=200, d=2000, eta=0.1)
    >>> float(res.train_acc_clean[-1])
    1.0
    """
    # locals() holds exactly the arguments here, by name.
    parameters = locals()
    progress = parameters.pop("progress")
    return run(SimulationConfig.from_params(**parameters), progress=progress)


fill_parameters_doc(simulate, PARAMETERS.values())


def run(config: SimulationConfig, data: Data | None = None, *, progress: bool | None = None) -> SimulationResult:
    """Run the dynamics for a validated ``config``: :func:`run_many` with one configuration.

    Parameters
    ----------
    config : SimulationConfig
        The run.
    data : Data or None, default None
        The data to train on; None for the draw that ``config`` (its seed) determines. Pass
        another :class:`~labelnoise_sim.data.Data` to train on given statistics.
    progress : bool or None, default None
        As :func:`simulate`'s: automatic by default; the result's test error reports its own progress the same
        way.

    Returns
    -------
    SimulationResult
        The recorded trajectory.
    """
    result = run_many([config], None if data is None else [data], progress=progress)[0]
    result.__dict__["_progress"] = progress  # for its test error (SimulationResult._estimate); not a field
    return result


def run_many(configs: Sequence[SimulationConfig], datas: Sequence[Data] | None = None, *, parallel: bool = True,
             diverged: str = "raise", progress: bool | None = False) -> list[SimulationResult | DivergenceError]:
    """Run the dynamics of several validated configurations; one result each, in order.

    Configurations of equal shape (n, m, steps and recorded steps) run as one
    batch in the kernel, in parallel over numba threads when ``parallel`` is
    true and the batch has more than one run. A run does the very same
    floating-point operations whatever its batch, so every result is
    bit-identical to ``run(config)``.

    Parameters
    ----------
    configs : sequence of SimulationConfig
        The runs.
    datas : sequence of Data, optional
        The data of each run; by default each config's own draw.
    parallel : bool
        Use numba threads across the runs of a batch (``False`` for callers
        that are parallel already, such as worker processes).
    diverged : {"raise", "return"}
        What a run that leaves the floating-point range gives: raise its
        :class:`DivergenceError`, or return it in place of the result.
    progress : bool or None
        A progress bar over the steps of all runs, as in :func:`simulate`;
        off by default, since sweeps call this in every worker.

    Returns
    -------
    list of SimulationResult
        One result per configuration, in order; with ``diverged="return"``, a
        :class:`DivergenceError` in place of the result of a run that diverged.

    Raises
    ------
    ValueError
        Before anything is drawn or allocated, if the call needs more memory
        than is available (:func:`~labelnoise_sim.dynamics.memory_bytes`,
        :func:`~labelnoise_sim.dynamics.check_memory`).
    """
    configs = list(configs)
    diverged = check_choice("diverged", diverged, ("raise", "return"))
    progress = check_progress(progress)
    if datas is not None and len(datas) != len(configs):
        raise ValueError(f"datas must hold one Data per config ({len(configs)}); got {len(datas)}")
    check_memory(memory_bytes(configs, draw=datas is None), describe_runs(configs))
    # Before the data: their Gram matrix is the first kernel a first run compiles.
    for group, model, dispatcher in (("dynamics", True, _kernels.run_dynamics),
                                     ("family dynamics", False, _kernels.run_family)):
        if any(config.paper_model == model for config in configs):
            _progress.announce_compilation(group, [_kernels._gram_strips, dispatcher], progress)
    if datas is None:
        datas = [sample_data(config) for config in configs]
    batches: dict[tuple, list[int]] = {}
    for index, config in enumerate(configs):
        batches.setdefault(batch_key(config), []).append(index)
    results = [None] * len(configs)
    bar = _progress.bar(sum(config.steps for config in configs), "simulate", "step", progress)
    try:
        for members in batches.values():
            outcomes = _run_batch([configs[i] for i in members], [datas[i] for i in members], parallel, bar)
            for index, outcome in zip(members, outcomes):
                if isinstance(outcome, DivergenceError) and diverged == "raise":
                    raise outcome
                results[index] = outcome
    finally:
        bar.close()
    for result in results:
        if isinstance(result, SimulationResult):
            warn_step_size(result)
    return results


def batch_key(config: SimulationConfig) -> tuple:
    """What runs must share to go through a kernel as one batch: n, m, steps, the recorded steps and the model."""
    model = None if config.paper_model else kernel_model(config)
    return (config.n, config.m, config.steps, config.record_steps.tobytes(), config.noise_patches,
            config.signal_vectors, config.groups, model)


def kernel_model(config: SimulationConfig) -> _kernels.Model:
    """The model options of ``config`` as the family kernel takes them."""
    kind, values = config.activation_kind
    values = values + (0.0,) * (2 - len(values))
    return _kernels.Model(
        activation=_kernels.ACTIVATION_CODES[kind], p1=float(values[0]), p2=float(values[1]),
        low=float(values[0]) if kind == "leaky_relu" else 0.0,
        loss=_kernels.LOSS_CODES["logistic" if config.multiclass else config.loss], additive=config.layout == "additive",
        divisor=float(config.m) if config.output_scale == "mean" else 1.0, bias=config.bias,
        momentum=config.momentum, weight_decay=config.weight_decay, sam=config.sam, stochastic=config.stochastic,
        outputs=config.classes if config.multiclass else 1, trained=config.output_layer == "trained",
    )


#: m n² of a run from which its steps are shared between two threads (``_kernels.run_dynamics_halves``; m N² and
#: ``run_family_halves`` for the other models of the family, full-batch runs only): n >= 400 at m = 10. A step
#: then waits for two parallel regions, about 2 µs each with OpenMP or TBB. Measured on 2 cores (m = 10), against
#: one thread: 0.9x at n = 100, 1.2-1.3x faster at n = 200, 1.5-1.6x at n = 400, 1.35x at n = 1000. Below
#: n = 400 the gain does not repay compiling the threaded kernel on a process's first call with an empty cache
#: (3-4 s more). Numba's own "workqueue" layer takes 25-30 µs a region: with it, and with one thread, runs keep to
#: one thread (with it, n = 800 was no faster). The family's step keeps more of its work on one thread (only R G
#: is shared): at n = 400, 200 steps, leaky ReLU ran 1.7x faster, SAM with momentum and weight decay 1.24x, the
#: hinge loss with three patches 1.04x; at n = 800, 1.05-1.3x. On a busy machine two threads can be many times
#: slower than one (a step's thread waits for the other, descheduled): from this size a run measures both
#: kernels as it goes and keeps the faster (``SINGLE_RUN_THREADS``, ``ThreadChooser``).
HALVES_WORK = 1_600_000


def halves_pay(m, n) -> bool:
    """Whether a single run of m filters per class and n samples may be faster on two threads (``HALVES_WORK``).

    On a busy machine it may not be: such a run measures both kernels as it goes (``ThreadChooser``).
    """
    return m * n * n >= HALVES_WORK and two_threads_available()


def two_threads_available() -> bool:
    """Whether numba runs two threads or more with a threading layer whose parallel regions are cheap (OpenMP,
    TBB), as a single run's two-thread kernels need."""
    if numba.config.DISABLE_JIT:
        return False
    if numba.get_num_threads() < 2:  # starts numba's threads, which the threading layer needs to be known
        return False
    return numba.threading_layer() in ("omp", "tbb")


#: The threads of a single run large enough for two (``halves_pay``): "auto" measures the one-thread and the
#: two-thread kernel as the run goes and keeps the faster (``ThreadChooser``); 1 keeps every single run on one
#: thread; 2 runs the two-thread kernel wherever it can run (two numba threads or more with OpenMP or TBB,
#: whatever the size). Read at each run; the bits are the same whichever it is.
SINGLE_RUN_THREADS = "auto"


def single_run_threads(m, n, possible=True):
    """How a single run of m filters per class and n samples (m N² for the family) chooses its threads: 1, 2
    or "auto" (``SINGLE_RUN_THREADS``); ``possible`` is false where the model has no two-thread kernel."""
    setting = SINGLE_RUN_THREADS
    if setting not in (1, 2, "auto"):
        raise ValueError(f"dynamics.SINGLE_RUN_THREADS must be 1, 2 or 'auto'; got {setting!r}")
    if setting == 1 or not possible:
        return 1
    if setting == 2:
        return 2 if two_threads_available() else 1
    return "auto" if halves_pay(m, n) else 1


class ThreadChooser:
    """Which kernel runs each call of a single run that may be faster on two threads: 1 (one thread) or 2.

    Both kernels give the same bits, so the choice can change at any call; it is made from the wall time of
    the calls, not from the load average (which counts this process's own threads and lags by a minute).
    Two threads that wait for each other twice a step are faster on a quiet machine and can be many times
    slower than one on a busy one, where the thread that the other waits for is descheduled.

    A *probe* runs the same number of steps on each kernel, the other kernel first, then the chosen one;
    the faster per step is chosen for the chunks that follow (two threads on a tie). Calls of equal length
    compare fairly: the fixed cost of a call (copying G into strips, a step's time or two) is the same in
    both. The first probe, at the start of the run, is short (``first`` steps, a 32nd of a chunk, at least
    2), and starts with one thread. The next comes after ``SPACING`` chunks, or at the next chunk when
    the chosen kernel has slowed down (a chunk ``DRIFT`` times slower per step than at its probe, or slower
    than the other kernel's latest rate), and only as long as the run's *lost* time stays within
    ``BUDGET`` of its time: each call adds what it took beyond the other kernel's latest rate, and a probe
    is cut to the steps that keep the other kernel's expected excess within the budget (``first`` steps at
    least, an eighth of a chunk at most). So, as measured, a run takes at most 1 / (1 - ``BUDGET``) times
    the faster kernel's time (1.05x), or that time plus the first probe's excess if that is more, plus a
    chunk's excess where the load changes, however much slower the slower kernel is (a test on injected
    timings: tests/test_threads.py).

    ``next()`` gives (threads, steps) of the next call; ``record(threads, steps, seconds)`` its wall time.
    """

    #: The run's lost time at most this share of its time: no probe that would exceed it.
    BUDGET = 0.05
    #: Chunks of the chosen kernel between probes, unless it slows down (``DRIFT``).
    SPACING = 8
    #: A chunk this much slower per step than the chosen kernel was at its probe sets off a probe.
    DRIFT = 1.25

    def __init__(self, chunk: int):
        self.chunk = max(1, int(chunk))
        self.first = min(self.chunk, max(self.chunk // 32, 2))  #: steps of the first probe's calls
        self.longest = max(self.chunk // 8, self.first)  #: steps of a probe's calls, at most
        self.best = 2  #: the chosen kernel
        self.rate = {1: math.inf, 2: math.inf}  #: the latest seconds per step of each kernel
        self.reference = math.inf  #: the chosen kernel's rate at its probe
        self.lost = 0.0
        self.elapsed = 0.0
        self.since_probe = 0  #: calls of the chosen kernel since the last probe
        self.probes = 0  #: probes completed
        self.steps = {1: 0, 2: 0}  #: steps run on each kernel
        self._pending: list[int] = []  # the kernels of the probe under way, in order
        self._length = 0  # the steps of its calls
        self._probed: dict[int, float] = {}

    def next(self) -> tuple[int, int]:
        """(threads, steps) of the next call."""
        if not self._pending:
            length = self._probe_length()
            if length:
                self._pending, self._length, self._probed = [3 - self.best, self.best], length, {}
        if self._pending:
            return self._pending[0], self._length
        return self.best, self.chunk

    def _probe_length(self) -> int:
        """The steps of each call of a probe due now, or 0 if none is."""
        if self.probes == 0:
            return self.first
        rate, other = self.rate[self.best], self.rate[3 - self.best]
        if not (self.since_probe >= self.SPACING or rate > self.DRIFT * self.reference or rate > other):
            return 0
        excess = other - rate  # the other kernel's expected loss per step (inf if it was never timed)
        room = self.BUDGET * self.elapsed - self.lost
        length = self.longest if excess <= 0 else min(self.longest, int(max(room, 0.0) / excess))
        return length if length >= self.first else 0

    def record(self, threads: int, steps: int, seconds: float) -> None:
        """The wall time of a call of ``steps`` steps on ``threads``, as ``next()`` gave them (fewer steps at
        the end of the run)."""
        self.elapsed += seconds
        self.steps[threads] += steps
        if steps <= 0:
            return
        rate = seconds / steps
        if self.rate[3 - threads] < math.inf:
            self.lost += max(0.0, seconds - steps * self.rate[3 - threads])
        self.rate[threads] = rate
        if not (self._pending and self._pending[0] == threads):
            self.since_probe += 1
            return
        self._pending.pop(0)
        self._probed[threads] = rate
        if not self._pending:
            self.probes += 1
            self.best = 2 if self._probed[2] <= self._probed[1] else 1
            self.reference = self._probed[self.best]
            self.since_probe = 0


_clock = time.perf_counter  # the wall clock of ThreadChooser (tests give it their own)


def _chunk_plan(steps, chunk, threads, one, two):
    """(kernel, start, stop) of each kernel call of a run of ``steps`` steps, which runs the steps
    start..stop-1 (steps + 1 in all: the last only forms the outputs).

    threads = 1 or 2: ``one`` or ``two`` in chunks of ``chunk`` steps. threads = "auto": a ``ThreadChooser``
    picks the kernel and the length of each call, from the wall time between one yield and the next, the
    caller's call of the kernel. A kernel's first call in the process, which
    compiles it or loads it from numba's cache, is a call of no step (start = stop) and is not timed.
    """
    if threads != "auto":
        kernel = two if threads == 2 else one
        for start in range(0, steps + 1, chunk):
            yield kernel, start, start + chunk
        return
    chooser = ThreadChooser(chunk)
    kernels = {1: one, 2: two}
    start = 0
    while start <= steps:
        count, length = chooser.next()
        kernel = kernels[count]
        if not getattr(kernel, "signatures", True):  # not compiled yet: numba compiles, or loads, at this call
            yield kernel, start, start
        stop = start + length
        began = _clock()
        yield kernel, start, stop
        chooser.record(count, min(stop, steps + 1) - start, _clock() - began)
        start = stop


def _run_batch(configs, datas, parallel, bar):
    """Dynamics of runs of equal shape, advanced together chunk by chunk: SimulationResult or DivergenceError each.

    ``bar`` counts the steps of every run of the batch, between chunks.
    """
    if not configs[0].paper_model:
        return _run_family_batch(configs, datas, parallel, bar)
    first = configs[0]
    record_steps = first.record_steps
    C, K, q2, n = len(configs), record_steps.shape[0], 2 * first.m, first.n
    eta = np.array([c.eta for c in configs])
    gamma = np.empty((C, K, q2))
    rho = np.empty((C, K, q2, n))
    outputs = np.empty((C, K, n))
    # The statistics before the state: the temporaries of their making are freed before the state is
    # allocated, so that allocated memory (what `ulimit -v` counts) peaks at the larger of the two, as
    # memory_bytes counts, not at their sum. (The resident peak is the same either way.)
    stats = kernel_statistics(datas)
    state = _kernels.new_state(C, first.m, n)
    threads = parallel and C > 1
    # A single run shares its steps between two threads instead, where that may pay (as measured while it runs).
    split = single_run_threads(first.m, n) if parallel and C == 1 else 1
    chunk = chunk_steps(C, first.m, n)
    # Back in Python between chunks, so that Ctrl-C stops a long run within a chunk's time.
    for single, start, stop in _chunk_plan(first.steps, chunk, split, _kernels.run_dynamics,
                                           _kernels.run_dynamics_halves):
        if threads:
            _kernels.run_batch(stats, state, eta, first.steps, record_steps, start, stop, gamma, rho, outputs)
        else:
            for b in np.flatnonzero(state.status < 0):
                single(stats, state, b, eta[b], first.steps, record_steps, start, stop, gamma[b], rho[b], outputs[b])
        bar.update(C * (min(stop, first.steps) - min(start, first.steps)))
        if (state.status >= 0).all():
            bar.update(C * max(first.steps - stop, 0))  # the runs that diverged take no more steps
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


class FamilyRecords(NamedTuple):
    """The records of a batch of runs of the family kernel, run index first, then the record index."""

    gamma: np.ndarray  #: (C, K, Q, S)  plain coefficients (``_kernels.FamilyState``)
    rho: np.ndarray  #: (C, K, Q, N)
    f: np.ndarray  #: (C, K, n, O)
    alpha: np.ndarray  #: (C, K)
    bias: np.ndarray  #: (C, K, Q)
    out: np.ndarray  #: (C, K, Q)  v', the output weights times the divisor
    v_gamma: np.ndarray  #: (C, K, Q, S)
    v_rho: np.ndarray  #: (C, K, Q, N), or (C, K, 0, 0) without momentum
    v_alpha: np.ndarray  #: (C, K)
    v_bias: np.ndarray  #: (C, K, Q)
    v_out: np.ndarray  #: (C, K, Q)


#: Label multipliers (int8, one per sample and step) of a stochastic batch per chunk, at most.
SCHEDULE_CHUNK = 2**24


def _run_family_batch(configs, datas, parallel, bar):
    """``_run_batch`` for runs of one model of the family (``_kernels.run_family``)."""
    first = configs[0]
    record_steps = first.record_steps
    C, K, G, m, n = len(configs), record_steps.shape[0], first.groups, first.m, first.n
    q2, N, S = G * m, n * first.noise_patches, first.signal_vectors
    model = kernel_model(first)
    momentum = first.momentum > 0
    width = N if momentum else 0
    records = FamilyRecords(
        gamma=np.empty((C, K, q2, S)), rho=np.empty((C, K, q2, N)), f=np.empty((C, K, n, model.outputs)),
        alpha=np.empty((C, K)), bias=np.empty((C, K, q2)), out=np.empty((C, K, q2)), v_gamma=np.empty((C, K, q2, S)),
        v_rho=np.empty((C, K, q2 if momentum else 0, width)), v_alpha=np.empty((C, K)), v_bias=np.empty((C, K, q2)),
        v_out=np.empty((C, K, q2)),
    )
    eta = np.array([c.eta for c in configs])
    stats = kernel_statistics(datas)
    signals = kernel_signals(datas)
    divisor = model.divisor
    # v' = divisor v starts at j exactly (not (j/m) m, which rounds below 1 for some m: m = 49).
    state = _kernels.new_family_state(C, np.repeat(first.group_signs, m), S, N, momentum)
    threads = parallel and C > 1
    # A single full-batch run shares each step's product R G between two threads where that pays (with
    # minibatches the product is sparse: at n = 400, batches of 50 ran 0.93x as fast on two threads).
    split = (single_run_threads(first.m, N, possible=not first.stochastic and q2 % 2 == 0)
             if parallel and C == 1 else 1)
    # A SAM step forms two products; the chunk keeps its time, and a stochastic chunk its schedule, bounded.
    chunk = chunk_steps(C, q2 // 2, N) // (2 if first.sam > 0 else 1)
    if first.stochastic:
        chunk = min(chunk, SCHEDULE_CHUNK // (C * n))
    chunk = max(chunk, 1)
    eps = np.ones((C, 1, n), dtype=np.int8)
    inverse_size = np.full((C, 1), 1.0 / n)
    for single, start, stop in _chunk_plan(first.steps, chunk, split, _kernels.run_family, _kernels.run_family_halves):
        if first.stochastic and start < first.steps:
            # The schedule of the chunk's steps that take a gradient step (the last step takes none, so a chunk
            # of that step alone keeps the arrays it is given and never reads them).
            weights = [step_weights(config, start, min(stop, first.steps)) for config in configs]
            eps = np.stack([e for e, _ in weights])
            inverse_size = np.stack([inverse for _, inverse in weights])
        if threads:
            _kernels.run_family_batch(stats, signals, model, state, eta, first.steps, record_steps, start, stop, eps,
                                      inverse_size, records)
        else:
            for b in np.flatnonzero(state.status < 0):
                single(stats, signals, model, state, b, eta[b], first.steps, record_steps, start, stop, eps,
                       inverse_size, records)
        bar.update(C * (min(stop, first.steps) - min(start, first.steps)))
        if (state.status >= 0).all():
            bar.update(C * max(first.steps - stop, 0))  # the runs that diverged take no more steps
            break
    results = []
    shape = (K, G, m, n) + ((first.noise_patches,) if first.noise_patches > 1 else ())
    # The binary model's results carry j γ (the paper's convention); γ of one signal vector drops its axis.
    signs = np.repeat(first.group_signs, m)[None, :, None]
    gamma_shape = (K, G, m) + ((S,) if S > 1 else ())

    def coefficients(array):
        return (array * signs + 0.0).reshape(gamma_shape)  # + 0.0: j γ = -0.0 where γ = 0 is 0

    for b, (config, data) in enumerate(zip(configs, datas)):
        if state.status[b] >= 0:
            results.append(DivergenceError(int(state.status[b]), config.eta, WEIGHTS_NOT_FINITE)
                           if state.weights[b] else DivergenceError(int(state.status[b]), config.eta))
            continue
        velocity = None
        if momentum:
            velocity = Velocity(gamma=coefficients(records.v_gamma[b]), rho=records.v_rho[b].reshape(shape),
                                alpha=records.v_alpha[b] if config.weight_decay > 0 else None,
                                bias=records.v_bias[b].reshape(K, G, m) if config.bias else None,
                                output_weights=(records.v_out[b] / divisor).reshape(K, G, m)
                                if model.trained else None)
        outputs = records.f[b] if model.outputs > 1 else records.f[b, :, :, 0]
        results.append(SimulationResult(
            config=config, data=data, t=record_steps.copy(), gamma=coefficients(records.gamma[b]),
            rho=records.rho[b].reshape(shape), outputs=outputs,
            alpha=records.alpha[b] if config.weight_decay > 0 else None,
            bias=records.bias[b].reshape(K, G, m) if config.bias else None, velocity=velocity,
            output_weights=(records.out[b] / divisor).reshape(K, G, m) if model.trained else None,
        ))
    return results


#: Multiply-adds of the product ρ G per chunk of steps: about a tenth of a second.
CHUNK_WORK = 2**31


def chunk_steps(runs: int, m: int, n: int) -> int:
    """Steps per kernel call of a batch: short enough to answer Ctrl-C promptly, long enough to cost nothing."""
    return max(1, CHUNK_WORK // (runs * 2 * m * n * n))


def _stack(datas, per_run, dtype=np.float64):
    """``per_run(data)`` of every run, stacked with the run index first (one run: a view, no copy, unless it is
    read-only: numba types a read-only array apart, and would compile the kernels again for it)."""
    values = [per_run(data) for data in datas]
    stacked = np.asarray(values[0])[None] if len(values) == 1 else np.stack(values)
    return np.require(stacked, dtype=dtype, requirements=["C", "W"])


def kernel_statistics(datas) -> _kernels.Statistics:
    """The fixed statistics of the kernels for runs of equal shape, stacked with the run index first.

    The signal fields (a0, c, e, mu_sq) are those of the first signal vector, μ for the paper's model; the
    family's kernel reads every signal vector's from :func:`kernel_signals`.
    """
    return _kernels.Statistics(
        a0=_stack(datas, lambda d: d.w0_signal[..., 0].reshape(-1)),
        b0=_stack(datas, lambda d: d.w0_xi.reshape(-1, d.n_vectors)),
        c=_stack(datas, lambda d: d.xi_signal[:, 0] / d.xi_sq),
        e=_stack(datas, lambda d: d.xi_signal[:, 0] / d.signal_sq[0]),
        G=_stack(datas, lambda d: d.xi_gram / d.xi_sq[:, None]),
        mu_sq=_stack(datas, lambda d: d.signal_sq[0]),
        xi_sq=_stack(datas, lambda d: d.xi_sq),
        y=_stack(datas, lambda d: d.y),
        y_noisy=_stack(datas, lambda d: d.y_noisy),
    )


def kernel_signals(datas) -> _kernels.Signals:
    """The signal statistics of the family's kernel (every signal vector, each sample's signal patch), stacked."""
    return _kernels.Signals(
        a0=_stack(datas, lambda d: d.w0_signal.reshape(-1, d.signals)),
        c=_stack(datas, lambda d: d.xi_signal.T / d.xi_sq[None, :]),
        e=_stack(datas, lambda d: d.xi_signal.T / d.signal_sq[:, None]),
        u_sq=_stack(datas, lambda d: d.signal_sq),
        index=_stack(datas, lambda d: d.signal_index, np.int64),
        sign=_stack(datas, lambda d: d.signal_sign),
        labels=_stack(datas, lambda d: d.y_noisy if d.y.min() >= 0 else np.zeros(d.n, np.int64), np.int64),
    )


# Memory ----------------------------------------------------------------------

#: Environment variable that sets the memory, in GiB, that :func:`check_memory`
#: lets a call use, in place of what the system reports; ``inf`` turns the check off.
MEMORY_ENV = "LABELNOISE_SIM_MEMORY_GIB"
_FLOAT = 8  # bytes of a float64 or an int64


class _Footprint(NamedTuple):
    """Bytes of the large arrays of one run, by how long they live (see :func:`memory_bytes`)."""

    data: int  #: its Data (Gram matrix, labels, the vectors of explicit sampling): kept with its result
    drawing: int  #: more, while the data is drawn
    records: int  #: γ, ρ, the outputs and the steps of every record: kept with its result
    working: int  #: more, while its batch runs: kernel statistics, state, the kernel's scratch
    cached: int  #: what ``analyze`` leaves cached on the result
    analysis: int  #: more, while ``analyze`` runs


def _footprint(config: SimulationConfig, test_error: bool) -> _Footprint:
    """Every large array of a run, counted from the code that makes it (Python ints: no overflow)."""
    n, m, d = config.n, config.m, config.d
    N = n * config.noise_patches  # noise vectors; ρ, G and the Gram matrix grow with them
    # q filters (G groups of m: 2 for the binary model), p random vectors and S signal vectors in the Gram matrix.
    S = config.signal_vectors
    q = config.groups * m
    p = N + q
    K = record_count(config)
    outputs = n * (config.classes if config.multiclass else 1)
    labels = 2 * n  # y and y_noisy, int64
    if config.sampling == "explicit":
        # Kept: ξ (n × d) and W⁽⁰⁾ (2m × d), views of the one array they are drawn into, padded with zero rows
        # to a multiple of 16 (rows × d; sample_explicit), and μ (d). While the Gram kernel runs: its
        # (rows × rows) output before it is copied into the Gram matrix, and its packed block of rows per
        # thread (GRAM_GROUP strips of 16 columns × GRAM_BLOCK coordinates).
        rows = _kernels.gram_rows(p)
        data = (S + p) ** 2 + rows * d + S * d + labels
        # (numba.config.NUMBA_NUM_THREADS bounds the threads without starting them, as get_num_threads would.)
        block = _kernels.GRAM_GROUP * _kernels.GRAM_BLOCK * _kernels.GRAM_STRIP
        drawing = rows * rows + block * min(numba.config.NUMBA_NUM_THREADS, rows // _kernels.GRAM_STRIP)
    else:
        # While sample_gram assembles the Gram matrix: the Wishart draw (p × p; its own making, a (p × dof)
        # matrix for dof < p or Bartlett's factor, is gone by then) and two products of that size.
        data = (S + p) ** 2 + labels
        drawing = 3 * p * p
    records = K * (q * S + q * N + outputs + 1)  # γ (q × S), ρ (q × N), the outputs (n, or n × C), the step
    # kernel_statistics: G (n × n), b0 (2m × n), c, e, ‖ξ_i‖², y, ỹ (n each). Making them holds one more
    # of each: the copy of ⟨ξ_i, ξ_k⟩ divided into G, or, for a batch, the list of runs it stacks.
    statistics = N * N + q * N + 5 * N
    state = 2 * q * N  # ρ and ρ G (new_state)
    # run_dynamics: its working copies of ρ and ρ G, the strips of G (pack_strips), B, the uint32
    # indices, f, g, w.
    scratch = 2 * q * N + (N // _kernels.LANES) * _kernels.LANES * N + _kernels.LANES + q * N + q * N // 2 + 3 * N
    if not config.paper_model:
        # run_family also keeps the slopes S, the gradient R and its product R G (2m × N each), for leaky_relu
        # the sparse part of R, for SAM the perturbed B; with momentum the buffers v_ρ and v_ρ G (state, working
        # copies and, for v_ρ, every record) and the schedule of a chunk (int8).
        family = 3 + (config.activation_kind[0] == "leaky_relu") + (config.sam > 0)
        momentum = config.momentum > 0
        scratch += family * q * N + 4 * q * N * momentum
        records += K * q * N * momentum + 4 * K * q + 2 * K * q * S  # and the output weights, the records of γ
        if config.stochastic:
            scratch += SCHEDULE_CHUNK // _FLOAT
    working = statistics + max(statistics, state + scratch)
    # analyze caches ỹ f and the losses (K × n), and the fitted mask (bool); it also forms a (K × n) product
    # (with one output per class, copies of the outputs for the margins).
    cached = 2 * K * n + K * n // _FLOAT
    analysis = K * outputs
    if test_error:
        # generalization.filter_statistics: the coefficient matrices C and C M (K × 2m × (1 + p)), the
        # latter twice while it is stacked, and the covariances (K × 2m × 2m); estimate: the roots and lines
        # (K × 2m × 2m, K × 2 × P1 2m) and at most 2 MAX_DRAWS draws of P1 × 2m normals.
        analysis += 3 * K * q * (S + p) + 3 * K * q * q + 2 * MAX_DRAWS * config.noise_patches * q
    return _Footprint(*(_FLOAT * x for x in (data, drawing, records, working, cached, analysis)))


def memory_bytes(configs, *, draw: bool = True, analyze: bool = False, test_error: bool = True) -> int:
    r"""Estimated peak bytes of the arrays of ``run_many(configs)``, from the parameters alone.

    Every large array of the path is counted, temporaries included, by how
    long it lives: a run's data (the Gram matrix, :math:`(1 + n + 2m)^2` floats, and
    for explicit sampling :math:`\xi` and :math:`W^{(0)}`, views of the one array they are drawn into, its
    :math:`n + 2m` rows padded with zero rows to a multiple of 16, and :math:`\mu`: about
    :math:`(n + 2m + 1) d`) and its records
    (:math:`K \times (2m n + 2m + n + 1)`, :math:`K` recorded steps) last until ``run_many``
    returns; drawing the data briefly needs more (explicit: a second Gram matrix,
    :math:`(n + 2m)^2`, the vectors being drawn in place; ``"gram"``: the
    Wishart draw and two products, :math:`3 (n + 2m)^2`); a batch of :math:`C` runs needs :math:`C`
    times a run's working arrays (kernel statistics, state and scratch, about
    :math:`2 n^2 + 9 m n`). The peak is

    .. math::

        \sum \text{data} + \max\Big(\text{largest drawing},
            \sum \text{records} + \text{largest batch's working arrays}\Big)

    Runs of equal n, m and steps are counted as one batch (``run_many`` also
    needs equal recorded steps, so this may overcount). Measured peaks of
    resident memory, above the interpreter's, over the estimate: 1.00 for
    single runs at n = 2500-20000 and batches of 3-4 runs at n = 3000,
    explicit or "gram" (n = 20000, d = 100: 9.0 GiB, 2.9 times the Gram
    matrix), and at n = 200, d = 200000, explicit, where the vectors dominate;
    1.07 at n = 2000, d = 20000; 0.91-1.01 for sweep batches with the test error; up to 1.14 at
    n = 2000, where glibc keeps freed blocks of 32 MB in its heap, and 1.05
    at the default size (8 MiB). tests/test_sizes.py measures two cases.

    Parameters
    ----------
    configs : SimulationConfig or sequence of SimulationConfig
        The runs of one ``run_many`` call.
    draw : bool
        Count the drawing of the data (``run_many`` without ``datas``).
    analyze, test_error : bool
        Also count ``analyze(result, test_error=test_error)`` of every
        result after the run, with all results alive, as a sweep's batch does.

    Returns
    -------
    int
        Bytes; the interpreter and the compiled kernels (about 0.2 GiB) are
        not included.
    """
    configs = [configs] if isinstance(configs, SimulationConfig) else list(configs)
    feet = [_footprint(config, test_error) for config in configs]
    batches: dict[tuple, int] = {}
    for config, foot in zip(configs, feet):
        key = config.n, config.m, config.steps, config.noise_patches
        batches[key] = batches.get(key, 0) + foot.working
    data = sum(f.data for f in feet) if draw else 0
    drawing = max((f.drawing for f in feet), default=0) if draw else 0
    records = sum(f.records for f in feet)
    phases = [drawing, records + max(batches.values(), default=0)]
    if analyze:
        phases.append(records + sum(f.cached for f in feet) + max((f.analysis for f in feet), default=0))
    return data + max(phases)


def result_bytes(config: SimulationConfig, *, analyzed: bool = False) -> int:
    """Count the bytes of the arrays a result of ``config`` holds.

    Parameters
    ----------
    config : SimulationConfig
        The run.
    analyzed : bool, default False
        Whether to count what ``analyze`` caches on the result too.

    Returns
    -------
    int
        Bytes of its data and its records, and once analyzed of what ``analyze`` caches.
    """
    foot = _footprint(config, test_error=False)
    return foot.data + foot.records + (foot.cached if analyzed else 0)


def describe_runs(configs) -> str:
    """The sizes of some runs, for an error message.

    Parameters
    ----------
    configs : SimulationConfig or sequence of SimulationConfig
        The runs.

    Returns
    -------
    str
        The sizes of one run, or the count of several and the sizes of the largest.
    """
    configs = [configs] if isinstance(configs, SimulationConfig) else list(configs)
    largest = max(configs, key=memory_bytes, default=None)
    if largest is None:
        return "no run"
    sizes = (f"n={largest.n}, d={largest.d}, m={largest.m}, steps={largest.steps} ({record_count(largest)} "
             f"recorded), sampling={largest.sampling!r}")
    return f"a run with {sizes}" if len(configs) == 1 else f"{len(configs)} runs (the largest with {sizes})"


def available_memory() -> tuple[int | None, str]:
    """Find the bytes of memory a call may use, and where the number comes from.

    In order: the environment variable :data:`MEMORY_ENV` (GiB; ``inf`` for
    no limit), ``MemAvailable`` of /proc/meminfo (Linux: free memory plus
    what the kernel can reclaim), the free physical pages of ``sysconf``.
    Neither of the last two sees the memory limit of a container or a batch
    job; set :data:`MEMORY_ENV` there.

    Returns
    -------
    available : int or None
        Bytes; None if unknown or unlimited.
    source : str
        Where the number comes from.
    """
    setting = os.environ.get(MEMORY_ENV, "").strip()
    if setting:
        try:
            gib = float(setting)
        except ValueError:
            gib = math.nan
        if not gib > 0:
            raise ValueError(f"{MEMORY_ENV} must be a number of GiB > 0, or inf; got {setting!r}")
        return (None if math.isinf(gib) else int(gib * 2**30)), f"{MEMORY_ENV}={setting}"
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "MemAvailable in /proc/meminfo"
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "free physical pages (sysconf)"
    except (AttributeError, ValueError, OSError):
        return None, "unknown"


def check_memory(need: int, what: str, remedy: str = "make it smaller") -> None:
    """Raise ValueError if ``need`` bytes are more than :func:`available_memory`.

    Parameters
    ----------
    need : int
        Bytes the work needs.
    what : str
        The work and its sizes, for the message.
    remedy : str, default "make it smaller"
        What to do instead, for the message.

    Raises
    ------
    ValueError
        If ``need`` is more than the memory available.
    """
    available, source = available_memory()
    if available is not None and need > available:
        raise ValueError(
            f"{what} needs about {_gib(need)} GiB of memory at its peak, more than the {_gib(available)} GiB "
            f"available ({source}); {remedy}, or set {MEMORY_ENV} to the GiB it may use"
        )


def _gib(size: int) -> str:
    return f"{size / 2**30:.3g}"
