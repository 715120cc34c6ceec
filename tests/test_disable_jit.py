"""Under NUMBA_DISABLE_JIT=1 every kernel runs as plain Python and gives the compiled numbers.

numba's standard debugging switch must work: each kernel and each vector
primitive is also an ordinary Python/NumPy function doing the same operations
in the same order. The pure-Python path is slow, so these runs are tiny, but
they reach every branch of the kernels: the 4-, 2- and 1-row tiles, the
columns the tiles leave, one and three strips of the incremental product, the
family kernel, the Monte Carlo test error and a batched sweep.
"""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from labelnoise_sim import simulate, sweep

RUNS = [
    dict(n=19, d=50, m=3, steps=30, record=10),
    dict(n=12, d=40, m=1, steps=20, record=5, noise="orthogonal", seed=3),
    dict(n=26, d=60, m=2, steps=12, record=4, sampling="gram", seed=5),
    # The family kernel: its gathers, leaky ReLU's dense row, decay and momentum, more patches; then SAM,
    # a stochastic schedule and the additive layout.
    dict(n=12, d=40, m=2, steps=10, record=5, activation="leaky_relu(0.1)", bias=True, momentum=0.5,
         weight_decay=0.01, patches=3),
    dict(n=10, d=30, m=2, steps=8, record=4, activation="relu^2", sam=0.05, batch_size=4, label_noise=0.1,
         layout="additive", loss="hinge"),
]
SWEEP = ({"seed": [0, 1]}, dict(n=10, d=30, m=2, steps=20, record=10))

SCRIPT = textwrap.dedent(f"""
    import pickle, sys
    import numba
    from labelnoise_sim import simulate, sweep
    assert numba.config.DISABLE_JIT
    runs = [simulate(**kwargs) for kwargs in {RUNS!r}]
    grid, fixed = {SWEEP!r}
    table = sweep(grid, fixed, backend="serial", progress=False).table.drop(columns="wall_time")
    out = [(r.gamma, r.rho, r.outputs, r.test_error) for r in runs]
    sys.stdout.buffer.write(pickle.dumps((out, table)))
""")


@pytest.fixture(scope="module")
def pure_python():
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, check=True)
    return pickle.loads(done.stdout)


def _assert_close(got, expected, name):
    scale = max(np.max(np.abs(expected)), 1e-300)
    assert np.max(np.abs(np.asarray(got) - expected)) <= 1e-10 * scale, name


@pytest.mark.parametrize("index", range(len(RUNS)))
def test_pure_python_simulate_gives_the_compiled_trajectory_and_test_error(pure_python, index):
    compiled = simulate(**RUNS[index])
    gamma, rho, outputs, test_error = pure_python[0][index]
    for name, got in (("gamma", gamma), ("rho", rho), ("outputs", outputs), ("test_error", test_error)):
        _assert_close(got, getattr(compiled, name), name)


def test_pure_python_sweep_gives_the_compiled_table(pure_python):
    grid, fixed = SWEEP
    compiled = sweep(grid, fixed, backend="serial", progress=False).table.drop(columns="wall_time")
    table = pure_python[1]
    assert list(table.columns) == list(compiled.columns)
    for column in compiled.columns:
        expected = compiled[column].to_numpy()
        if expected.dtype.kind == "f":
            np.testing.assert_allclose(table[column].to_numpy(), expected, rtol=1e-10, atol=0, err_msg=column)
        else:
            assert table[column].tolist() == compiled[column].tolist(), column
