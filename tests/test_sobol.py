"""Our scrambled Sobol points (``labelnoise_sim._sobol``) are scipy 1.17's, bit for bit, and stay ours.

The test error's and the test loss's draws were scipy's ``qmc.Sobol(D, scramble=True, seed=...)`` engines;
``_sobol.ScrambledSobol`` now makes the same points, and every committed table depends on them. Two kinds of
check:

- equality with the installed scipy's engine, which holds for the release the points mirror
  (``_sobol.MIRRORS_SCIPY``, 1.17). A scipy of another release is compared too; where its points differ, the
  check is skipped with the reason (our points are ours and must not follow scipy's), and fails on the
  mirrored release.
- a fixed digest of our points, which must hold whatever scipy is installed.
"""

import hashlib
import warnings

import numpy as np
import pytest
import scipy

from labelnoise_sim import _sobol, generalization
from labelnoise_sim.data import substream

DIMENSIONS = (1, 2, 3, 20, 40, 100, 300)

#: Successive block sizes: a first point alone, blocks that cross powers of two and blocks that end on them.
BLOCKS = (1, 15, 16, 240, 4096)

MIRRORED = scipy.__version__.split(".")[:2] == _sobol.MIRRORS_SCIPY.split(".")


def _scipy_engine(D, generator):
    from scipy.stats import qmc

    return qmc.Sobol(D, scramble=True, seed=generator)


def _scipy_points(engine, n):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a first block of a size other than a power of two warns
        return engine.random(n)


def _differs_from_scipy(what):
    """Fail on the mirrored scipy release; skip, saying why, on another."""
    if MIRRORED:
        pytest.fail(f"{what} differ from scipy {scipy.__version__}'s, the release _sobol mirrors "
                    f"({_sobol.MIRRORS_SCIPY}): the test error's draws, and every table made with them, have changed")
    pytest.skip(f"scipy {scipy.__version__}'s Sobol points differ from those of scipy {_sobol.MIRRORS_SCIPY}, "
                "which _sobol mirrors: ours are ours and do not follow (test_digest_of_our_points pins them)")


@pytest.mark.parametrize("D", DIMENSIONS)
def test_points_equal_scipys(D):
    for seed in range(6):
        replicate = seed % 3
        ours = _sobol.ScrambledSobol(D, substream(seed, "test", replicate))
        theirs = _scipy_engine(D, substream(seed, "test", replicate))
        for n in BLOCKS + (1, 7):
            a, b = ours.random(n), _scipy_points(theirs, n)
            assert a.shape == b.shape == (n, D)
            if not np.array_equal(a, b):
                _differs_from_scipy(f"our points (D = {D}, seed {seed}, a block of {n})")


@pytest.mark.parametrize("D", (1, 20, 300))
def test_first_point_is_the_shift_and_equals_scipys(D):
    """A first block of one point, and a first block of many, start with the same point: scipy's first point."""
    one = _sobol.ScrambledSobol(D, substream(5, "test", 0)).random(1)
    many = _sobol.ScrambledSobol(D, substream(5, "test", 0)).random(16)
    assert np.array_equal(one[0], many[0])
    assert ((0.0 < one) & (one < 1.0)).all()
    if not np.array_equal(one, _scipy_points(_scipy_engine(D, substream(5, "test", 0)), 1)):
        _differs_from_scipy(f"our first point (D = {D})")


def test_points_equal_scipys_from_any_generator():
    """The child generator is spawned from the one passed as scipy spawns it: any seed sequence, any bit
    generator with one."""
    makers = (lambda: np.random.default_rng(2**70 + 3),
              lambda: np.random.Generator(np.random.Philox(np.random.SeedSequence(11, spawn_key=(4,)))),
              lambda: np.random.Generator(np.random.SFC64(7)))
    for make in makers:
        a = _sobol.ScrambledSobol(20, make()).random(64)
        if not np.array_equal(a, _scipy_points(_scipy_engine(20, make()), 64)):
            _differs_from_scipy(f"our points from a {type(make().bit_generator).__name__} generator")


def test_random_bits_are_the_generators_integers():
    """The scramble's bits read from the 64-bit outputs are what ``Generator.integers(2, dtype=np.uint32)`` draws
    (scipy's call): the shifts, then the lower triangular matrices."""
    D, B = 20, _sobol.BITS
    child = np.random.Generator(np.random.PCG64(np.random.SeedSequence(9, spawn_key=(1, 2, 0))))
    shifts = child.integers(2, size=(D, B), dtype=np.uint32)
    matrices = np.tril(child.integers(2, size=(D, B, B), dtype=np.uint32), -1)
    matrices[:, np.arange(B), np.arange(B)] = 1
    # Our shift and scramble from the same child (spawned from the parent below).
    parent = np.random.Generator(np.random.PCG64(np.random.SeedSequence(9, spawn_key=(1, 2))))
    ours = _sobol.ScrambledSobol(D, parent)
    assert np.array_equal(ours._shift, (shifts << np.arange(B, dtype=np.uint32)).sum(axis=1))
    v = _sobol.directions(D)
    bit = lambda x, i: (x >> np.uint32(B - 1 - i)) & np.uint32(1)  # element i of a number as a vector  # noqa: E731
    for d in (0, 1, 19):
        for b in (0, 5, 29):
            vector = np.array([bit(v[d, b], i) for i in range(B)])
            product = matrices[d] @ vector % 2
            assert ours._scrambled[b, d] == sum(int(product[i]) << (B - 1 - i) for i in range(B))


