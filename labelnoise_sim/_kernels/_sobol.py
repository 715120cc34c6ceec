"""The scramble and the points of a scrambled Sobol sequence (``labelnoise_sim._sobol`` defines them)."""

from __future__ import annotations

import numpy as np

from ._vectors import _inner, _kernel


@_inner(nogil=True)
def _random_bit(raw, t):
    """Random bit t (0 or 1, int64) of ``sobol_scramble``'s ``raw``."""
    return np.int64((raw[t >> 1] >> np.uint64(31 + 32 * (t & 1))) & np.uint64(1))


@_kernel(nogil=True)
def sobol_scramble(raw, v, shift, scrambled):
    """The shift (D,) and the scrambled direction numbers (bits, D), uint32, of one sequence.

    ``raw`` holds the 64-bit outputs of the sequence's generator, D bits (1 + bits) / 2 of them; random bit t is
    the top bit of its 32-bit output t: bit 31 of ``raw[t // 2]`` for even t, bit 63 for odd t. Bits 0 to
    D bits - 1 are the shifts' (bit b of dimension d's is bit d bits + b); the next D bits² fill the lower
    triangular matrices, row p and column k of dimension d's at D bits + d bits² + p bits + k, used where k < p
    (the diagonal is one). ``v`` (D, bits) are the unscrambled direction numbers. Scrambled number b of
    dimension d is the matrix times v[d, b] over GF(2), bit bits - 1 - i being element i of a vector: the XOR
    of the matrix's columns k for which bit bits - 1 - k of v[d, b] is set.
    """
    D, bits = v.shape
    columns = np.empty(bits, dtype=np.int64)
    for d in range(D):
        s = np.int64(0)
        for b in range(bits):
            s |= _random_bit(raw, d * bits + b) << b
        shift[d] = s
        for k in range(bits):
            columns[k] = np.int64(1) << (bits - 1 - k)
        base = D * bits + d * bits * bits
        for p in range(1, bits):
            for k in range(p):
                columns[k] |= _random_bit(raw, base + p * bits + k) << (bits - 1 - p)
        for b in range(bits):
            x = np.int64(v[d, b])
            y = np.int64(0)
            for k in range(bits):
                if (x >> (bits - 1 - k)) & 1:
                    y ^= columns[k]
            scrambled[b, d] = y


@_kernel(nogil=True)
def sobol_points(scrambled, quasi, first, out):
    """Points ``first`` to ``first + len(out) - 1`` of a sequence into ``out`` (n, D), float64.

    ``quasi`` (D,) uint32 holds point ``first - 1`` as integers (the shift when ``first`` is 0, which is point
    0), and holds the last point made on return. Point i > 0 is point i - 1 XOR the scrambled direction number
    (``scrambled``, (bits, D)) of the lowest set bit of i; a coordinate is its integer times 2^-bits.
    """
    bits, D = scrambled.shape
    scale = 1.0 / (1 << bits)
    for i in range(out.shape[0]):
        index = first + i
        if index > 0:
            low = 0
            while not (index >> low) & 1:
                low += 1
            for d in range(D):
                quasi[d] ^= scrambled[low, d]
        for d in range(D):
            out[i, d] = quasi[d] * scale
