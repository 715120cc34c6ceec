"""Scrambled Sobol points of our own, equal bit for bit to scipy 1.17's ``qmc.Sobol(d, scramble=True, seed=rng)``.

The randomised quasi-Monte Carlo draws of the test error and the test loss
(``generalization._Draws``) were made by scipy's engine until each engine's
construction (about 1 ms, most of it a bit-by-bit scramble) became a sixth of
a sweep cell's analysis. :class:`ScrambledSobol` makes the same points
faster, and defines them here, so that they stay as they are whatever later
scipy versions do: every committed table and test depends on these bits.

The points, for ``bits`` = 30 and dimension D (scipy 1.17.1 at the time of
writing; ``tests/test_sobol.py`` checks the equality against the installed
scipy when it is a 1.17 release, and a fixed digest of our points always):

1. The generator: a child of the one passed, as scipy spawns it: the passed
   generator's seed sequence spawns one child, which seeds a new bit
   generator of the same type (PCG64 for ``data.substream``).
2. The scramble's random bits, from that child, in this order: D x 30 bits of
   the shift (bit b of dimension j's shift), then D x 30 x 30 bits of the
   lower triangular matrices (row p, column k of dimension j's, used where
   k < p). Each bit is what ``Generator.integers(2, dtype=np.uint32)`` draws:
   the top bit of the next 32-bit output of the bit generator, which takes
   the low half of a 64-bit output first, then its high half (numpy's Lemire
   method with a range of 2 never rejects). They are read here directly from
   the 64-bit outputs (``random_raw``; :func:`_scramble`).
3. The unscrambled direction numbers v[j, b] (:func:`directions`): the
   Joe-Kuo D(6) numbers (new-joe-kuo-6.21201) as scipy ships them, expanded
   by the Bratley-Fox recurrence and shifted to 30-bit fractions.
4. The left linear matrix scramble: bit 29 - p of the scrambled v[j, b] is
   the parity of ``row[j, p] & v[j, b]``, where ``row[j, p]`` has bit 29 - k
   set for the ones of row p of dimension j's lower triangular matrix, with a
   one on its diagonal.
5. Point 0 is the shift; point i is point i - 1 XOR the scrambled direction
   number of the lowest set bit of i (Gray-code order); a point's coordinate
   is its 30-bit integer times 2**-30 (exact in float64;
   :meth:`ScrambledSobol.random`).

Both are a few NumPy operations on integers (exact, no compiled kernel:
nothing to compile on a first run).
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["ScrambledSobol", "directions", "BITS", "MIRRORS_SCIPY", "MAX_DIMENSION"]

#: Bits of every coordinate (scipy's default).
BITS = 30

#: The scipy release whose ``qmc.Sobol(d, scramble=True, seed=rng)`` the points equal (major.minor).
MIRRORS_SCIPY = "1.17"

#: Dimensions of the direction-number table.
MAX_DIMENSION = 21201

#: Where scipy ships the table, inside its package.
TABLE_PATH = ("stats", "_sobol_direction_numbers.npz")

#: sha256 of the table scipy 1.17 ships (``scipy/stats/_sobol_direction_numbers.npz``), as little-endian int64
#: ``poly`` then ``vinit``: a scipy whose table differs raises rather than changes the points.
TABLE_SHA256 = "4fb13a6891dd539f095ea6306eb6d180f4e0b5dc9b4546c8b9c9ca36518ecfc0"

_tables: dict = {}
_directions: dict = {}


def _table():
    """(poly, vinit) of the direction-number table, read once from scipy's data file without importing
    ``scipy.stats`` (a slow import), and checked against :data:`TABLE_SHA256`."""
    if not _tables:
        import importlib.resources

        source = importlib.resources.files("scipy").joinpath(*TABLE_PATH)
        try:
            with importlib.resources.as_file(source) as path, np.load(path) as data:
                poly = np.asarray(data["poly"], dtype="<i8")
                vinit = np.asarray(data["vinit"], dtype="<i8")
        except (OSError, KeyError, ValueError) as exc:  # moved, renamed or of another layout in a later scipy
            raise RuntimeError(
                f"scipy's table of Sobol direction numbers could not be read from {source} ({exc}); "
                "labelnoise_sim's test-error draws are defined by the table of scipy "
                f"{MIRRORS_SCIPY}: install scipy {MIRRORS_SCIPY}") from exc
        digest = hashlib.sha256(np.ascontiguousarray(poly).tobytes() + np.ascontiguousarray(vinit).tobytes())
        if digest.hexdigest() != TABLE_SHA256:
            raise RuntimeError(
                f"scipy's Sobol direction numbers ({source}) differ from those of scipy {MIRRORS_SCIPY}, "
                "which labelnoise_sim's test-error draws are defined by: install scipy's table of "
                f"{MIRRORS_SCIPY} (or ship it with labelnoise_sim) rather than let the draws change")
        _tables["poly"], _tables["vinit"] = poly, vinit
    return _tables["poly"], _tables["vinit"]


def directions(dimension: int) -> np.ndarray:
    """The unscrambled direction numbers of the first ``dimension`` dimensions, uint32 (dimension, BITS).

    Row 0 is all ones; row j > 0 starts with the table's initial numbers of its primitive polynomial's
    degree s and continues by the Bratley-Fox recurrence; column b is then shifted left by BITS - 1 - b.
    Computed once per dimension (a read-only array).
    """
    if dimension in _directions:
        return _directions[dimension]
    if not 0 <= dimension <= MAX_DIMENSION:
        raise ValueError(f"the Sobol table has {MAX_DIMENSION} dimensions, not {dimension}")
    poly, vinit = _table()
    v = np.zeros((dimension, BITS), dtype=np.uint32)
    if dimension:
        v[0] = 1
    if dimension > 1:
        p = poly[1:dimension].astype(np.uint32)
        s = np.array([int(x).bit_length() - 1 for x in poly[1:dimension]], dtype=np.int64)  # the degrees
        rest = v[1:]  # a view: rows 1..dimension-1
        columns = np.arange(vinit.shape[1])
        rest[:, : vinit.shape[1]] = np.where(columns < s[:, None], vinit[1:dimension], 0).astype(np.uint32)
        rows = np.arange(dimension - 1)
        for b in range(BITS):
            on = s <= b  # the rows whose column b follows the recurrence
            if not on.any():
                continue
            r, sr, pr = rows[on], s[on], p[on]
            value = rest[r, b - sr]
            for k in range(int(sr.max())):
                tap = (k < sr) & (((pr >> np.maximum(sr - 1 - k, 0).astype(np.uint32)) & 1) == 1)
                earlier = rest[r, np.maximum(b - k - 1, 0)]
                value = value ^ np.where(tap, earlier << np.uint32(k + 1), np.uint32(0))
            rest[r, b] = value
    v <<= np.arange(BITS - 1, -1, -1, dtype=np.uint32)
    v.setflags(write=False)
    _directions[dimension] = v
    return v


def _scramble(raw, v):
    """The shift (D,) and the scrambled direction numbers (BITS, D), uint32, of one sequence.

    ``raw`` holds the 64-bit outputs of the sequence's generator, D BITS (1 + BITS) / 2 of them; random bit t
    is the top bit of its 32-bit output t (bit 31 of ``raw[t // 2]`` for even t, bit 63 for odd t). Bits 0 to
    D BITS - 1 are the shifts' (bit b of dimension d's is bit d BITS + b); the next D BITS² fill the lower
    triangular matrices (row p, column k of dimension d's at D BITS + d BITS² + p BITS + k, used where
    k < p; the diagonal is one). ``v`` (D, BITS) are the unscrambled direction numbers. Scrambled number b of
    dimension d is the matrix times v[d, b] over GF(2), bit BITS - 1 - i of a number being element i of its
    vector: integer products, exact.
    """
    D, B = v.shape
    bits = np.empty(2 * raw.size, dtype=np.int64)
    bits[0::2] = raw >> np.uint64(31)
    bits[1::2] = raw >> np.uint64(63)
    bits &= 1
    shift = (bits[: D * B].reshape(D, B) << np.arange(B)).sum(axis=1).astype(np.uint32)
    # Row p of matrix d as a number: its ones below the diagonal (column k at bit B - 1 - k) and the diagonal's.
    below, diagonal = _row_weights(B)
    rows = (bits[D * B : D * B + D * B * B].reshape(D, B, B) * below).sum(axis=2) + diagonal
    # Element p of the product of matrix d and v[d, b]: the parity of the bits row p and v[d, b] share.
    x = rows[:, :, None] & v.astype(np.int64)[:, None, :]  # (D, p, b)
    for fold in (16, 8, 4, 2, 1):
        x ^= x >> fold
    x &= 1
    scrambled = (x << (B - 1 - np.arange(B))[None, :, None]).sum(axis=1)  # (D, b)
    return shift, np.ascontiguousarray(scrambled.T.astype(np.uint32))


_weights: dict = {}


def _row_weights(B):
    """(B, B) and (B,) int64: bit B - 1 - k at column k < p of row p, and bit B - 1 - p (the diagonal)."""
    if B not in _weights:
        p, k = np.arange(B)[:, None], np.arange(B)[None, :]
        _weights[B] = (np.where(k < p, np.int64(1) << (B - 1 - k), 0), np.int64(1) << (B - 1 - np.arange(B)))
    return _weights[B]


class ScrambledSobol:
    """A scrambled Sobol sequence in ``dimension`` dimensions, the points of scipy 1.17's
    ``qmc.Sobol(dimension, scramble=True, seed=generator)`` (see the module's docstring).

    Parameters
    ----------
    dimension : int
        The dimension D, 0 to :data:`MAX_DIMENSION`.
    generator : numpy.random.Generator
        The generator the scramble's child generator is spawned from (its seed sequence spawns one child).
    """

    def __init__(self, dimension: int, generator: np.random.Generator):
        D = int(dimension)
        v = directions(D)
        child = type(generator.bit_generator)(generator.bit_generator.seed_seq.spawn(1)[0])
        self._shift, self._scrambled = _scramble(child.random_raw(D * BITS * (1 + BITS) // 2), v)
        self._columns = np.ascontiguousarray(self._scrambled.T)  # (D, BITS): a point's coordinates as rows
        self._quasi = self._shift.copy()  # the last point made (point 0 before any)
        self._made = 0
        self.dimension = D

    def random(self, n: int) -> np.ndarray:
        """The next ``n`` points, float64 (n, dimension), in [0, 1).

        Point i > 0 is point i - 1 XOR the scrambled direction number of the lowest set bit of i: a running XOR
        (``np.bitwise_xor.accumulate``) of those numbers from the last point made.
        """
        n = int(n)
        if n < 0:
            raise ValueError(f"n must be >= 0, not {n}")
        if self._made + n > 2**BITS:
            raise ValueError(f"a sequence has 2**{BITS} points: {self._made} made, {n} more asked for")
        # Coordinates as rows (D, n): the running XOR runs along contiguous memory.
        points = np.empty((self.dimension, n), dtype=np.uint32)
        first = self._made
        start = 1 if first == 0 else 0
        if n and start:
            points[:, 0] = self._quasi  # point 0: the shift
        if n > start:
            index = np.arange(first + start, first + n, dtype=np.int64)
            lowest = np.frexp((index & -index).astype(np.float64))[1] - 1  # exact: powers of two
            steps = self._columns[:, lowest]
            steps[:, 0] ^= self._quasi
            np.bitwise_xor.accumulate(steps, axis=1, out=points[:, start:])
        if n:
            self._quasi = points[:, -1].copy()
        self._made += n
        return (points * (1.0 / 2**BITS)).T
