"""The model family's dynamics (``run_family``, ``run_family_halves``, ``run_family_batch``), the data family's
options included: several signal vectors, one output per class."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import prange

from ._dynamics import _all_finite, _first_at_least, _put
from ._model import activate, activation_pair, loss_slope
from ._products import _accumulate_pairs, _list_starts, _pack_strips, accumulate_product
from ._vectors import _inner, _kernel


# The model family --------------------------------------------------------------
#
# ``run_family`` runs every model of the family; ``run_dynamics`` stays the
# kernel of the paper's model, whose sparse increment it cannot use in
# general. With N = n (P - 1) noise vectors ξ_k (sample i owns k = i (P-1) + p),
# the statistics are those of ``Statistics`` over the N vectors, and
#
#     w_q = α w_q⁽⁰⁾ + j γ_q μ/‖μ‖² + Σ_k ρ_{q,k} ξ_k/‖ξ_k‖²,   bias β_q
#     A[q]    = ⟨w_q, μ⟩   = α a0[q] + j γ[q] + Σ_k ρ[q, k] c[k]
#     B[q, k] = ⟨w_q, ξ_k⟩ = α b0[q, k] + j γ[q] e[k] + (ρ G)[q, k]
#
# The gradient of the step's loss in w_q is a combination g_μ μ + Σ_k g_k ξ_k,
# kept in coefficient form, Γ_q = j ‖μ‖² g_μ and R_{q,k} = ‖ξ_k‖² g_k (the
# change of γ and ρ that a step -η times it makes, divided by -η).


class Model(NamedTuple):
    """The options of a model of the family, as ``run_family`` takes them (built by ``dynamics.kernel_model``)."""

    activation: int  #: ACTIVATION_CODES
    p1: float  #: first parameter of the activation (q or a)
    p2: float  #: second parameter (κ)
    low: float  #: the slope of the activation below 0: a for leaky_relu, else 0
    loss: int  #: LOSS_CODES (ignored with several outputs: softmax cross-entropy)
    additive: bool  #: layout "additive"
    divisor: float  #: the output is the sum over filters divided by this: m ("mean") or 1 ("sum")
    bias: bool
    momentum: float
    weight_decay: float
    sam: float
    stochastic: bool  #: read the schedule of each step (else its first row serves every step)
    outputs: int  #: O, the outputs of the network: 1 (binary, a margin loss) or C (softmax cross-entropy)
    trained: bool  #: whether the output weights are trained


class Signals(NamedTuple):
    """The signal vectors u_0..u_{S-1} of a batch of C runs and each sample's signal patch, run index first.

    Built by ``dynamics.kernel_signals``. The model family's kernel reads the
    signal statistics from here (the paper's kernel from ``Statistics``); for
    the binary single-signal model, S = 1 and these are ``Statistics``' a0, c,
    e and mu_sq with u_0 = μ.
    """

    a0: np.ndarray  #: (C, Q, S)   ⟨w_q⁽⁰⁾, u_s⟩
    c: np.ndarray  #: (C, S, N)    ⟨ξ_k, u_s⟩ / ‖ξ_k‖²
    e: np.ndarray  #: (C, S, N)    ⟨u_s, ξ_k⟩ / ‖u_s‖²
    u_sq: np.ndarray  #: (C, S)    ‖u_s‖²
    index: np.ndarray  #: (C, n) int64  s of sample i's signal patch sign_i u_s
    sign: np.ndarray  #: (C, n)    sign_i, ±1
    labels: np.ndarray  #: (C, n) int64  the observed class 0..C-1 (several outputs; else unused)


class FamilyState(NamedTuple):
    """``State`` with what the options add, run index first; made by ``new_family_state``.

    γ holds plain coefficients, w_q = α w_q⁽⁰⁾ + Σ_s γ_{q,s} u_s/‖u_s‖² + Σ_k ρ_{q,k} ξ_k/‖ξ_k‖² (the binary
    model's results carry j_q γ); the output weights are kept times the divisor, v'_q = divisor v_q, so that
    the fixed layer is v' = ±1 (or 1) and the outputs (Σ_q v'_q σ_q) / divisor.
    """

    gamma: np.ndarray  #: (C, Q, S)
    rho: np.ndarray  #: (C, Q, N)
    P: np.ndarray  #: (C, Q, N)  ρ G
    status: np.ndarray  #: (C,) int64  -1 while finite, else the step at which the outputs or the state were not
    weights: np.ndarray  #: (C,) bool  whether it was the state (the weights, the heavy-ball buffer), not the outputs
    alpha: np.ndarray  #: (C,)  the factor of the initial filters (weight decay)
    bias: np.ndarray  #: (C, Q)
    v_gamma: np.ndarray  #: (C, Q, S)  the heavy-ball buffer, in coefficient form;
    v_rho: np.ndarray  #: (C, Q, N)  (C, 0, 0) without momentum
    V: np.ndarray  #: (C, Q, N)  v_ρ G, kept like P; (C, 0, 0) without momentum
    v_alpha: np.ndarray  #: (C,)
    v_bias: np.ndarray  #: (C, Q)
    out: np.ndarray  #: (C, Q)  v', the output weights times the divisor
    v_out: np.ndarray  #: (C, Q)  their heavy-ball buffer, likewise scaled


def new_family_state(runs, out, S, N, momentum):
    """The state of ``runs`` runs at step 0: γ = ρ = β = 0, α = 1, v' = ``out`` (Q,), an empty heavy-ball buffer."""
    q2 = out.shape[0]
    buffer = (runs, q2, N) if momentum else (runs, 0, 0)
    return FamilyState(gamma=np.zeros((runs, q2, S)), rho=np.zeros((runs, q2, N)), P=np.zeros((runs, q2, N)),
                       status=np.full(runs, -1, dtype=np.int64), weights=np.zeros(runs, dtype=np.bool_),
                       alpha=np.ones(runs), bias=np.zeros((runs, q2)),
                       v_gamma=np.zeros((runs, q2, S)), v_rho=np.zeros(buffer), V=np.zeros(buffer),
                       v_alpha=np.zeros(runs), v_bias=np.zeros((runs, q2)),
                       out=np.repeat(out[None].astype(np.float64), runs, axis=0), v_out=np.zeros((runs, q2)))


@_inner()
def family_preactivations(gamma, rho, P, alpha, a0, b0, c, e, A, B):
    """A (Q, S) = ⟨w_q, u_s⟩ and B (Q, N) = ⟨w_q, ξ_k⟩ from the coefficients, with ρ G read from P."""
    q2, N = rho.shape
    S = gamma.shape[1]
    for q in range(q2):
        for s in range(S):
            total = alpha * a0[q, s] + gamma[q, s]
            for k in range(N):
                total += rho[q, k] * c[s, k]
            A[q, s] = total
        for k in range(N):
            total = alpha * b0[q, k] + gamma[q, 0] * e[0, k]
            for s in range(1, S):
                total += gamma[q, s] * e[s, k]
            B[q, k] = total + P[q, k]


@_kernel()
def family_outputs(A, B, bias, index, sign, out, model, f, S, S_signal, act):
    """The outputs f (n, O) and the slopes of the activation at every pre-activation.

    Filter q feeds output o(q) = q // m with several outputs (else 0), with
    weight v'_q = out[q] (``FamilyState``). Patches layout, for sample i with
    signal patch sign_i u_{s_i}:

        f[i, o] = (1/divisor) Σ_{q: o(q) = o} v'_q [σ(sign_i A[q, s_i] + β_q) + Σ_p σ(B[q, k] + β_q)]

    over the noise vectors k = i (P-1) + p of sample i; S[q, k] = σ'(B[q, k] + β_q),
    S_signal[q, s] = (σ'(A[q, s] + β_q), σ'(-A[q, s] + β_q)). Additive layout:
    σ(sign_i A[q, s_i] + B[q, i] + β_q), S[q, i] its slope. act (Q, n), when it
    has rows, receives the bracket (what the output weight multiplies).
    """
    q2, N = B.shape
    n, n_out = f.shape
    n_signals = A.shape[1]
    per = N // n
    m = q2 // (n_out if n_out > 1 else 2)
    kind, p1, p2 = model.activation, model.p1, model.p2
    keep = act.shape[0] > 0
    x = np.empty(N)
    value = np.empty(N)
    sig = np.empty((n_signals, 2))
    for i in range(n):
        for o in range(n_out):
            f[i, o] = 0.0
    for q in range(q2):
        o = q // m if n_out > 1 else 0
        j = out[q]
        b = bias[q]
        row = B[q]
        if model.additive:
            for i in range(n):
                x[i] = sign[i] * A[q, index[i]] + row[i] + b
            activate(x, kind, p1, p2, value, S[q])
            for i in range(n):
                f[i, o] += j * value[i]
            if keep:
                for i in range(n):
                    act[q, i] = value[i]
            continue
        for k in range(N):
            x[k] = row[k] + b
        activate(x, kind, p1, p2, value, S[q])
        for s in range(n_signals):
            sig[s, 0], S_signal[q, s, 0] = activation_pair(A[q, s] + b, kind, p1, p2)
            sig[s, 1], S_signal[q, s, 1] = activation_pair(-A[q, s] + b, kind, p1, p2)
        for i in range(n):
            total = sig[index[i], 0] if sign[i] > 0 else sig[index[i], 1]
            for k in range(i * per, (i + 1) * per):
                total += value[k]
            f[i, o] += j * total
            if keep:
                act[q, i] = total
    for i in range(n):
        for o in range(n_out):
            f[i, o] /= model.divisor


@_inner()
def family_gradient(S, S_signal, act, f, y_noisy, signals, b, eps, inverse_size, xi_sq, out, model, g_gamma, g_rho,
                    g_bias, g_out, sparse, u, phi, sums):
    """The gradient of the step's loss (1/|B_t|) Σ_i ℓ_i in coefficient form, from the slopes of
    ``family_outputs``; ε_i = 0 leaves sample i out of the step.

    With φ_{i,o} = ∂ℓ_i/∂f_{i,o} / |B_t| (binary: ℓ'(ε_i ỹ_i f_i) ε_i ỹ_i / |B_t|; several outputs:
    (softmax(f_i)_o - [o = c̃_i]) / |B_t|), s = 1/divisor and o = o(q) (patches layout):

        Γ_{q,s}  = ‖u_s‖² s v'_q Σ_i [s_i = s] φ_{i,o} σ'(sign_i A_{q,s} + β_q) sign_i     g_gamma (Q, S)
        R_{q,k}  = ‖ξ_k‖² s v'_q φ_{i,o} σ'(B_{q,k} + β_q)   (k a noise vector of i)      g_rho (Q, N)
        ∂β_q     = s v'_q Σ_i φ_{i,o} [σ'(sign_i A_{q,s_i} + β_q) + Σ_p σ'(B_{q,k(i,p)} + β_q)]  g_bias (Q,)
        divisor ∂L/∂v_q = divisor Σ_i φ_{i,o} act[q, i]   (the step of v' = divisor v)    g_out (Q,)

    and for the additive layout the same with the one pre-activation
    sign_i A_{q,s_i} + B_{q,i} + β_q. The signal slope of the patches layout
    depends on i only through (s_i, sign_i), so Γ sums φ over those groups
    first (``sums``). For a slope a ≠ 0 below zero (leaky_relu),
    R = sparse + v'_q u_{o,k} with u_{o,k} = ‖ξ_k‖² s φ_{i,o} a the same for
    every filter of output o and ``sparse`` zero wherever the pre-activation is
    not positive: the product R G then needs only O dense rows of G
    (``gradient_dense_row``). phi (n, O) and sums (O, S, 2) are scratch.
    """
    q2, N = S.shape
    n, n_out = f.shape
    n_signals = g_gamma.shape[1]
    per = N // n
    m = q2 // (n_out if n_out > 1 else 2)
    s = 1.0 / model.divisor
    low = model.low
    index, sign, u_sq = signals.index[b], signals.sign[b], signals.u_sq[b]
    for o in range(n_out):
        for t in range(n_signals):
            sums[o, t, 0] = 0.0
            sums[o, t, 1] = 0.0
    for i in range(n):
        if eps[i] == 0:
            for o in range(n_out):
                phi[i, o] = 0.0
        elif n_out == 1:
            label = eps[i] * y_noisy[i]
            phi[i, 0] = loss_slope(label * f[i, 0], model.loss) * label * inverse_size
        else:
            top = f[i, 0]
            for o in range(1, n_out):
                top = max(top, f[i, o])
            total = 0.0
            for o in range(n_out):
                phi[i, o] = math.exp(f[i, o] - top)
                total += phi[i, o]
            for o in range(n_out):
                phi[i, o] = (phi[i, o] / total - (1.0 if o == signals.labels[b, i] else 0.0)) * inverse_size
        half = 0 if sign[i] > 0 else 1
        for o in range(n_out):
            sums[o, index[i], half] += phi[i, o]
    # The weight of each noise vector's slope: w_{o,k} = ‖ξ_k‖² s φ_{i,o}.
    w = np.empty((n_out, N))
    for o in range(n_out):
        for k in range(N):
            w[o, k] = xi_sq[k] * (s * phi[k // per, o])
    if low != 0.0:
        for o in range(n_out):
            for k in range(N):
                u[o, k] = w[o, k] * low
    for q in range(q2):
        o = q // m if n_out > 1 else 0
        j = out[q]
        row_s, row_g, row_w = S[q], g_rho[q], w[o]
        for k in range(N):
            row_g[k] = j * (row_w[k] * row_s[k])
        if low != 0.0:
            row_sparse = sparse[q]
            for k in range(N):
                row_sparse[k] = j * (row_w[k] * (row_s[k] - low))
        for t in range(n_signals):
            if model.additive:
                signal = 0.0
                for i in range(n):
                    if index[i] == t:
                        signal += phi[i, o] * row_s[i] * sign[i]
            else:
                signal = S_signal[q, t, 0] * sums[o, t, 0] - S_signal[q, t, 1] * sums[o, t, 1]
            g_gamma[q, t] = j * (u_sq[t] * (s * signal))
        if model.bias:
            shift = 0.0
            for k in range(N):
                shift += phi[k // per, o] * row_s[k]
            if not model.additive:
                extra = 0.0
                for t in range(n_signals):
                    extra += S_signal[q, t, 0] * sums[o, t, 0] + S_signal[q, t, 1] * sums[o, t, 1]
                shift += extra
            g_bias[q] = s * j * shift
        else:
            g_bias[q] = 0.0
        if model.trained:
            total = 0.0
            for i in range(n):
                total += phi[i, o] * act[q, i]
            g_out[q] = model.divisor * total
        else:
            g_out[q] = 0.0


@_inner()
def gradient_dense_row(u, low, G, uG):
    """uG = u G, the O dense rows of ``gradient_rows`` for a slope below zero (nothing otherwise)."""
    if low != 0.0:
        uG[:] = 0.0
        accumulate_product(u, G, uG)


@_inner()
def gradient_rows(g_rho, sparse, low, out, n_out, strips, G, RG, idx, starts, uG, lo, hi):
    """Rows lo <= q < hi of RG = R G for the gradient R of ``family_gradient``: a gather over its nonzero
    entries, or for a slope below zero, the gather of ``sparse`` plus v'_q (u G)_{o(q)} (``gradient_dense_row``)."""
    N = RG.shape[1]
    m = RG.shape[0] // (n_out if n_out > 1 else 2)
    for q in range(lo, hi):
        for k in range(N):
            RG[q, k] = 0.0
    if low == 0.0:
        _accumulate_pairs(g_rho, out, strips, G, RG, idx, starts, lo, hi)
        return
    _accumulate_pairs(sparse, out, strips, G, RG, idx, starts, lo, hi)
    for q in range(lo, hi):
        o = q // m if n_out > 1 else 0
        for k in range(N):
            RG[q, k] += out[q] * uG[o, k]


@_kernel(nogil=True)
def run_family(stats, signals, model, state, b, eta, steps, record_steps, first, last, eps, inverse_size, records):
    """``run_dynamics`` for any model of the family: run ``b`` through the steps first..last-1.

    eps (C, S, n) int8, inverse_size (C, S): the schedule of the steps
    first..first+S-1 (``schedule.step_weights``), or of every step in its
    first row when not ``model.stochastic``. records: the arrays of
    ``dynamics.FamilyRecords``, a record axis after the run axis.

    A step: the pre-activations, outputs and slopes at θ; the gradient of the
    step's loss (``family_gradient``) and its product with G, RG
    (``gradient_rows``, over the pairs where the slope is not zero); for
    SAM, the same again at θ + r ∇/‖∇‖, where

        ‖∇‖² = Σ_q [Σ_s (Γ_{q,s}² + 2 Γ_{q,s} Σ_k R_{q,k} c_{s,k})/‖u_s‖² + Σ_k R_{q,k} (RG)_{q,k}/‖ξ_k‖²
               + ∂β_q² + (∂v'_q / divisor)²]

    and the perturbed B is B + t (Γ e + RG); then torch.optim.SGD's step on
    (γ, ρ, α, β, v): g ← ∇ + λ θ, v ← μ v + g (momentum), θ ← θ - η v. P = ρ G
    (and V = v_ρ G) move by the same combination of RG and P, so no step
    forms a dense product of the whole ρ.

    Sets ``state.status[b]`` to the first step at which an output, or an
    element of the state (γ, ρ, P, α, β, v' and the heavy-ball buffer), is
    not finite, with ``state.weights[b]`` true in the second case, and stops
    there.
    """
    _advance_family(stats, signals, model, state, b, eta, steps, record_steps, first, last, eps, inverse_size,
                    records, np.int64(1))


@_kernel(parallel=True, nogil=True)
def run_family_halves(stats, signals, model, state, b, eta, steps, record_steps, first, last, eps, inverse_size,
                      records):
    """``run_family`` with the product R G of each step (``gradient_rows``) cut into two halves of the filters,
    one numba thread each; the rest of the step, O(m N) against the product's O(m N²), stays on one thread.
    The same bits, whatever the thread count (``run_dynamics_halves``).
    """
    _advance_family(stats, signals, model, state, b, eta, steps, record_steps, first, last, eps, inverse_size,
                    records, np.int64(2))


@_inner(inline="always")
def _advance_family(stats, signals, model, state, b, eta, steps, record_steps, first, last, eps, inverse_size,
                    records, parts):
    """The steps of ``run_family`` (parts = 1) and ``run_family_halves`` (parts = 2), inlined into both."""
    b0, G, xi_sq, y_noisy = stats.b0[b], stats.G[b], stats.xi_sq[b], stats.y_noisy[b]
    a0, c, e, u_sq = signals.a0[b], signals.c[b], signals.e[b], signals.u_sq[b]
    index, sign = signals.index[b], signals.sign[b]
    # Working copies, fresh allocations (see run_dynamics).
    gamma, rho, P = state.gamma[b].copy(), state.rho[b].copy(), state.P[b].copy()
    alpha, bias = state.alpha[b], state.bias[b].copy()
    v_gamma, v_rho, V = state.v_gamma[b].copy(), state.v_rho[b].copy(), state.V[b].copy()
    v_alpha, v_bias = state.v_alpha[b], state.v_bias[b].copy()
    out, v_out = state.out[b].copy(), state.v_out[b].copy()
    n = y_noisy.shape[0]
    q2, N = rho.shape
    n_signals = gamma.shape[1]
    n_out = model.outputs
    strips = _pack_strips(G)
    idx = np.empty((q2, N), np.uint32)
    starts = _list_starts(q2, N)
    rows = q2 // parts
    A = np.empty((q2, n_signals))
    B = np.empty((q2, N))
    f = np.empty((n, n_out))
    S = np.empty((q2, N))
    S_signal = np.empty((q2, n_signals, 2))
    act = np.empty((q2, n) if model.trained else (0, 0))
    phi = np.empty((n, n_out))
    sums = np.empty((n_out, n_signals, 2))
    g_gamma = np.empty((q2, n_signals))
    g_rho = np.empty((q2, N))
    g_bias = np.empty(q2)
    g_out = np.empty(q2)
    RG = np.empty((q2, N))
    leaky = model.low != 0.0
    sparse = np.empty((q2, N) if leaky else (0, 0))
    u = np.empty((n_out, N) if leaky else (0, 0))
    uG = np.empty((n_out, N) if leaky else (0, 0))
    sam = model.sam > 0.0
    A_sam = np.empty((q2, n_signals))
    B_sam = np.empty((q2, N) if sam else (0, 0))
    bias_sam = np.empty(q2)
    out_sam = np.empty(q2)
    gc = np.empty(n_signals)
    lam, mom = model.weight_decay, model.momentum
    k = _first_at_least(record_steps, first)
    n_records = record_steps.shape[0]
    for t in range(first, min(last, steps + 1)):
        family_preactivations(gamma, rho, P, alpha, a0, b0, c, e, A, B)
        family_outputs(A, B, bias, index, sign, out, model, f, S, S_signal, act)
        if not _all_finite(f):
            state.status[b] = t
            return
        # An activation that is 0 below zero maps a NaN pre-activation to 0 (``z > 0`` is false), and a loss
        # slope that overflowed to inf makes inf - inf and inf * 0 in the step: the outputs can stay finite
        # over a state that is not, so the state is checked too, through A, B, β and v'. Every element of γ,
        # ρ, P and α enters A or B as a term (ρ c, P, α a0, γ): one that is not finite makes its sum inf or
        # NaN, whatever the factor (inf * 0 is NaN). The heavy-ball buffer of a step enters the weights of
        # the same step (θ -= η v), so a buffer that is not finite leaves weights that are not. One pass over
        # B, in cache, instead of one over each of ρ, P, v_ρ and V.
        if not (_all_finite(A) and _all_finite(B) and _all_finite(bias) and _all_finite(out)):
            state.status[b] = t
            state.weights[b] = True
            return
        if k < n_records and record_steps[k] == t:
            _put(records.gamma[b, k], gamma)
            _put(records.rho[b, k], rho)
            _put(records.f[b, k], f)
            records.alpha[b, k] = alpha
            _put(records.bias[b, k], bias)
            _put(records.out[b, k], out)
            _put(records.v_gamma[b, k], v_gamma)
            _put(records.v_rho[b, k], v_rho)
            records.v_alpha[b, k] = v_alpha
            _put(records.v_bias[b, k], v_bias)
            _put(records.v_out[b, k], v_out)
            k += 1
        if t == steps:
            break
        row = t - first if model.stochastic else 0
        family_gradient(S, S_signal, act, f, y_noisy, signals, b, eps[b, row], inverse_size[b, row], xi_sq, out,
                        model, g_gamma, g_rho, g_bias, g_out, sparse, u, phi, sums)
        gradient_dense_row(u, model.low, G, uG)
        for h in prange(parts):
            gradient_rows(g_rho, sparse, model.low, out, n_out, strips, G, RG, idx, starts, uG, h * rows,
                          (h + 1) * rows)
        if sam:
            norm_sq = 0.0
            for q in range(q2):
                for s in range(n_signals):
                    total = 0.0
                    for kk in range(N):
                        total += g_rho[q, kk] * c[s, kk]
                    gc[s] = total
                quad = 0.0
                for kk in range(N):
                    quad += g_rho[q, kk] * RG[q, kk] / xi_sq[kk]
                part = 0.0
                for s in range(n_signals):
                    A_sam[q, s] = g_gamma[q, s] + gc[s]  # the change of A per unit of perturbation
                    part += (g_gamma[q, s] * g_gamma[q, s] + 2.0 * g_gamma[q, s] * gc[s]) / u_sq[s]
                norm_sq += part + quad
                norm_sq += g_bias[q] * g_bias[q]
                if model.trained:
                    in_v = g_out[q] / model.divisor
                    norm_sq += in_v * in_v
            if norm_sq > 0.0:
                step_size = model.sam / math.sqrt(norm_sq)
                for q in range(q2):
                    for s in range(n_signals):
                        A_sam[q, s] = A[q, s] + step_size * A_sam[q, s]
                    for kk in range(N):
                        shift = g_gamma[q, 0] * e[0, kk]
                        for s in range(1, n_signals):
                            shift += g_gamma[q, s] * e[s, kk]
                        B_sam[q, kk] = B[q, kk] + step_size * (shift + RG[q, kk])
                    bias_sam[q] = bias[q] + step_size * g_bias[q]
                    out_sam[q] = out[q] + step_size * g_out[q] if model.trained else out[q]
                family_outputs(A_sam, B_sam, bias_sam, index, sign, out_sam, model, f, S, S_signal, act)
                family_gradient(S, S_signal, act, f, y_noisy, signals, b, eps[b, row], inverse_size[b, row], xi_sq,
                                out_sam, model, g_gamma, g_rho, g_bias, g_out, sparse, u, phi, sums)
                gradient_dense_row(u, model.low, G, uG)
                for h in prange(parts):
                    gradient_rows(g_rho, sparse, model.low, out_sam, n_out, strips, G, RG, idx, starts, uG,
                                  h * rows, (h + 1) * rows)
        g_alpha = 0.0
        if lam > 0.0:
            g_alpha = lam * alpha
            for q in range(q2):
                for s in range(n_signals):
                    g_gamma[q, s] += lam * gamma[q, s]
                g_bias[q] += lam * bias[q]
                g_out[q] += lam * out[q]
                for kk in range(N):
                    g_rho[q, kk] += lam * rho[q, kk]
                    RG[q, kk] += lam * P[q, kk]
        if mom > 0.0:
            v_alpha = mom * v_alpha + g_alpha
            g_alpha = v_alpha
            for q in range(q2):
                for s in range(n_signals):
                    v_gamma[q, s] = mom * v_gamma[q, s] + g_gamma[q, s]
                    g_gamma[q, s] = v_gamma[q, s]
                v_bias[q] = mom * v_bias[q] + g_bias[q]
                g_bias[q] = v_bias[q]
                v_out[q] = mom * v_out[q] + g_out[q]
                g_out[q] = v_out[q]
                for kk in range(N):
                    v_rho[q, kk] = mom * v_rho[q, kk] + g_rho[q, kk]
                    g_rho[q, kk] = v_rho[q, kk]
                    V[q, kk] = mom * V[q, kk] + RG[q, kk]
                    RG[q, kk] = V[q, kk]
        alpha -= eta * g_alpha
        for q in range(q2):
            for s in range(n_signals):
                gamma[q, s] -= eta * g_gamma[q, s]
            if model.bias:
                bias[q] -= eta * g_bias[q]
            if model.trained:
                out[q] -= eta * g_out[q]
            for kk in range(N):
                rho[q, kk] -= eta * g_rho[q, kk]
                P[q, kk] -= eta * RG[q, kk]
    _put(state.gamma[b], gamma)
    _put(state.rho[b], rho)
    _put(state.P[b], P)
    state.alpha[b] = alpha
    _put(state.bias[b], bias)
    _put(state.v_gamma[b], v_gamma)
    _put(state.v_rho[b], v_rho)
    _put(state.V[b], V)
    state.v_alpha[b] = v_alpha
    _put(state.v_bias[b], v_bias)
    _put(state.out[b], out)
    _put(state.v_out[b], v_out)


@_kernel(parallel=True, nogil=True)
def run_family_batch(stats, signals, model, state, eta, steps, record_steps, first, last, eps, inverse_size,
                     records):
    """``run_family`` for every run of the batch that has not diverged, in parallel over runs (as ``run_batch``)."""
    for b in prange(eta.shape[0]):
        if state.status[b] < 0:
            # b as int64, as a single run passes it (prange's index is unsigned: a second compile of run_family).
            run_family(stats, signals, model, state, np.int64(b), eta[b], steps, record_steps, first, last, eps,
                       inverse_size, records)
