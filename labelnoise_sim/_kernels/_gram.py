"""The Gram matrix V Vᵀ (``gram``): strips of 16 columns, every sum in a fixed order, threads over columns."""

from __future__ import annotations

import numpy as np
from numba import prange

from ._products import _tile_rows
from ._vectors import LANES, _inner, _kernel, vadd, vbroadcast, vload, vmul, vstore


# Gram matrices ----------------------------------------------------------------

#: Terms of the sum over the coordinates per block of the Gram kernel: a strip's
#: packed block (the 16 rows of V behind its columns, 32 KB) meets every 2-row tile.
GRAM_BLOCK = 256


#: Columns per strip of the Gram kernel: two vectors, so that a tile of 2 rows
#: holds 4 independent sums of 8 lanes (``_tile2_wide``; one vector per strip hid too
#: little of the additions' latency: 3.4x slower than BLAS at p = 2021, d = 20000).
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
def _tile2_wide(rho, G, B, q, b_col, start, stop, g_row):
    """B[q:q+2, b_col:b_col+16] += Σ_{start <= i < stop} ρ[q:q+2, i] G[g_row + i - start, 0:16], four sums in
    vectors.

    Two rows, not four: four vectors of 8 lanes are eight 256-bit registers with AVX2, which has sixteen;
    four rows took sixteen for their sums alone, and the compiler spilled them to the stack at every term
    (measured on one Zen 3 core: the four-row tile 7 to 17 % slower, p = 224 to 1056). Each sum is the same
    whatever the tile's shape.
    """
    ld_g, ld_b = G.shape[1], B.shape[1]
    a0, a1 = q * ld_b + b_col, (q + 1) * ld_b + b_col
    s0, s1 = vload(B, a0), vload(B, a1)
    t0, t1 = vload(B, a0 + LANES), vload(B, a1 + LANES)
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
    vstore(B, a0, s0)
    vstore(B, a1, s1)
    vstore(B, a0 + LANES, t0)
    vstore(B, a1 + LANES, t1)


#: Multiply-adds of a Gram matrix above which it is worth starting threads.
GRAM_PARALLEL_WORK = 2**27


def gram(V, p=None, triangular=False):
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

    ``triangular=True`` says that V is lower triangular (V[a, k] = 0 for
    k > a) and finite, as Bartlett's factor of a Wishart matrix is: the
    strips then leave out the terms beyond the last nonzero coordinate of a
    tile's rows. Each is ±0, which adds nothing to a sum (its running value
    is never -0: it starts at +0, and +0 + -0 = +0): the same bits, from
    about a third of the multiply-adds.
    """
    V = np.ascontiguousarray(V, dtype=np.float64)
    rows, d = V.shape
    S = np.zeros((rows, rows))
    triangular = bool(triangular)
    if rows * rows * d // 2 >= GRAM_PARALLEL_WORK:
        _gram_strips_threaded(V, S, triangular)
    else:
        _gram_strips(V, S, triangular)
    if rows % GRAM_STRIP:
        _gram_finish(V, S)
    for b in range(rows - 1):  # below the diagonal: copies, row by row
        S[b + 1 :, b] = S[b, b + 1 :]
    return S if p is None else S[:p, :p]


def gram_rows(p):
    """The rows of V, p or more, that take ``gram`` through its strips alone: p rounded up to a multiple of 16."""
    return -(-p // GRAM_STRIP) * GRAM_STRIP


#: Strips of 16 columns that share each pass over a block of V: a block of the rows of V (2 rows × GRAM_BLOCK
#: coordinates, 4 KB), loaded once, meets all their columns. One strip alone was bound by reading V from
#: memory (each element of V met 16 columns per load).
GRAM_GROUP = 8


@_inner()
def _gram_group(V, S, g, triangular):
    """Columns of group g of V Vᵀ (strips GRAM_GROUP g .. GRAM_GROUP (g+1) - 1 of 16), against every row up to
    each strip's last, into S.

    The sums run over blocks of GRAM_BLOCK coordinates in order; for each
    block, the rows of V behind the group's columns are packed (16 to a
    strip, coordinates down the rows), and every 2 × 16 tile of S takes its
    terms of the block in ascending order, held in vectors (``_tile2_wide``).
    With V lower triangular (``triangular``), a tile of rows q, q+1 stops at coordinate q+1.
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
        # Lower triangular: rows before (start // 2) 2 are zero from coordinate start on.
        for q in range((start // 2) * 2 if triangular else 0, last, 2):
            top = min(stop, q + 2) if triangular else stop
            for j in range(strips):
                first = GRAM_STRIP * (first_strip + j)
                if q < first + GRAM_STRIP:
                    _tile2_wide(V, packed, S, q, first, start, top, j * GRAM_BLOCK)


@_kernel(nogil=True)
def _gram_strips(V, S, triangular):
    """Every group of strips of 16 columns of S, on the calling thread."""
    n_groups = -(-(V.shape[0] // GRAM_STRIP) // GRAM_GROUP)
    for g in range(n_groups):
        _gram_group(V, S, g, triangular)


@_kernel(parallel=True)
def _gram_strips_threaded(V, S, triangular):
    """Every group of strips of 16 columns of S, the groups shared among numba threads."""
    n_groups = -(-(V.shape[0] // GRAM_STRIP) // GRAM_GROUP)
    # Groups ordered 0, last, 1, last - 1, ...: the work of group g grows with
    # g, and this order gives each thread's contiguous share of the
    # iterations about the same work.
    for t in prange(n_groups):
        _gram_group(V, S, t // 2 if t % 2 == 0 else n_groups - 1 - t // 2, triangular)


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
