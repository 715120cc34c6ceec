"""The model family's plumbing: schedules, data layouts, exact flips, batches and chunks, files, analysis.

Exactness against gradient descent on the raw weights is in
tests/test_family_equivalence.py; the test error in tests/test_test_error_family.py.
"""

import numpy as np
import pytest

from labelnoise_sim import SimulationConfig, analyze, load, run_many, simulate
from labelnoise_sim import dynamics
from labelnoise_sim.analysis import select_clean, small_loss_threshold, stuck_samples
from labelnoise_sim.cli import main
from labelnoise_sim.cli.sweep import parse_values
from labelnoise_sim.cli._options import parse_bool
from labelnoise_sim.schedule import schedule, step_weights, steps_per_epoch

SMALL = dict(n=30, d=120, m=3, steps=120)


def test_every_epoch_visits_every_sample_once_in_batches_of_the_given_size():
    config = SimulationConfig(n=23, batch_size=5, steps=40)
    assert steps_per_epoch(config) == 5
    for epoch in range(3):
        batches = [schedule(config, epoch * 5 + p)[0] for p in range(5)]
        assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
        assert sorted(np.concatenate(batches).tolist()) == list(range(23))
    # A fresh permutation each epoch.
    assert not np.array_equal(schedule(config, 0)[0], schedule(config, 5)[0])


def test_the_kernel_schedule_is_the_replayed_schedule():
    config = SimulationConfig(n=17, batch_size=4, label_noise=0.3, steps=3000)
    eps, inverse = step_weights(config, 1020, 1030)  # across a block of label draws
    for t in range(1020, 1030):
        indices, signs = schedule(config, t)
        assert np.count_nonzero(eps[t - 1020]) == len(indices) and inverse[t - 1020] == 1 / len(indices)
        np.testing.assert_array_equal(eps[t - 1020, indices], signs)


def test_label_noise_flips_labels_at_its_rate_afresh_every_step():
    config = SimulationConfig(n=200, label_noise=0.2, steps=5000)
    eps, _ = step_weights(config, 0, 2000)
    rate = (eps == -1).mean()
    # 400,000 Bernoulli(0.2) draws: standard error 6.3e-4.
    assert abs(rate - 0.2) < 5 * np.sqrt(0.2 * 0.8 / eps.size)
    assert not np.array_equal(eps[0], eps[1])


def test_full_batch_runs_use_every_sample_with_its_own_label():
    indices, signs = schedule(SimulationConfig(n=9, steps=3), 1)
    np.testing.assert_array_equal(indices, np.arange(9))
    np.testing.assert_array_equal(signs, np.ones(9))


@pytest.mark.parametrize("tau_pos, tau_neg", [(0.2, 0.2), (0.05, 0.35), (0.0, 0.49)])
def test_exact_flips_flip_round_tau_times_each_class(tau_pos, tau_neg):
    result = simulate(n=101, d=20, steps=0, tau_pos=tau_pos, tau_neg=tau_neg, flips="exact", seed=4)
    y, noisy = result.data.y, result.data.is_noisy
    assert noisy[y == 1].sum() == round(tau_pos * (y == 1).sum())
    assert noisy[y == -1].sum() == round(tau_neg * (y == -1).sum())


def test_more_noise_patches_give_each_sample_its_own_noise_vectors():
    result = simulate(**SMALL, patches=4, bias=True)
    data = result.data
    assert data.xi.shape == (30, 3, 120) and data.n_vectors == 90
    assert result.rho.shape == (len(result.t), 2, 3, 30, 3)
    np.testing.assert_array_equal(data.b0, np.zeros((2, 3)))
    np.testing.assert_allclose(data.gram[1:91, 1:91], data.xi.reshape(90, -1) @ data.xi.reshape(90, -1).T,
                               rtol=1e-12)


def test_the_family_kernel_runs_the_paper_model_as_the_paper_kernel_does():
    # With m = 1, output_scale "sum" is the paper's model, run by run_family instead of run_dynamics.
    paper = simulate(**{**SMALL, "m": 1}, record=1, seed=2)
    family = simulate(**{**SMALL, "m": 1}, record=1, seed=2, output_scale="sum")
    assert paper.config.paper_model and not family.config.paper_model
    assert np.max(np.abs(paper.outputs - family.outputs)) < 1e-13 * np.max(np.abs(paper.outputs))


