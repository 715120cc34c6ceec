"""The huang2025-lngd entry: its readings of the claims' words and the interval of its heatmap claim."""

import math

import numpy as np
import pytest

from labelnoise_sim import SimulationConfig
from labelnoise_sim.papers import Verdict, huang2025_lngd as entry
from labelnoise_sim.papers import regime


def test_the_papers_figure_a_setting_is_inside_its_model_assumptions():
    config = SimulationConfig.from_params(**{**entry.FIXED, "sigma0": entry.SIGMA0, "label_noise": 0.1})
    assert all(row.holds for row in entry.PAPER.regime(config))
    broken = regime("huang2025-lngd", config.replace(activation="relu", tau_pos=0.1, tau_neg=0.1))
    assert {row.name for row in broken if not row.holds} == {"squared ReLU", "clean training labels"}


def test_perfect_cells_gained_count_both_ways_and_their_interval_covers_the_point():
    rng = np.random.default_rng(1)
    good, bad = np.full(4, 0.001), np.full(4, 0.2)
    errors = {(0.1, 100): (bad, good), (0.1, 200): (bad, good), (0.05, 100): (good, good), (0.03, 100): (good, bad)}
    gain, low, high, only_ln, only_gd = entry._perfect_gain(errors, rng)
    assert (gain, only_ln, only_gd) == (1, 2, 1)
    # No seed varies: every resample gives the same gain.
    assert low == high == 1


def test_perfect_cells_gained_with_one_seed_have_no_interval():
    gain, low, high, _, _ = entry._perfect_gain({(0.1, 100): (np.array([0.2]), np.array([0.0]))},
                                                np.random.default_rng(0))
    assert gain == 1 and math.isnan(low) and math.isnan(high)


@pytest.mark.parametrize("words, combined", [
    (("confirmed", "confirmed"), "confirmed"),
    (("confirmed", "inconclusive"), "inconclusive"),
    (("inconclusive", "not confirmed"), "not confirmed"),
    (("outside assumptions", "confirmed"), "outside assumptions"),
])
def test_a_claim_of_two_parts_is_confirmed_only_when_both_are(words, combined):
    parts = [Verdict("", word, seeds=5, uncertainty="u") for word in words]
    assert entry._both(*parts, "m").verdict == combined


def test_the_loss_label_noise_gd_descends_is_the_expectation_over_its_flips():
    from labelnoise_sim import simulate

    result = simulate(n=30, d=200, m=4, steps=20, tau=0.0, label_noise=0.2, record=(0, 20))
    z = result.margins
    expected = (0.8 * np.log1p(np.exp(-z)) + 0.2 * np.log1p(np.exp(z))).mean(axis=1)
    np.testing.assert_allclose(entry._trained_loss(result), expected, rtol=1e-12)
    assert not np.allclose(entry._trained_loss(result), result.train_loss)