def test_direction_numbers_equal_scipys():
    try:
        from scipy.stats._sobol import _initialize_v  # private: a later scipy may move it
    except ImportError:
        _differs_from_scipy("scipy's direction numbers (no scipy.stats._sobol._initialize_v)")

    for D in DIMENSIONS + (1111,):
        v = np.zeros((D, _sobol.BITS), dtype=np.uint32)
        _initialize_v(v, dim=D, bits=_sobol.BITS)
        if not np.array_equal(_sobol.directions(D), v):
            _differs_from_scipy(f"our direction numbers (D = {D})")


#: sha256 of our points for each D (seed 3, replicate 1, the blocks of BLOCKS one after the other, float64
#: little-endian), computed when the points equalled scipy 1.17.1's. They must never change.
DIGESTS = {
    1: "c3ffbf561e909ff656669db0cd1cfd8213c9e5315b011535556592eddaae4cfa",
    20: "911cbd7a96bf8dd63cd7b3e233986899f1d032e7e5e41df38f64fbd0cb996b6c",
    300: "cceb31f87cdf76453bab950b4bfb6184d3e6093bf64d1b6836e47b9e0c6aad63",
}


@pytest.mark.parametrize("D", sorted(DIGESTS))
def test_digest_of_our_points(D):
    sequence = _sobol.ScrambledSobol(D, substream(3, "test", 1))
    points = np.concatenate([sequence.random(n) for n in BLOCKS])
    assert hashlib.sha256(points.astype("<f8").tobytes()).hexdigest() == DIGESTS[D], (
        "our scrambled Sobol points have changed, and with them the test error's draws and every table made with them")


def test_sequence_ends_after_2_to_the_bits_points():
    sequence = _sobol.ScrambledSobol(2, substream(0, "test", 0))
    sequence._made = 2**_sobol.BITS - 1
    with pytest.raises(ValueError, match="2\\*\\*30 points"):
        sequence.random(2)
    assert sequence.random(0).shape == (0, 2)


def test_a_changed_table_is_refused(monkeypatch):
    """scipy's direction-number table is read once and checked: a table other than 1.17's raises instead of
    changing the points."""
    monkeypatch.setattr(_sobol, "_tables", {})
    monkeypatch.setattr(_sobol, "_directions", {})
    monkeypatch.setattr(_sobol, "TABLE_SHA256", "0" * 64)
    with pytest.raises(RuntimeError, match="direction numbers"):
        _sobol.directions(3)


def test_a_missing_table_says_what_is_missing(monkeypatch):
    """A scipy that no longer ships the table at its place: an error that names it, not a bare file error."""
    monkeypatch.setattr(_sobol, "_tables", {})
    monkeypatch.setattr(_sobol, "_directions", {})
    monkeypatch.setattr(_sobol, "TABLE_PATH", ("stats", "no_such_table.npz"))
    with pytest.raises(RuntimeError, match="no_such_table.npz.*install scipy 1.17"):
        _sobol.directions(3)


def test_dimension_beyond_the_table_is_refused():
    with pytest.raises(ValueError, match="21201 dimensions"):
        _sobol.directions(_sobol.MAX_DIMENSION + 1)


class _ScipyDraws(generalization._Draws):
    """The draws as they were made before ``_sobol``: scipy's engines."""

    def upto(self, count, points):
        while len(self._sequences) < count:
            replicate = len(self._sequences)
            self._sequences.append(_scipy_engine(self._D, substream(self._seed, "test", replicate)))
            self._have.append(0)
        for r in range(count):
            have = self._have[r]
            if have < points:
                self._z[r, have:points] = generalization._normals(_scipy_points(self._sequences[r], points - have))
                self._have[r] = points
        return self._z


def test_estimate_is_the_same_with_scipys_engines():
    """The test error and the test loss of a run, with our draws and with scipy's engines: the same bits."""
    from labelnoise_sim import simulate

    result = simulate(n=60, d=200, m=5, eta=0.3, steps=300, record=[0, 30, 100, 300], tau_pos=0.1, tau_neg=0.2,
                      seed=4)
    c = result.config
    args = (result.gamma, result.rho, result.data.gram, c)
    for method in (generalization.estimate, generalization.estimate_loss):
        ours = method(*args, draws=generalization.estimate_draws(c))
        most = max(generalization.MAX_DRAWS // generalization.REPLICATES, generalization.FIRST_POINTS)
        theirs = method(*args, draws=_ScipyDraws(c.seed, c.noise_patches * c.groups * c.m,
                                                 2 * generalization.REPLICATES, most))
        for a, b in zip(ours, theirs):
            if not np.array_equal(a, b):
                _differs_from_scipy(f"{method.__name__}'s results with our draws")
