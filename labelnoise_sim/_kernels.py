"""Numba kernels of the coefficient dynamics (private).

State of a run, with q = 0..2m-1 indexing the filters (j, r) in class-major
order (q < m is j = +1):

    gamma[q]     signal coefficient γ_{j,r}
    rho[q, i]    noise coefficient ρ_{j,r,i}

Fixed statistics (all derived from the Gram matrix, see ``data.Data``), held
for a batch of runs by :class:`Statistics`:

    a0[q]     = ⟨w_q⁽⁰⁾, μ⟩                b0[q, k] = ⟨w_q⁽⁰⁾, ξ_k⟩
    c[i]      = ⟨ξ_i, μ⟩ / ‖ξ_i‖²          e[k]     = ⟨μ, ξ_k⟩ / ‖μ‖²
    G[i, k]   = ⟨ξ_i, ξ_k⟩ / ‖ξ_i‖²        jsign[q] = j ∈ {+1, -1}

Inner products of the current filters with the two patches:

    A[q]    = ⟨w_q, μ⟩   = a0[q] + j γ[q] + Σ_i ρ[q, i] c[i]
    B[q, k] = ⟨w_q, ξ_k⟩ = b0[q, k] + j γ[q] e[k] + Σ_i ρ[q, i] G[i, k]

Floating-point contract: every sum over i runs in ascending i, one rounded
multiply and one rounded add per term (no fused multiply-add, no
reassociation). The results therefore do not depend on the blocking, the
instruction set or the thread count, and equal arguments give bit-identical
trajectories on any machine with IEEE doubles. ``run_dynamics`` keeps the
term ρ G of B up to date by adding each step's change (a sum over the active
i, formed the same way) instead of recomputing it, so it follows the
composed step functions to rounding, not bit for bit (see its docstring).

Speed comes from 8-lane vectors (:data:`vector`) handled by five one-line
primitives, ``vload``, ``vstore``, ``vbroadcast``, ``vmul`` and ``vadd``, used
from plain loops: a tile of B held in a few vectors for a whole sum over i
is what keeps the (2m×n)·(n×n) product from being bound by loads and stores
of B, and numba neither runs LLVM's SLP vectoriser nor knows that B does not
alias G. Each primitive is also an ordinary NumPy function of 8-element
arrays, which is what runs under ``NUMBA_DISABLE_JIT=1``: every kernel here
then executes as plain Python with the same operations, in the same order.

All kernels live in this one file because numba's disk cache checks a
compiled function against its own source file only: a kernel calling a
kernel of another file could keep running a stale compiled copy of it.

Everything here takes plain arrays and scalars; inputs are trusted (the
public functions validate them).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import config as numba_config
from numba import njit, prange, types
from numba.extending import intrinsic, models, overload, register_model
from numba.core.registry import CPUDispatcher

__all__ = [
    "Statistics",
    "State",
    "new_state",
    "accumulate_product",
    "product",
    "products",
    "network_outputs",
    "update",
    "run_dynamics",
    "run_dynamics_halves",
    "run_batch",
    "Model",
    "Signals",
    "FamilyState",
    "new_family_state",
    "run_family",
    "run_family_halves",
    "run_family_batch",
    "gram",
    "gram_rows",
    "misclassified_draws_family",
    "design_direction",
    "failure_masses",
    "symmetric_roots",
    "loss_sums",
]

#: Lanes of a vector: one zmm register with AVX-512, two ymm registers with AVX2.
LANES = 8


# 8-lane vectors -----------------------------------------------------------


class _VectorType(types.Type):
    def __init__(self):
        super().__init__(name=f"float64x{LANES}")


#: numba type of an LLVM vector of 8 doubles; in plain Python, an ndarray of 8.
vector = _VectorType()


@register_model(_VectorType)
class _VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, ir.VectorType(ir.DoubleType(), LANES))


def _lanes_at(context, builder, array_type, array, i):
    data = context.make_array(array_type)(context, builder, array).data
    return builder.bitcast(builder.gep(data, [i]), ir.VectorType(ir.DoubleType(), LANES).as_pointer())


def _is_c_float_array(a):
    return isinstance(a, types.Array) and a.layout == "C" and a.dtype == types.float64


@intrinsic
def _vload(typingctx, a, i):
    def codegen(context, builder, sig, args):
        return builder.load(_lanes_at(context, builder, sig.args[0], args[0], args[1]), align=8)

    return (vector(a, i), codegen) if _is_c_float_array(a) else None


@intrinsic
def _vstore(typingctx, a, i, v):
    def codegen(context, builder, sig, args):
        builder.store(args[2], _lanes_at(context, builder, sig.args[0], args[0], args[1]), align=8)
        return context.get_dummy_value()

    return (types.void(a, i, vector), codegen) if _is_c_float_array(a) else None


@intrinsic
def _vbroadcast(typingctx, x):
    def codegen(context, builder, sig, args):
        lanes = ir.VectorType(ir.DoubleType(), LANES)
        first = builder.insert_element(ir.Constant(lanes, ir.Undefined), args[0], ir.Constant(ir.IntType(32), 0))
        return builder.shuffle_vector(first, first, ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES))

    return vector(types.float64), codegen


@intrinsic
def _vmul(typingctx, u, v):
    return vector(vector, vector), lambda context, builder, sig, args: builder.fmul(*args)


@intrinsic
def _vadd(typingctx, u, v):
    return vector(vector, vector), lambda context, builder, sig, args: builder.fadd(*args)


# The same five operations on 8-element NumPy arrays, for NUMBA_DISABLE_JIT=1.


def _vload_numpy(a, i):
    """Elements i..i+7 of the C-contiguous float64 array ``a`` (flat index), as a vector."""
    return a.reshape(-1)[i : i + LANES].copy()


def _vstore_numpy(a, i, v):
    """Write the vector ``v`` to elements i..i+7 of the C-contiguous array ``a`` (flat index)."""
    a.reshape(-1)[i : i + LANES] = v


def _vbroadcast_numpy(x):
    """The scalar ``x`` in every lane."""
    return np.full(LANES, x, dtype=np.float64)


def _vmul_numpy(u, v):
    """Lane-wise product, rounded once per lane."""
    return u * v


def _vadd_numpy(u, v):
    """Lane-wise sum, rounded once per lane."""
    return u + v


# The primitives the kernels call: the intrinsics when numba compiles, the
# NumPy definitions when it does not. (An overload of the NumPy functions
# would serve both, but numba types an overload anew at every call site and
# that made the first compilation several times slower.)
if numba_config.DISABLE_JIT:
    vload, vstore, vbroadcast, vmul, vadd = _vload_numpy, _vstore_numpy, _vbroadcast_numpy, _vmul_numpy, _vadd_numpy
else:
    vload, vstore, vbroadcast, vmul, vadd = _vload, _vstore, _vbroadcast, _vmul, _vadd


def _kernel(**options):
    """``njit`` as every kernel here takes it: cached on disk; ``error_model="numpy"`` (no kernel divides by
    zero: every divisor is a size >= 1, a positive parameter or guarded, and the ZeroDivisionError paths
    would only lengthen the compilation); no C wrapper (nothing takes a kernel's address), one function less
    for LLVM to optimise and emit on a process's first call."""
    return njit(cache=True, error_model="numpy", no_cfunc_wrapper=True, **options)


def _inner(**options):
    """``_kernel`` for a kernel that only other kernels call: no CPython wrapper either. Called from Python,
    such a kernel raises TypeError (without the wrapper, the call would jump to address 0)."""

    def decorate(function):
        dispatcher = _kernel(no_cpython_wrapper=True, **options)(function)
        if not numba_config.DISABLE_JIT:
            try:
                dispatcher.__class__ = _InnerDispatcher
            except TypeError:  # a numba whose dispatchers take no new class: the guard is lost, not the kernel
                pass
        return dispatcher

    return decorate


class _InnerDispatcher(CPUDispatcher):
    """The dispatcher of an ``_inner`` kernel: kernels call it as any other; Python may not."""

    def __call__(self, *args, **kwargs):
        raise TypeError(f"{self.py_func.__name__} has no CPython wrapper: only kernels call it")


# A kernel called from a kernel is compiled once per tuple of argument types, and a constant argument (0, True)
# has a literal type of its own; a loop counter that starts at a constant is typed first as that literal, which
# is enough to compile the callee for it. Hence ``np.int64(0)`` and ``np.bool_(...)`` in such places: one
# compilation of the callee instead of two or four.


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


# The dense product B += ρ G ------------------------------------------------


def accumulate_product(rho, G, B):
    """B += ρ G, each sum over i in ascending order; shapes (Q, n), (n, N), (Q, N).

    This plain-loop body is the definition, and what non-contiguous operands
    run; C-contiguous float64 operands run ``_accumulate_tiled``, which adds
    the same terms in the same order.
    """
    _accumulate_columns(rho, G, B, 0)


@_kernel()
def _accumulate_columns(rho, G, B, k_start):
    """B[:, k_start:] += ρ G[:, k_start:] in plain loops (any layout; also the columns the tiles leave)."""
    q2, n = rho.shape
    n_cols = B.shape[1]
    for q in range(q2):
        row = B[q]
        for i in range(n):
            r = rho[q, i]
            if r != 0.0:  # skipping exact zeros leaves every sum unchanged
                Gi = G[i]
                for k in range(k_start, n_cols):
                    row[k] += r * Gi[k]


@_inner()
def _accumulate_tiled(rho, G, B):
    """``accumulate_product`` with tiles of B in vectors (``_tile_rows``): one strip of G (n × 8) stays
    in cache while every block of rows uses it."""
    q2, n = rho.shape
    n_cols = B.shape[1]
    k_tiled = n_cols - n_cols % LANES
    for k in range(0, k_tiled, LANES):
        _tile_rows(rho, G, B, q2, k, k, np.int64(0), n)
    if k_tiled < n_cols:
        _accumulate_columns(rho, G, B, k_tiled)


@_inner()
def _tile4(rho, G, B, q, g_col, b_col, start, stop):
    """B[q:q+4, b_col:b_col+8] += Σ_{start <= i < stop} ρ[q:q+4, i] G[i, g_col:g_col+8], the four sums in vectors."""
    ld_g, ld_b = G.shape[1], B.shape[1]
    b0, b1, b2, b3 = q * ld_b + b_col, (q + 1) * ld_b + b_col, (q + 2) * ld_b + b_col, (q + 3) * ld_b + b_col
    s0, s1, s2, s3 = vload(B, b0), vload(B, b1), vload(B, b2), vload(B, b3)
    for i in range(start, stop):
        g = vload(G, i * ld_g + g_col)
        s0 = vadd(s0, vmul(vbroadcast(rho[q, i]), g))
        s1 = vadd(s1, vmul(vbroadcast(rho[q + 1, i]), g))
        s2 = vadd(s2, vmul(vbroadcast(rho[q + 2, i]), g))
        s3 = vadd(s3, vmul(vbroadcast(rho[q + 3, i]), g))
    vstore(B, b0, s0)
    vstore(B, b1, s1)
    vstore(B, b2, s2)
    vstore(B, b3, s3)


@_inner()
def _tile2(rho, G, B, q, g_col, b_col, start, stop):
    """``_tile4`` for two rows."""
    ld_g, ld_b = G.shape[1], B.shape[1]
    b0, b1 = q * ld_b + b_col, (q + 1) * ld_b + b_col
    s0, s1 = vload(B, b0), vload(B, b1)
    for i in range(start, stop):
        g = vload(G, i * ld_g + g_col)
        s0 = vadd(s0, vmul(vbroadcast(rho[q, i]), g))
        s1 = vadd(s1, vmul(vbroadcast(rho[q + 1, i]), g))
    vstore(B, b0, s0)
    vstore(B, b1, s1)


@_inner()
def _tile1(rho, G, B, q, g_col, b_col, start, stop):
    """``_tile4`` for one row."""
    ld_g, ld_b = G.shape[1], B.shape[1]
    b0 = q * ld_b + b_col
    s0 = vload(B, b0)
    for i in range(start, stop):
        s0 = vadd(s0, vmul(vbroadcast(rho[q, i]), vload(G, i * ld_g + g_col)))
    vstore(B, b0, s0)


@_inner()
def _tile_rows(rho, G, B, rows, g_col, b_col, start, stop):
    """The tiles of B[:rows, b_col:b_col+8]: 4 rows at a time, leftover rows in 2s and 1s.

    Two independent sums for the leftover rows hide more of the latency of
    the additions than one.
    """
    q = np.int64(0)
    while q + 4 <= rows:
        _tile4(rho, G, B, q, g_col, b_col, start, stop)
        q += 4
    while q + 2 <= rows:
        _tile2(rho, G, B, q, g_col, b_col, start, stop)
        q += 2
    if q < rows:
        _tile1(rho, G, B, q, g_col, b_col, start, stop)


@overload(accumulate_product, jit_options={"cache": True, "error_model": "numpy", "no_cfunc_wrapper": True})
def _accumulate_product_compiled(rho, G, B):
    if all(_is_c_float_array(a) and a.ndim == 2 for a in (rho, G, B)):
        return lambda rho, G, B: _accumulate_tiled(rho, G, B)
    return lambda rho, G, B: _accumulate_columns(rho, G, B, np.int64(0))


# Test loss ---------------------------------------------------------------------


@_kernel(nogil=True)
def loss_sums(roots, z, lo, hi, sigma_xi, items, bias, scale, kind, p1, p2, patches, additive, loss, records, start,
              stop, sums):
    """sums[k, i, r] += Σ_s ℓ_i(s) over the draws s = lo..hi-1 of replicate r, for every item i of ``items``
    (``TestItems``), for the pairs (k, r) = (records[i // R], i % R), start <= i < stop, R = sums.shape[2].

    z (replicates, points, P1 Q) the draws; roots (K, Q, Q), bias (K, Q) per record; sums (K, M, R). With
    the outputs of ``fresh_outputs`` on draw s, ℓ_i(s) is ℓ(y_i f) for one output (``loss`` the code of ℓ,
    ``loss_value``) and the softmax cross-entropy -log softmax(F)_c of the item's class c for several
    (``cross_entropy``). Each pair is summed over s in ascending order, on its own: threads that take
    disjoint ranges of pairs give the sums one thread gives. Releases the GIL.
    """
    R = sums.shape[2]
    D = z.shape[2]
    M = items.y.shape[0]
    outputs = items.outputs
    f = np.empty((M, outputs, DRAW_BLOCK))
    totals = np.empty(M)
    for item in range(start, stop):
        k = records[item // R]
        r = item % R
        for i in range(M):
            totals[i] = 0.0
        for first in range(lo, hi, DRAW_BLOCK):
            width = min(DRAW_BLOCK, hi - first)
            block = np.empty((D, width))
            for d in range(D):
                for s in range(width):
                    block[d, s] = z[r, first + s, d]
            fresh_outputs(roots[k], block, sigma_xi, items.signal[k], bias[k], items.out[k], outputs, scale, kind,
                          p1, p2, patches, additive, f)
            for i in range(M):
                if outputs == 1:
                    y = items.y[i]
                    for s in range(width):
                        totals[i] += loss_value(y * f[i, 0, s], loss)
                else:
                    for s in range(width):
                        totals[i] += cross_entropy(f[i, :, s], items.label[i])
        for i in range(M):
            sums[k, i, r] += totals[i]


@_inner()
def cross_entropy(F, label):
    """-log softmax(F)_label = log Σ_o e^(F_o - F_top) + F_top - F_label, F_top the largest output, with the
    terms below the top summed through log1p: a confident right answer keeps its small loss to full
    precision."""
    top = 0
    for o in range(1, F.shape[0]):
        if F[o] > F[top]:
            top = o
    rest = 0.0
    for o in range(F.shape[0]):
        if o != top:
            rest += math.exp(F[o] - F[top])
    return math.log1p(rest) + (F[top] - F[label])


@_kernel()
def product(X, Y):
    """X Y for X (p, n), Y (n, q), each sum in ascending order as ``accumulate_product`` forms it.

    The products of the library that feed a result go through here or
    :func:`gram` instead of BLAS, whose bits depend on its thread count.
    """
    out = np.zeros((X.shape[0], Y.shape[1]))
    accumulate_product(np.ascontiguousarray(X), np.ascontiguousarray(Y), out)
    return out


@_kernel(nogil=True)
def statistics_products(C, gram, CM, cov, start, stop):
    """CM[k] += C[k] gram and then cov[k] += CM[k] C[k]ᵀ for start <= k < stop, each product as :func:`product`
    forms it (C (K, 2m, V) contiguous, gram (V, V)); releases the GIL."""
    q2, V = C.shape[1], C.shape[2]
    C_t = np.empty((V, q2))
    for k in range(start, stop):
        accumulate_product(C[k], gram, CM[k])
        for v in range(V):  # C[k]ᵀ, contiguous: a loop, not np.ascontiguousarray (whose copy compiles slowly)
            for q in range(q2):
                C_t[v, q] = C[k, q, v]
        accumulate_product(CM[k], C_t, cov[k])


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


# The incremental product: P += Δρ G over the active pairs --------------------

#: Strips of G (8 columns each) per gather: the index and the weight of a
#: term, loaded once, serve this many vectors, and as many independent sums
#: hide the latency of the additions.
GATHER_STRIPS = 3
#: Rows of G per block of a gather: GATHER_STRIPS strips of this many rows
#: (48 KB) stay in cache while every row of P gathers from them. Unblocked,
#: at n = 1600 (300 KB) the gathers were slower than the dense product.
GATHER_BLOCK = 256


@_kernel()
def pack_strips(G):
    """G (n, N) as N // 8 contiguous strips stacked: strips[s n + i, c] = G[i, 8 s + c] (``_pack_strips``)."""
    return _pack_strips(G)


@_inner()
def _pack_strips(G):
    """G (n, N) as N // 8 contiguous strips stacked: strips[s n + i, c] = G[i, 8 s + c].

    Read in place, the rows of a strip lie a whole row of G apart and, for
    many n, fall into a few cache sets; packed once per kernel call, each
    strip is one contiguous block.
    """
    n, n_cols = G.shape
    size = (n_cols // LANES) * n * LANES
    # Aligned to 64 bytes, so that no 8-double row of a strip straddles two
    # cache lines (numba's allocations are only 32-byte aligned).
    buffer = np.empty(size + LANES)
    start = (-buffer.ctypes.data % 64) // 8
    strips = buffer[start : start + size].reshape(((n_cols // LANES) * n, LANES))
    for s in range(n_cols // LANES):
        for i in range(n):
            for col in range(LANES):
                strips[s * n + i, col] = G[i, s * LANES + col]
    return strips


@_inner()
def _gather3(idx, first, stop, w, row, strips, P, q, s, j):
    """P[q, cols] += j Σ_p w[row, i_p] G[i_p, cols] over i_p = idx[q, p], first <= p < stop; 3 strips s, s+1, s+2.

    The sum of each vector starts at zero and takes the terms in list order,
    one rounded multiply and one rounded add each; it is then multiplied by
    j = ±1 (exact) and added to P. idx is unsigned, so that indexing w by it
    needs no check for negative indices.
    """
    n = P.shape[1]
    base = s * n * LANES
    acc0, acc1, acc2 = vbroadcast(0.0), vbroadcast(0.0), vbroadcast(0.0)
    for p in range(first, stop):
        i = idx[q, p]
        r = vbroadcast(w[row, i])
        at = base + i * LANES
        acc0 = vadd(acc0, vmul(r, vload(strips, at)))
        acc1 = vadd(acc1, vmul(r, vload(strips, at + n * LANES)))
        acc2 = vadd(acc2, vmul(r, vload(strips, at + 2 * n * LANES)))
    jv = vbroadcast(j)
    at = q * n + s * LANES
    vstore(P, at, vadd(vload(P, at), vmul(jv, acc0)))
    vstore(P, at + LANES, vadd(vload(P, at + LANES), vmul(jv, acc1)))
    vstore(P, at + 2 * LANES, vadd(vload(P, at + 2 * LANES), vmul(jv, acc2)))


@_inner()
def _gather1(idx, first, stop, w, row, strips, P, q, s, j):
    """``_gather3`` for the one strip s."""
    n = P.shape[1]
    base = s * n * LANES
    acc = vbroadcast(0.0)
    for p in range(first, stop):
        i = idx[q, p]
        acc = vadd(acc, vmul(vbroadcast(w[row, i]), vload(strips, base + i * LANES)))
    at = q * n + s * LANES
    vstore(P, at, vadd(vload(P, at), vmul(vbroadcast(j), acc)))


@_inner()
def _active_lists(X, positive, idx, starts, lo, hi):
    """The i with X[q, i] > 0 (``positive``) or X[q, i] != 0, per row lo <= q < hi and block of GATHER_BLOCK i.

    They are idx[q, starts[q, b] : starts[q, b + 1]] for block b; starts is
    (2m, blocks + 1) (``_list_starts``). Every i is written and only the
    active ones kept: no branch to mispredict.
    """
    n = X.shape[1]
    n_blocks = starts.shape[1] - 1
    for q in range(lo, hi):
        row_x = X[q]
        row_idx = idx[q]
        count = 0
        for i in range(n):
            if i % GATHER_BLOCK == 0:
                starts[q, i // GATHER_BLOCK] = count
            row_idx[count] = i
            count += (row_x[i] > 0.0) if positive else (row_x[i] != 0.0)
        starts[q, n_blocks] = count


@_inner(inline="always")
def _list_starts(q2, n):
    """The (2m, blocks + 1) array ``_active_lists`` fills."""
    return np.empty((q2, (n + GATHER_BLOCK - 1) // GATHER_BLOCK + 1), np.int64)


@_inner()
def _gather_lists(idx, starts, w, per_pair, jsign, strips, G, P, lo, hi):
    """P[q] += j_q Σ_{i active} w[0, i] G[i], or Σ_{i active} w[q, i] G[i] when ``per_pair``, rows lo <= q < hi.

    The sum runs over the blocks of GATHER_BLOCK consecutive i in order;
    within a block, over the active i in ascending order as ``_gather3``
    describes, the block's sum then added to P.
    """
    n = P.shape[1]
    n_blocks = starts.shape[1] - 1
    n_strips = n // LANES
    s = np.int64(0)
    while s + GATHER_STRIPS <= n_strips:
        for b in range(n_blocks):
            for q in range(lo, hi):
                row, j = (q, 1.0) if per_pair else (0, jsign[q])
                _gather3(idx, starts[q, b], starts[q, b + 1], w, row, strips, P, q, s, j)
        s += GATHER_STRIPS
    while s < n_strips:
        for b in range(n_blocks):
            for q in range(lo, hi):
                row, j = (q, 1.0) if per_pair else (0, jsign[q])
                _gather1(idx, starts[q, b], starts[q, b + 1], w, row, strips, P, q, s, j)
        s += 1
    # Columns left over by the strips: the same sums, in plain loops.
    for q in range(lo, hi):
        row, j = (q, 1.0) if per_pair else (0, jsign[q])
        for col in range(n_strips * LANES, n):
            for b in range(n_blocks):
                total = 0.0
                for p in range(starts[q, b], starts[q, b + 1]):
                    i = idx[q, p]
                    total += w[row, i] * G[i, col]
                P[q, col] += j * total


@_inner()
def _accumulate_increment(B, w, jsign, strips, G, P, idx, starts, lo, hi):
    """P += Δρ G, for the increment Δρ[q, i] = j_q w_i 1(B[q, i] > 0) that ``_update_weighted`` added to ρ, rows
    lo <= q < hi.

    ΔP[q] = j_q Σ_{i active} w_i G[i]: only the active rows of G are read
    (G also given as ``pack_strips(G)``), in the order ``_gather_lists``
    describes. idx (2m, n) uint32 and starts (``_list_starts``) are scratch.
    """
    _active_lists(B, True, idx, starts, lo, hi)
    _gather_lists(idx, starts, w.reshape((1, w.shape[0])), False, jsign, strips, G, P, lo, hi)


@_inner()
def _accumulate_pairs(W, jsign, strips, G, P, idx, starts, lo, hi):
    """P += W G over the nonzero entries of W (2m, N), rows lo <= q < hi, in the order of ``_gather_lists``;
    idx and starts (``_list_starts``) are scratch."""
    _active_lists(W, False, idx, starts, lo, hi)
    _gather_lists(idx, starts, W, True, jsign, strips, G, P, lo, hi)


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
def _rows_after(gamma, rho, A, B, w, s_pos, s_neg, scale, mu_sq, jsign, strips, G, P, idx, starts, lo, hi):
    """The gradient step of the rows lo <= q < hi: their γ and ρ, and P += Δρ G."""
    _update_rows(gamma, rho, A, B, w, s_pos, s_neg, scale, mu_sq, jsign, lo, hi)
    _accumulate_increment(B, w, jsign, strips, G, P, idx, starts, lo, hi)


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


@_kernel(parallel=True, nogil=True)
def run_dynamics_halves(stats, state, b, eta, steps, record_steps, first, last, gamma_out, rho_out, f_out):
    """``run_dynamics`` with the filters of each class (the rows of A, B, γ, ρ and P) on a numba thread of their own.

    Each row is computed by the same code in the same order as in
    ``run_dynamics``, and the outputs, which sum over the rows, on one
    thread between the two halves of the step: the same bits, whatever the
    thread count. A step then waits for its two halves twice; that pays off
    from n = 400 at m = 10 (``dynamics.HALVES_WORK``).
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
                        (h + 1) * rows)
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
            run_dynamics(stats, state, b, eta[b], steps, record_steps, first, last, gamma_out[b], rho_out[b], f_out[b])


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
            run_family(stats, signals, model, state, b, eta[b], steps, record_steps, first, last, eps, inverse_size,
                       records)


# Gram matrices ----------------------------------------------------------------

#: Terms of the sum over the coordinates per block of the Gram kernel: a block
#: of 8 rows (16 KB) stays in the first-level cache while every 4 rows meet it.
GRAM_BLOCK = 256


#: Columns per strip of the Gram kernel: two vectors, so that a tile of 4 rows
#: holds 8 independent sums (4 hid too little of the additions' latency:
#: 3.4x slower than BLAS at p = 2021, d = 20000).
GRAM_STRIP = 2 * LANES


@_inner()
def _pack_rows(V, first, width):
    """Rows first..first+width-1 of V (p, d) as a (d, width) block: out[k, c] = V[first + c, k]."""
    d = V.shape[1]
    out = np.empty((d, width))
    for c in range(width):
        for k in range(d):
            out[k, c] = V[first + c, k]
    return out


@_inner()
def _tile4_wide(rho, G, B, q, b_col, start, stop, g_row):
    """B[q:q+4, b_col:b_col+16] += Σ_{start <= i < stop} ρ[q:q+4, i] G[g_row + i - start, 0:16], eight sums in
    vectors."""
    ld_g, ld_b = G.shape[1], B.shape[1]
    a0, a1, a2, a3 = q * ld_b + b_col, (q + 1) * ld_b + b_col, (q + 2) * ld_b + b_col, (q + 3) * ld_b + b_col
    s0, s1, s2, s3 = vload(B, a0), vload(B, a1), vload(B, a2), vload(B, a3)
    t0, t1, t2, t3 = vload(B, a0 + LANES), vload(B, a1 + LANES), vload(B, a2 + LANES), vload(B, a3 + LANES)
    at = g_row * ld_g
    for i in range(start, stop):
        g = vload(G, at)
        h = vload(G, at + LANES)
        at += ld_g
        r = vbroadcast(rho[q, i])
        s0 = vadd(s0, vmul(r, g))
        t0 = vadd(t0, vmul(r, h))
        r = vbroadcast(rho[q + 1, i])
        s1 = vadd(s1, vmul(r, g))
        t1 = vadd(t1, vmul(r, h))
        r = vbroadcast(rho[q + 2, i])
        s2 = vadd(s2, vmul(r, g))
        t2 = vadd(t2, vmul(r, h))
        r = vbroadcast(rho[q + 3, i])
        s3 = vadd(s3, vmul(r, g))
        t3 = vadd(t3, vmul(r, h))
    vstore(B, a0, s0)
    vstore(B, a1, s1)
    vstore(B, a2, s2)
    vstore(B, a3, s3)
    vstore(B, a0 + LANES, t0)
    vstore(B, a1 + LANES, t1)
    vstore(B, a2 + LANES, t2)
    vstore(B, a3 + LANES, t3)


#: Multiply-adds of a Gram matrix above which it is worth starting threads.
GRAM_PARALLEL_WORK = 2**27


def gram(V, p=None):
    """S = V Vᵀ for the first p rows of V (p, d) (all by default); S (p, p) exactly symmetric.

    Every S[a, b] is Σ_k V[a, k] V[b, k] in ascending k, one rounded multiply
    and one rounded add per term (as ``accumulate_product`` forms its sums),
    whatever the blocking and the thread count: the threads split the output
    columns, never a sum. Columns come in strips of 16, GRAM_GROUP strips to
    a pass over V (``_gram_group``), then one of 8 and single columns for
    what is left (``_gram_finish``);
    S[b, a] is then copied from S[a, b], which is the same number since each
    product commutes exactly. Small products run on one thread, which spares
    the first call of a process compiling the threaded kernel.

    A caller may give V zero rows after its first p, up to a multiple of 16
    (``gram_rows``): every column then goes through the strips, the same sums,
    and a process that only ever does so never compiles ``_gram_finish``
    (about 2 s on its first call).
    """
    V = np.ascontiguousarray(V, dtype=np.float64)
    rows, d = V.shape
    S = np.zeros((rows, rows))
    if rows * rows * d // 2 >= GRAM_PARALLEL_WORK:
        _gram_strips_threaded(V, S)
    else:
        _gram_strips(V, S)
    if rows % GRAM_STRIP:
        _gram_finish(V, S)
    for b in range(rows - 1):  # below the diagonal: copies, row by row
        S[b + 1 :, b] = S[b, b + 1 :]
    return S if p is None else S[:p, :p]


def gram_rows(p):
    """The rows of V, p or more, that take ``gram`` through its strips alone: p rounded up to a multiple of 16."""
    return -(-p // GRAM_STRIP) * GRAM_STRIP


#: Strips of 16 columns that share each pass over a block of V: a block of the rows of V (4 rows × GRAM_BLOCK
#: coordinates, 8 KB), loaded once, meets all their columns. One strip alone was bound by reading V from
#: memory (each element of V met 16 columns per load).
GRAM_GROUP = 8


@_inner()
def _gram_group(V, S, g):
    """Columns of group g of V Vᵀ (strips GRAM_GROUP g .. GRAM_GROUP (g+1) - 1 of 16), against every row up to
    each strip's last, into S.

    The sums run over blocks of GRAM_BLOCK coordinates in order; for each
    block, the rows of V behind the group's columns are packed (16 to a
    strip, coordinates down the rows), and every 4 × 16 tile of S takes its
    terms of the block in ascending order, held in vectors (``_tile4_wide``).
    """
    p, d = V.shape
    first_strip = GRAM_GROUP * g
    strips = min(GRAM_GROUP, p // GRAM_STRIP - first_strip)
    packed = np.empty((strips * GRAM_BLOCK, GRAM_STRIP))
    for start in range(0, d, GRAM_BLOCK):
        stop = min(start + GRAM_BLOCK, d)
        for j in range(strips):
            first = GRAM_STRIP * (first_strip + j)
            for c in range(GRAM_STRIP):
                row = V[first + c]
                for k in range(start, stop):
                    packed[j * GRAM_BLOCK + k - start, c] = row[k]
        last = GRAM_STRIP * (first_strip + strips)
        for q in range(0, last, 4):
            for j in range(strips):
                first = GRAM_STRIP * (first_strip + j)
                if q < first + GRAM_STRIP:
                    _tile4_wide(V, packed, S, q, first, start, stop, j * GRAM_BLOCK)


@_kernel(nogil=True)
def _gram_strips(V, S):
    """Every group of strips of 16 columns of S, on the calling thread."""
    n_groups = -(-(V.shape[0] // GRAM_STRIP) // GRAM_GROUP)
    for g in range(n_groups):
        _gram_group(V, S, g)


@_kernel(parallel=True)
def _gram_strips_threaded(V, S):
    """Every group of strips of 16 columns of S, the groups shared among numba threads."""
    n_groups = -(-(V.shape[0] // GRAM_STRIP) // GRAM_GROUP)
    # Groups ordered 0, last, 1, last - 1, ...: the work of group g grows with
    # g, and this order gives each thread's contiguous share of the
    # iterations about the same work.
    for t in prange(n_groups):
        _gram_group(V, S, t // 2 if t % 2 == 0 else n_groups - 1 - t // 2)


@_kernel(nogil=True)
def _gram_finish(V, S):
    """The columns the strips of 16 leave: one strip of 8 if 8 are left, single columns in plain loops (what
    they leave below the diagonal, ``gram`` copies over from above it)."""
    p, d = V.shape
    first = (p // GRAM_STRIP) * GRAM_STRIP
    if first + LANES <= p:
        packed = _pack_rows(V, first, LANES)
        for start in range(0, d, GRAM_BLOCK):
            _tile_rows(V, packed, S, first + LANES, np.int64(0), first, start, min(start + GRAM_BLOCK, d))
    for b in range((p // LANES) * LANES, p):
        for a in range(b + 1):
            total = 0.0
            for k in range(d):
                total += V[a, k] * V[b, k]
            S[a, b] = total


# Test error ------------------------------------------------------------------

#: Draws per block of the test-error kernels: a block's projections stay in cache.
DRAW_BLOCK = 256

#: Jacobi sweeps at most: each sweep squares the off-diagonal mass once it is small, so a symmetric matrix of
#: doubles is diagonal to rounding after 6 to 10 sweeps; the cap only bounds a pathological input.
JACOBI_SWEEPS = 60


@_kernel(nogil=True)
def symmetric_roots(covs, roots):
    """roots[k] = V sqrt(max(Λ, 0)) for covs[k] = V Λ Vᵀ (K, D, D), eigenvalues ascending: a square root of each
    covariance (R Rᵀ = cov), the same bits on any machine.

    LAPACK's eigensolver (``numpy.linalg.eigh``) gives bits that depend on the BLAS kernel the CPU selects,
    and the test error's draws go through this root. Here each covariance is diagonalised by cyclic Jacobi
    rotations in a fixed order: pairs (p, q) with p < q row by row, rotation angle as Numerical Recipes forms it
    (tan θ = sgn(t) / (|t| + sqrt(t² + 1)), t = (a_qq - a_pp) / (2 a_pq)), until a sweep leaves every off-diagonal
    entry negligible against its two diagonal entries. The eigenvalues are then sorted ascending (insertion
    sort: stable), and each eigenvector's entry of largest magnitude, the first if several, is made positive.
    """
    K, D = covs.shape[0], covs.shape[1]
    a = np.empty((D, D))
    v = np.empty((D, D))
    lam = np.empty(D)
    order = np.empty(D, dtype=np.int64)
    for k in range(K):
        for i in range(D):
            for j in range(D):
                a[i, j] = covs[k, i, j]
                v[i, j] = 1.0 if i == j else 0.0
        for _ in range(JACOBI_SWEEPS):
            rotated = False
            for p in range(D - 1):
                for q in range(p + 1, D):
                    apq = a[p, q]
                    app, aqq = a[p, p], a[q, q]
                    # Negligible: adding it to either diagonal entry (times 100) changes nothing.
                    if abs(app) + 100.0 * abs(apq) == abs(app) and abs(aqq) + 100.0 * abs(apq) == abs(aqq):
                        a[p, q] = 0.0
                        a[q, p] = 0.0
                        continue
                    rotated = True
                    theta = (aqq - app) / (2.0 * apq)
                    if abs(theta) > 1e150:  # theta² would overflow; t is then 1 / (2 theta) to rounding
                        t = 0.5 / theta
                    else:
                        t = 1.0 / (abs(theta) + math.sqrt(theta * theta + 1.0))
                        if theta < 0.0:
                            t = -t
                    c = 1.0 / math.sqrt(t * t + 1.0)
                    s = t * c
                    shift = t * apq
                    a[p, p] = app - shift
                    a[q, q] = aqq + shift
                    a[p, q] = 0.0
                    a[q, p] = 0.0
                    for r in range(D):
                        if r != p and r != q:
                            arp, arq = a[r, p], a[r, q]
                            new_p = c * arp - s * arq
                            new_q = s * arp + c * arq
                            a[r, p] = new_p
                            a[p, r] = new_p
                            a[r, q] = new_q
                            a[q, r] = new_q
                    for r in range(D):
                        vrp, vrq = v[r, p], v[r, q]
                        v[r, p] = c * vrp - s * vrq
                        v[r, q] = s * vrp + c * vrq
            if not rotated:
                break
        for i in range(D):
            lam[i] = a[i, i]
            order[i] = i
        for i in range(1, D):
            j = i
            while j > 0 and lam[order[j - 1]] > lam[order[j]]:
                order[j - 1], order[j] = order[j], order[j - 1]
                j -= 1
        for col in range(D):
            src = order[col]
            big = 0
            for r in range(1, D):
                if abs(v[r, src]) > abs(v[big, src]):
                    big = r
            scale = math.sqrt(lam[src]) if lam[src] > 0.0 else 0.0
            if v[big, src] < 0.0:
                scale = -scale
            for r in range(D):
                roots[k, r, col] = v[r, src] * scale


class TestItems(NamedTuple):
    """What the test-error kernels integrate at each record: M items, each a Gaussian expectation over the noise
    of a fresh sample whose signal patch is fixed (built by ``generalization``; see the section's comment).

    An item's signal patch gives each filter q the pre-activation ``signal[k, i, q]`` (its sign times
    ⟨w_q, u⟩, before the bias). Its margin is y_i Σ_q weights[k, i, q] [σ(signal + b_q) + Σ_p σ(Z_{p,q} + b_q)]
    (patches layout; σ(signal + Z_q + b_q) in the additive one), up to a positive factor.
    """

    signal: np.ndarray  #: (K, M, Q)  the filters' pre-activations on the item's signal patch
    weights: np.ndarray  #: (K, M, Q)  the filters' weights in the item's margin
    y: np.ndarray  #: (M,)  the margin's sign: y of the item's class (one output), +1 (several)
    label: np.ndarray  #: (M,) int64  the item's true class (several outputs)
    mode: np.ndarray  #: (M,) int64  the class that beats it first (several outputs, test error), else -1
    out: np.ndarray  #: (K, Q)  the output weights: filter q feeds output q // (Q / outputs)
    outputs: int  #: O: 1 (the margin f) or C (the outputs F_0..F_{C-1})


@_kernel()
def misclassified_draws_family(root, z_t, sigma_xi, A, bias, scale, kind, p1, p2, patches, additive):
    """Count the plain Monte Carlo draws of a fresh sample that are misclassified, per true class (the paper's
    fixed output layer, one signal vector: ``misclassified_draws`` with the items y = +1 and y = -1).

    root (2m, 2m)        a square root of the noise covariance per unit σ_ξ² (W Σ Wᵀ = root rootᵀ)
    z_t (P1 2m, S)       the fixed standard normal draws, one column per draw; rows p 2m .. p 2m + 2m - 1
                         are the draw of noise patch p (P1 = ``patches``)
    A (2m,), bias (2m,)  ⟨w_q, μ⟩ and b_q
    scale                the output scale s (1/m or 1)
    kind, p1, p2         the activation, as ``activation`` takes it
    additive             the layout: False for patches, True for one vector y μ + ξ (then P1 = 1)

    Returns (#{s : f_s(+1) <= 0}, #{s : -f_s(-1) <= 0}), with the outputs f_s(y) of ``fresh_outputs``.
    """
    q2 = root.shape[0]
    signal = np.empty((2, q2))
    out = np.empty(q2)
    for q in range(q2):
        signal[0, q] = A[q]
        signal[1, q] = -A[q]
        out[q] = 1.0 if q < q2 // 2 else -1.0
    y = np.empty(2)
    y[0], y[1] = 1.0, -1.0
    wrong = np.zeros(2, dtype=np.int64)
    _misclassified_draws(root, z_t, sigma_xi, signal, bias, out, np.int64(1), y, np.zeros(2, dtype=np.int64), scale,
                         kind, p1, p2, patches, additive, wrong)
    return wrong[0], wrong[1]


@_kernel()
def misclassified_draws(root, z_t, sigma_xi, signal, bias, out, outputs, y, label, scale, kind, p1, p2, patches,
                        additive, wrong):
    """``_misclassified_draws``, for Python."""
    _misclassified_draws(root, z_t, sigma_xi, signal, bias, out, outputs, y, label, scale, kind, p1, p2, patches,
                         additive, wrong)


@_inner()
def _misclassified_draws(root, z_t, sigma_xi, signal, bias, out, outputs, y, label, scale, kind, p1, p2, patches,
                         additive, wrong):
    """wrong[i] += the plain Monte Carlo draws of item i that are misclassified.

    This is the brute-force estimate (``class_errors(method="monte_carlo")``),
    kept to check the precise one (``failure_masses``) where it can.
    Items i = 0..M-1: signal (M, Q) the filters' pre-activations on the item's
    signal patch; out (Q,) the output weights of ``outputs`` outputs; y (M,) and
    label (M,) the item's class. With one output a draw is misclassified when
    y_i f <= 0; with several, when argmax_o F_o (the first largest, as
    numpy's argmax) is not label[i]. z_t (P1 Q, S) holds the draws, one
    column each; the rest as ``fresh_outputs`` takes it.
    """
    D, S = z_t.shape
    M = signal.shape[0]
    f = np.empty((M, outputs, DRAW_BLOCK))
    for start in range(0, S, DRAW_BLOCK):
        width = min(DRAW_BLOCK, S - start)
        block = np.empty((D, width))  # contiguous rows: a loop compiles faster than np.ascontiguousarray
        for d in range(D):
            for s in range(width):
                block[d, s] = z_t[d, start + s]
        fresh_outputs(root, block, sigma_xi, signal, bias, out, outputs, scale, kind, p1, p2, patches, additive, f)
        for i in range(M):
            for s in range(width):
                if outputs == 1:
                    if y[i] * f[i, 0, s] <= 0.0:
                        wrong[i] += 1
                else:
                    top = 0
                    for o in range(1, outputs):
                        if f[i, o, s] > f[i, top, s]:
                            top = o
                    if top != label[i]:
                        wrong[i] += 1


@_inner()
def fresh_outputs(root, block, sigma_xi, signal, bias, out, outputs, scale, kind, p1, p2, patches, additive, f):
    """f[i, o, s] <- output o of the network on the fresh sample of item i and draw s.

    block (P1 Q, S), S <= DRAW_BLOCK, C-contiguous: standard normal draws, one column per draw, rows
    p Q .. p Q + Q - 1 the draw of noise patch p; signal (M, Q) the filters' pre-activations on each item's
    signal patch; out (Q,) the output weights, filter q feeding output o(q) = q // (Q / O) of the O =
    ``outputs``; f (M, O, >= S). With Z_{s,p} = σ_ξ (root z_{s,p}),

        f_{i,o,s} = scale Σ_{o(q) = o} out_q [σ(signal_{i,q} + b_q) + Σ_p σ(Z_{s,p,q} + b_q)]   (patches)
        f_{i,o,s} = scale Σ_{o(q) = o} out_q σ(signal_{i,q} + Z_{s,q} + b_q)                      (additive).

    Each projection is ``accumulate_product`` (sums in ascending order); every other sum runs over the
    patches p, then the filters q, in ascending order. No BLAS: the outputs do not depend on the thread
    count.
    """
    q2, width = root.shape[0], block.shape[1]
    M = signal.shape[0]
    per = q2 // outputs
    # The signal patch's part of each output (patches layout).
    consts = np.zeros((M, outputs))
    for i in range(M):
        for q in range(q2):
            consts[i, q // per] += out[q] * activation(signal[i, q] + bias[q], kind, p1, p2)
    Z = np.zeros((q2, width))
    # Patches: total[0] is the noise patches' part of the outputs / scale, the same for every item.
    # Additive: total[i] is item i's outputs / scale.
    total = np.zeros((M if additive else 1, outputs, width))
    x = np.empty(width)
    value = np.empty(width)
    slope = np.empty(width)  # unused: activate forms both
    for p in range(patches):
        Z[:] = 0.0
        accumulate_product(root, block[p * q2 : (p + 1) * q2], Z)
        for q in range(q2):
            j = out[q]
            o = q // per
            b = bias[q]
            row = Z[q]
            # activate() runs one loop per kind, in vectors where it can: the same values as activation().
            if additive:
                for i in range(M):
                    a = signal[i, q]
                    for s in range(width):
                        x[s] = a + sigma_xi * row[s] + b
                    activate(x, kind, p1, p2, value, slope)
                    for s in range(width):
                        total[i, o, s] += j * value[s]
            else:
                for s in range(width):
                    x[s] = sigma_xi * row[s] + b
                activate(x, kind, p1, p2, value, slope)
                for s in range(width):
                    total[0, o, s] += j * value[s]
    for i in range(M):
        for o in range(outputs):
            for s in range(width):
                if additive:
                    f[i, o, s] = scale * total[i, o, s]
                else:
                    f[i, o, s] = scale * (consts[i, o] + total[0, o, s])


# Test error: line sampling --------------------------------------------------
#
# For one recorded step, the test error is a finite mixture of items (``TestItems``): a fresh sample of a true
# class whose signal patch is one of the patterns the class carries (``data.signal_law``), with u ~ N(0, I_D)
# the whitened noise of its P1 noise patches (D = P1 Q, coordinate d = p Q + q) and
#
#     x_d(u) = o_q + σ_ξ (root u_p)_q,   o_q = b_q (+ a_q in the additive layout),
#
# a_q the item's signal pre-activation of filter q. With one output the item fails when
# g(u) = y (c + Σ_d j_d σ(x_d(u))) <= 0, j_d = out_q, c = Σ_q j_q σ(a_q + b_q) (patches layout; 0 in the
# additive one). With C outputs F_g = c_g + Σ_{d in g} j_d σ(x_d), a sample of class c is misclassified when
# argmax_g F_g != c, numpy's argmax, the first largest: when some class g < c has F_g >= F_c or some g > c has
# F_g > F_c (the events E_g). The item (c, pattern, g) is the event T_g that g is the first class that beats c
# (E_g and no E_g' with g' < g, g' != c): the T_g partition the error, each with its own lines, along the
# design direction of E_g alone (the margin F_c - F_g: the item's weights are out_q on c, -out_q on g).
#
# ``design_direction`` finds a unit vector e towards the most likely failing
# point, and ``failure_masses`` averages, over draws u, the exact normal mass
# of the failing part of the line {u - (u·e) e + t e : t real}. For ReLU and
# leaky ReLU, g (and every F_g) is piecewise linear along the line, so that mass is a sum of
# normal interval probabilities: exact in the far tail, where a plain Monte
# Carlo estimate only sees zeros. For the other activations the draws are
# shifted to the failing point instead, and weighted back (importance
# sampling).

#: Activation codes whose networks are piecewise linear: their lines' failing masses are exact.
PIECEWISE_LINEAR = (0, 2)

#: The lines of ``_line_mass`` are cut to |t| <= LINE_REACH: the normal mass beyond, 2 Φ(-12) < 4e-33, is
#: below any error the estimate reports (relative to an error of 1e-12, below 4e-21).
LINE_REACH = 12.0

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@_inner()
def normal_mass(lo, hi):
    """Φ(hi) - Φ(lo) for lo <= hi (either may be infinite), without cancellation in either tail."""
    if lo >= 0.0:
        return 0.5 * (math.erfc(lo * _SQRT_HALF) - math.erfc(hi * _SQRT_HALF))
    if hi <= 0.0:
        return 0.5 * (math.erfc(-hi * _SQRT_HALF) - math.erfc(-lo * _SQRT_HALF))
    return 1.0 - 0.5 * (math.erfc(-lo * _SQRT_HALF) + math.erfc(hi * _SQRT_HALF))


@_inner()
def normal_moment(lo, hi):
    """∫ t φ(t) dt over [lo, hi] = φ(lo) - φ(hi), φ the standard normal density."""
    return (math.exp(-0.5 * lo * lo) - math.exp(-0.5 * hi * hi)) * _INV_SQRT_2PI


@_inner()
def _class_terms(signal, bias, weights, kind, p1, p2, additive, offset):
    """offset[q] <- o_q of an item; returns its c (see the section's comment)."""
    q2 = signal.shape[0]
    const = 0.0
    for q in range(q2):
        if additive:
            offset[q] = signal[q] + bias[q]
        else:
            offset[q] = bias[q]
            const += weights[q] * activation(signal[q] + bias[q], kind, p1, p2)
    return const


@_inner()
def _output_terms(signal, bias, out, kind, p1, p2, additive, consts):
    """consts[g] <- c_g of an item, the signal patch's part of output g (0 in the additive layout)."""
    q2, outputs = signal.shape[0], consts.shape[0]
    per = q2 // outputs
    for g in range(outputs):
        consts[g] = 0.0
    if not additive:
        for q in range(q2):
            consts[q // per] += out[q] * activation(signal[q] + bias[q], kind, p1, p2)


@_inner()
def _project(root, sigma_xi, u, out):
    """out <- σ_ξ (root u_p), patch by patch (u and out of length D = P1 Q)."""
    q2 = root.shape[0]
    for p in range(u.shape[0] // q2):
        for q in range(q2):
            x = 0.0
            for k in range(q2):
                x += root[q, k] * u[p * q2 + k]
            out[p * q2 + q] = sigma_xi * x


@_inner()
def _dot(a, b):
    """Σ_d a_d b_d in ascending d (np.sum would sum pairwise in plain Python and in order compiled)."""
    total = 0.0
    for d in range(a.shape[0]):
        total += a[d] * b[d]
    return total


@_inner()
def _coordinate_weights(weights, D, out):
    """out[d] <- weights[d % Q], the weight of each coordinate (D = P1 Q); returns out."""
    q2 = weights.shape[0]
    for d in range(D):
        out[d] = weights[d % q2]
    return out


@_inner()
def _inverses(c, out):
    """out[d] <- 1 / c_d, 0 where c_d = 0; returns out."""
    for d in range(c.shape[0]):
        out[d] = 1.0 / c[d] if c[d] != 0.0 else 0.0
    return out


@_inner()
def _surface(u, root, sigma_xi, offset, const, y, weights, kind, p1, p2, relu_like, grad):
    """g(u) (see the section's comment), and its gradient in ``grad``.

    ``relu_like`` replaces σ by the ReLU (the leaky ReLU for kind 2), with
    slope 1 at 0: the direction search starts at u = 0, where ReLU'(0) = 0
    would give it no gradient.
    """
    q2 = root.shape[0]
    low = p1 if kind == 2 else 0.0
    total = const
    for d in range(u.shape[0]):
        grad[d] = 0.0
    for p in range(u.shape[0] // q2):
        base = p * q2
        for q in range(q2):
            x = 0.0
            for k in range(q2):
                x += root[q, k] * u[base + k]
            x = offset[q] + sigma_xi * x
            j = weights[q]
            if relu_like or kind == 0 or kind == 2:
                value = x if x >= 0.0 else low * x
                slope = 1.0 if x >= 0.0 else low
            else:
                value, slope = activation_pair(x, kind, p1, p2)
            total += j * value
            weight = y * j * slope * sigma_xi
            if weight != 0.0:
                for k in range(q2):
                    grad[base + k] += weight * root[q, k]
    return y * total


@_inner()
def _line_mass(a, c, inv_c, jq, low, const, y, times, order, moment):
    """Normal mass of {|t| <= LINE_REACH : y (const + Σ_d j_d σ(a_d + t c_d)) <= 0}, σ(x) = x above 0, low x below.

    inv_c holds 1 / c_d (0 where c_d = 0). Along the line the sum is linear
    between the kinks t_d = -a_d / c_d; it is formed once at t = -LINE_REACH,
    then updated at each kink in increasing order. Its signs at the ends of a
    piece tell whether the piece fails in whole, in part (then its root is
    taken) or not at all; the failing intervals of adjacent pieces are merged
    before their masses are taken. A piece where every ReLU is off takes
    the value const exactly: with const = 0 (the additive layout) f = 0
    there, a mistake, as plain sampling counts it. With ``moment``, returns ∫ t φ(t) dt over
    the failing set instead of its mass.
    """
    D = a.shape[0]
    reach = LINE_REACH
    intercept = const
    slope = 0.0
    kinks = 0
    active = 0  # terms above their kink
    for d in range(D):
        cd = c[d]
        ad = a[d]
        j = jq[d]
        if ad - reach * cd > 0.0:  # above the kink at t = -reach
            intercept += j * ad
            slope += j * cd
            active += 1
        else:
            intercept += j * low * ad
            slope += j * low * cd
        t = -ad * inv_c[d]
        if cd != 0.0 and -reach < t < reach:
            k = kinks
            while k > 0 and times[k - 1] > t:
                times[k] = times[k - 1]
                order[k] = order[k - 1]
                k -= 1
            times[k] = t
            order[k] = d
            kinks += 1
    mass = 0.0
    is_open = False
    open_lo = 0.0
    open_hi = 0.0
    lo = -reach
    for k in range(kinks + 1):
        level = y * intercept
        rising = y * slope
        hi = times[k] if k < kinks else reach
        # Both ends from this piece's own line: their signs differ only where it crosses 0 (rising != 0).
        value_lo = level + rising * lo
        value_hi = level + rising * hi
        if hi > lo and (value_lo <= 0.0 or value_hi <= 0.0):
            if value_lo <= 0.0 and value_hi <= 0.0:
                fail_lo, fail_hi = lo, hi
            elif value_lo <= 0.0:
                fail_lo, fail_hi = lo, max(lo, min(hi, -level / rising))
            else:
                fail_lo, fail_hi = min(hi, max(lo, -level / rising)), hi
            if is_open and fail_lo <= open_hi:
                open_hi = fail_hi
            else:
                if is_open:
                    mass += normal_moment(open_lo, open_hi) if moment else normal_mass(open_lo, open_hi)
                open_lo, open_hi, is_open = fail_lo, fail_hi, True
        if k < kinks:
            d = order[k]
            rises = c[d] > 0.0
            change = (1.0 if rises else -1.0) * jq[d] * (1.0 - low)
            intercept += change * a[d]
            slope += change * c[d]
            active += 1 if rises else -1
            if active == 0 and low == 0.0:
                # Every ReLU is off: the sum is const exactly (f = 0 counts as a mistake when const = 0), not
                # the rounding that adding and taking back the terms leaves.
                intercept, slope = const, 0.0
            lo = hi
    if is_open:
        mass += normal_moment(open_lo, open_hi) if moment else normal_mass(open_lo, open_hi)
    return mass


@_inner()
def _line_mass_classes(a, c, inv_c, jq, group, consts, label, mode, low, times, order, intercept, slope, active):
    """Normal mass of {|t| <= LINE_REACH : ``mode`` is the first class to beat ``label``} (the event T_g of the
    section's comment, g = mode) along the line a + t c, with the outputs
    F_g(t) = consts[g] + Σ_{d: group[d] = g} j_d σ(a_d + t c_d), σ(x) = x above 0, low x below.

    As ``_line_mass``: every output is linear between the kinks, formed once at
    t = -LINE_REACH and updated at each kink in increasing order; an output
    whose ReLUs are all off takes the value consts[g] exactly (so that ties
    between such outputs are exact, and broken as argmax breaks them). On each
    piece, each class g beats c on an interval at one end of the piece
    (``_piece_beats``), so the classes before ``mode`` beat c on the piece's
    ends [lo, left] and [right, hi], and T_g is the part of mode's interval
    between left and right. intercept, slope (G,) and active (G,) are scratch.
    """
    D = a.shape[0]
    reach = LINE_REACH
    for g in range(consts.shape[0]):
        intercept[g] = consts[g]
        slope[g] = 0.0
        active[g] = 0
    kinks = 0
    for d in range(D):
        cd = c[d]
        ad = a[d]
        j = jq[d]
        g = group[d]
        if ad - reach * cd > 0.0:  # above the kink at t = -reach
            intercept[g] += j * ad
            slope[g] += j * cd
            active[g] += 1
        else:
            intercept[g] += j * low * ad
            slope[g] += j * low * cd
        t = -ad * inv_c[d]
        if cd != 0.0 and -reach < t < reach:
            k = kinks
            while k > 0 and times[k - 1] > t:
                times[k] = times[k - 1]
                order[k] = order[k - 1]
                k -= 1
            times[k] = t
            order[k] = d
            kinks += 1
    mass = 0.0
    is_open = False
    open_lo = 0.0
    open_hi = 0.0
    lo = -reach
    for k in range(kinks + 1):
        hi = times[k] if k < kinks else reach
        if hi > lo:
            # No class before mode beats c on (left, right).
            left, right = lo, hi
            for g in range(mode):
                if g == label:
                    continue
                where, x = _piece_beats(intercept[g] - intercept[label], slope[g] - slope[label], lo, hi, g > label)
                if where == 1:
                    left = hi
                elif where == 2:
                    left = max(left, x)
                elif where == 3:
                    right = min(right, x)
            where, x = _piece_beats(intercept[mode] - intercept[label], slope[mode] - slope[label], lo, hi,
                                    mode > label)
            if where != 0 and left < right:
                fail_lo = max(left, x if where == 3 else lo)
                fail_hi = min(right, x if where == 2 else hi)
                if fail_lo < fail_hi:
                    if is_open and fail_lo <= open_hi:
                        open_hi = fail_hi
                    else:
                        if is_open:
                            mass += normal_mass(open_lo, open_hi)
                        open_lo, open_hi, is_open = fail_lo, fail_hi, True
        if k < kinks:
            d = order[k]
            g = group[d]
            rises = c[d] > 0.0
            change = (1.0 if rises else -1.0) * jq[d] * (1.0 - low)
            intercept[g] += change * a[d]
            slope[g] += change * c[d]
            active[g] += 1 if rises else -1
            if active[g] == 0 and low == 0.0:
                intercept[g], slope[g] = consts[g], 0.0
            lo = hi
    if is_open:
        mass += normal_mass(open_lo, open_hi)
    return mass


@_inner()
def _piece_beats(level, rising, lo, hi, strict):
    """Where h(t) = level + rising t, a class's output less c's on the piece [lo, hi], beats c: h >= 0, or
    h > 0 with ``strict`` (a class after c, which argmax ranks below c at a tie).

    Returns (0, 0) nowhere, (1, 0) on the whole piece, (2, x) on [lo, x], (3, x) on [x, hi].
    """
    value_lo = level + rising * lo
    value_hi = level + rising * hi
    beats_lo = value_lo > 0.0 if strict else value_lo >= 0.0
    beats_hi = value_hi > 0.0 if strict else value_hi >= 0.0
    if beats_lo and beats_hi:
        return 1, 0.0
    if not beats_lo and not beats_hi:
        return 0, 0.0
    # The ends differ in sign, so rising != 0.
    x = min(hi, max(lo, -level / rising))
    return (2, x) if beats_lo else (3, x)


@_inner()
def _first_beaten(F, label, mode):
    """Whether ``mode`` is the first class to beat ``label`` on the outputs F (the event T_g, g = mode)."""
    top = F[label]
    for g in range(mode):
        if g != label and (F[g] > top if g > label else F[g] >= top):
            return False
    return F[mode] > top if mode > label else F[mode] >= top


@_kernel()
def design_direction(root, sigma_xi, signal, bias, weights, y, kind, p1, p2, patches, additive, e):
    """e <- a unit vector towards the most likely failing point of an item; returns its distance β.

    The item's margin is g(u) (the section's comment) with the signal pre-activations ``signal`` (Q,), the
    weights ``weights`` (Q,) and the sign y. Hasofer-Lind-Rackwitz-Fiessler steps (the first-order reliability
    method) on the ReLU or leaky ReLU version of the network, from u = 0;
    each iterate proposes its direction (the first, the steepest descent of
    g at 0), and the one whose line through 0 holds the most failing mass
    wins. For ReLU and leaky ReLU, β is then the distance at which a
    half-line would hold that mass; for the other activations it is the
    distance to the first failing point of the network itself along e,
    found by bisection (inf if there is none within 40). Any unit vector
    keeps ``failure_masses`` unbiased; a good one makes its variance small.
    """
    q2 = root.shape[0]
    D = patches * q2
    low = p1 if kind == 2 else 0.0
    offset = np.empty(q2)
    const = _class_terms(signal, bias, weights, 2 if kind == 2 else 0, p1, p2, additive, offset)
    u = np.zeros(D)
    grad = np.empty(D)
    c = np.empty(D)
    inverse = np.empty(D)
    a = np.empty(D)
    jq = _coordinate_weights(weights, D, np.empty(D))
    times = np.empty(D)
    order = np.empty(D, dtype=np.int64)
    candidate = np.empty(D)
    best = -1.0
    for d in range(D):  # loops, not slice assignments: those compile a formatted shape error (seconds)
        e[d] = 1.0 if d == 0 else 0.0
    for it in range(31):
        g = _surface(u, root, sigma_xi, offset, const, y, weights, kind, p1, p2, np.bool_(True), grad)
        size = _dot(grad, grad)
        for d in range(D):
            candidate[d] = -grad[d] if it == 0 else u[d]
        norm = math.sqrt(_dot(candidate, candidate))
        if norm > 0.0:
            for d in range(D):
                candidate[d] /= norm
            _project(root, sigma_xi, candidate, c)
            for d in range(D):
                a[d] = offset[d % q2]
            mass = _line_mass(a, c, _inverses(c, inverse), jq, low, const, y, times, order, np.bool_(False))
            if mass > best:
                best = mass
                for d in range(D):
                    e[d] = candidate[d]
        if size == 0.0:
            break
        lam = (_dot(grad, u) - g) / size
        change = 0.0
        for d in range(D):
            step = lam * grad[d]
            change += (step - u[d]) * (step - u[d])
            u[d] = step
        if change <= 1e-24 * (1.0 + _dot(u, u)):
            break
    if kind in PIECEWISE_LINEAR:
        return _upper_quantile(best)
    # The network itself: the first failing point along e, by doubling then bisection.
    # The points t e are formed in loops (the same products as the array expression t * e, which compiles slowly).
    const = _class_terms(signal, bias, weights, kind, p1, p2, additive, offset)
    point = candidate
    for d in range(D):
        point[d] = 0.0 * e[d]
    if _surface(point, root, sigma_xi, offset, const, y, weights, kind, p1, p2, np.bool_(False), grad) <= 0.0:
        return 0.0
    hi = 0.5
    while True:
        for d in range(D):
            point[d] = hi * e[d]
        if _surface(point, root, sigma_xi, offset, const, y, weights, kind, p1, p2, np.bool_(False), grad) <= 0.0:
            break
        hi *= 2.0
        if hi > 40.0:
            return math.inf
    lo = 0.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        for d in range(D):
            point[d] = mid * e[d]
        if _surface(point, root, sigma_xi, offset, const, y, weights, kind, p1, p2, np.bool_(False), grad) > 0.0:
            lo = mid
        else:
            hi = mid
    return hi


@_inner()
def _upper_quantile(mass):
    """β with 1 - Φ(β) = mass (inf for a mass of 0), by bisection."""
    if mass <= 0.0:
        return math.inf
    lo, hi = -40.0, 40.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if normal_mass(mid, math.inf) > mass:
            lo = mid
        else:
            hi = mid
    return hi


@_inner(inline="always")
def failure_masses(root, z_t, sigma_xi, items, k, bias, kind, p1, p2, patches, additive, e, beta, out):
    """out[i, s] <- draw s's estimate of the probability of item i of record k (``TestItems``).

    root (Q, Q)     a square root of the noise covariance per unit σ_ξ²
    z_t (D, S)      standard normal draws, one column per draw (D = P1 Q)
    e (M, D)        the unit directions of the items' lines (``design_direction``)
    beta (M,)       the distances of ``design_direction`` (the shifted draws only)

    For ReLU and leaky ReLU, a draw z's estimate is the exact mass of the
    failing part of its line along e_i (``_line_mass``, ``_line_mass_classes``
    for an item of several outputs): an unbiased estimate of the probability
    whatever e_i, with a small variance when e_i points to the failure region.
    For the other activations it is 1(the item fails at z + β_i e_i)
    exp(-β_i z·e_i - β_i²/2) (importance sampling; β_i = 0 where it is infinite).

    Projections are ``accumulate_product`` over blocks of DRAW_BLOCK draws;
    every other sum runs in ascending order of its index: the estimates do
    not depend on the thread count.
    """
    q2 = root.shape[0]
    D, S = z_t.shape
    M = items.y.shape[0]
    outputs = items.outputs
    piecewise = kind in PIECEWISE_LINEAR
    low = p1 if kind == 2 else 0.0
    jq = np.empty((M, D))  # each item's weight of each coordinate
    base = np.empty((M, D))  # o_q of each coordinate
    consts = np.empty(M)
    slopes = np.empty((M, D))  # σ_ξ root e_i, patch by patch
    inverse = np.empty((M, D))
    shift = np.zeros(M)
    offset = np.empty(q2)
    # Several outputs: every output's constant, and the output weight and output of each coordinate.
    levels = np.zeros((M, outputs))
    jv = _coordinate_weights(items.out[k], D, np.empty(D))
    group = np.empty(D, dtype=np.int64)
    for d in range(D):
        group[d] = (d % q2) // (q2 // outputs)
    for i in range(M):
        consts[i] = _class_terms(items.signal[k, i], bias, items.weights[k, i], kind, p1, p2, additive, offset)
        for d in range(D):
            base[i, d] = offset[d % q2]
        _coordinate_weights(items.weights[k, i], D, jq[i])
        _project(root, sigma_xi, e[i], slopes[i])
        _inverses(slopes[i], inverse[i])
        if not piecewise and beta[i] < math.inf:
            shift[i] = beta[i]
        if items.mode[i] >= 0:
            _output_terms(items.signal[k, i], bias, items.out[k], kind, p1, p2, additive, levels[i])
    a = np.empty(D)
    times = np.empty(D)
    order = np.empty(D, dtype=np.int64)
    F = np.empty(outputs)
    intercept = np.empty(outputs)
    rising = np.empty(outputs)
    active = np.empty(outputs, dtype=np.int64)
    for first in range(0, S, DRAW_BLOCK):
        width = min(DRAW_BLOCK, S - first)
        block = np.empty((D, width))  # contiguous columns: a loop compiles faster than np.ascontiguousarray
        for d in range(D):
            for s in range(width):
                block[d, s] = z_t[d, first + s]
        along = np.zeros((M, width))  # z·e_i = u·e_i
        accumulate_product(e, block, along)
        Z = np.zeros((D, width))
        for p in range(patches):
            accumulate_product(root, block[p * q2 : (p + 1) * q2], Z[p * q2 : (p + 1) * q2])
        for i in range(M):
            y = items.y[i]
            mode = items.mode[i]
            for s in range(width):
                w = along[i, s]
                if piecewise:
                    for d in range(D):
                        a[d] = base[i, d] + sigma_xi * Z[d, s] - w * slopes[i, d]
                    if mode < 0:
                        out[i, first + s] = _line_mass(a, slopes[i], inverse[i], jq[i], low, consts[i], y, times,
                                                       order, np.bool_(False))
                    else:
                        out[i, first + s] = _line_mass_classes(a, slopes[i], inverse[i], jv, group, levels[i],
                                                               items.label[i], mode, low, times, order, intercept,
                                                               rising, active)
                else:
                    if mode < 0:
                        total = consts[i]
                        for d in range(D):
                            x = base[i, d] + sigma_xi * Z[d, s] + shift[i] * slopes[i, d]
                            total += jq[i, d] * activation(x, kind, p1, p2)
                        fails = y * total <= 0.0
                    else:
                        for g in range(outputs):
                            F[g] = levels[i, g]
                        for d in range(D):
                            x = base[i, d] + sigma_xi * Z[d, s] + shift[i] * slopes[i, d]
                            F[group[d]] += jv[d] * activation(x, kind, p1, p2)
                        fails = _first_beaten(F, items.label[i], mode)
                    out[i, first + s] = math.exp(-shift[i] * w - 0.5 * shift[i] * shift[i]) if fails else 0.0


@_kernel(nogil=True)
def failure_sums(roots, z, lo, hi, first, count, sigma_xi, items, bias, kind, p1, p2, patches, additive, e, beta,
                 records, start, stop, sums):
    """sums[k, i, r] += the sum of ``failure_masses`` of item i over draws lo..hi-1 of replicate r, for the
    pairs (k, r) = (records[j // count], first + j % count), start <= j < stop.

    z (replicates, points, D) the draws; roots (K, Q, Q), bias (K, Q),
    e (K, M, D), beta (K, M) per record; items (``TestItems``); sums (K, M,
    replicates). Each pair is summed in a fixed order, on its own: threads
    that take disjoint ranges of pairs (``generalization``) give the sums one
    thread gives. Releases the GIL.
    """
    M = items.y.shape[0]
    for item in range(start, stop):
        k = records[item // count]
        r = first + item % count
        out = np.empty((M, hi - lo))
        failure_masses(roots[k], z[r, lo:hi].T, sigma_xi, items, k, bias[k], kind, p1, p2, patches, additive, e[k],
                       beta[k], out)
        for i in range(M):
            total = 0.0
            for s in range(hi - lo):
                total += out[i, s]
            sums[k, i, r] += total


@_inner(inline="always")
def failing_mean(root, z_t, sigma_xi, signal, bias, weights, y, kind, p1, patches, additive, e):
    """e <- the direction of E[u 1(fail)] for an item's margin (as ``design_direction`` takes it), by plain line
    sampling of the draws z_t along e.

    E[u 1(fail)] = E[v P(v) + e M(v)] over the lines v + t e (v ⊥ e), with
    P the failing mass of a line and M = ∫ t φ(t) dt over its failing part
    (φ(lo) - φ(hi) for each failing interval [lo, hi]). For ReLU and leaky
    ReLU; e is left as it is if no line fails.
    """
    q2 = root.shape[0]
    D, S = z_t.shape
    low = p1 if kind == 2 else 0.0
    offset = np.empty(q2)
    const = _class_terms(signal, bias, weights, kind, p1, 0.0, additive, offset)
    slope = np.empty(D)
    _project(root, sigma_xi, e, slope)
    inverse = _inverses(slope, np.empty(D))
    jq = _coordinate_weights(weights, D, np.empty(D))
    a = np.empty(D)
    v = np.empty(D)
    x = np.empty(D)
    times = np.empty(D)
    order = np.empty(D, dtype=np.int64)
    total = np.zeros(D)
    for s in range(S):
        along = 0.0
        for d in range(D):
            along += e[d] * z_t[d, s]
        for d in range(D):
            v[d] = z_t[d, s] - along * e[d]
        _project(root, sigma_xi, v, x)
        for d in range(D):
            a[d] = offset[d % q2] + x[d]
        mass = _line_mass(a, slope, inverse, jq, low, const, y, times, order, np.bool_(False))
        if mass > 0.0:
            moment = _line_mass(a, slope, inverse, jq, low, const, y, times, order, np.bool_(True))
            for d in range(D):
                total[d] += v[d] * mass + e[d] * moment
    size = math.sqrt(_dot(total, total))
    if size > 0.0:
        for d in range(D):
            e[d] = total[d] / size


@_kernel(nogil=True)
def failing_means(roots, z_t, sigma_xi, items, bias, kind, p1, patches, additive, e, records, start, stop):
    """``failing_mean`` of every item of the records k = records[start:stop] (e (K, M, D)); for an item of
    several outputs, of its mode's margin alone (E_g). Releases the GIL."""
    for j in range(start, stop):
        k = records[j]
        for i in range(items.y.shape[0]):
            failing_mean(roots[k], z_t, sigma_xi, items.signal[k, i], bias[k], items.weights[k, i], items.y[i], kind,
                         p1, patches, additive, e[k, i])