OPTIONS = [dict(activation="relu^2", label_noise=0.1, batch_size=7), dict(momentum=0.9, weight_decay=0.01, bias=True),
           dict(sam=0.05, patches=3, activation="leaky_relu(0.2)"), dict(layout="additive", loss="hinge")]


@pytest.mark.slow  # compiles the family's threaded batch kernel, which nothing else in the main suite runs (27 s)
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o))
def test_chunks_threads_and_batches_change_no_bit_of_a_family_run(options, monkeypatch):
    configs = [SimulationConfig(**SMALL, seed=s, record=7, **options) for s in range(3)]
    alone = [run_many([c])[0] for c in configs]
    together = run_many(configs, parallel=True)
    monkeypatch.setattr(dynamics, "CHUNK_WORK", 1)  # one step a kernel call
    chunked = run_many(configs, parallel=False)
    for a, b, c in zip(alone, together, chunked):
        for name in ("gamma", "rho", "outputs", "alpha", "bias"):
            x, y, z = getattr(a, name), getattr(b, name), getattr(c, name)
            assert (x is None) == (y is None) == (z is None)
            if x is not None:
                np.testing.assert_array_equal(x, y)
                np.testing.assert_array_equal(x, z)


@pytest.mark.parametrize("options", OPTIONS + [dict(momentum=0.5)], ids=lambda o: ",".join(o))
def test_family_results_round_trip_through_a_file(options, tmp_path):
    result = simulate(**SMALL, **options)
    back = load(result.save(tmp_path / "r.npz"))
    for name in ("gamma", "rho", "outputs", "alpha", "bias"):
        a, b = getattr(result, name), getattr(back, name)
        assert (a is None and b is None) or np.array_equal(a, b)
    assert (result.velocity is None) == (back.velocity is None)
    for a, b in zip(result.velocity or (), back.velocity or ()):
        assert (a is None and b is None) or np.array_equal(a, b)
    np.testing.assert_array_equal(result.data.xi, back.data.xi)


def test_momentum_records_its_buffer_and_decay_its_factor():
    result = simulate(**SMALL, momentum=0.9, weight_decay=0.01, record=1)
    lam, eta = 0.01, result.config.eta
    # Without a loss gradient on α, its buffer follows v ← 0.9 v + λ α and α ← α - η v exactly.
    alpha, v = 1.0, 0.0
    for k in range(len(result.t)):
        assert result.alpha[k] == alpha and result.velocity.alpha[k] == v
        v = 0.9 * v + lam * alpha
        alpha -= eta * v


def test_the_small_loss_rule_takes_each_loss_at_the_boundary():
    assert small_loss_threshold("logistic") == pytest.approx(np.log(2))
    assert small_loss_threshold("hinge") == small_loss_threshold("exponential") == 1.0
    hinge = simulate(**SMALL, loss="hinge")
    np.testing.assert_array_equal(select_clean(hinge, hinge.t[-1]), hinge.margins[-1] >= 0)
    squared = simulate(**SMALL, loss="squared")
    with pytest.raises(ValueError, match="undefined for loss='squared'"):
        select_clean(squared, squared.t[-1])
    stages = analyze(squared, test_error=False)
    assert stages.selection_end is None and stages.selection_t1 is None


def test_leaky_relu_has_no_stuck_samples():
    result = simulate(**SMALL, activation="leaky_relu(0.1)")
    assert analyze(result, test_error=False).stuck_samples_end is None
    with pytest.raises(ValueError, match="slope 0 below zero"):
        stuck_samples(result, result.t[-1])


@pytest.mark.parametrize("params, message", [
    (dict(layout="additive", patches=3), "patches must be 2"),
    (dict(n=10, batch_size=11), r"batch_size must be None or an integer in \[1, n\] = \[1, 10\]; got 11"),
    (dict(activation="relu^1"), "activation must be 'relu'"),
    (dict(bias=1), "bias must be True or False; got 1"),
])
def test_options_that_do_not_fit_together_are_refused_by_name(params, message):
    with pytest.raises(ValueError, match=message):
        SimulationConfig(**params)


