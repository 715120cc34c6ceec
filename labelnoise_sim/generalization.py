r"""Exact test error from the Gaussian law of a fresh sample (no test set).

The filters are :math:`w_q = \alpha w_q^{(0)} + j_q \sum_s \gamma_{q,s} u_s/\|u_s\|^2 + \sum_k \rho_{q,k}
\xi_k/\|\xi_k\|^2` (:math:`\alpha = 1` without weight decay; :math:`u_0 = \mu` for one signal vector;
:math:`j_q = \pm 1` the group sign of the binary model, 1 with one output per class), :math:`q = (g, r)` in
group-major order over the :math:`Q = G m` filters. A fresh sample has a uniform class and carries a signal
patch :math:`s u_k` with the probabilities of ``data.signal_law``; given them, the signal part of the
outputs is fixed by :math:`a_q = s \langle w_q, u_k \rangle`, and the noise part depends on each of its
:math:`P_1` noise vectors :math:`\xi_p` only through
:math:`Z_p = (\langle w_q, \xi_p \rangle)_q \sim N(0, \sigma_\xi^2 W \Sigma W^\top)`, independent over
:math:`p`, with :math:`\Sigma = I` (isotropic noise) or the projection orthogonal to every signal vector
(orthogonal noise). Output :math:`o` is, in the patches and the additive layouts,

.. math::

    F_o = s_v \sum_{q \to o} v_q \Big[\sigma(a_q + b_q) + \sum_p \sigma(Z_{p,q} + b_q)\Big],
    \qquad
    F_o = s_v \sum_{q \to o} v_q \, \sigma(a_q + Z_q + b_q)

over the filters that feed it (:math:`b` the bias, 0 without one; :math:`v_q` the output weights, :math:`s_v
v_q = \pm 1/m` or :math:`\pm 1` for the fixed layer). The binary models have one output :math:`f` and
misclassify a sample of class :math:`y = \pm 1` when :math:`y f \le 0`; with one output per class a sample
of class :math:`c` is misclassified when :math:`\operatorname{argmax}_o F_o \ne c` (the first largest output,
as numpy's argmax). Each class's error is a finite mixture, over its signal patterns, of Gaussian
probabilities. :math:`W \Sigma W^\top` and :math:`\langle w_q, u_s \rangle` follow from the coefficients and
the Gram matrix of :math:`(u_0, \dots, u_{S-1}, \xi_1, \dots, \xi_N, W^{(0)})`: :math:`W = C V` with the
coefficient matrix :math:`C` below.

:func:`estimate` integrates those Gaussian probabilities to a set relative
precision (2 % at 95 % confidence by default). For ReLU and leaky ReLU it does so at any size of the
error, 1e-12 and far below, by line sampling along the most likely failure direction, in which the
failing mass of each line is exact for those piecewise linear networks. For the other activations it is
importance sampling from a defensive mixture: each draw counts both as it is and shifted to the most likely
failing point, weighted by the balance heuristic, so that the far tail is reached through the shift while
no failure region of the nominal law is left out (a shift alone can miss one, and then reads low with a
standard error that does not show it). Both run over randomised
quasi-Monte Carlo draws fixed by the run's seed, so the curve over time is
smooth and reproducible; with one output per class, each event "class g is
the first to beat the true class" has lines of its own. The kernels
(``_kernels.design_direction``, ``failure_masses``, ``failure_sums``) run
every sum in a fixed order, without BLAS: the estimate does not depend on
the BLAS library or on the thread count. :func:`class_errors` with
``method="monte_carlo"`` keeps the plain estimate (the share of
misclassified draws), for checks.

:func:`estimate_loss` gives the test loss, the expected training loss of a
fresh clean sample (the run's loss :math:`\ell(y f)`, or the softmax cross-entropy), over the same
Gaussian law, by randomised quasi-Monte Carlo on the same draws, to 1 % relative standard error.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from . import _kernels, _sobol
from .data import seed_streams, signal_law, substream

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


def coefficient_matrix(gamma, rho, mu_sq, xi_sq, alpha=None, *, signs=None):
    r"""The coefficients :math:`C` of the filters in the data's vectors.

    :math:`W = C V` with :math:`V = [u_0, \dots, u_{S-1}; \xi_1, \dots, \xi_N; W^{(0)} \text{ rows}]` (the order of
    ``Data.gram``; :math:`u_0 = \mu` for one signal vector): filter :math:`q` of group :math:`g` is
    :math:`\alpha w_q^{(0)} + j_g \sum_s \gamma_{q,s} u_s/\|u_s\|^2 + \sum_k \rho_{q,k} \xi_k/\|\xi_k\|^2`.

    Parameters
    ----------
    gamma : ndarray of float64, shape (K, G, m) or (K, G, m, S)
        Signal coefficients (the last axis over the S signal vectors, absent for one).
    rho : ndarray of float64, shape (K, G, m, N) or (K, G, m, n, P1)
        Noise coefficients, the noise vectors sample by sample (:math:`k = i P_1 + p`).
    mu_sq : float or ndarray of float64, shape (S,)
        :math:`\|u_s\|^2` (:math:`\|\mu\|^2` for one signal vector).
    xi_sq : ndarray of float64, shape (N,)
        The :math:`\|\xi_k\|^2`.
    alpha : ndarray of float64, shape (K,), or None, default None
        The factor of :math:`W^{(0)}`; None for 1.
    signs : array_like of float, shape (G,), or None, default None
        The group signs :math:`j_g`: None for the binary model's +1 and -1; ones for the models of one output
        per class, whose coefficients carry no sign.

    Returns
    -------
    ndarray of float64, shape (K, G m, S + N + G m)
        :math:`C`.
    """
    K, G, m = gamma.shape[:3]
    q2 = G * m
    S = gamma.shape[3] if gamma.ndim == 4 else 1
    rho = rho.reshape(K, q2, -1)
    N = rho.shape[2]
    C = np.zeros((K, q2, S + N + q2))
    jsign = np.repeat([1.0, -1.0] if signs is None else np.asarray(signs, dtype=np.float64), m)
    C[:, :, :S] = jsign[:, None] * gamma.reshape(K, q2, S) / np.reshape(mu_sq, -1)
    C[:, :, S : S + N] = rho / xi_sq
    if alpha is None:
        C[:, :, S + N :] = np.eye(q2)
    else:
        C[:, :, S + N :] = np.asarray(alpha, dtype=np.float64).reshape(K, 1, 1) * np.eye(q2)
    return C


def filter_statistics(gamma, rho, gram, config, *, alpha=None):
    r"""Signal products :math:`A` and the noise covariance :math:`W \Sigma W^\top`, per unit :math:`\sigma_\xi^2`.

    :math:`\Sigma` is the identity (isotropic noise) or the projection orthogonal to every signal vector
    (orthogonal noise; the signal vectors are orthogonal, ``data.signal_basis``):
    :math:`W \Sigma W^\top = W W^\top - \sum_s A_{:,s} A_{:,s}^\top / \|u_s\|^2`.

    Parameters
    ----------
    gamma : ndarray of float64, shape (K, G, m) or (K, G, m, S)
        Signal coefficients.
    rho : ndarray of float64, shape (K, G, m, N) or (K, G, m, n, P1)
        Noise coefficients.
    gram : ndarray of float64, shape (S + N + G m, S + N + G m)
        The run's Gram matrix (``Data.gram``).
    config : SimulationConfig
        The run: the signal vectors, the number of noise vectors :math:`N = n P_1`, the noise model, and whether
        the coefficients carry the group signs (the binary model).
    alpha : ndarray of float64, shape (K,), or None, default None
        The factor of :math:`W^{(0)}`; None for 1.

    Returns
    -------
    A : ndarray of float64, shape (K, G m), or (K, G m, S) with S > 1
        :math:`\langle w_q, u_s \rangle`.
    cov : ndarray of float64, shape (K, G m, G m)
        :math:`W \Sigma W^\top`.
    """
    A, cov = _filter_statistics(gamma, rho, gram, config, alpha)
    return (A[:, :, 0] if A.shape[2] == 1 else A), cov


def _filter_statistics(gamma, rho, gram, config, alpha):
    """:func:`filter_statistics` with A of shape (K, Q, S) for any S."""
    S, N = config.signal_vectors, config.n * config.noise_patches
    u_sq = np.diag(gram)[:S].copy()
    xi_sq = np.diag(gram)[S : S + N]
    C = coefficient_matrix(gamma, rho, u_sq, xi_sq, alpha, signs=config.group_signs)
    if C.shape[2] != gram.shape[0]:
        raise ValueError(f"coefficients over {C.shape[2]} vectors for a Gram matrix of side {gram.shape[0]}")
    K, q2, V = C.shape
    CM, cov = np.zeros((K, q2, V)), np.zeros((K, q2, q2))
    gram = np.ascontiguousarray(gram, dtype=np.float64)
    _threaded(lambda start, stop: _kernels.statistics_products(C, gram, CM, cov, start, stop), K, 4)
    A = CM[:, :, :S]
    if config.noise == "orthogonal":
        for s in range(S):
            cov -= A[:, :, None, s] * A[:, None, :, s] / u_sq[s]
    return A, 0.5 * (cov + cov.transpose(0, 2, 1))


class TestErrorEstimate(NamedTuple):
    r"""The clean test error of each recorded step, with its standard errors (:func:`estimate`).

    Attributes
    ----------
    by_class : ndarray of float64, shape (K, G)
        The misclassification probability of each true class: :math:`P(y f \le 0 \mid y)` for
        :math:`y = +1, -1` (one output), :math:`P(\operatorname{argmax}_g F_g \ne c \mid c)` for
        :math:`c = 0, \dots, C - 1` (one output per class).
    stderr_by_class : ndarray of float64, shape (K, G)
        Their standard errors.
    stderr : ndarray of float64, shape (K,)
        The standard error of the clean test error, ``by_class.mean(axis=1)``.
    draws : ndarray of int64, shape (K,)
        The number of draws each step used.
    """

    by_class: np.ndarray  #: (K, G) the misclassification probability of each true class
    stderr_by_class: np.ndarray  #: (K, G) their standard errors
    stderr: np.ndarray  #: (K,) the standard error of the clean test error, by_class.mean(axis=1)
    draws: np.ndarray  #: (K,) the number of draws each step used


def kernels(config) -> tuple:
    """The kernels :func:`estimate` calls for ``config``'s runs, (direction search, failure sums): a first
    estimate in a process compiles them, unless numba's disk cache has them (the direction search differs
    between the piecewise-linear activations and the others: ``_kernels.direction_kernel``)."""
    return _kernels.direction_kernel(_activation_args(config)[0]), _kernels.failure_sums


def estimate(gamma, rho, gram, config, *, alpha=None, bias=None, output_weights=None, rse=TARGET_RSE,
             max_draws=MAX_DRAWS, draws=None):
    r"""Misclassification probability of each true class, with standard errors, to a relative error ``rse``.

    A fresh sample's class is uniform and its signal patch one of the patterns its class carries
    (``data.signal_law``), so each class's error is a finite mixture, over its patterns, of Gaussian
    probabilities given the signal patch; the items of the estimate are these (class, pattern) pairs, and
    with one output per class the (class, pattern, g) triples: g the first class whose output beats the true
    class's (the error events of the classes g partition the error: argmax takes the first largest output,
    as numpy's does, so a tie with a class before the true one is a mistake, with one after it is not).

    For ReLU and leaky ReLU, a draw's estimate of an item is the exact normal
    mass of the failing part of a line through it, along the direction of the
    item's most likely failure (line sampling). For the other activations each
    draw is taken twice, as it is and moved to the most likely failing point,
    and the two are weighted as draws of the mixture of the nominal law (share
    ``_kernels.DEFENSIVE_SHARE``) and the shifted one (defensive importance
    sampling, balance heuristic): the shift reaches the far tail, and no weight
    exceeds 1 / DEFENSIVE_SHARE, so a failure region the shift does not reach
    is still sampled as plain Monte Carlo samples it. See
    ``_kernels.failure_masses``: both estimates are unbiased whatever the
    direction.

    The draws are :data:`REPLICATES` independently scrambled Sobol sequences
    (randomised quasi-Monte Carlo) seeded by the run's seed, the same at
    every step and for every item, so the curve over time is smooth; the
    standard errors come from the spread of the replicates' estimates (of a
    class's error, the mixture of its items with their probabilities, on
    the replicate's draws; of the test error, the mean over the classes).
    Each step starts with :data:`FIRST_POINTS` points of every replicate and doubles them, or adds
    replicates (up to twice :data:`REPLICATES`) when it is short by at most
    2x, until the clean test error's standard error is at most ``rse`` times
    it, or ``max_draws`` draws. The target holds for every model of the family, with one output or
    several, down to errors of 1e-12 and below for ReLU and leaky ReLU. For a smooth activation whose
    direction search finds no failing point within 40 standard deviations the shift is 0: that item is
    plain Monte Carlo on the same draws, and reads 0 when none of them fails.
    The steps are shared among numba's threads; the result does not depend
    on their number.

    ``draws``, from :func:`estimate_draws` of the same seed and noise patches,
    keeps the draws made for one call for the next (the same numbers,
    without drawing them again).

    A record whose statistics :math:`A`, :math:`W \Sigma W^\top`, bias or output weights are not finite
    gets NaN: its error is undefined. That happens when :math:`\eta` is so large that the filters
    outgrow the floating-point range in :math:`W \Sigma W^\top` (a product of two filters)
    while the training outputs, linear in the filters, stay finite.

    Parameters
    ----------
    gamma : ndarray of float64, shape (K, G, m) or (K, G, m, S)
        Signal coefficients (``SimulationResult.gamma``).
    rho : ndarray of float64, shape (K, G, m, N) or (K, G, m, n, P1)
        Noise coefficients.
    gram : ndarray of float64, shape (S + N + G m, S + N + G m)
        The run's Gram matrix (``Data.gram``).
    config : SimulationConfig
        The run (n, features, classes, noise, sigma_xi, seed, activation, layout, patches, output_scale).
    alpha : ndarray of float64, shape (K,), or None, default None
        The factor of :math:`W^{(0)}`; None for 1.
    bias : ndarray of float64, shape (K, G, m), or None, default None
        The bias; None for :math:`b = 0`.
    output_weights : ndarray of float64, shape (K, G, m), or None, default None
        The output weights (``SimulationResult.output_weights`` of a trained output layer); None for the
        fixed layer.
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
    K = gamma.shape[0]
    items, roots, bias, records = _prepared(gamma, rho, gram, config, alpha, bias, output_weights, modes=True)
    M = items.y.shape[0]
    kind, p1, p2 = _activation_args(config)
    P1 = config.noise_patches
    D = P1 * roots.shape[1]
    additive = config.layout == "additive"
    sigma_xi = float(config.sigma_xi)
    finite = np.zeros(K, dtype=bool)
    finite[records] = True
    e = np.zeros((K, M, D))
    beta = np.zeros((K, M))
    direction, failure_sums = kernels(config)  # a ReLU run compiles no smooth activation's bisection
    for k in records:
        for i in range(M):
            beta[k, i] = direction(roots[k], sigma_xi, items.signal[k, i], bias[k], items.weights[k, i], items.y[i],
                                   kind, p1, p2, P1, additive, e[k, i])
    max_draws = max(max_draws, REPLICATES * FIRST_POINTS)
    if draws is None or draws.shape[1] < max_draws // REPLICATES:
        draws = estimate_draws(config, max_draws)
    sums = np.zeros((K, M, 2 * REPLICATES))
    replicates = np.full(K, REPLICATES)
    points = np.full(K, FIRST_POINTS)
    args = (sigma_xi, items, bias, kind, p1, p2, P1, additive, e, beta)
    mixture = _mixture(config, modes=True)

    def add(first, count, lo, hi, chosen):
        z = draws.upto(first + count, hi)
        _threaded(lambda start, stop: failure_sums(roots, z, lo, hi, first, count, *args, chosen, start, stop, sums),
                  len(chosen) * count)

    add(0, REPLICATES, 0, FIRST_POINTS, records)
    if kind in _kernels.PIECEWISE_LINEAR:
        # Steps that will need many draws: aim their lines at the mean failing draw instead, and start again.
        again = records[_need(mixture(sums), replicates, points, rse)[records] > AIM_ABOVE]
        if again.size:
            pilot = draws.pilot()
            _threaded(lambda start, stop: _kernels.failing_means(roots, pilot, sigma_xi, items, bias, kind, p1, P1,
                                                                 additive, e, again, start, stop), again.size, 1)
            sums[again] = 0.0
            add(0, REPLICATES, 0, FIRST_POINTS, again)
    pending = records
    while True:
        need = _need(mixture(sums), replicates, points, rse)
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
    sums = mixture(sums)
    errors = np.full(sums.shape[:2], np.nan)
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
        The expected loss of a fresh clean sample, the mean of ``by_class``.
    stderr : ndarray of float64, shape (K,)
        Its standard error.
    by_class : ndarray of float64, shape (K, G)
        The expected loss of each true class: :math:`E[\ell(y f) \mid y]` for :math:`y = +1, -1` (one output),
        :math:`E[-\log \operatorname{softmax}(F)_c \mid c]` for :math:`c = 0, \dots, C - 1` (one output per class).
    draws : ndarray of int64, shape (K,)
        The number of draws each step used.
    """

    loss: np.ndarray  #: (K,) the expected loss of a fresh clean sample, the mean of by_class
    stderr: np.ndarray  #: (K,) its standard error
    by_class: np.ndarray  #: (K, G) the expected loss of each true class
    draws: np.ndarray  #: (K,) the number of draws each step used


def estimate_loss(gamma, rho, gram, config, *, alpha=None, bias=None, output_weights=None, rse=LOSS_RSE,
                  max_draws=MAX_DRAWS, draws=None):
    r"""Expected loss of a fresh clean sample at each recorded step, with its standard error, to relative error ``rse``.

    .. math::

        L_{\mathcal D} = \frac1G \sum_{c} \sum_{(k, s)} p_c(k, s)\, E_{Z}\big[\ell_c\big(F(c, k, s, Z)\big)\big],
        \qquad Z_p \sim N(0, \sigma_\xi^2 W \Sigma W^\top) \text{ independent over the } P_1 \text{ noise patches},

    over the G classes c, uniform, and the patterns :math:`(k, s)` of class c, the signal patch
    :math:`s u_k` with probability :math:`p_c(k, s)` (``data.signal_law``); :math:`F` the network's outputs on
    that fresh sample (the module's equation: the signal part fixed by :math:`\langle w_q, u_k \rangle` and the
    bias, the noise part a function of :math:`Z`); :math:`\ell_c(f) = \ell(y f)` of the run's loss
    (``config.loss``), :math:`y = \pm 1` the class, for the models of one output, and the softmax
    cross-entropy :math:`\ell_c(F) = -\log \operatorname{softmax}(F)_c` for one output per class.
    :math:`A` and :math:`W \Sigma W^\top` are :func:`filter_statistics`'s, as for the test error.

    Arguments as :func:`estimate` takes them. Each expectation is the mean of
    :math:`\ell_c` over :data:`REPLICATES` independently scrambled Sobol sequences mapped to normals
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
    gamma : ndarray of float64, shape (K, G, m) or (K, G, m, S)
        Signal coefficients (``SimulationResult.gamma``).
    rho : ndarray of float64, shape (K, G, m, N) or (K, G, m, n, P1)
        Noise coefficients.
    gram : ndarray of float64, shape (S + N + G m, S + N + G m)
        The run's Gram matrix (``Data.gram``).
    config : SimulationConfig
        The run (its loss, features, classes, activation, layout, patches, noise, sigma_xi, output_scale and
        seed).
    alpha : ndarray of float64, shape (K,), or None, default None
        The factor of :math:`W^{(0)}`; None for 1.
    bias : ndarray of float64, shape (K, G, m), or None, default None
        The bias; None for :math:`b = 0`.
    output_weights : ndarray of float64, shape (K, G, m), or None, default None
        The output weights of a trained output layer; None for the fixed layer.
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
    K = gamma.shape[0]
    items, roots, bias, records = _prepared(gamma, rho, gram, config, alpha, bias, output_weights, modes=False)
    kind, p1, p2 = _activation_args(config)
    max_draws = max(max_draws, REPLICATES * LOSS_FIRST_POINTS)
    if draws is None or draws.shape[1] < max_draws // REPLICATES:
        draws = estimate_draws(config, max_draws)
    # The softmax cross-entropy of several outputs takes no code.
    loss = 0 if config.multiclass else _kernels.LOSS_CODES[config.loss]
    args = (float(config.sigma_xi), items, bias, _output_scale(config, output_weights), kind, p1, p2,
            config.noise_patches, config.layout == "additive", loss)
    sums = np.zeros((K, items.y.shape[0], REPLICATES))
    mixture = _mixture(config, modes=False)
    points = np.zeros(K, dtype=np.int64)
    pending, lo, hi = records, 0, LOSS_FIRST_POINTS
    # Every pending record has the same points, so one call per doubling serves them all.
    while pending.size:
        z = draws.upto(REPLICATES, hi)
        _threaded(lambda start, stop: _kernels.loss_sums(roots, z, lo, hi, *args, pending, start, stop, sums),
                  pending.size * REPLICATES)
        points[pending] = hi
        mean, spread = _loss_spread(mixture(sums[pending]), hi)
        with np.errstate(invalid="ignore"):
            short = ~(spread <= rse * mean)
        short &= np.isfinite(spread)  # an overflowing loss (inf, spread NaN) stops: no number of draws fixes it
        lo, hi = hi, 2 * hi
        pending = pending[short] if REPLICATES * hi <= max_draws else pending[:0]
    sums = mixture(sums)
    by_class = np.full(sums.shape[:2], np.nan)
    stderr = np.full(K, np.nan)
    if records.size:
        by_class[records] = (sums[records] / points[records, None, None]).mean(axis=2)
        stderr[records] = _loss_spread(sums[records], points[records])[1]
    return TestLossEstimate(by_class.mean(axis=1), stderr, by_class, REPLICATES * points)


