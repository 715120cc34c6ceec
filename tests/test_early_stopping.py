"""Held-out early stopping: exact held-out outputs and a stop that never reads the test set."""

import numpy as np
import pytest

from labelnoise_sim import simulate
from labelnoise_sim.early_stopping import holdout_outputs, simulate_holdout


@pytest.fixture(scope="module")
def holdout_run():
    return simulate_holdout(n=60, d=600, steps=300, seed=2, holdout=0.25, criterion="error")


def test_training_part_is_the_first_samples_of_the_same_draw(holdout_run):
    full = simulate(n=60, d=600, steps=0, seed=2)
    train = holdout_run.result
    assert train.config.n == 45 and holdout_run.val_y.shape == (15,)
    np.testing.assert_array_equal(train.data.y_noisy, full.data.y_noisy[:45])
    np.testing.assert_array_equal(holdout_run.val_y_noisy, full.data.y_noisy[45:])
    np.testing.assert_array_equal(train.data.xi, full.data.xi[:45])
    assert train.config.mu_norm == full.config.mu_norm


def test_outputs_formula_reproduces_training_outputs(holdout_run):
    r = holdout_run.result
    n, gram = r.data.n, r.data.gram
    out = holdout_outputs(r, gram[:, 1 : 1 + n], gram[:, 0], r.data.y)
    np.testing.assert_allclose(out, r.outputs, rtol=1e-10, atol=1e-12)


def test_held_out_outputs_match_the_rebuilt_filters(holdout_run):
    r = holdout_run.result
    full = simulate(n=60, d=600, steps=0, seed=2)
    xi_val, mu = full.data.xi[45:], full.data.mu
    k = len(r.t) - 1
    W = r.weights(r.t[k])  # (2, m, d)
    relu = lambda z: np.maximum(z, 0.0)
    signal = relu(np.einsum("jrd,d->jr", W, mu)[:, :, None] * holdout_run.val_y)
    noise = relu(np.einsum("jrd,vd->jrv", W, xi_val))
    f = (signal + noise).mean(axis=1)
    np.testing.assert_allclose(holdout_run.val_outputs[k], f[0] - f[1], rtol=1e-9, atol=1e-12)


def test_stop_is_the_latest_least_held_out_error(holdout_run):
    err = holdout_run.val_error_noisy
    k = holdout_run.stop_index
    trained = err[1:]  # record 0 is step 0, the untrained network
    assert holdout_run.result.t[1] == 1
    assert err[k] == trained.min() and (err[k + 1 :] > trained.min()).all()
    assert holdout_run.stop_step == holdout_run.result.t[k]
    assert holdout_run.stop_test_error == holdout_run.result.test_error[k]


def test_loss_is_the_default_criterion_and_minimises_held_out_loss():
    h = simulate_holdout(n=60, d=600, steps=100, seed=2)
    assert h.criterion == "loss"
    assert h.val_loss_noisy[h.stop_index] == h.val_loss_noisy[1:].min()


def test_untrained_network_is_never_the_stop():
    h = simulate_holdout(n=40, d=200, steps=0, seed=2)
    assert h.stop_step == 0  # nothing else recorded
    h = simulate_holdout(n=40, d=200, steps=50, seed=2, record=[0, 50])
    assert h.stop_step == 50


@pytest.mark.parametrize("kwargs, name", [
    (dict(holdout=0.0), "holdout"), (dict(holdout=1.0), "holdout"),
    (dict(criterion="accuracy"), "criterion"), (dict(eta=-1.0), "eta"), (dict(n=1), "holdout"),
])
def test_bad_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        simulate_holdout(**{"d": 100, "steps": 5, **kwargs})
