"""The products: B += ρ G in tiles of vectors (``accumulate_product``), X Y (``product``), the test error's
statistics products, and the incremental product P += Δρ G over the active pairs (the gathers)."""

from __future__ import annotations

import numpy as np
from numba.extending import overload

from ._vectors import LANES, _inner, _is_c_float_array, _kernel, vadd, vbroadcast, vload, vmul, vstore


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
    _gather_strips(idx, starts, w, per_pair, jsign, strips, G, P, lo, hi, np.int64(0), P.shape[1] // LANES,
                   np.bool_(True))


@_inner()
def _gather_strips(idx, starts, w, per_pair, jsign, strips, G, P, lo, hi, first, stop, leftover):
    """``_gather_lists`` on the columns of the strips first <= s < stop, and on the columns the strips leave over
    (the last n % 8) if ``leftover``.

    Each column's sum is the same whichever range of strips it falls in, so
    threads that take disjoint ranges of strips add what one thread adds.
    """
    n = P.shape[1]
    n_blocks = starts.shape[1] - 1
    s = first
    while s + GATHER_STRIPS <= stop:
        for b in range(n_blocks):
            for q in range(lo, hi):
                row, j = (q, 1.0) if per_pair else (0, jsign[q])
                _gather3(idx, starts[q, b], starts[q, b + 1], w, row, strips, P, q, s, j)
        s += GATHER_STRIPS
    while s < stop:
        for b in range(n_blocks):
            for q in range(lo, hi):
                row, j = (q, 1.0) if per_pair else (0, jsign[q])
                _gather1(idx, starts[q, b], starts[q, b + 1], w, row, strips, P, q, s, j)
        s += 1
    if not leftover:
        return
    # Columns left over by the strips: the same sums, in plain loops.
    for q in range(lo, hi):
        row, j = (q, 1.0) if per_pair else (0, jsign[q])
        for col in range((n // LANES) * LANES, n):
            for b in range(n_blocks):
                total = 0.0
                for p in range(starts[q, b], starts[q, b + 1]):
                    i = idx[q, p]
                    total += w[row, i] * G[i, col]
                P[q, col] += j * total


@_inner()
def _accumulate_increment(w, jsign, strips, G, P, idx, starts, lo, hi, part, parts):
    """P += Δρ G on the rows lo <= q < hi and part ``part`` of ``parts`` of the columns, for the increment
    Δρ[q, i] = j_q w_i 1(B[q, i] > 0) that ``_update_weighted`` added to ρ, once ``_active_lists(B, True, idx,
    starts, ...)`` has listed the rows' active pairs.

    ΔP[q] = j_q Σ_{i active} w_i G[i]: only the active rows of G are read
    (G also given as ``pack_strips(G)``), in the order ``_gather_lists``
    describes. Part h of the columns is the strips h S / parts <= s < (h + 1) S / parts of the S = n // 8, the
    last part with the columns they leave over: threads that take disjoint rows or parts add what one thread
    adds. idx (2m, n) uint32 and starts (``_list_starts``) are scratch.
    """
    n_strips = P.shape[1] // LANES
    _gather_strips(idx, starts, w.reshape((1, w.shape[0])), False, jsign, strips, G, P, lo, hi,
                   part * n_strips // parts, (part + 1) * n_strips // parts, part == parts - 1)


@_inner()
def _accumulate_pairs(W, jsign, strips, G, P, idx, starts, lo, hi):
    """P += W G over the nonzero entries of W (2m, N), rows lo <= q < hi, in the order of ``_gather_lists``;
    idx and starts (``_list_starts``) are scratch."""
    _active_lists(W, False, idx, starts, lo, hi)
    _gather_lists(idx, starts, W, True, jsign, strips, G, P, lo, hi)
