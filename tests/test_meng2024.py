"""The meng2024-xor entry: its ‖μ‖ and ratio, its stand-in assumptions, its statistics, a run each side."""

import math

import numpy as np
import pandas as pd
import pytest

from labelnoise_sim import SimulationConfig, analyze, simulate
from labelnoise_sim.data import signal_basis
from labelnoise_sim.papers import meng2024_xor as meng
from labelnoise_sim.papers import regime


def _config(d, r, **changes):
    return SimulationConfig.from_params(**{**meng.FIXED, **meng.cell(d, r), **changes})


def test_mu_is_the_norm_of_a_signal_patch_and_the_cells_sit_at_their_ratio():
    config = _config(50_000, 10.0)
    u, v = signal_basis(config)
    assert np.linalg.norm(u) == pytest.approx(meng.signal_norm(config)) == pytest.approx(math.sqrt(2) * config.mu_norm)
    assert meng.ratio(config) == pytest.approx(10.0, rel=1e-12)
    assert meng._cos_theta(config) == 0.0
    # n‖μ‖⁴/d at a fixed r does not depend on d: ‖μ‖ grows as d^(1/4).
    assert meng.signal_norm(_config(5_000_000, 10.0)) / meng.signal_norm(config) == pytest.approx(100**0.25)


def test_every_cell_of_the_design_meets_the_stand_ins_and_the_extras_break_the_one_they_change():
    for d in meng.DS:
        for r in meng.RATIOS:
            rows = regime("meng2024-xor", _config(d, r))
            assert all(row.holds for row in rows), (d, r, [row.describe() for row in rows if not row.holds])
    iso = regime("meng2024-xor", _config(meng.ISOTROPIC_D, 1000.0, noise="isotropic"))
    assert {row.name for row in iso if not row.holds} == {"noise orthogonal to the XOR directions"}
    # Kou et al.'s script settings (d = 500, σ₀ = 1/√(3d)/2, η = 0.025, a bias, a sum over filters) on XOR data.
    script = regime("meng2024-xor", n=20, m=10, d=500, mu_norm=3.0, tau=0.1, features="xor", bias=True,
                    output_scale="sum", sigma0=1 / math.sqrt(1500) / 2, eta=0.025, steps=100)
    assert {row.name for row in script if not row.holds} == {
        "noise orthogonal to the XOR directions", "the line's network", "small initialisation", "small step"}
    # The single-signal model is not XOR data.
    assert {row.name for row in regime("meng2024-xor", n=40, d=50_000) if not row.holds} >= {
        "XOR data, two patches", "classic XOR regime"}


def test_crossing_interpolates_in_log_r_and_the_bands_sit_a_decade_each_side():
    assert meng.crossing([1, 10, 100], [0.4, 0.3, 0.1]) == pytest.approx(10 ** 1.5)
    # From where it stays below: a dip that rises again does not count.
    assert meng.crossing([1, 10, 100, 1000], [0.4, 0.1, 0.3, 0.1], log=False) == pytest.approx(550.0)
    for never in ([0.1, 0.1], [0.3, 0.3], [0.1, 0.3]):
        assert math.isnan(meng.crossing([1, 10], never))
    assert meng.bands(20.0) == (200.0, 2.0)
    np.testing.assert_allclose(meng.flipped_error([0.0, 0.5]), [0.1, 0.5])


def _table(ds, ratios, seeds, error_of_r, unfitted=()):
    """A sweep's table in grid order (d, then r, then seed) whose clean error depends on r (and the seed) only."""
    rows = []
    for d in ds:
        for r in ratios:
            for seed in range(seeds):
                rows.append({"final_test_error": error_of_r(r, seed), "t2": None if (d, r, seed) in unfitted
                             else meng.STEPS})
    return pd.DataFrame(rows)


def test_an_error_that_depends_on_r_alone_gives_the_slope_one_quarter_and_the_shares_count_runs():
    ds, ratios, seeds = (50_000, 500_000, 5_000_000), (0.1, 1.0, 10.0, 100.0, 1000.0), 6
    clean = {0.1: 0.45, 1.0: 0.35, 10.0: 0.2, 100.0: 0.02, 1000.0: 0.0}
    table = _table(ds, ratios, seeds, lambda r, seed: clean[r] + 0.01 * seed / seeds,
                   unfitted={(500_000, 10.0, 2)})
    runs = meng.Runs(table, ds, ratios)
    assert runs.error.shape == (3, 5, 6) and runs.seeds == 6
    slope, low, high, missing = runs.slope()
    assert slope == pytest.approx(0.25, abs=1e-12) and low == pytest.approx(0.25) and high == pytest.approx(0.25)
    assert missing == 0.0
    k, total, interval = runs.share(runs.fitted, np.ones((3, 5), dtype=bool))
    assert (k, total) == (89, 90) and interval[0] < 89 / 90 < interval[1]
    benign = runs.error <= meng.P_FLIP + meng.BENIGN_MARGIN
    where = np.broadcast_to(np.asarray(ratios)[None, :] >= 100, (3, 5))
    assert runs.share(benign, where)[:2] == (36, 36)
    verdicts = meng._verdicts(runs, 10.0, region="test", regime="inside", quick=False)
    assert verdicts[3].verdict == "confirmed" and "slope of log ‖μ*‖ on log d 0.250" in verdicts[3].measured


def test_one_run_each_side_of_the_boundary():
    """n = 40, d = 50,000 inside the stand-ins: every label fitted on both sides; benign at r = 1000, harmful at
    r = 0.1, by the entry's per-run criteria."""
    errors = {}
    for r in (0.1, 1000.0):
        result = simulate(**{**meng.FIXED, **meng.cell(50_000, r)}, seed=0, progress=False)
        stages = analyze(result)
        assert stages.t2 is not None  # every training label fitted at the last step
        errors[r] = float(meng.flipped_error(stages.final_test_error))
    assert errors[1000.0] <= meng.P_FLIP + meng.BENIGN_MARGIN
    assert errors[0.1] >= meng.P_FLIP + meng.HARMFUL_MARGIN
