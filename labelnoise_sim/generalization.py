r"""Exact test error from the Gaussian law of a fresh sample (no test set).

The filters are :math:`w_q = \alpha w_q^{(0)} + j_q \gamma_q \mu/\|\mu\|^2 + \sum_k \rho_{q,k} \xi_k/\|\xi_k\|^2`
(:math:`\alpha = 1` without weight decay), :math:`q = (j, r)` in class-major order. For a fresh sample
of true class :math:`y`, the signal part of the output is fixed by :math:`A_q = \langle w_q, \mu \rangle`,
and the noise part depends on each of its :math:`P_1` noise vectors :math:`\xi_p` only through
:math:`Z_p = (\langle w_q, \xi_p \rangle)_q \sim N(0, \sigma_\xi^2 W \Sigma W^\top)`, independent over
:math:`p`, with :math:`\Sigma = I` (isotropic noise) or :math:`I - \mu\mu^\top/\|\mu\|^2` (orthogonal
noise). The output is, in the patches and the additive layouts,

.. math::

    f = s \sum_q j_q \Big[\sigma(y A_q + b_q) + \sum_p \sigma(Z_{p,q} + b_q)\Big],
    \qquad
    f = s \sum_q j_q \, \sigma(y A_q + Z_q + b_q)

(:math:`s = 1/m` or 1, :math:`b` the bias, 0 without one), and a sample of true class :math:`y` is
misclassified (:math:`y f \le 0`) with probability :math:`P(y f \le 0)`. :math:`W \Sigma W^\top` follows from
the coefficients and the Gram matrix of :math:`(\mu, \xi_1, \dots, \xi_N, W^{(0)})`: :math:`W = C V` with the
coefficient matrix :math:`C` below.

:func:`estimate` integrates that Gaussian probability to a set relative
precision (2 % at 95 % confidence by default) at any size, 1e-12 and far
below: line sampling along the most likely failure direction, in which the
failing mass of each line is exact for ReLU and leaky ReLU networks
(importance sampling for the other activations), over randomised
quasi-Monte Carlo draws fixed by the run's seed, so the curve over time is
smooth and reproducible. The kernels (``_kernels.design_direction``,
``failure_masses``, ``failure_sums``) run every sum in a fixed order,
without BLAS: the estimate does not depend on the BLAS library or on the
thread count. :func:`class_errors` with ``method="monte_carlo"`` keeps the
plain estimate (the share of misclassified draws), for checks.

:func:`estimate_loss` gives the test loss, the expected training loss of a
fresh clean sample, :math:`L_{\mathcal D} = \tfrac12 \sum_{y = \pm 1} E[\ell(y f)]`,
over the same Gaussian law, by randomised quasi-Monte Carlo on the same
draws, to 1 % relative standard error.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np
from scipy.special import ndtri

from . import _kernels
from .data import seed_streams, substream

__all__ = ["coefficient_matrix", "filter_statistics", "estimate", "estimate_draws", "class_errors", "TestErrorEstimate",
           "estimate_loss", "TestLossEstimate", "LOSS_RSE", "LOSS_FIRST_POINTS", "TARGET_RSE", "REPLICATES",
           "FIRST_POINTS", "MAX_DRAWS", "DEFAULT_DRAWS"]

#: Relative standard error :func:`estimate` aims at for the clean test error (the mean of the two class
#: errors): 2 % with 95 % confidence.
TARGET_RSE = 0.02 / 2.131449545559323  # the 0.975 quantile of Student's t, REPLICATES - 1 = 15 degrees of freedom

#: Independent randomisations of the quasi-Monte Carlo draws of :func:`estimate`: its standard errors come
#: from their spread.
REPLICATES = 16

#: Points of each replicate at the first try of a recorded step (REPLICATES × FIRST_POINTS draws).
FIRST_POINTS = 16

#: A step short of its target by at most twice its draws adds this many times the replicates its spread asks for.
GROWTH_MARGIN = 1.2

#: A step whose first draws show it needs more than AIM_ABOVE times as many aims its lines at the mean failing
#: draw of PILOT_DRAWS plain draws of its own, and starts again.
AIM_ABOVE = 9.0
PILOT_DRAWS = 512

#: Most draws :func:`estimate` takes for one recorded step.
MAX_DRAWS = 2**17

#: Relative standard error :func:`estimate_loss` aims at for the test loss.
LOSS_RSE = 0.01

#: Points of each replicate :func:`estimate_loss` takes before it trusts their spread (REPLICATES × LOSS_FIRST_POINTS
#: draws). A good part of a trained network's loss comes from its rare misclassified draws, whose loss grows with
#: the depth of the mistake; with fewer draws most replicates miss them alike, and both the estimate and its
#: spread come out low. Measured against 2^17 draws on the default run at steps 300, 1000 and 2000 (test
#: errors 0.14 % to 0.3 %) with the logistic and the exponential loss, at step 20 000, with the exponential
#: loss at eta = 0.3, step 5000, and on a harmful run (d = 600, n snr^2 = 2): with 512 to 2048 draws the
#: estimates of the four default-size runs fell 2.5 to 4.4 of their standard errors low at one size or
#: another; with 8192 all lay within 1 (with 16 384, within 1.8).
#: Over the 121 steps of the default run (logistic; exponential; exponential without label noise, errors down
#: to 1e-10), the estimates lay within 3.2 standard errors of 2^17 draws' (2 to 3 % of them beyond 2), at
#: most 0.15 % off.
LOSS_FIRST_POINTS = 512

#: Plain draws of ``class_errors(method="monte_carlo")``: the standard error of
#: an error rate p is sqrt(p (1 - p) / DEFAULT_DRAWS).
DEFAULT_DRAWS = 2**15


def coefficient_matrix(gamma, rho, mu_sq, xi_sq, alpha=None):
    r"""The coefficients :math:`C` of the filters in the data's vectors.

    :math:`W = C V` with :math:`V = [\mu; \xi_1, \dots, \xi_N; W^{(0)} \text{ rows}]`.

    Parameters
    ----------
    gamma : ndarray of float64, shape (K, 2, m)
        Signal coefficients.
    rho : ndarray of float64, shape (K, 2, m, N) or (K, 2, m, n, P1)
        Noise coefficients, the noise vectors sample by sample (:math:`k = i P_1 + p`).
    mu_sq : float
        :math:`\|\mu\|^2`.
    xi_sq : ndarray of float64, shape (N,)
        The :math:`\|\xi_k\|^2`.
    alpha : ndarray of float64, shape (K,), or None, default None
        The factor of :math:`W^{(0)}`; None for 1.

    Returns
    -------
    ndarray of float64, shape (K, 2m, 1 + N + 2m)
        :math:`C`.
    """
    K, _, m = gamma.shape
    q2 = 2 * m
    rho = rho.reshape(K, q2, -1)
    N = rho.shape[2]
    C = np.zeros((K, q2, 1 + N + q2))
    jsign = np.repeat([1.0, -1.0], m)
    C[:, :, 0] = jsign * gamma.reshape(K, q2) / mu_sq
    C[:, :, 1 : 1 + N] = rho / xi_sq
    if alpha is None:
        C[:, :, 1 + N :] = np.eye(q2)
    else:
        C[:, :, 1 + N :] = np.asarray(alpha, dtype=np.float64).reshape(K, 1, 1) * np.eye(q2)
    return C


def filter_statistics(gamma, rho, gram, config, *, alpha=None):
    r"""Signal products :math:`A` and the noise covariance :math:`W \Sigma W^\top`, per unit :math:`\sigma_\xi^2`.

    Parameters
    ----------
    gamma : ndarray of float64, shape (K, 2, m)
        Signal coefficients.
    rho : ndarray of float64, shape (K, 2, m, N) or (K, 2, m, n, P1)
        Noise coefficients.
    gram : ndarray of float64, shape (1 + N + 2m, 1 + N + 2m)
        The run's Gram matrix (``Data.gram``).
    config : SimulationConfig
        The run: the number of noise vectors :math:`N = n P_1` and the noise model.
    alpha : ndarray of float64, shape (K,), or None, default None
        The factor of :math:`W^{(0)}`; None for 1.

    Returns
    -------
    A : ndarray of float64, shape (K, 2m)
        :math:`\langle w_{j,r}, \mu \rangle`.
    cov : ndarray of float64, shape (K, 2m, 2m)
        :math:`W \Sigma W^\top`.
    """
    N = config.n * config.noise_patches
    mu_sq = gram[0, 0]
    xi_sq = np.diag(gram)[1 : 1 + N]
    C = coefficient_matrix(gamma, rho, mu_sq, xi_sq, alpha)
    if C.shape[2] != gram.shape[0]:
        raise ValueError(f"coefficients over {C.shape[2]} vectors for a Gram matrix of side {gram.shape[0]}")
    K, q2, V = C.shape
    CM, cov = np.zeros((K, q2, V)), np.zeros((K, q2, q2))
    gram = np.ascontiguousarray(gram, dtype=np.float64)
    _threaded(lambda start, stop: _kernels.statistics_products(C, gram, CM, cov, start, stop), K, 4)
    A = CM[:, :, 0]
    if config.noise == "orthogonal":
        cov -= A[:, :, None] * A[:, None, :] / mu_sq
    return A, 0.5 * (cov + cov.transpose(0, 2, 1))


class TestErrorEstimate(NamedTuple):
    r"""The clean test error of each recorded step, with its standard errors (:func:`estimate`).

    Attributes
    ----------
    by_class : ndarray of float64, shape (K, 2)
        :math:`P(y f \le 0 \mid y)` for :math:`y = +1, -1`.
    stderr_by_class : ndarray of float64, shape (K, 2)
        Their standard errors.
    stderr : ndarray of float64, shape (K,)
        The standard error of the clean test error, ``by_class.mean(axis=1)``.
    draws : ndarray of int64, shape (K,)
        The number of draws each step used.
    """

    by_class: np.ndarray  #: (K, 2) :math:`P(y f \le 0 \mid y)` for :math:`y = +1, -1`
    stderr_by_class: np.ndarray  #: (K, 2) their standard errors
    stderr: np.ndarray  #: (K,) the standard error of the clean test error, by_class.mean(axis=1)
    draws: np.ndarray  #: (K,) the number of draws each step used


#: The kernels an estimate calls first: a first estimate in a process compiles them, unless numba's disk cache
#: has them.
KERNELS = (_kernels.design_direction, _kernels.failure_sums)


def estimate(gamma, rho, gram, config, *, alpha=None, bias=None, rse=TARGET_RSE, max_draws=MAX_DRAWS, draws=None):
    r"""Misclassification probability of each true class, with standard errors, to a relative error ``rse``.

    For ReLU and leaky ReLU, a draw's estimate is the exact normal mass of
    the failing part of a line through it, along the direction of the most
    likely failure (line sampling). For the other activations a draw is
    moved to the most likely failing point and weighted back (importance
    sampling). See ``_kernels.failure_masses``: both are unbiased whatever
    the direction.

    The draws are :data:`REPLICATES` independently scrambled Sobol sequences
    (randomised quasi-Monte Carlo) seeded by the run's seed, the same at
    every step, so the curve over time is smooth; the standard errors come
    from the spread of the replicates. Each step starts with
    :data:`FIRST_POINTS` points of every replicate and doubles them, or adds
    replicates (up to twice :data:`REPLICATES`) when it is short by at most
    2x, until the clean test error's standard error is at most ``rse`` times
    it, or ``max_draws`` draws.
    The steps are shared among numba's threads; the result does not depend
    on their number.

    ``draws``, from :func:`estimate_draws` of the same seed and noise patches,
    keeps the draws made for one call for the next (the same numbers,
    without drawing them again).

    A record whose statistics :math:`A`, :math:`W \Sigma W^\top` or bias are not finite gets NaN: its
    error is undefined. That happens when :math:`\eta` is so large that the filters
    outgrow the floating-point range in :math:`W \Sigma W^\top` (a product of two filters)
    while the training outputs, linear in the filters, stay finite.

    Parameters
    ----------
    gamma : ndarray of float64, shape (K, 2, m)
        Signal coefficients.
    rho : ndarray of float64, shape (K, 2, m, N) or (K, 2, m, n, P1)
        Noise coefficients.
    gram : ndarray of float64, shape (1 + N + 2m, 1 + N + 2m)
        The run's Gram matrix (``Data.gram``).
    config : SimulationConfig
        The run (n, noise, sigma_xi, seed, activation, layout, patches, output_scale).
    alpha : ndarray of float64, shape (K,), or None, default None
        The factor of :math:`W^{(0)}`; None for 1.
    bias : ndarray of float64, shape (K, 2, m), or None, default None
        The bias; None for :math:`b = 0`.
    rse : float, default TARGET_RSE
        The relative standard error to reach.
    max_draws : int, default MAX_DRAWS
        The most draws a step may use.
    draws : optional
        Draws of :func:`estimate_draws`; None to make them.

    Returns
    -------
    TestErrorEstimate
        The estimates and their standard errors, for each record.
    """
    K, _, m = gamma.shape
    A, roots, bias, records = _prepared(gamma, rho, gram, config, alpha, bias)
    kind, p1, p2 = _activation_args(config)
    P1 = config.noise_patches
    D = P1 * 2 * m
    additive = config.layout == "additive"
    sigma_xi = float(config.sigma_xi)
    finite = np.zeros(K, dtype=bool)
    finite[records] = True
    e = np.zeros((K, 2, D))
    beta = np.zeros((K, 2))
    for k in records:
        for c, y in enumerate((1.0, -1.0)):
            beta[k, c] = _kernels.design_direction(roots[k], sigma_xi, A[k], bias[k], y, kind, p1, p2, P1, additive,
                                                   e[k, c])
    max_draws = max(max_draws, REPLICATES * FIRST_POINTS)
    if draws is None or draws.shape[1] < max_draws // REPLICATES:
        draws = estimate_draws(config, max_draws)
    sums = np.zeros((K, 2, 2 * REPLICATES))
    replicates = np.full(K, REPLICATES)
    points = np.full(K, FIRST_POINTS)
    args = (sigma_xi, A, bias, kind, p1, p2, P1, additive, e, beta)

    def add(first, count, lo, hi, chosen):
        z = draws.upto(first + count, hi)
        _threaded(lambda start, stop: _kernels.failure_sums(roots, z, lo, hi, first, count, *args, chosen, start,
                                                            stop, sums), len(chosen) * count)

    add(0, REPLICATES, 0, FIRST_POINTS, records)
    if kind in _kernels.PIECEWISE_LINEAR:
        # Steps that will need many draws: aim their lines at the mean failing draw instead, and start again.
        again = records[_need(sums, replicates, points, rse)[records] > AIM_ABOVE]
        if again.size:
            pilot = draws.pilot()
            _threaded(lambda start, stop: _kernels.failing_means(roots, pilot, sigma_xi, A, bias, kind, p1, P1,
                                                                 additive, e, again, start, stop), again.size, 1)
            sums[again] = 0.0
            add(0, REPLICATES, 0, FIRST_POINTS, again)
    pending = records
    while True:
        need = _need(sums, replicates, points, rse)
        R, n = replicates[pending], points[pending]
        # Twice the points of every replicate when short by more than 2x or out of replicates (scrambled Sobol
        # points keep their balance in powers of 2); otherwise, or with no room to double, more replicates of
        # the same length, as many as the spread asks for (with a margin), up to 2 REPLICATES; never more than
        # max_draws in all.
        double = ((need[pending] > 2.0) | (R >= 2 * REPLICATES)) & (2 * R * n <= max_draws)
        extra = np.minimum(np.ceil(R * (need[pending] - 1.0) * GROWTH_MARGIN),
                           np.minimum(2 * REPLICATES, max_draws // n) - R).astype(np.int64)
        go = (need[pending] > 1.0) & (double | (extra >= 1))
        pending, double, extra = pending[go], double[go], extra[go]
        if not pending.size:
            break
        steps = {}
        for k, twice, x in zip(pending, double, extra):
            R, n = int(replicates[k]), int(points[k])
            steps.setdefault((0, R, n, 2 * n) if twice else (R, int(x), 0, n), []).append(k)
        for (first, count, lo, hi), chosen in steps.items():
            chosen = np.array(chosen)
            add(first, count, lo, hi, chosen)
            if lo == 0:
                replicates[chosen] += count
            else:
                points[chosen] = hi
    errors = np.full((K, 2), np.nan)
    for k in records:
        errors[k] = (sums[k, :, : replicates[k]] / points[k]).mean(axis=1)
    stderr = _spread(sums / points[:, None, None], replicates[:, None])
    stderr_mean = _spread(sums.mean(axis=1) / points[:, None], replicates)
    unknown = ~finite
    errors[unknown], stderr[unknown], stderr_mean[unknown] = np.nan, np.nan, np.nan
    return TestErrorEstimate(errors, stderr, stderr_mean, np.where(finite, replicates * points, 0))


class TestLossEstimate(NamedTuple):
    r"""The clean test loss of each recorded step, with its standard error (:func:`estimate_loss`).

    Attributes
    ----------
    loss : ndarray of float64, shape (K,)
        :math:`\tfrac12 \sum_y E[\ell(y f) \mid y]`, the expected loss of a fresh clean sample.
    stderr : ndarray of float64, shape (K,)
        Its standard error.
    by_class : ndarray of float64, shape (K, 2)
        :math:`E[\ell(y f) \mid y]` for :math:`y = +1, -1`.
    draws : ndarray of int64, shape (K,)
        The number of draws each step used.
    """

    loss: np.ndarray  #: (K,) :math:`\tfrac12 \sum_y E[\ell(y f) \mid y]`, the expected loss of a fresh clean sample
    stderr: np.ndarray  #: (K,) its standard error
    by_class: np.ndarray  #: (K, 2) :math:`E[\ell(y f) \mid y]` for :math:`y = +1, -1`
    draws: np.ndarray  #: (K,) the number of draws each step used


def estimate_loss(gamma, rho, gram, config, *, alpha=None, bias=None, rse=LOSS_RSE, max_draws=MAX_DRAWS,
                  draws=None):
    r"""Expected loss of a fresh clean sample at each recorded step, with its standard error, to relative error ``rse``.

    .. math::

        L_{\mathcal D} = \tfrac12 \sum_{y = \pm 1} E_{Z}\big[\ell\big(y f(y, Z)\big)\big],
        \qquad Z_p \sim N(0, \sigma_\xi^2 W \Sigma W^\top) \text{ independent over the } P_1 \text{ noise patches},

    with :math:`f` the network's output on a fresh sample of true class :math:`y` (the module's equation: the
    signal part fixed by :math:`A = W\mu` and the bias, the noise part a function of :math:`Z`) and
    :math:`\ell` the run's loss (``config.loss``). :math:`A` and :math:`W \Sigma W^\top` are
    :func:`filter_statistics`'s, as for the test error.

    Arguments as :func:`estimate` takes them. Each class's expectation is the mean of
    :math:`\ell(y f)` over :data:`REPLICATES` independently scrambled Sobol sequences mapped to normals
    (randomised quasi-Monte Carlo, the draws of :func:`estimate`: ``draws`` from :func:`estimate_draws`
    shares them), the same at every step, so the curve over time is smooth. The standard error is the
    spread of the replicates' estimates of :math:`L_{\mathcal D}`. Each step starts with
    :data:`LOSS_FIRST_POINTS` points per replicate and doubles them until the standard error is at most ``rse``
    times the estimate, or the next doubling would pass ``max_draws`` draws.

    Where the loss is tiny there is no absolute floor, only that cap: a loss that is 0 on every draw (the
    hinge loss when every draw's margin is at least 1; the squared loss at an exact fit) gets 0 with
    standard error 0, although a rarer draw could lose more. A loss carried by draws rarer than about one
    in the draws taken can come out low with a spread that does not show it, as with any Monte Carlo
    estimate; one carried by the rare draws of a far tail that the draws do reach (the hinge loss just
    above that, or an exponential loss dominated by a few very wrong draws) can stop at ``max_draws`` with
    a standard error above ``rse`` times it, which ``stderr`` then reports.

    Each record's draws and their number depend only on its own statistics, not on the other records
    estimated with it; the sums run in a fixed order (``_kernels.loss_sums``), shared among numba's threads
    by (record, replicate) pairs: the result does not depend on their number. A record whose statistics are
    not finite gets NaN (see :func:`estimate`).

    Parameters
    ----------
    gamma : ndarray of float64, shape (K, 2, m)
        Signal coefficients.
    rho : ndarray of float64, shape (K, 2, m, N) or (K, 2, m, n, P1)
        Noise coefficients.
    gram : ndarray of float64, shape (1 + N + 2m, 1 + N + 2m)
        The run's Gram matrix (``Data.gram``).
    config : SimulationConfig
        The run (its loss, activation, layout, patches, noise, sigma_xi, output_scale and seed).
    alpha : ndarray of float64, shape (K,), or None, default None
        The factor of :math:`W^{(0)}`; None for 1.
    bias : ndarray of float64, shape (K, 2, m), or None, default None
        The bias; None for :math:`b = 0`.
    rse : float, default LOSS_RSE
        The relative standard error to reach.
    max_draws : int, default MAX_DRAWS
        The most draws a step may use.
    draws : optional
        Draws of :func:`estimate_draws`; None to make them.

    Returns
    -------
    TestLossEstimate
        The estimates and their standard errors, for each record.
    """
    K, _, m = gamma.shape
    A, roots, bias, records = _prepared(gamma, rho, gram, config, alpha, bias)
    kind, p1, p2 = _activation_args(config)
    max_draws = max(max_draws, REPLICATES * LOSS_FIRST_POINTS)
    if draws is None or draws.shape[1] < max_draws // REPLICATES:
        draws = estimate_draws(config, max_draws)
    scale = 1.0 / m if config.output_scale == "mean" else 1.0
    args = (float(config.sigma_xi), A, bias, scale, kind, p1, p2, config.noise_patches, config.layout == "additive",
            _kernels.LOSS_CODES[config.loss])
    sums = np.zeros((K, 2, REPLICATES))
    points = np.zeros(K, dtype=np.int64)
    pending, lo, hi = records, 0, LOSS_FIRST_POINTS
    # Every pending record has the same points, so one call per doubling serves them all.
    while pending.size:
        z = draws.upto(REPLICATES, hi)
        _threaded(lambda start, stop: _kernels.loss_sums(roots, z, lo, hi, *args, pending, start, stop, sums),
                  pending.size * REPLICATES)
        points[pending] = hi
        mean, spread = _loss_spread(sums[pending], hi)
        with np.errstate(invalid="ignore"):
            short = ~(spread <= rse * mean)
        short &= np.isfinite(spread)  # an overflowing loss (inf, spread NaN) stops: no number of draws fixes it
        lo, hi = hi, 2 * hi
        pending = pending[short] if REPLICATES * hi <= max_draws else pending[:0]
    by_class = np.full((K, 2), np.nan)
    stderr = np.full(K, np.nan)
    if records.size:
        by_class[records] = (sums[records] / points[records, None, None]).mean(axis=2)
        stderr[records] = _loss_spread(sums[records], points[records])[1]
    return TestLossEstimate(by_class.mean(axis=1), stderr, by_class, REPLICATES * points)


def _loss_spread(sums, points):
    """The test loss and its standard error from the sums (K, 2, R) of ``points`` draws (scalar or (K,)) per
    replicate: the mean and the spread of the replicates' estimates 0.5 (sum_+ + sum_-) / points."""
    per_replicate = 0.5 * (sums[:, 0] + sums[:, 1]) / np.reshape(points, (-1, 1))
    R = per_replicate.shape[1]
    mean = per_replicate.mean(axis=1)
    with np.errstate(invalid="ignore"):
        spread = np.sqrt(((per_replicate - mean[:, None]) ** 2).sum(axis=1) / ((R - 1) * R))
    return mean, spread


def _threaded(work, items, least=8):
    """work(start, stop) over 0..items-1, cut into one contiguous range per thread (numba's thread count), each
    of at least ``least`` items.

    The kernels release the GIL and each item is computed on its own, in a fixed order: the result does not
    depend on the number of threads.
    """
    from numba import config as numba_config

    threads = max(1, min(int(numba_config.NUMBA_NUM_THREADS), items // least))
    if threads == 1:
        work(0, items)
        return
    bounds = np.linspace(0, items, threads + 1).astype(np.int64)
    pool = _pool(threads)
    for future in [pool.submit(work, int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]:
        future.result()


_POOL = {}


def _pool(threads):
    """A thread pool of ``threads`` workers kept for the process (a fresh one after a fork, whose child has none of
    its parent's threads): starting one per call cost more than some of the calls' work."""
    from concurrent.futures import ThreadPoolExecutor

    key = (os.getpid(), threads)
    if key not in _POOL:
        for old in _POOL.values():
            old.shutdown(wait=False)
        _POOL.clear()
        _POOL[key] = ThreadPoolExecutor(threads, thread_name_prefix="labelnoise-sim-test-error")
    return _POOL[key]


def _spread(values, replicates):
    """The standard error of the mean of the first ``replicates`` entries of the last axis of ``values``.

    values (..., R) the replicates' estimates; replicates (...) how many of them count (at least 2).
    """
    used = np.arange(values.shape[-1]) < replicates[..., None]
    mean = np.where(used, values, 0.0).sum(axis=-1) / replicates
    square = np.where(used, (values - mean[..., None]) ** 2, 0.0).sum(axis=-1)
    return np.sqrt(square / ((replicates - 1) * replicates))


def _need(sums, replicates, points, rse):
    """How many times its draws each record needs to bring the clean test error's standard error to ``rse`` times
    the error: sums (K, 2, replicates), replicates and points per replicate (K,)."""
    mean = sums.sum(axis=(1, 2)) / (2 * replicates * points)
    spread = _spread(sums.mean(axis=1) / points[:, None], replicates)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mean > 0, (spread / (rse * mean)) ** 2, 0.0)


def class_errors(gamma, rho, gram, config, *, alpha=None, bias=None, method="precise", draws=DEFAULT_DRAWS):
    r"""Misclassification probability of each true class, shape (K, 2): [y = +1, y = -1].

    ``method="precise"`` is :func:`estimate` (to 2 % at 95 % confidence).
    ``method="monte_carlo"`` counts the misclassified ones among ``draws``
    plain draws of a fresh sample (``draws × P1 × 2m`` standard normals of
    the seed's "test" stream, draw by draw): the brute-force estimate, with
    standard error sqrt(p (1 - p) / draws), which reads 0 below about
    1 / draws.

    Parameters
    ----------
    gamma : ndarray of float64, shape (K, 2, m)
        Signal coefficients.
    rho : ndarray of float64, shape (K, 2, m, N) or (K, 2, m, n, P1)
        Noise coefficients.
    gram : ndarray of float64, shape (1 + N + 2m, 1 + N + 2m)
        The run's Gram matrix (``Data.gram``).
    config : SimulationConfig
        The run (n, noise, sigma_xi, seed, activation, layout, patches, output_scale).
    alpha : ndarray of float64, shape (K,), or None, default None
        The factor of :math:`W^{(0)}`; None for 1.
    bias : ndarray of float64, shape (K, 2, m), or None, default None
        The bias; None for :math:`b = 0`.
    method : {"precise", "monte_carlo"}, default "precise"
        The estimate.
    draws : int, default DEFAULT_DRAWS
        The draws of ``method="monte_carlo"``.

    Returns
    -------
    ndarray of float64, shape (K, 2)
        :math:`P(y f \le 0 \mid y)` for :math:`y = +1, -1`.
    """
    if method == "precise":
        return estimate(gamma, rho, gram, config, alpha=alpha, bias=bias).by_class
    if method != "monte_carlo":
        raise ValueError(f"method must be 'precise' or 'monte_carlo', got {method!r}")
    K, _, m = gamma.shape
    q2 = 2 * m
    A, cov, bias, finite = _statistics(gamma, rho, gram, config, alpha, bias)
    kind, p1, p2 = _activation_args(config)
    P1 = config.noise_patches
    scale = 1.0 / m if config.output_scale == "mean" else 1.0
    z = seed_streams(config.seed)["test"].standard_normal((draws, P1, q2))
    # Row p 2m + q holds coordinate q of noise patch p, one column per draw.
    z_t = np.ascontiguousarray(z.reshape(draws, P1 * q2).T)
    errors = np.full((K, 2), np.nan)
    for k in np.flatnonzero(finite):
        wrong = _kernels.misclassified_draws_family(
            _root(cov[k]), z_t, float(config.sigma_xi), np.ascontiguousarray(A[k]), bias[k], scale,
            kind, p1, p2, P1, config.layout == "additive")
        errors[k] = np.asarray(wrong) / draws
    return errors


def _statistics(gamma, rho, gram, config, alpha, bias):
    """A (K, 2m), W Σ Wᵀ (K, 2m, 2m), the bias (K, 2m) (zeros for None), and which records are finite (K,)."""
    K, _, m = gamma.shape
    # Overflow here is a diverged run, reported as NaN rows rather than as warnings.
    with np.errstate(over="ignore", invalid="ignore"):
        A, cov = filter_statistics(gamma, rho, gram, config, alpha=alpha)
    finite = np.isfinite(A).all(axis=1) & np.isfinite(cov).all(axis=(1, 2))
    if bias is None:
        bias = np.zeros((K, 2 * m))
    bias = np.ascontiguousarray(bias, dtype=np.float64).reshape(K, 2 * m)
    finite &= np.isfinite(bias).all(axis=1)
    return A, cov, bias, finite


def _prepared(gamma, rho, gram, config, alpha, bias):
    """What the estimators draw with: A (K, 2m), 0 where a record's statistics are not finite; the roots of
    W Σ Wᵀ (K, 2m, 2m), 0 there too; the bias (K, 2m); the indices of the finite records."""
    A, cov, bias, finite = _statistics(gamma, rho, gram, config, alpha, bias)
    records = np.flatnonzero(finite)
    roots = np.zeros_like(cov)
    roots[records] = _roots(cov[records])
    return np.ascontiguousarray(np.where(finite[:, None], A, 0.0)), roots, bias, records


def _activation_args(config):
    """(code, p1, p2) of the run's activation, as the kernels take them."""
    kind, params = config.activation_kind
    p1, p2 = (tuple(float(v) for v in params) + (0.0, 0.0))[:2]
    return _kernels.ACTIVATION_CODES[kind], p1, p2


def estimate_draws(config, max_draws=MAX_DRAWS) -> "_Draws":
    """The draws :func:`estimate` takes for runs of this seed and these noise patches, made as they are needed.

    Parameters
    ----------
    config : SimulationConfig
        The run (its seed, filters and noise patches).
    max_draws : int, default MAX_DRAWS
        The most draws a step may use.

    Returns
    -------
    object
        The draws, to pass to :func:`estimate` as ``draws``.
    """
    most = max(max_draws // REPLICATES, FIRST_POINTS)
    return _Draws(config.seed, config.noise_patches * 2 * config.m, 2 * REPLICATES, most)


class _Draws:
    """The draws of :func:`estimate`: scrambled Sobol sequences (replicates) in D dimensions, as normals.

    ``upto(R, n)`` holds the first n points of the first R replicates in an
    array (replicates, points, D) made once; points are drawn when first
    asked for, in order.
    """

    def __init__(self, seed, D, replicates, points):
        self._seed, self._D = seed, D
        self._z = np.empty((replicates, points, D))
        self.shape = self._z.shape
        self._engines = []
        self._have = []
        self._pilot = None

    def upto(self, count, points):
        """The draws array, with at least the first ``points`` points of replicates 0..count-1 filled in."""
        from scipy.stats import qmc  # scipy.stats takes a while to import: only when a test error is asked for

        while len(self._engines) < count:
            replicate = len(self._engines)
            self._engines.append(qmc.Sobol(self._D, scramble=True, seed=substream(self._seed, "test", replicate)))
            self._have.append(0)
        for r in range(count):
            have = self._have[r]
            if have < points:
                self._z[r, have:points] = _normals(self._engines[r].random(points - have))
                self._have[r] = points
        return self._z

    def pilot(self):
        """PILOT_DRAWS plain standard normal draws of their own, shape (D, PILOT_DRAWS)."""
        if self._pilot is None:
            rng = substream(self._seed, "test", self._z.shape[0])
            self._pilot = np.ascontiguousarray(rng.standard_normal((PILOT_DRAWS, self._D)).T)
        return self._pilot


def _normals(u):
    """Standard normals from points of (0, 1) (scrambled points lie strictly inside; the clip only guards ndtri)."""
    return ndtri(np.clip(u, 2.0**-64, 1.0 - 2.0**-53))


def _roots(cov):
    """Square roots R of a stack of covariances (R Rᵀ = cov, shape (K, D, D)), from their eigendecompositions,
    negative eigenvalues clipped (:func:`~labelnoise_sim._kernels.symmetric_roots`: not LAPACK, whose bits depend
    on the BLAS kernel the CPU selects)."""
    roots = np.empty_like(cov)
    _kernels.symmetric_roots(np.ascontiguousarray(cov, dtype=np.float64), roots)
    return roots


def _root(cov):
    """A square root R of one covariance (R Rᵀ = cov), as :func:`_roots` forms it."""
    return _roots(cov[None])[0]
