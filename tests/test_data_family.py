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