def _loss_spread(sums, points):
    """The test loss and its standard error from the sums (K, G, R) of ``points`` draws (scalar or (K,)) per
    replicate: the mean and the spread of the replicates' estimates (sum_0 + ... + sum_{G-1}) / (G points)."""
    per_replicate = sums.mean(axis=1) / np.reshape(points, (-1, 1))
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
    the error: sums (K, G, replicates) of the classes, replicates and points per replicate (K,)."""
    mean = sums.sum(axis=(1, 2)) / (sums.shape[1] * replicates * points)
    spread = _spread(sums.mean(axis=1) / points[:, None], replicates)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mean > 0, (spread / (rse * mean)) ** 2, 0.0)


def class_errors(gamma, rho, gram, config, *, alpha=None, bias=None, output_weights=None, method="precise",
                 draws=DEFAULT_DRAWS):
    r"""Misclassification probability of each true class, shape (K, G), as ``TestErrorEstimate.by_class``.

    ``method="precise"`` is :func:`estimate` (to 2 % at 95 % confidence).
    ``method="monte_carlo"`` counts the misclassified ones among ``draws``
    plain draws of a fresh sample (``draws × P1 × G m`` standard normals of
    the seed's "test" stream, draw by draw; the same draws for every class
    and pattern): the brute-force estimate, with standard error
    sqrt(p (1 - p) / draws) for a class of one pattern, which reads 0 below
    about 1 / draws. With one output per class a draw is misclassified when
    the first largest output (numpy's argmax) is not its class.

    Parameters
    ----------
    gamma : ndarray of float64, shape (K, G, m) or (K, G, m, S)
        Signal coefficients.
    rho : ndarray of float64, shape (K, G, m, N) or (K, G, m, n, P1)
        Noise coefficients.
    gram : ndarray of float64, shape (S + N + G m, S + N + G m)
        The run's Gram matrix (``Data.gram``).
    config : SimulationConfig
        The run (n, features, classes, noise, sigma_xi, seed, activation, layout, patches, output_scale).
    alpha : ndarray of float64, shape (K,), or None, default None
        The factor of :math:`W^{(0)}`; None for 1.
    bias : ndarray of float64, shape (K, G, m), or None, default None
        The bias; None for :math:`b = 0`.
    output_weights : ndarray of float64, shape (K, G, m), or None, default None
        The output weights of a trained output layer; None for the fixed layer.
    method : {"precise", "monte_carlo"}, default "precise"
        The estimate.
    draws : int, default DEFAULT_DRAWS
        The draws of ``method="monte_carlo"``.

    Returns
    -------
    ndarray of float64, shape (K, G)
        :math:`P(y f \le 0 \mid y)` for :math:`y = +1, -1` (one output), :math:`P(\operatorname{argmax}_g F_g
        \ne c \mid c)` for :math:`c = 0, \dots, C - 1` (one output per class).
    """
    if method == "precise":
        return estimate(gamma, rho, gram, config, alpha=alpha, bias=bias, output_weights=output_weights).by_class
    if method != "monte_carlo":
        raise ValueError(f"method must be 'precise' or 'monte_carlo', got {method!r}")
    K = gamma.shape[0]
    A, cov, bias, out, finite = _statistics(gamma, rho, gram, config, alpha, bias, output_weights)
    items = _items(config, A, out, modes=False)
    kind, p1, p2 = _activation_args(config)
    P1, Q = config.noise_patches, cov.shape[1]
    z = seed_streams(config.seed)["test"].standard_normal((draws, P1, Q))
    # Row p Q + q holds coordinate q of noise patch p, one column per draw.
    z_t = np.ascontiguousarray(z.reshape(draws, P1 * Q).T)
    rates = np.zeros((K, items.y.shape[0], 1))
    for k in np.flatnonzero(finite):
        wrong = np.zeros(items.y.shape[0], dtype=np.int64)
        _kernels.misclassified_draws(_root(cov[k]), z_t, float(config.sigma_xi), items.signal[k], bias[k],
                                     items.out[k], items.outputs, items.y, items.label,
                                     _output_scale(config, output_weights), kind, p1, p2, P1,
                                     config.layout == "additive", wrong)
        rates[k, :, 0] = wrong / draws
    errors = _mixture(config, modes=False)(rates)[:, :, 0]
    errors[~finite] = np.nan
    return errors


def _statistics(gamma, rho, gram, config, alpha, bias, output_weights):
    """A (K, Q, S), W Σ Wᵀ (K, Q, Q), the bias (K, Q) (zeros for None), the output weights as the kernels take
    them (``_kernel_output_weights``), and which records are finite (K,)."""
    K = gamma.shape[0]
    Q = gamma.shape[1] * gamma.shape[2]
    # Overflow here is a diverged run, reported as NaN rows rather than as warnings.
    with np.errstate(over="ignore", invalid="ignore"):
        A, cov = _filter_statistics(gamma, rho, gram, config, alpha)
    finite = np.isfinite(A).all(axis=(1, 2)) & np.isfinite(cov).all(axis=(1, 2))
    if bias is None:
        bias = np.zeros((K, Q))
    bias = np.ascontiguousarray(bias, dtype=np.float64).reshape(K, Q)
    out = _kernel_output_weights(config, output_weights, K)
    finite &= np.isfinite(bias).all(axis=1) & np.isfinite(out).all(axis=1)
    return A, cov, bias, out, finite


def _prepared(gamma, rho, gram, config, alpha, bias, output_weights, modes):
    """What the estimators draw with: the items (``_items``; A and the output weights 0 where a record's
    statistics are not finite); the roots of W Σ Wᵀ (K, Q, Q), 0 there too; the bias (K, Q); the indices of
    the finite records."""
    A, cov, bias, out, finite = _statistics(gamma, rho, gram, config, alpha, bias, output_weights)
    records = np.flatnonzero(finite)
    roots = np.zeros_like(cov)
    roots[records] = _roots(cov[records])
    A = np.where(finite[:, None, None], A, 0.0)
    out = np.where(finite[:, None], out, 0.0)
    return _items(config, A, out, modes), roots, bias, records


def _kernel_output_weights(config, output_weights, K):
    """The output weights of the filters as the kernels take them, (K, Q): the group signs (+1, -1 for the
    binary model, +1 for one output per class) for the fixed layer, whose common factor 1/m or 1 is the
    output scale (``_output_scale``); the weights themselves for a trained layer."""
    if output_weights is None:
        signs = np.repeat(config.group_signs, config.m)
        return np.tile(signs, (K, 1))  # a new array (a broadcast view is read-only: another type to numba)
    return np.ascontiguousarray(output_weights, dtype=np.float64).reshape(K, -1)


def _output_scale(config, output_weights):
    """The factor of the outputs beside ``_kernel_output_weights``: 1/m or 1 for the fixed layer, 1 for a trained
    one."""
    if output_weights is None and config.output_scale == "mean":
        return 1.0 / config.m
    return 1.0


def _item_list(config, modes):
    """The items of a record, in order: (class c, signal vector k, sign s, probability, mode g).

    One per class and pattern of ``data.signal_law``, with mode -1; with ``modes`` and one output per class,
    one per class, pattern and other class g (the first class to beat c, ``_kernels.TestItems``).
    """
    listed = []
    for c, patterns in enumerate(signal_law(config)):
        for k, s, probability in patterns:
            if modes and config.multiclass:
                listed += [(c, k, s, probability, g) for g in range(config.groups) if g != c]
            else:
                listed.append((c, k, s, probability, -1))
    return listed


def _items(config, A, out, modes):
    """The kernels' items (``_kernels.TestItems``) of every record, from A (K, Q, S) and the output weights
    (K, Q); with ``modes``, the items of the test error (see ``_item_list``)."""
    K, Q, _ = A.shape
    listed = _item_list(config, modes)
    signal = np.empty((K, len(listed), Q))
    weights = np.empty((K, len(listed), Q))
    group = np.arange(Q) // config.m
    for i, (c, k, s, _, g) in enumerate(listed):
        signal[:, i] = s * A[:, :, k]
        # The margin of mode g is F_c - F_g.
        weights[:, i] = out if g < 0 else np.where(group == c, out, 0.0) - np.where(group == g, out, 0.0)
    y = np.array([1.0 if config.multiclass or c == 0 else -1.0 for c, *_ in listed])
    label = np.array([c for c, *_ in listed], dtype=np.int64)
    mode = np.array([g for *_, g in listed], dtype=np.int64)
    return _kernels.TestItems(signal, weights, y, label, mode, np.ascontiguousarray(out),
                              config.groups if config.multiclass else 1)


def _mixture(config, modes):
    """The function that turns the sums or estimates (K, M, ...) of the items into those of the classes
    (K, G, ...): each class's items weighted by their probabilities, added in the items' order (a class of one
    pattern keeps its bits)."""
    listed = _item_list(config, modes)

    def classes(values):
        total = np.zeros((values.shape[0], config.groups) + values.shape[2:])
        for i, (c, _, _, probability, _) in enumerate(listed):
            total[:, c] += probability * values[:, i]
        return total

    return classes


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
    return _Draws(config.seed, config.noise_patches * config.groups * config.m, 2 * REPLICATES, most)


class _Draws:
    """The draws of :func:`estimate`: scrambled Sobol sequences (replicates) in D dimensions, as normals.

    Replicate r is the sequence ``_sobol.ScrambledSobol(D, substream(seed, "test", r))`` (the points of scipy
    1.17's ``qmc.Sobol(D, scramble=True, seed=...)``, made by our own code). ``upto(R, n)`` holds the first n
    points of the first R replicates in an array (replicates, points, D) made once; points are drawn when
    first asked for, in order.
    """

    def __init__(self, seed, D, replicates, points):
        self._seed, self._D = seed, D
        self._z = np.empty((replicates, points, D))
        self.shape = self._z.shape
        self._sequences = []
        self._have = []
        self._pilot = None

    def upto(self, count, points):
        """The draws array, with at least the first ``points`` points of replicates 0..count-1 filled in."""
        while len(self._sequences) < count:
            replicate = len(self._sequences)
            self._sequences.append(_sobol.ScrambledSobol(self._D, substream(self._seed, "test", replicate)))
            self._have.append(0)
        for r in range(count):
            have = self._have[r]
            if have < points:
                self._z[r, have:points] = _normals(self._sequences[r].random(points - have))
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
    from scipy.special import ndtri  # scipy.special costs half of numpy and numba's import: where used

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
