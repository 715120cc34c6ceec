"""The kou2023 entry: the authors' released data, its goodness of fit, its conditions as assumptions."""

import math
from pathlib import Path

import numpy as np
import pytest

from labelnoise_sim import simulate
from labelnoise_sim.papers import kou2023, regime
from labelnoise_sim.papers._base import wilson

ROOT = Path(__file__).resolve().parents[1]


def test_the_authors_heatmap_parses_to_their_grid():
    data = kou2023.load_authors_data()
    assert data.shape == (100, 100)
    assert (kou2023.AUTHORS_D[[0, -1]] == (100, 1090)).all()
    assert kou2023.AUTHORS_MU[[0, -1]] == pytest.approx((0.0, 9.9))
    assert ((data >= 0) & (data <= 1)).all()
    # Column ‖μ‖ = 0 carries no signal: chance, 0.5, within the noise of 10 × 1,000 test points at every d.
    assert np.abs(data[:, 0] - 0.5).max() < 0.03
    # Rows are d: at ‖μ‖ = 3 the error grows with d (the boundary moves right), as the script's loops say.
    assert data[:10, 30].mean() < data[-10:, 30].mean() - 0.05
    source = (ROOT / "docs" / "papers" / "kou2023" / "authors_data_test100.SOURCE.txt").read_text()
    assert "uclaml/Benign_ReLU_CNN" in source and "20ca259e1a53116175fd7989818a273b4272258c" in source


def test_a_missing_or_misshapen_authors_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="uclaml/Benign_ReLU_CNN"):
        kou2023.load_authors_data(tmp_path / "nothing.csv")
    np.savetxt(tmp_path / "small.csv", np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"100 x 100 array; got shape \(3, 4\)"):
        kou2023.load_authors_data(tmp_path / "small.csv")


def test_goodness_of_fit_is_zero_for_equal_maps_and_one_for_one_standard_deviation_apart():
    theirs = np.array([0.1, 0.3, 0.5])
    run_var = np.array([0.001, 0.004, 0.002])
    same = kou2023.goodness_of_fit(theirs, run_var, 10, theirs)
    assert same == {"chi2": 0.0, "rmse": 0.0, "cells": 3}
    sd = np.sqrt(run_var / 10 + (run_var + theirs * (1 - theirs) / 1000) / 10)
    apart = kou2023.goodness_of_fit(theirs + sd * np.array([1, -1, 1]), run_var, 10, theirs)
    assert apart["chi2"] == pytest.approx(1.0) and apart["rmse"] == pytest.approx(np.sqrt(np.mean(sd**2)))


def test_goodness_of_fit_is_near_one_when_both_maps_come_from_the_same_law():
    """2,000 cells drawn as the statistic assumes: 10 runs of ours, 10 of theirs on 1,000 test points each."""
    rng = np.random.default_rng(5)
    cells, k = 2000, 10
    truth = rng.uniform(0.1, 0.5, cells)
    spread = rng.uniform(0.005, 0.05, cells)
    ours_runs = truth[:, None] + spread[:, None] * rng.standard_normal((cells, k))
    their_runs = truth[:, None] + spread[:, None] * rng.standard_normal((cells, k))
    their_runs = rng.binomial(1000, np.clip(their_runs, 0, 1)) / 1000
    fit = kou2023.goodness_of_fit(ours_runs.mean(1), ours_runs.var(1, ddof=1), k, their_runs.mean(1))
    assert 0.85 < fit["chi2"] < 1.2  # a shifted map is far above (next assertion)
    assert kou2023.goodness_of_fit(ours_runs.mean(1) + 0.02, ours_runs.var(1, ddof=1), k,
                                   their_runs.mean(1))["chi2"] > 3


def test_wilson_interval_is_scipys_for_whole_counts_and_has_width_with_no_failure():
    from scipy.stats import binomtest

    for k, n in ((10, 10), (0, 20), (7, 40), (970, 1000)):
        ci = binomtest(k, n).proportion_ci(0.95, method="wilson")
        assert wilson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert wilson(40, 40)[0] == pytest.approx(0.9124, abs=1e-4)  # a bootstrap would say [1, 1]
    low, high = wilson(38.8, 40)  # a share of runs counted in seeds
    assert wilson(38, 40)[0] < low < wilson(39, 40)[0] and high < 1
    assert all(math.isnan(v) for v in wilson(0, 0))


def test_crossing_interpolates_where_the_error_last_falls_below_the_threshold():
    mus = np.array([1.0, 2.0, 3.0, 4.0])
    assert kou2023.crossing(mus, np.array([0.4, 0.3, 0.1, 0.1])) == pytest.approx(2.5)
    assert kou2023.crossing(mus, np.array([0.4, 0.1, 0.3, 0.1])) == pytest.approx(3.5)  # stays below from here
    assert math.isnan(kou2023.crossing(mus, np.array([0.4, 0.3, 0.3, 0.25])))
    assert kou2023.crossing(mus, np.array([0.1, 0.1, 0.1, 0.1])) == 1.0


def test_the_sum_over_filters_is_the_papers_mean_with_m_sigma0_and_m_squared_eta():
    """What the assumptions read for output_scale='sum': the same trajectory as the 1/m network."""
    common = dict(n=12, d=60, m=5, steps=30, tau=0.1, mu_norm=2.0, seed=3, record=(0, 10, 30), sampling="explicit")
    summed = simulate(**common, output_scale="sum", sigma0=0.01, eta=0.02)
    mean = simulate(**common, output_scale="mean", sigma0=0.05, eta=0.5)
    np.testing.assert_allclose(summed.outputs, mean.outputs, rtol=1e-10, atol=1e-12)


def test_the_inside_design_meets_every_condition_and_the_scripts_settings_break_them():
    d, mu = 2000, (10 * 2000 / 20) ** 0.25  # the inside design's corner: largest d condition, r = 10
    inside = regime("kou2023", n=20, m=10, d=d, mu_norm=mu, tau=0.1, noise="orthogonal", sigma0=0.5 * math.sqrt(20) / d,
                    eta=0.5 / d, steps=4000)
    assert all(row.holds for row in inside), [row.describe() for row in inside if not row.holds]
    script = regime("kou2023", n=20, m=10, d=500, mu_norm=3.0, tau=0.1, noise="isotropic", bias=True,
                    output_scale="sum", sigma0=1 / math.sqrt(3 * 500) / 2, eta=0.025, steps=100)
    broken = {row.name for row in script if not row.holds}
    assert broken == {"noise orthogonal to μ", "no bias", "small initialisation", "small step"}


@pytest.mark.slow
def test_the_quick_run_marks_its_verdicts_quick_and_the_code_settings_outside(tmp_path):
    pytest.importorskip("pandas")
    from labelnoise_sim.papers import reproduce

    outcome = reproduce("kou2023", tmp_path, quick=True, progress=False)
    assert all(v.quick and v.regime == "inside" and v.seeds == 2 for v in outcome.verdicts)
    outside = (tmp_path / "kou2023_outside.md").read_text().splitlines()[2:]
    assert len(outside) == 4 * 4 and all("| outside assumptions" in row for row in outside)
    regime_table = (tmp_path / "kou2023_regime.md").read_text()
    assert regime_table.count("holds |") >= len(kou2023.ASSUMPTIONS)
