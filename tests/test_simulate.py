"""Behaviour of simulate() and SimulationResult beyond exactness."""

import warnings

import numpy as np
import pytest

from labelnoise_sim import SimulationResult, load, simulate


@pytest.fixture(scope="module")
def default_run():
    return simulate(n=200, d=2000, eta=0.1)


def test_defaults_show_stage_one_then_stage_two(default_run):
    r = default_run
    stage_one = (r.train_acc_clean == 1.0) & (r.train_acc_noisy_true > 0.5)
    assert stage_one.any(), "some record fits every clean sample while most noisy ones keep their true label"
    assert r.train_acc_noisy[-1] == 1.0 and r.train_acc_clean[-1] == 1.0


def test_shapes_follow_records_class_filter_sample(default_run):
    r = default_run
    c = r.config
    K = len(r.t)
    assert r.t[0] == 0 and r.t[-1] == c.steps
    assert r.gamma.shape == (K, 2, c.m)
    assert r.rho.shape == (K, 2, c.m, c.n)
    assert r.outputs.shape == r.sample_loss.shape == (K, c.n)
    for name in ("train_loss", "test_error", "test_error_noisy", "train_acc_clean",
                 "train_acc_noisy", "train_acc_noisy_true"):
        assert getattr(r, name).shape == (K,), name
    assert r.data.xi.shape == (c.n, c.d) and r.data.mu.shape == (c.d,)
    assert r.data.W0.shape == (2, c.m, c.d)


def test_rho_splits_into_nonnegative_and_nonpositive_parts(default_run):
    r = default_run
    assert (r.rho_bar >= 0).all() and (r.rho_under <= 0).all()
    np.testing.assert_array_equal(r.rho_bar + r.rho_under, r.rho)
    # Memorisation lives in the filters of the observed label: ρ grows for j = ỹ_i only.
    j_of_label = np.where(r.data.y_noisy == 1, 0, 1)
    own = r.rho[-1][j_of_label, :, np.arange(r.config.n)]
    other = r.rho[-1][1 - j_of_label, :, np.arange(r.config.n)]
    assert (own >= 0).all() and (other <= 0).all()


def test_same_arguments_give_bit_identical_results():
    a = simulate(n=50, d=300, steps=300, seed=11)
    b = simulate(n=50, d=300, steps=300, seed=11)
    for name in ("gamma", "rho", "outputs", "test_error"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = simulate(n=50, d=300, steps=300, seed=12)
    assert not np.array_equal(a.outputs, c.outputs)


def test_save_and_load_round_trip_exactly(tmp_path, default_run):
    path = default_run.save(tmp_path / "run.npz")
    back = load(path)
    assert isinstance(back, SimulationResult)
    assert back.config == default_run.config
    for name in ("t", "gamma", "rho", "outputs", "test_error", "train_loss"):
        np.testing.assert_array_equal(getattr(back, name), getattr(default_run, name))
    for name in ("y", "y_noisy", "gram", "mu", "xi", "W0"):
        np.testing.assert_array_equal(getattr(back.data, name), getattr(default_run.data, name))


def test_record_every_k_steps_includes_the_last():
    r = simulate(n=20, d=100, steps=25, record=10)
    np.testing.assert_array_equal(r.t, [0, 10, 20, 25])


def test_explicit_record_steps_are_sorted_and_unique():
    r = simulate(n=20, d=100, steps=25, record=[25, 3, 3, 0])
    np.testing.assert_array_equal(r.t, [0, 3, 25])
    full = simulate(n=20, d=100, steps=25, record=1)
    np.testing.assert_array_equal(r.outputs, full.outputs[[0, 3, 25]])


@pytest.mark.slow  # 10^5 steps (5 s)
def test_hundred_thousand_steps_stay_finite_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = simulate(n=200, d=2000, eta=0.1, steps=100_000)
        arrays = [r.gamma, r.rho, r.outputs, r.sample_loss, r.train_loss]
    assert all(np.isfinite(a).all() for a in arrays)
    assert r.train_loss[-1] < 1e-3


def test_no_label_noise_has_no_noisy_samples():
    r = simulate(n=50, d=300, steps=50, tau=0.0)
    assert not r.data.is_noisy.any()
    assert np.isnan(r.train_acc_noisy).all()


def test_xarray_export_labels_every_dimension(default_run):
    pytest.importorskip("xarray")
    ds = default_run.to_xarray()
    assert ds["rho"].dims == ("t", "j", "r", "i")
    np.testing.assert_array_equal(ds["t"], default_run.t)
    np.testing.assert_array_equal(ds["rho"].sel(j=-1), default_run.rho[:, 1])
    np.testing.assert_array_equal(ds["train_acc_noisy"], default_run.train_acc_noisy)
    assert ds.attrs["n"] == default_run.config.n and ds.attrs["noise"] == "isotropic"
    np.testing.assert_array_equal(ds["test_error"], default_run.test_error)
    np.testing.assert_array_equal(ds["test_error_stderr"], default_run.test_error_estimate.stderr)
    assert "test_error" not in default_run.to_xarray(test_error=False)
