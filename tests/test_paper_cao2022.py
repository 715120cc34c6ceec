"""The cao2022 entry: its design inside Condition 4.2, the former design outside, and the boundary exponent."""

import math

import numpy as np
import pytest

from labelnoise_sim import SimulationConfig
from labelnoise_sim.papers import cao2022 as entry
from labelnoise_sim.papers import regime


def _design(n, snr):
    return SimulationConfig.from_params(**{**entry.DESIGN, "n": n, "snr": snr, "steps": entry.STEPS_PER_SAMPLE * n})


def test_every_cell_of_the_design_is_inside_condition_4_2():
    for n in entry.N_VALUES:
        for snr in entry.snr_grid(n):
            broken = [row.name for row in entry.PAPER.regime(_design(n, snr)) if not row.holds]
            assert broken == [], (n, snr, broken)


def test_the_former_design_breaks_the_scale_conditions_of_condition_4_2():
    config = SimulationConfig.from_params(**{**entry.FORMER, "n": 40, "snr": 0.3})
    broken = {row.name for row in regime("cao2022", config) if not row.holds}
    assert broken == {"large dimension", "small step", "small initialisation"}


def test_the_conditions_notice_a_larger_step_a_larger_initialisation_few_filters_and_another_model():
    config = _design(20, 0.5)
    cases = {"small step": dict(eta=2.0), "small initialisation": dict(sigma0=2 * config.sigma0),
             "enough filters": dict(m=5), "ReLU^q with q > 2": dict(activation="relu^2"),
             "the paper's data and loss": dict(noise="isotropic")}
    for name, change in cases.items():
        broken = {row.name for row in entry.PAPER.regime(config.replace(**change)) if not row.holds}
        assert name in broken, (name, broken)
    # A signal stronger than the noise (SNR > 1) needs η ≤ 1/‖μ‖²: the step is then too large.
    assert "small step" in {row.name for row in entry.PAPER.regime(_design(20, 1.2)) if not row.holds}


def test_the_snr_grid_is_one_lattice_for_every_n_with_a_cell_in_each_region():
    lattice = {round(entry.LATTICE_STEP**k, 12) for k in range(200)}
    for n in entry.N_VALUES:
        grid = entry.snr_grid(n)
        assert grid == sorted(grid) and max(grid) <= 1.0
        x = [n * s**entry.Q for s in grid]
        assert math.isclose(x[0], entry.HARMFUL_REGION)
        assert (n >= entry.BENIGN_REGION) == math.isclose(x[-1], entry.BENIGN_REGION)
        inner = [s for s, v in zip(grid, x) if entry.X_LOW <= v <= entry.X_HIGH]
        assert len(inner) >= 6 and {round(s, 12) for s in inner} <= lattice


def _curves(exponent, ns, snrs, seeds=1):
    """Smooth curves falling from 0.7 to 0 around SNR* = 0.8 n^-exponent, one row per (n, SNR, seed)."""
    import pandas as pd

    rows = []
    for n in ns:
        middle = 0.8 * n ** (-exponent)
        for snr in snrs:
            for seed in range(seeds):
                rows.append({"n": n, "snr": snr, "seed": seed, "loss": 0.7 / (1 + (snr / middle) ** 8)})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("exponent", [0.2, 1 / 3, 0.45])
def test_the_boundary_exponent_is_recovered_from_curves_that_cross_on_the_law(exponent):
    pytest.importorskip("pandas")
    snrs = list(np.geomspace(0.1, 1.0, 60))
    runs = _curves(exponent, [5, 7, 10, 14, 20], snrs, seeds=3)
    a, low, high = entry.exponent_interval(runs, "loss", 0.1, np.random.default_rng(0), resamples=50)
    # Interpolation in log SNR between grid points 4 % apart: the crossings are off by well under 1 %.
    assert a == pytest.approx(exponent, abs=0.01)
    # Identical seeds: every resample is the point.
    assert low == pytest.approx(a) and high == pytest.approx(a)


def test_the_boundary_exponent_has_no_interval_with_one_seed_and_none_at_all_without_two_crossings():
    pytest.importorskip("pandas")
    runs = _curves(1 / 3, [5, 20], list(np.geomspace(0.1, 1.0, 20)))
    a, low, high = entry.exponent_interval(runs, "loss", 0.1, np.random.default_rng(0), resamples=10)
    assert math.isfinite(a) and math.isnan(low) and math.isnan(high)
    flat = runs.assign(loss=0.7)
    assert math.isnan(entry.exponent_interval(flat, "loss", 0.1, np.random.default_rng(0), resamples=10)[0])


def test_the_crossing_interpolates_in_log_x_and_skips_missing_points():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    assert entry._crossing(x, np.array([0.7, 0.7, 0.0, 0.0]), 0.35) == pytest.approx(2 * math.sqrt(2))
    assert entry._crossing(x, np.array([0.7, np.nan, 0.0, 0.0]), 0.35) == pytest.approx(2.0)
    assert math.isnan(entry._crossing(x, np.full(4, 0.7), 0.35))