def test_equal_activations_are_equal_configurations():
    assert SimulationConfig(activation=" leaky_relu( .10 )") == SimulationConfig(activation="leaky_relu(0.1)")
    assert SimulationConfig(activation="relu^2.0").activation == "relu^2"


def test_grid_values_keep_parentheses_and_read_booleans():
    assert parse_values("relu,smoothed_relu(3,0.5),leaky_relu(0.1)", str) == [
        "relu", "smoothed_relu(3,0.5)", "leaky_relu(0.1)"]
    assert parse_values("true,false", parse_bool) == [True, False]


def test_the_command_line_runs_a_family_model(tmp_path):
    out = tmp_path / "out"
    code = main(["run", "--n", "30", "--d", "100", "--steps", "60", "--activation", "leaky_relu(0.1)",
                 "--bias", "true", "--momentum", "0.5", "--patches", "3", "--out", str(out)])
    assert code == 0
    result = load(out / "result.npz")
    assert result.config.activation == "leaky_relu(0.1)" and result.config.bias and result.bias is not None
    assert "Stage I" in (out / "summary.txt").read_text()


@pytest.mark.parametrize("options", [dict(patches=3, bias=True), dict(layout="additive", bias=True),
                                     dict(weight_decay=0.05)], ids=lambda o: ",".join(o))
def test_stuck_samples_are_those_whose_own_filters_are_inactive_on_every_patch(options):
    result = simulate(n=40, d=400, m=1, steps=100, seed=0, sigma0=0.1, record=[0, 2, 100], **options)
    data, c = result.data, result.config
    xi = data.xi.reshape(c.n, c.noise_patches, c.d)
    for k, step in enumerate(result.t):
        W = result.weights(step)  # (2, 1, d)
        b = np.zeros((2, 1)) if result.bias is None else result.bias[k]
        signal = (W @ data.mu)[:, :, None] * data.y + b[:, :, None]  # (2, 1, n)
        noise = np.einsum("jrd,ipd->jrip", W, xi) + b[:, :, None, None]  # (2, 1, n, P - 1)
        if c.layout == "additive":
            active = (signal + noise[..., 0] > 0).any(axis=1)
        else:
            active = (signal > 0).any(axis=1) | (noise > 0).any(axis=(1, 3))
        own = np.where(data.y_noisy == 1, 0, 1)
        expected = ~active[own, np.arange(c.n)] & ~result.fitted[k]
        np.testing.assert_array_equal(stuck_samples(result, step), expected)
    assert stuck_samples(result, result.t[0]).any()  # the case has stuck samples to find


@pytest.mark.parametrize("options", [dict(patches=3, bias=True, activation="relu^2"),
                                     dict(layout="additive", activation="leaky_relu(0.1)", weight_decay=0.01),
                                     dict(output_scale="sum", activation="smoothed_relu(3,0.5)")],
                         ids=lambda o: ",".join(o))
def test_held_out_outputs_of_the_family_are_the_network_the_run_trained(options):
    from labelnoise_sim.early_stopping import holdout_outputs, simulate_holdout

    result = simulate(**SMALL, record=20, **options)
    N, m = result.data.n_vectors, result.config.m
    rows = np.r_[0, 1 + np.arange(N), 1 + N + np.arange(2 * m)]
    # The training samples seen as new samples: their outputs are the recorded ones.
    again = holdout_outputs(result, result.data.gram[np.ix_(rows, 1 + np.arange(N))], result.data.gram[rows, 0],
                            result.data.y)
    np.testing.assert_allclose(again, result.outputs, rtol=1e-10, atol=1e-12 * np.abs(result.outputs).max())
    assert simulate_holdout(**SMALL, **options).stop_step > 0


@pytest.mark.slow  # worker processes that load the family's kernels (5 s)
def test_a_family_sweep_gives_the_same_table_in_worker_processes():
    pytest.importorskip("pandas")
    from labelnoise_sim import sweep

    grid = {"activation": ["relu", "relu^2"], "sam": [0.0, 0.05]}
    fixed = dict(n=30, d=100, steps=60, label_noise=0.1, batch_size=10)
    here = sweep(grid, fixed, backend="serial", progress=False).table.drop(columns="wall_time")
    there = sweep(grid, fixed, backend="processes", workers=2, progress=False).table.drop(columns="wall_time")
    assert here.equals(there)
