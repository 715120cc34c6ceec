"""Numba kernels of the coefficient dynamics (private).

State of a run, with q = 0..2m-1 indexing the filters (j, r) in class-major
order (q < m is j = +1):

    gamma[q]     signal coefficient γ_{j,r}
    rho[q, i]    noise coefficient ρ_{j,r,i}

Fixed statistics (all derived from the Gram matrix, see ``data.Data``):

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

Everything here takes plain arrays and scalars; inputs are trusted (the
public functions validate them).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

__all__ = ["products", "network_outputs", "update", "run_dynamics", "misclassified_draws"]

#: Columns of B per register tile: one 8-double vector (a zmm register with
#: AVX-512, two ymm registers with AVX2).
TILE_COLS = 8
#: Rows of B per register tile: each G vector loaded is used this many times.
TILE_ROWS = 4


def _make_tile(rows: int):
    """An intrinsic adding ρ[q:q+rows, :] · G[i_g:i_g+n, k_g:k_g+8] to B[q:q+rows, k_b:k_b+8].

    Why an intrinsic: the (2m×n)·(n×n) product is bound by how often B is
    loaded and stored unless a tile of B stays in registers for the whole sum
    over i. numba does not run LLVM's SLP vectoriser and cannot tell LLVM that
    B does not alias G, so plain loops keep B in memory. Here the tile lives
    in ``rows`` vector registers; each term is a vector multiply by the
    broadcast ρ[q, i] and a vector add, in ascending i, exactly as the scalar
    loop would do it. Needs C-contiguous float64 arrays.
    """

    @intrinsic
    def tile(typingctx, rho, G, B, q, i_g, k_g, k_b):
        sig = types.void(rho, G, B, q, i_g, k_g, k_b)

        def codegen(context, builder, signature, args):
            rho_a, G_a, B_a = (
                context.make_array(ty)(context, builder, value)
                for ty, value in zip(signature.args[:3], args[:3])
            )
            q0, ig0, kg0, kb0 = args[3], args[4], args[5], args[6]
            intp = context.get_value_type(types.intp)
            vec = ir.VectorType(ir.DoubleType(), TILE_COLS)
            undef = ir.Constant(vec, ir.Undefined)
            splat = ir.Constant(ir.VectorType(ir.IntType(32), TILE_COLS), [0] * TILE_COLS)
            n = builder.extract_value(rho_a.shape, 1)
            ld_g = builder.extract_value(G_a.shape, 1)
            ld_b = builder.extract_value(B_a.shape, 1)

            def vector_at(array, offset):
                return builder.bitcast(builder.gep(array.data, [offset]), vec.as_pointer())

            rho_rows, b_ptrs, acc = [], [], []
            for a in range(rows):
                q = builder.add(q0, ir.Constant(intp, a))
                rho_rows.append(builder.mul(q, n))
                b_ptrs.append(vector_at(B_a, builder.add(builder.mul(q, ld_b), kb0)))
                slot = cgutils.alloca_once(builder, vec)  # promoted to a register by LLVM
                builder.store(builder.load(b_ptrs[a], align=8), slot)
                acc.append(slot)
            with cgutils.for_range(builder, n) as loop:
                i = loop.index
                g_row = builder.add(ig0, i)
                g = builder.load(vector_at(G_a, builder.add(builder.mul(g_row, ld_g), kg0)), align=8)
                for a in range(rows):
                    r = builder.load(builder.gep(rho_a.data, [builder.add(rho_rows[a], i)]))
                    r = builder.shuffle_vector(
                        builder.insert_element(undef, r, ir.Constant(ir.IntType(32), 0)), undef, splat
                    )
                    builder.store(builder.fadd(builder.load(acc[a]), builder.fmul(r, g)), acc[a])
            for a in range(rows):
                builder.store(builder.load(acc[a]), b_ptrs[a], align=8)
            return context.get_dummy_value()

        return sig, codegen

    return tile


_tile_block = _make_tile(TILE_ROWS)
_tile_pair = _make_tile(2)
_tile_row = _make_tile(1)


#: Strips of G (8 columns each) per gather: the index and the weight of a
#: term, loaded once, serve this many vectors, and as many independent sums
#: hide the latency of the additions.
GATHER_STRIPS = 3
#: Rows of G per block of a gather: GATHER_STRIPS strips of this many rows
#: (48 KB) stay in cache while every row of P gathers from them. Unblocked,
#: at n = 1600 (300 KB) the gathers were slower than the dense product.
GATHER_BLOCK = 256


def _make_gather(strips_per_tile: int):
    """An intrinsic adding j · Σ_p w[i_p] G[i_p, cols] to P[q, cols], i_p = idx[q, first + p], p < count.

    cols are the 8·strips_per_tile columns of the strips s0, s0 + 1, ... of G,
    read from ``pack_strips(G)`` (strip s is strips[s n : (s + 1) n]).

    The sparse counterpart of ``_make_tile``: a step changes ρ only where a
    filter is active, so the change of ρ G sums only the active rows of G,
    listed in row q of ``idx`` (int32). The sum of each vector lives in a register, starts at
    zero and takes the terms in list order, one rounded multiply and one
    rounded add each; it is then multiplied by j = ±1 (exact) and added to P.
    Needs C-contiguous arrays.
    """

    @intrinsic
    def gather(typingctx, idx, first, count, w, strips, P, q, s0, j):
        sig = types.void(idx, first, count, w, strips, P, q, s0, j)

        def codegen(context, builder, signature, args):
            idx_a, w_a, S_a, P_a = (
                context.make_array(signature.args[a])(context, builder, args[a]) for a in (0, 3, 4, 5)
            )
            first_v, count_v, q0, s_first, j_v = args[1], args[2], args[6], args[7], args[8]
            intp = context.get_value_type(types.intp)
            vec = ir.VectorType(ir.DoubleType(), TILE_COLS)
            undef = ir.Constant(vec, ir.Undefined)
            splat = ir.Constant(ir.VectorType(ir.IntType(32), TILE_COLS), [0] * TILE_COLS)
            n = builder.extract_value(P_a.shape, 1)

            def const(v):
                return ir.Constant(intp, v)

            def vector_at(array, offset):
                return builder.bitcast(builder.gep(array.data, [offset]), vec.as_pointer())

            def broadcast(x):
                return builder.shuffle_vector(
                    builder.insert_element(undef, x, ir.Constant(ir.IntType(32), 0)), undef, splat
                )

            strips_at = [builder.add(s_first, const(v)) for v in range(strips_per_tile)]
            acc = []
            for _ in strips_at:
                slot = cgutils.alloca_once(builder, vec)  # promoted to a register by LLVM
                builder.store(ir.Constant(vec, [0.0] * TILE_COLS), slot)
                acc.append(slot)
            list_start = builder.add(builder.mul(q0, builder.extract_value(idx_a.shape, 1)), first_v)
            with cgutils.for_range(builder, count_v) as loop:
                i = builder.load(builder.gep(idx_a.data, [builder.add(list_start, loop.index)]))
                i = context.cast(builder, i, signature.args[0].dtype, types.intp)
                r = broadcast(builder.load(builder.gep(w_a.data, [i])))
                for s, slot in zip(strips_at, acc):
                    row = builder.add(builder.mul(s, n), i)
                    g = builder.load(vector_at(S_a, builder.mul(row, const(TILE_COLS))), align=8)
                    builder.store(builder.fadd(builder.load(slot), builder.fmul(r, g)), slot)
            jv = broadcast(j_v)
            for s, slot in zip(strips_at, acc):
                p_ptr = vector_at(P_a, builder.add(builder.mul(q0, n), builder.mul(s, const(TILE_COLS))))
                total = builder.fmul(jv, builder.load(slot))
                builder.store(builder.fadd(builder.load(p_ptr, align=8), total), p_ptr, align=8)
            return context.get_dummy_value()

        return sig, codegen

    return gather


_gather_wide = _make_gather(GATHER_STRIPS)
_gather_one = _make_gather(1)


def _accumulate_product(rho, G, B):
    """B += ρ G, each sum over i in ascending order; shapes (Q, n), (n, N), (Q, N)."""


@njit(cache=True)
def _accumulate_columns(rho, G, B, k_start):
    """B[:, k_start:] += ρ G[:, k_start:] in plain loops (any layout; the columns the tiles leave)."""
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


def _accumulate_product_loops(rho, G, B):
    _accumulate_columns(rho, G, B, 0)


@overload(_accumulate_product, jit_options={"cache": True})
def _accumulate_product_impl(rho, G, B):
    contiguous = all(
        isinstance(a, types.Array) and a.layout == "C" and a.ndim == 2 and a.dtype == types.float64
        for a in (rho, G, B)
    )
    if not contiguous:
        return _accumulate_product_loops

    def tiled(rho, G, B):
        q2, n = rho.shape
        n_cols = B.shape[1]
        q_tiled = q2 - q2 % TILE_ROWS
        k_tiled = n_cols - n_cols % TILE_COLS
        for k in range(0, k_tiled, TILE_COLS):
            # One strip of G (n × 8) stays in cache while every block of rows uses it.
            for q in range(0, q_tiled, TILE_ROWS):
                _tile_block(rho, G, B, q, 0, k, k)
            # Leftover rows in pairs: two independent sums hide more of the
            # latency of the additions than one.
            q = q_tiled
            while q + 2 <= q2:
                _tile_pair(rho, G, B, q, 0, k, k)
                q += 2
            if q < q2:
                _tile_row(rho, G, B, q, 0, k, k)
        if k_tiled < n_cols:
            _accumulate_columns(rho, G, B, k_tiled)

    return tiled


@njit(cache=True)
def products(gamma, rho, a0, b0, c, e, G, jsign, A, B):
    """Fill A (2m,) and B (2m, n) from the coefficients; O(m n²)."""
    _signal_and_offsets(gamma, rho, a0, b0, c, e, jsign, A, B)
    _accumulate_product(rho, G, B)


@njit(cache=True)
def _signal_and_offsets(gamma, rho, a0, b0, c, e, jsign, A, B):
    """A in full, and B = b0 + j γ e: everything in A and B but the product ρ G."""
    q2, n = rho.shape
    for q in range(q2):
        jg = jsign[q] * gamma[q]
        A[q] = a0[q] + jg
        row = B[q]
        for k in range(n):
            row[k] = b0[q, k] + jg * e[k]
    # Four independent sums at a time hide the latency of the additions.
    q = 0
    while q + 4 <= q2:
        s0, s1, s2, s3 = A[q], A[q + 1], A[q + 2], A[q + 3]
        for i in range(n):
            ci = c[i]
            s0 += rho[q, i] * ci
            s1 += rho[q + 1, i] * ci
            s2 += rho[q + 2, i] * ci
            s3 += rho[q + 3, i] * ci
        A[q], A[q + 1], A[q + 2], A[q + 3] = s0, s1, s2, s3
        q += 4
    while q < q2:
        s = A[q]
        for i in range(n):
            s += rho[q, i] * c[i]
        A[q] = s
        q += 1


@njit(cache=True)
def pack_strips(G):
    """G (n, N) as N // 8 contiguous strips stacked: strips[s n + i, c] = G[i, 8 s + c].

    Read in place, the rows of a strip lie a whole row of G apart and, for
    many n, fall into a few cache sets; packed once per run, each strip is
    one contiguous block.
    """
    n, n_cols = G.shape
    size = (n_cols // TILE_COLS) * n * TILE_COLS
    # Aligned to 64 bytes, so that no 8-double row of a strip straddles two
    # cache lines (numba's allocations are only 32-byte aligned).
    buffer = np.empty(size + TILE_COLS)
    start = (-buffer.ctypes.data % 64) // 8
    strips = buffer[start : start + size].reshape(((n_cols // TILE_COLS) * n, TILE_COLS))
    for s in range(n_cols // TILE_COLS):
        for i in range(n):
            for col in range(TILE_COLS):
                strips[s * n + i, col] = G[i, s * TILE_COLS + col]
    return strips


@njit(cache=True)
def network_outputs(A, B, y, jsign, m, f):
    """f_i = (1/m) Σ_q j_q [σ(y_i A_q) + σ(B_{q,i})], written to f (n,)."""
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


@njit(cache=True)
def update(gamma, rho, A, B, f, y, y_noisy, mu_sq, xi_sq, jsign, scale, g):
    """One gradient step on (γ, ρ), given the products at the current state.

    With g_i = -ℓ'(ỹ_i f_i) = 1 / (1 + exp(ỹ_i f_i)) and scale = η / (n m):

        γ_q     += scale ‖μ‖² Σ_i g_i 1(y_i A_q > 0) ỹ_i y_i
        ρ_{q,i} += scale g_i 1(B_{q,i} > 0) j_q ỹ_i ‖ξ_i‖²
    """
    _update_weighted(gamma, rho, A, B, f, y, y_noisy, mu_sq, xi_sq, jsign, scale, g, np.empty(B.shape[1]))


@njit(cache=True)
def _update_weighted(gamma, rho, A, B, f, y, y_noisy, mu_sq, xi_sq, jsign, scale, g, w):
    """``update``, also leaving in w (n,) the weights w_i = scale g_i ỹ_i ‖ξ_i‖², so that Δρ[q, i] = j_q w_i."""
    q2, n = B.shape
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
    for q in range(q2):
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


@njit(cache=True)
def _accumulate_increment(B, w, jsign, strips, G, P, idx):
    """P += Δρ G, for the increment Δρ[q, i] = j_q w_i 1(B[q, i] > 0) that ``_update_weighted`` added to ρ.

    ΔP[q] = j_q Σ_{i active} w_i G[i]: only the active rows of G are read
    (G also given as ``pack_strips(G)``). The sum runs over the blocks of
    GATHER_BLOCK consecutive i in order; within a block, over the active i in
    ascending order as ``_make_gather`` describes, the block's sum then added
    to P. idx (2m, n) int32 is scratch.
    """
    q2, n = B.shape
    n_blocks = (n + GATHER_BLOCK - 1) // GATHER_BLOCK
    # The active i of row q and block b are idx[q, starts[q, b] : starts[q, b + 1]].
    starts = np.empty((q2, n_blocks + 1), np.int64)
    for q in range(q2):
        row_b = B[q]
        row_idx = idx[q]
        count = 0
        # Written for every i, kept for the active ones: no branch to mispredict.
        for i in range(n):
            if i % GATHER_BLOCK == 0:
                starts[q, i // GATHER_BLOCK] = count
            row_idx[count] = i
            count += row_b[i] > 0.0
        starts[q, n_blocks] = count
    n_strips = n // TILE_COLS
    s = 0
    while s + GATHER_STRIPS <= n_strips:
        for b in range(n_blocks):
            for q in range(q2):
                _gather_wide(idx, starts[q, b], starts[q, b + 1] - starts[q, b], w, strips, P, q, s, jsign[q])
        s += GATHER_STRIPS
    while s < n_strips:
        for b in range(n_blocks):
            for q in range(q2):
                _gather_one(idx, starts[q, b], starts[q, b + 1] - starts[q, b], w, strips, P, q, s, jsign[q])
        s += 1
    # Columns left over by the strips: the same sums, in plain loops.
    for q in range(q2):
        row_idx = idx[q]
        for col in range(n_strips * TILE_COLS, n):
            for b in range(n_blocks):
                total = 0.0
                for p in range(starts[q, b], starts[q, b + 1]):
                    i = row_idx[p]
                    total += w[i] * G[i, col]
                P[q, col] += jsign[q] * total


@njit(cache=True)
def run_dynamics(a0, b0, c, e, G, mu_sq, xi_sq, y, y_noisy, jsign, m, eta, steps, record_steps,
                 gamma_out, rho_out, f_out):
    """Run ``steps`` gradient steps from γ = ρ = 0, recording at ``record_steps``.

    record_steps : sorted int64 (K,), within [0, steps]
    gamma_out (K, 2m), rho_out (K, 2m, n), f_out (K, n) : filled in place.

    Returns -1 on success, or the first step at which an output is not finite.

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
    n = y.shape[0]
    q2 = 2 * m
    gamma = np.zeros(q2)
    rho = np.zeros((q2, n))
    P = np.zeros((q2, n))  # ρ G, with ρ = 0 at t = 0
    A = np.empty(q2)
    B = np.empty((q2, n))
    f = np.empty(n)
    g = np.empty(n)
    w = np.empty(n)
    idx = np.empty((q2, n), np.int32)
    strips = pack_strips(G)
    scale = eta / (n * m)
    k = 0
    n_records = record_steps.shape[0]
    for t in range(steps + 1):
        # products(), with ρ G read from P
        _signal_and_offsets(gamma, rho, a0, b0, c, e, jsign, A, B)
        for q in range(q2):
            for col in range(n):
                B[q, col] += P[q, col]
        network_outputs(A, B, y, jsign, m, f)
        for i in range(n):
            if not math.isfinite(f[i]):
                return t
        if k < n_records and record_steps[k] == t:
            gamma_out[k] = gamma
            rho_out[k] = rho
            f_out[k] = f
            k += 1
        if t == steps:
            break
        _update_weighted(gamma, rho, A, B, f, y, y_noisy, mu_sq, xi_sq, jsign, scale, g, w)
        _accumulate_increment(B, w, jsign, strips, G, P, idx)
    return -1


