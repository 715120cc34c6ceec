"""Unit tests of the stage analysis and the small-loss selection."""

import json
import math

import numpy as np
import pytest

from labelnoise_sim import analyze, simulate
from labelnoise_sim.analysis import (
    LOG2,
    filter_products,
    noise_vs_signal,
    own_class_noise,
    record_index,
    roc_auc,
    select_clean,
    selection_quality,
    stuck_samples,
)


@pytest.fixture(scope="module")
def run():
    return simulate(n=80, d=800, eta=0.1, steps=400, seed=3)


@pytest.fixture(scope="module")
def stages(run):
    return analyze(run)


def test_t1_is_the_first_record_fitting_every_clean_sample(run, stages):
    clean_fitted = run.fitted[:, ~run.data.is_noisy].all(axis=1)
    k1 = record_index(run, stages.t1)
    assert clean_fitted[k1] and not clean_fitted[:k1].any()


def test_t2_is_the_first_record_fitting_every_sample(run, stages):
    all_fitted = run.fitted.all(axis=1)
    k2 = record_index(run, stages.t2)
    assert all_fitted[k2] and not all_fitted[:k2].any()
    assert stages.t1 <= stages.t2


def test_noisy_true_share_counts_noisy_samples_on_their_true_side(run, stages):
    k1 = record_index(run, stages.t1)
    noisy = run.data.is_noisy
    expected = np.mean(run.outputs[k1, noisy] * run.data.y[noisy] > 0)
    assert stages.noisy_true_share_at_t1 == pytest.approx(expected)


def test_best_step_is_the_least_test_error_record(run, stages):
    assert stages.best_test_error == run.test_error.min()
    assert run.test_error[record_index(run, stages.best_step)] == stages.best_test_error
    assert stages.final_test_error == run.test_error[-1]
    assert stages.early_stopping_gain >= 0


def test_noise_versus_signal_uses_noisy_label_filters_and_true_class_signal(run):
    k = len(run.t) - 1
    noise, signal = noise_vs_signal(run, int(run.t[k]))
    idx = np.flatnonzero(run.data.is_noisy)
    for pos, i in enumerate(idx):
        j_noisy = 0 if run.data.y_noisy[i] == 1 else 1
        j_true = 1 - j_noisy
        assert noise[pos] == max(run.rho[k, j_noisy, :, i].max(), 0.0)
        assert signal[pos] == run.gamma[k, j_true].max()


def test_to_dict_is_flat_json_ready_and_stable(stages):
    d = stages.to_dict()
    assert all(v is None or isinstance(v, (bool, int, float)) for v in d.values()), d
    json.dumps(d)
    for key in ("t1", "t2", "t1_theory", "noisy_true_share_at_t1", "best_step", "best_test_error",
                "final_test_error", "noise_beats_signal_t1", "noise_beats_signal_end",
                "select_precision_t1", "select_recall_t1", "select_f1_t1", "select_auc_t1"):
        assert key in d, key


def test_unreached_stages_are_none_with_the_same_keys(stages):
    short = analyze(simulate(n=80, d=800, eta=0.1, steps=1, seed=3))
    assert short.t1 is None and short.t2 is None
    d = short.to_dict()
    assert d.keys() == stages.to_dict().keys()
    assert d["noisy_true_share_at_t1"] is None and d["select_precision_t1"] is None
    assert "not reached" in short.summary()


def test_summary_names_both_stages_and_the_theory_scale(stages):
    text = stages.summary()
    assert f"step {stages.t1}" in text and f"step {stages.t2}" in text
    assert "theory" in text


def test_no_label_noise_gives_empty_noisy_statistics():
    a = analyze(simulate(n=40, d=400, steps=50, tau=0.0))
    assert a.n_noisy == 0 and a.noisy_true_share_at_t1 is None
    assert a.noise_beats_signal_end == 0
    assert a.to_dict()["select_auc_t1"] is None


def test_log2_selection_keeps_exactly_the_nonnegative_margins(run):
    step = int(run.t[-5])
    k = record_index(run, step)
    np.testing.assert_array_equal(select_clean(run, step), run.margins[k] >= 0)
    loose = select_clean(run, step, threshold=10.0)
    assert loose.sum() >= select_clean(run, step).sum()


def test_selection_quality_matches_counting_by_hand(run):
    step = int(run.t[3])
    sel = select_clean(run, step)
    clean = ~run.data.is_noisy
    q = selection_quality(run, step)
    precision = (sel & clean).sum() / sel.sum()
    recall = (sel & clean).sum() / clean.sum()
    assert q.precision == pytest.approx(precision)
    assert q.recall == pytest.approx(recall)
    assert q.f1 == pytest.approx(2 * precision * recall / (precision + recall))
    assert q.selected == sel.sum() and q.step == step


