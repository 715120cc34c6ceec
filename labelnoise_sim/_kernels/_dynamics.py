"""The paper's model: one step as three functions, and whole runs (``run_dynamics``, ``run_dynamics_halves``,
``run_batch``)."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import prange

from ._products import _accumulate_increment, _active_lists, _list_starts, _pack_strips, accumulate_product
from ._vectors import _inner, _kernel


# One step, as three functions ---------------------------------------------


@_kernel()
def products(gamma, rho, a0, b0, c, e, G, jsign, A, B):
    """Fill A (2m,) and B (2m, n) from the coefficients; O(m n²)."""
    _signal_and_offsets(gamma, rho, a0, b0, c, e, jsign, A, B, np.int64(0), rho.shape[0])
    accumulate_product(rho, G, B)


@_inner()
def _signal_and_offsets(gamma, rho, a0, b0, c, e, jsign, A, B, lo, hi):
    """Rows lo <= q < hi of A, whole, and of B = b0 + j γ e: everything in B but the product ρ G."""
    n = rho.shape[1]
    for q in range(lo, hi):
        jg = jsign[q] * gamma[q]
        A[q] = a0[q] + jg
        row = B[q]
        for k in range(n):
            row[k] = b0[q, k] + jg * e[k]
    # Four independent sums at a time hide the latency of the additions.
    q = lo
    while q + 4 <= hi:
        s0, s1, s2, s3 = A[q], A[q + 1], A[q + 2], A[q + 3]
        for i in range(n):
            ci = c[i]
            s0 += rho[q, i] * ci
            s1 += rho[q + 1, i] * ci
            s2 += rho[q + 2, i] * ci
            s3 += rho[q + 3, i] * ci
        A[q], A[q + 1], A[q + 2], A[q + 3] = s0, s1, s2, s3
        q += 4
    while q < hi:
        s = A[q]
        for i in range(n):
            s += rho[q, i] * c[i]
        A[q] = s
        q += 1


@_kernel()
def network_outputs(A, B, y, jsign, m, f):
    """f_i = (1/m) Σ_q j_q [σ(y_i A_q) + σ(B_{q,i})], written to f (n,)."""
    _network_outputs(A, B, y, jsign, m, f)


# The kernels that both Python (the tests) and other kernels call come in two: a public one with the CPython
# wrapper, which Python calls, and the _inner one it calls, which kernels call; a run then compiles no wrapper
# it does not use.


@_inner()
def _network_outputs(A, B, y, jsign, m, f):
    """``network_outputs``."""
    q2, n = B.shape
    for i in range(n):
        f[i] = 0.0
    for q in range(q2):
        j = jsign[q]
        sig_pos = max(A[q], 0.0)
        sig_neg = max(-A[q], 0.0)
        row = B[q]
        for i in range(n):
            signal = sig_pos if y[i] > 0 else sig_neg
            f[i] += j * (signal + max(row[i], 0.0))
    for i in range(n):
        f[i] /= m


@_kernel()
def update(gamma, rho, A, B, f, y, y_noisy, mu_sq, xi_sq, jsign, scale, g):
    """One gradient step on (γ, ρ), given the products at the current state.

    With g_i = -ℓ'(ỹ_i f_i) = 1 / (1 + exp(ỹ_i f_i)) and scale = η / (n m):

        γ_q     += scale ‖μ‖² Σ_i g_i 1(y_i A_q > 0) ỹ_i y_i
        ρ_{q,i} += scale g_i 1(B_{q,i} > 0) j_q ỹ_i ‖ξ_i‖²
    """
    _update_weighted(gamma, rho, A, B, f, y, y_noisy, mu_sq, xi_sq, jsign, scale, g, np.empty(B.shape[1]))


@_inner()
def _update_weighted(gamma, rho, A, B, f, y, y_noisy, mu_sq, xi_sq, jsign, scale, g, w):
    """``update``, also leaving in w (n,) the weights w_i = scale g_i ỹ_i ‖ξ_i‖², so that Δρ[q, i] = j_q w_i."""
    s_pos, s_neg = _sample_weights(f, y, y_noisy, xi_sq, scale, g, w)
    _update_rows(gamma, rho, A, B, w, s_pos, s_neg, scale, mu_sq, jsign, np.int64(0), B.shape[0])


@_inner(inline="always")
def _sample_weights(f, y, y_noisy, xi_sq, scale, g, w):
    """The sample part of ``_update_weighted``: g, w, and the sums (s₊, s₋) of g_i ỹ_i y_i of each true class."""
    n = f.shape[0]
    # The signal activation 1(y_i A_q > 0) depends on i only through y_i, so
    # the γ sum splits into one sum per true class.
    s_pos = 0.0
    s_neg = 0.0
    for i in range(n):
        z = y_noisy[i] * f[i]
        # Logistic sigmoid of -z, in the form that cannot overflow.
        if z > 0.0:
            ez = math.exp(-z)
            g[i] = ez / (1.0 + ez)
        else:
            g[i] = 1.0 / (1.0 + math.exp(z))
        if y[i] > 0:
            s_pos += g[i] * y_noisy[i]
        else:
            s_neg -= g[i] * y_noisy[i]
        w[i] = scale * g[i] * y_noisy[i] * xi_sq[i]
    return s_pos, s_neg


@_inner(inline="always")
def _update_rows(gamma, rho, A, B, w, s_pos, s_neg, scale, mu_sq, jsign, lo, hi):
    """The filter part of ``_update_weighted``: γ_q and ρ_q of the rows lo <= q < hi."""
    n = B.shape[1]
    for q in range(lo, hi):
        if A[q] > 0.0:
            gamma[q] += scale * mu_sq * s_pos
        elif A[q] < 0.0:
            gamma[q] += scale * mu_sq * s_neg
        j = jsign[q]
        row_b = B[q]
        row_rho = rho[q]
        for i in range(n):
            # Adding +0 where inactive changes nothing (ρ is never -0) and
            # spares a branch that the pattern of activations mispredicts.
            row_rho[i] += j * w[i] if row_b[i] > 0.0 else 0.0


# Whole runs -----------------------------------------------------------------


class Statistics(NamedTuple):
    """The fixed statistics of a batch of C runs of equal n and m, run index first.

    Built by ``dynamics.kernel_statistics``; every field is C-contiguous float64.
    """

    a0: np.ndarray  #: (C, 2m)     ⟨w_q⁽⁰⁾, μ⟩
    b0: np.ndarray  #: (C, 2m, n)  ⟨w_q⁽⁰⁾, ξ_k⟩
    c: np.ndarray  #: (C, n)       ⟨ξ_i, μ⟩ / ‖ξ_i‖²
    e: np.ndarray  #: (C, n)       ⟨μ, ξ_k⟩ / ‖μ‖²
    G: np.ndarray  #: (C, n, n)    ⟨ξ_i, ξ_k⟩ / ‖ξ_i‖²
    mu_sq: np.ndarray  #: (C,)     ‖μ‖²
    xi_sq: np.ndarray  #: (C, n)   ‖ξ_i‖²
    y: np.ndarray  #: (C, n)       true labels ±1
    y_noisy: np.ndarray  #: (C, n) observed labels ±1


class State(NamedTuple):
    """What a batch of runs carries from one chunk of steps to the next, run index first.

    Made by ``new_state``; the kernels update it in place.
    """

    gamma: np.ndarray  #: (C, 2m)     γ at the first step of the next chunk
    rho: np.ndarray  #: (C, 2m, n)    ρ likewise
    P: np.ndarray  #: (C, 2m, n)      ρ G, kept up to date step by step
    status: np.ndarray  #: (C,) int64  -1 while finite, else the step at which the outputs stopped being finite


def new_state(runs, m, n):
    """The state of ``runs`` runs at step 0: γ = ρ = 0."""
    q2 = 2 * m
    return State(gamma=np.zeros((runs, q2)), rho=np.zeros((runs, q2, n)), P=np.zeros((runs, q2, n)),
                 status=np.full(runs, -1, dtype=np.int64))


@_kernel()
def class_signs(m):
    """j of every filter q: +1 for q < m, -1 after; shape (2m,)."""
    return _class_signs(m)


@_inner()
def _class_signs(m):
    """``class_signs``."""
    jsign = np.empty(2 * m)
    for q in range(2 * m):  # a loop, not slice assignments (quicker to compile)
        jsign[q] = 1.0 if q < m else -1.0
    return jsign


@_inner()
def _first_at_least(steps, value):
    """``np.searchsorted(steps, value)`` for sorted steps, as a loop (numba's searchsorted takes half a second to
    compile on a first call, this a tenth)."""
    k = 0
    while k < steps.shape[0] and steps[k] < value:
        k += 1
    return k


@_inner()
def _put(dst, src):
    """dst[...] = src for C-contiguous arrays of one shape, element by element.

    The same values as numba's slice assignment, whose shape check comes with
    an error message formatted in compiled code: seconds of compilation on a
    process's first call.
    """
    flat_dst, flat_src = dst.reshape(dst.size), src.reshape(src.size)
    for i in range(flat_src.shape[0]):
        flat_dst[i] = flat_src[i]


#: The exponent bits of a float64: all set in inf and NaN only.
_EXPONENT = np.uint64(0x7FF0000000000000)


@_inner()
def _all_finite(x):
    """Whether every element of the C-contiguous float64 array x is finite.

    The largest exponent field over the elements, an integer maximum, which
    the compiler runs in vectors (a loop that returns at the first non-finite
    element, or a sum of x - x, runs one element at a time).
    """
    bits = x.reshape(x.size).view(np.uint64)
    top = np.uint64(0)
    for i in range(bits.shape[0]):
        field = bits[i] & _EXPONENT
        top = field if field > top else top
    return top != _EXPONENT


@_inner(inline="always")
def _setup(stats, state, b):
    """The statistics of run b, working copies of its state, and the scratch arrays of its steps."""
    a0, b0, c, e, G = stats.a0[b], stats.b0[b], stats.c[b], stats.e[b], stats.G[b]
    # Working copies, fresh allocations: the compiler then knows that no two
    # of them overlap, which keeps the step's loops vectorised (views of the
    # state measured 20-40% slower per step).
    gamma, rho, P = state.gamma[b].copy(), state.rho[b].copy(), state.P[b].copy()
    q2, n = b0.shape
    work = (np.empty(q2), np.empty((q2, n)), np.empty(n), np.empty(n), np.empty(n), np.empty((q2, n), np.uint32),
            _list_starts(q2, n), _pack_strips(G), _class_signs(q2 // 2))
    return (a0, b0, c, e, G), (gamma, rho, P), work


@_inner(inline="always")
def _rows_before(gamma, rho, a0, b0, c, e, jsign, P, A, B, lo, hi):
    """The rows lo <= q < hi of A and B = b0 + j γ e + ρ G, with ρ G read from P."""
    _signal_and_offsets(gamma, rho, a0, b0, c, e, jsign, A, B, lo, hi)
    n = B.shape[1]
    for q in range(lo, hi):
        for col in range(n):
            B[q, col] += P[q, col]


@_inner(inline="always")
def _outputs(state, b, t, A, B, y, jsign, f, record_steps, k, gamma, rho, gamma_out, rho_out, f_out):
    """The outputs f of step t, recorded if t is the next record step; returns the next record index, or -1 (and
    sets state.status[b] = t) if an output is not finite."""
    _network_outputs(A, B, y, jsign, jsign.shape[0] // 2, f)
    for i in range(f.shape[0]):
        if not math.isfinite(f[i]):
            state.status[b] = t
            return -1
    if k < record_steps.shape[0] and record_steps[k] == t:
        _put(gamma_out[k], gamma)
        _put(rho_out[k], rho)
        _put(f_out[k], f)
        k += 1
    return k


@_inner(inline="always")
def _rows_after(gamma, rho, A, B, w, s_pos, s_neg, scale, mu_sq, jsign, strips, G, P, idx, starts, lo, hi, by_columns):
    """The gradient step of the rows lo <= q < hi: their γ and ρ, and P += Δρ G on them unless ``by_columns``
    (then only the lists of their active pairs: the caller adds Δρ G by columns)."""
    _update_rows(gamma, rho, A, B, w, s_pos, s_neg, scale, mu_sq, jsign, lo, hi)
    _active_lists(B, True, idx, starts, lo, hi)
    if not by_columns:
        _accumulate_increment(w, jsign, strips, G, P, idx, starts, lo, hi, np.int64(0), np.int64(1))


@_inner(inline="always")
def _finish(state, b, gamma, rho, P):
    """The working copies back into the state."""
    _put(state.gamma[b], gamma)
    _put(state.rho[b], rho)
    _put(state.P[b], P)


@_kernel(nogil=True)
def run_dynamics(stats, state, b, eta, steps, record_steps, first, last, gamma_out, rho_out, f_out):
    """Advance run ``b`` through the steps first..last-1 of a run of ``steps`` steps, recording at ``record_steps``.

    state : State of the batch, at step ``first`` (a new state for first = 0)
    record_steps : sorted int64 (K,), within [0, steps]
    gamma_out (K, 2m), rho_out (K, 2m, n), f_out (K, n) : the records, filled in place

    At each step t the outputs are formed and recorded if t is a record
    step; then, unless t = steps, γ and ρ take the gradient step. Cutting a
    run into chunks changes no bit of it. Sets ``state.status[b]`` to the
    first step at which an output is not finite, and stops there.

    Each step is ``products``, ``network_outputs`` and ``update``, except for
    the O(m n²) term ρ G of B: recomputing it would redo the whole product,
    while a step changes ρ only where a filter is active on a sample (about
    38% of the pairs over a default run). So ρ G is kept in P and moved by
    each step's change of ρ (``_accumulate_increment``), which reads only the
    rows of G of the active pairs. P carries the rounding of its updates from
    step to step: against the kernel that recomputes ρ G at every step, the
    outputs differ by 2e-15 (relative) after 2,000 steps at the default size
    and by 2.4e-14 after 10⁵, growing about as √t (tests/test_kernels.py).
    """
    _advance(stats, state, b, eta, steps, record_steps, first, last, gamma_out, rho_out, f_out, np.int64(1))


#: The size of G (8 n² bytes) from which ``run_dynamics_halves`` splits P += Δρ G between its threads by columns,
#: each reading half of G, rather than by rows, each reading all of it: 4 MiB (n >= 725). Measured on 2 cores
#: of an AMD EPYC (Zen 3; L2 512 KiB a core, L3 32 MiB), the kernels interleaved in one process, the columns
#: took 1.05x, 1.14x, 0.98x, 0.93x and 0.91x the time of the rows at n = 200, 400, 600, 1000 and 2000 (the
#: split adds a third wait for both threads to each step). Either split gives the same bits.
SPLIT_COLUMNS_BYTES = 2**22


@_kernel(parallel=True, nogil=True)
def run_dynamics_halves(stats, state, b, eta, steps, record_steps, first, last, gamma_out, rho_out, f_out):
    """``run_dynamics`` with the filters of each class (the rows of A, B, γ, ρ and P) on a numba thread of their own.

    Each row is computed by the same code in the same order as in
    ``run_dynamics``, and the outputs, which sum over the rows, on one
    thread between the two halves of the step: the same bits, whatever the
    thread count. A step then waits for its two halves twice; that pays off
    from n = 400 at m = 10 (``dynamics.HALVES_WORK``). From ``SPLIT_COLUMNS_BYTES`` on, the threads share
    P += Δρ G by columns instead, each column's sums the same: a third wait a step, and half of G read by
    each thread.
    """
    _advance(stats, state, b, eta, steps, record_steps, first, last, gamma_out, rho_out, f_out, np.int64(2))


@_inner(inline="always")
def _advance(stats, state, b, eta, steps, record_steps, first, last, gamma_out, rho_out, f_out, parts):
    """The steps of ``run_dynamics`` (parts = 1) and ``run_dynamics_halves`` (parts = 2, rows cut in two halves).

    Inlined into both, so that its ``prange`` loops over the parts are threads in the parallel kernel and
    plain loops in the other.
    """
    (a0, b0, c, e, G), (gamma, rho, P), (A, B, f, g, w, idx, starts, strips, jsign) = _setup(stats, state, b)
    mu_sq, xi_sq, y, y_noisy = stats.mu_sq[b], stats.xi_sq[b], stats.y[b], stats.y_noisy[b]
    q2, n = B.shape
    scale = eta / (n * (q2 // 2))
    rows = q2 // parts
    # With G larger than a core's caches, two threads that each read the whole of G for their rows' P += Δρ G
    # wait on memory: they take half of the columns of every row instead (SPLIT_COLUMNS_BYTES).
    by_columns = parts > 1 and 8 * n * n >= SPLIT_COLUMNS_BYTES
    k = _first_at_least(record_steps, first)
    for t in range(first, min(last, steps + 1)):
        for h in prange(parts):
            _rows_before(gamma, rho, a0, b0, c, e, jsign, P, A, B, h * rows, (h + 1) * rows)
        k = _outputs(state, b, t, A, B, y, jsign, f, record_steps, k, gamma, rho, gamma_out, rho_out, f_out)
        if k < 0:
            return
        if t == steps:
            break
        s_pos, s_neg = _sample_weights(f, y, y_noisy, xi_sq, scale, g, w)
        for h in prange(parts):
            _rows_after(gamma, rho, A, B, w, s_pos, s_neg, scale, mu_sq, jsign, strips, G, P, idx, starts, h * rows,
                        (h + 1) * rows, by_columns)
        if by_columns:
            for h in prange(parts):
                _accumulate_increment(w, jsign, strips, G, P, idx, starts, np.int64(0), q2, np.int64(h), parts)
    _finish(state, b, gamma, rho, P)


@_kernel(parallel=True, nogil=True)
def run_batch(stats, state, eta, steps, record_steps, first, last, gamma_out, rho_out, f_out):
    """``run_dynamics`` for every run of the batch that has not diverged, in parallel over runs (numba threads).

    Callers that want one thread (a single run, worker processes, Dask
    worker threads) call ``run_dynamics`` for each run instead: it releases
    the GIL, and this threaded kernel is then never compiled.

    eta (C,); gamma_out (C, K, 2m), rho_out (C, K, 2m, n), f_out (C, K, n).

    Each run is ``run_dynamics`` itself, so its outputs are bit-identical to
    a run alone, whatever the batch, the thread count or the order in which
    the threads take the runs; no BLAS is involved.
    """
    for b in prange(eta.shape[0]):
        if state.status[b] < 0:
            # b as int64, the type a single run passes: prange's index is unsigned, and another type would
            # compile run_dynamics a second time (seconds of a first sweep).
            run_dynamics(stats, state, np.int64(b), eta[b], steps, record_steps, first, last, gamma_out[b], rho_out[b],
                         f_out[b])
