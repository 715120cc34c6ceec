"""The parameter regions of the property tests, defined once.

``tests/test_properties.py`` draws settings from these regions with
hypothesis; ``docs/scripts/measure_thresholds.py`` draws them with a NumPy
generator, walks their corners, and measured the thresholds written in
docs/stages.md. Both import this file, so a region cannot change for one and
not the other.

It lives under tests/ rather than in the package: the regions say where the
tests check the paper's claims, nothing a user of the library runs, and the
installed package should not carry them. pytest puts this directory on
``sys.path`` for the tests; the script adds it by path.

A region is a function of a *draw* object, which picks the values:

- ``draw.integer(low, high)``, ``draw.real(low, high)``: a value in the closed
  range [low, high];
- ``draw.seed()``: the seed of the run.

Each region asks in a fixed order (the NumPy draws of the measured table
depend on it), and always the same number of times, so that :func:`corners`
can enumerate its ranges.
"""

from __future__ import annotations

import itertools
import math

from labelnoise_sim.config import log_grid

#: η·steps of the Stage I/II region (η·t2 reached 13 over random settings and
#: more at the region's corners; η·steps = 40 left a corner run one sample short).
STAGE_TIME = 150.0
#: Steps of the harmful and noise-free regions.
LONG_STEPS = 1000
#: Records per decade of every region's logarithmic record grid.
RECORDS_PER_DECADE = 10
#: Least realized n SNR² (1 - 2 τ̂)/2 of the Stage I/II region, τ̂ the share of
#: flipped labels actually drawn (docs/stages.md: below 1.5 Stage I blurs).
MIN_RULE = 1.5
#: Least n‖μ‖⁴/(σ_ξ⁴ d) = (n SNR²)² d/n of the noise-free region (Theorem 4.4's exponent, no constant).
MIN_BENIGN_RATIO = 100.0


def sparse_record(steps: int) -> tuple:
    return tuple(int(s) for s in log_grid(steps, RECORDS_PER_DECADE))


def realized_rule(result) -> float:
    """n SNR² (1 - 2 τ̂)/2 with τ̂ the share of flipped labels in the draw of ``result``."""
    return result.config.n_snr2 * (1 - 2 * result.data.is_noisy.mean()) / 2


def min_n_snr2(n: int, d: int) -> float:
    """Least n SNR² of the noise-free region at (n, d): at least 4, and (n SNR²)² d/n >= MIN_BENIGN_RATIO."""
    return max(4.0, math.sqrt(MIN_BENIGN_RATIO * n / d))


def stage_region(draw, sigma0=None) -> dict:
    """n SNR² in [6, 15], τ in [0.05, 0.2], d/n in [10, 30], σ0 in [1e-4, 1e-3], η in [0.05, 0.2], m in [8, 12].

    ``sigma0`` fixes the initial scale instead of drawing it (the measurement
    also runs the region at the library's default σ0, outside the region).
    """
    n = draw.integer(40, 100)
    eta = draw.real(0.05, 0.2)
    steps = int(math.ceil(STAGE_TIME / eta))
    return dict(
        n=n, d=int(n * draw.real(10, 30)), m=draw.integer(8, 12), eta=eta, steps=steps,
        n_snr2=draw.real(6, 15), tau=draw.real(0.05, 0.2),
        sigma0=10 ** draw.real(-4, -3) if sigma0 is None else sigma0, seed=draw.seed(),
        record=sparse_record(steps),
    )


def harmful_region(draw) -> dict:
    """d/n in [2, 4], n SNR² in [4, 10], τ in [0.15, 0.25], η = 0.1, 1000 steps."""
    n = draw.integer(60, 120)
    return dict(
        n=n, d=int(n * draw.real(2, 4)), m=draw.integer(4, 10), eta=0.1, steps=LONG_STEPS,
        n_snr2=draw.real(4, 10), tau=draw.real(0.15, 0.25),
        sigma0=10 ** draw.real(-4, -3), seed=draw.seed(), record=sparse_record(LONG_STEPS),
    )


def clean_region(draw, d_over_n=None, n_snr2=None) -> dict:
    """τ = 0, d/n in [2, 30], n SNR² in [4, 15] with (n SNR²)² d/n >= 100, σ0 in [1e-4, 1e-2], 1000 steps.

    ``d_over_n`` and ``n_snr2`` fix those values instead of drawing them (the
    measurement also runs a setting below the region).
    """
    n = draw.integer(40, 120)
    d = int(n * (draw.real(2, 30) if d_over_n is None else d_over_n))
    return dict(
        n=n, d=d, m=draw.integer(4, 10), eta=draw.real(0.05, 0.2), steps=LONG_STEPS,
        n_snr2=draw.real(min_n_snr2(n, d), 15) if n_snr2 is None else n_snr2, tau=0.0,
        sigma0=10 ** draw.real(-4, -2), seed=draw.seed(), record=sparse_record(LONG_STEPS),
    )


class _Corner:
    """Draws at one corner: each range at its low or high end, as ``high`` says in turn."""

    def __init__(self, high, seed: int):
        self._high = iter(high)
        self._seed = seed

    def integer(self, low, high):
        return high if next(self._high) else low

    real = integer

    def seed(self):
        return self._seed


class _Count:
    """Counts the ranges a region draws from."""

    def __init__(self):
        self.ranges = 0

    def integer(self, low, high):
        self.ranges += 1
        return low

    real = integer

    def seed(self):
        return 0


def corners(region, seeds: int) -> list[dict]:
    """Every corner of ``region`` (2^ranges of them), each with seeds 0 .. ``seeds`` - 1."""
    count = _Count()
    region(count)
    return [region(_Corner(high, seed))
            for high in itertools.product((False, True), repeat=count.ranges) for seed in range(seeds)]