#: Draws per block of the test-error Monte Carlo: a block's projections stay in cache.
DRAW_BLOCK = 256


@njit(cache=True)
def misclassified_draws(root, z_t, sigma_xi, s_pos, s_neg, m):
    """Count the Monte Carlo draws of the test error that are misclassified, per true class.

    root (2m, 2m)  a square root of the noise covariance per unit σ_ξ² (W Σ Wᵀ = root rootᵀ)
    z_t (2m, S)    the fixed standard normal draws, one column per draw

    With Z_s = σ_ξ (root z_s) and h_s = (1/m) Σ_r [σ(Z_{s,(+1,r)}) - σ(Z_{s,(-1,r)})],
    returns (#{s : s_pos + h_s <= 0}, #{s : s_neg + h_s >= 0}).
    """
    q2, S = z_t.shape
    wrong_pos = 0
    wrong_neg = 0
    for start in range(0, S, DRAW_BLOCK):
        width = min(DRAW_BLOCK, S - start)
        block = np.ascontiguousarray(z_t[:, start : start + width])
        Z = np.zeros((q2, width))
        _accumulate_product(root, block, Z)
        h_pos = np.zeros(width)
        h_neg = np.zeros(width)
        for r in range(m):
            row_pos = Z[r]
            row_neg = Z[m + r]
            for s in range(width):
                h_pos[s] += max(sigma_xi * row_pos[s], 0.0)
                h_neg[s] += max(sigma_xi * row_neg[s], 0.0)
        for s in range(width):
            h = (h_pos[s] - h_neg[s]) / m
            if s_pos + h <= 0.0:
                wrong_pos += 1
            if s_neg + h >= 0.0:
                wrong_neg += 1
    return wrong_pos, wrong_neg
