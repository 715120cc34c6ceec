"""The data family through the rest of the library: result files, analysis, sweeps and the command line."""

import numpy as np
import pytest

from labelnoise_sim import load, simulate

SMALL = dict(n=30, d=150, m=3, eta=0.2, tau=0.2, steps=60, seed=2)
OPTIONS = {
    "xor": dict(features="xor"),
    "common_rare explicit": dict(features="common_rare(0.2)", patches=3),
    "classes=3 gram": dict(classes=3, sampling="gram"),
    "two logits": dict(loss="cross_entropy"),
    "trained + momentum": dict(output_layer="trained", momentum=0.5, features="xor", bias=True),
}


@pytest.mark.parametrize("params", OPTIONS.values(), ids=OPTIONS.keys())
def test_a_result_file_restores_the_run_bit_for_bit(params, tmp_path):
    result = simulate(**SMALL, **params, progress=False)
    back = load(result.save(tmp_path / "run.npz"))
    assert back.config == result.config
    for name in ("t", "gamma", "rho", "outputs", "output_weights"):
        np.testing.assert_array_equal(getattr(back, name), getattr(result, name))
    for name in ("y", "y_noisy", "gram", "signal_index", "signal_sign"):
        np.testing.assert_array_equal(getattr(back.data, name), getattr(result.data, name))
    if result.data.has_vectors:
        np.testing.assert_array_equal(back.data.patches(), result.data.patches())
    if result.velocity is not None:
        np.testing.assert_array_equal(back.velocity.output_weights, result.velocity.output_weights)


def test_a_file_with_a_label_outside_the_classes_is_refused(tmp_path):
    result = simulate(**SMALL, classes=3, progress=False)
    path = result.save(tmp_path / "run.npz")
    arrays = dict(np.load(path))
    arrays["y"] = np.where(arrays["y"] == 2, 3, arrays["y"])
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"member .y. holds a label other than 0, \.\.\., 2"):
        load(path)


def test_noise_against_signal_reads_each_samples_own_signal_vector():
    """Theorem 4.1's comparison with several signal vectors: the coefficient of the sample's own u_k, aligned."""
    from labelnoise_sim.analysis import noise_vs_signal

    result = simulate(**SMALL, features="xor", progress=False)
    data, step = result.data, int(result.t[-1])
    _, signal = noise_vs_signal(result, step)
    noisy = np.flatnonzero(data.is_noisy)
    gamma = result.gamma[-1]  # (2, m, 2), the binary sign j carried
    for position, i in enumerate(noisy):
        cls = 0 if data.y[i] == 1 else 1
        j = 1.0 if cls == 0 else -1.0
        expected = max(data.signal_sign[i] * j * gamma[cls, r, data.signal_index[i]] for r in range(result.config.m))
        assert signal[position] == expected
    # Learnt: each class's filters align with its signal patches, whichever sign the patch has.
    assert (signal > 0).all()


@pytest.mark.parametrize("params", [dict(features="xor"), dict(classes=3), dict(features="common_rare(0.2)")],
                         ids=["xor", "classes=3", "common_rare"])
def test_the_stages_are_found_in_the_data_family(params):
    from labelnoise_sim import analyze

    result = simulate(**{**SMALL, "steps": 300}, **params, progress=False)
    analysis = analyze(result, test_error=False)
    assert analysis.t1 is not None and (analysis.t2 is None or analysis.t1 <= analysis.t2)
    assert result.train_acc_clean[list(result.t).index(analysis.t1)] == 1.0
    assert analysis.stuck_samples_end is None  # not counted with several signal vectors or classes


def test_the_holdout_rule_refuses_the_data_family_by_name():
    from labelnoise_sim.early_stopping import simulate_holdout

    with pytest.raises(ValueError, match="features='xor'"):
        simulate_holdout(**SMALL, features="xor")


def test_a_sweep_over_the_data_family_resumes_from_its_store(tmp_path, count_cells):
    from labelnoise_sim import sweep

    grid = {"features": ["single", "common_rare(0.2)"], "output_layer": ["fixed", "trained"]}
    fixed = dict(n=30, d=150, m=3, steps=80, classes=3)
    first = sweep(grid, fixed, test_error=False, backend="serial", progress=False, store=tmp_path / "store")
    assert len(count_cells) == 4
    table = first.table
    assert len(table) == 4 and table["t1"].notna().all()
    count_cells.clear()
    again = sweep(grid, fixed, test_error=False, backend="serial", progress=False, store=tmp_path / "store")
    assert count_cells == []
    assert again.table["t1"].tolist() == table["t1"].tolist()


@pytest.mark.parametrize("options", [["--features", "xor"], ["--classes", "3", "--output_layer", "trained"]],
                         ids=["xor", "classes=3 trained"])
def test_the_command_line_runs_the_data_family(options, tmp_path, capsys):
    from labelnoise_sim.cli import main

    tiny = ["--n", "24", "--d", "120", "--m", "3", "--steps", "60", "--no-progress"]
    assert main(["run", *tiny, *options, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"features={'xor' if 'xor' in options else 'single'}" in out.splitlines()[0]
    assert "clean test error: best" in out
    result = load(tmp_path / "result.npz")
    assert result.config.features == ("xor" if "xor" in options else "single")
    assert (tmp_path / "stages.png").stat().st_size > 0


@pytest.mark.parametrize("params", [dict(features="xor"), dict(classes=3, features="common_rare(0.2)")],
                         ids=["xor", "classes=3 common_rare"])
def test_to_xarray_labels_the_data_familys_axes(params):
    pytest.importorskip("xarray")
    result = simulate(**SMALL, **params, progress=False)
    dataset = result.to_xarray(test_error=False)
    config = result.config
    group = "c" if config.multiclass else "j"
    assert dataset["gamma"].dims == ("t", group, "r", "s")
    assert dataset.sizes["s"] == config.signal_vectors
    np.testing.assert_array_equal(dataset["gamma"].values, result.gamma)
    np.testing.assert_array_equal(dataset["outputs"].values, result.outputs)
    assert dataset["outputs"].dims == (("t", "i", "o") if config.multiclass else ("t", "i"))
    np.testing.assert_array_equal(dataset["signal_index"].values, result.data.signal_index)