@pytest.mark.parametrize("bad", [7.5, -1, 10**6, "3", True])
def test_step_must_be_a_recorded_step_number(run, bad):
    with pytest.raises(ValueError, match="step"):
        select_clean(run, bad)


def test_unrecorded_step_is_refused_not_rounded():
    r = simulate(n=20, d=200, steps=30, record=10)
    with pytest.raises(ValueError, match="recorded step"):
        selection_quality(r, 15)
    assert selection_quality(r, 20).step == 20


@pytest.mark.parametrize("at_step", [own_class_noise, noise_vs_signal, filter_products, stuck_samples,
                                     lambda r, step: r.weights(step)],
                         ids=["own_class_noise", "noise_vs_signal", "filter_products", "stuck_samples", "weights"])
def test_every_view_at_a_time_takes_a_step_number_not_a_record_index(at_step):
    r = simulate(n=20, d=200, steps=30, record=10)
    # Record index 1 is step 10; step 1 was never recorded.
    with pytest.raises(ValueError, match="recorded step"):
        at_step(r, 1)
    at_step(r, 10)


def test_own_class_noise_at_a_step_is_that_step_of_the_whole_trajectory(run):
    step = int(run.t[7])
    np.testing.assert_array_equal(own_class_noise(run, step), own_class_noise(run)[7])
    assert own_class_noise(run).shape == (len(run.t), run.data.n)


def test_threshold_is_validated(run):
    with pytest.raises(ValueError, match="threshold"):
        select_clean(run, 0, threshold=-1.0)


def test_roc_auc_equals_pairwise_probability_with_ties():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=60).astype(float)
    positive = rng.random(60) < 0.3
    pos, neg = scores[positive], scores[~positive]
    diff = pos[:, None] - neg[None, :]
    brute = ((diff > 0) + 0.5 * (diff == 0)).mean()
    assert roc_auc(scores, positive) == pytest.approx(brute)
    assert roc_auc([1.0, 2.0, 3.0], [False, False, True]) == 1.0
    assert roc_auc([3.0, 2.0, 1.0], [False, False, True]) == 0.0
    assert math.isnan(roc_auc([1.0, 2.0], [False, False]))
    assert math.isnan(roc_auc([1.0, np.nan, 2.0], [False, True, True]))


@pytest.mark.parametrize("case", ["ties", "distinct", "extremes", "one"])
def test_average_ranks_are_scipys_exactly(case):
    """roc_auc ranks without scipy.stats (0.7 to 0.9 s to import): the ranks of scipy.stats.rankdata, bit for bit,
    and so its area."""
    from scipy.stats import rankdata

    from labelnoise_sim.analysis import _average_ranks

    rng = np.random.default_rng(len(case))
    scores = {"ties": rng.integers(0, 7, size=500).astype(float),
              "distinct": rng.standard_normal(1000) * 1e-3 + 0.69,
              "extremes": np.array([np.inf, -np.inf, 0.0, -0.0, 5e-324, np.inf, 1.0, -0.0]),
              "one": np.array([0.7])}[case]
    np.testing.assert_array_equal(_average_ranks(scores), rankdata(scores))
    positive = rng.random(scores.size) < 0.4
    positive[0], positive[-1] = True, False  # both classes (a single score has one: no area to compare)
    if 0 < positive.sum() < scores.size:
        n_pos = int(positive.sum())
        expected = (rankdata(scores)[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * (scores.size - n_pos))
        assert roc_auc(scores, positive) == expected


def test_log2_is_the_boundary_loss():
    assert LOG2 == pytest.approx(np.logaddexp(0.0, 0.0))


def test_skipping_the_test_error_keeps_every_key_and_stage(run, stages):
    quick = analyze(run, test_error=False)
    assert quick.t1 == stages.t1 and quick.t2 == stages.t2
    d = quick.to_dict()
    assert d.keys() == stages.to_dict().keys()
    for key in ("best_step", "best_test_error", "final_test_error", "test_error_at_t1", "early_stopping_gain"):
        assert d[key] is None, key
    assert "oracle" not in quick.summary()


def test_the_analysis_is_the_same_with_or_without_the_whole_test_error_curve():
    """Without the curve it screens at a rough precision first; the numbers it reports are the curve's."""
    fresh = analyze(simulate(n=80, d=800, eta=0.1, steps=400, seed=3))
    with_curve = simulate(n=80, d=800, eta=0.1, steps=400, seed=3)
    with_curve.test_error_estimate
    kept = analyze(with_curve)
    for name in ("best_step", "best_test_error", "final_test_error", "test_error_at_t1"):
        assert getattr(fresh, name) == getattr(kept, name), name
    k = record_index(with_curve, kept.best_step)
    assert kept.best_test_error == with_curve.test_error[k] == with_curve.test_error.min()

