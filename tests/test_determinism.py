"""The same bits whatever the BLAS threads, the numba threads or the backend.

Every product that feeds a trajectory, a test error or a test loss is formed by the
library's own kernels in a fixed order, never by BLAS, whose bits depend on
how many threads split the work. BLAS splits only large enough products, so
the checks run at n = 160, d = 1300, where a threaded BLAS did give other
bits (7e-15 in ρ after 20,000 steps).
"""

import os
import pickle
import platform
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from labelnoise_sim import _kernels, simulate, sweep

RUNS = [dict(n=160, d=1300, steps=300, record=100), dict(n=160, d=1300, steps=300, record=100, sampling="gram")]

SCRIPT = textwrap.dedent(f"""
    import pickle, sys
    from labelnoise_sim import simulate
    runs = [simulate(**kwargs) for kwargs in {RUNS!r}]
    out = [(r.data.gram, r.gamma, r.rho, r.outputs, r.test_error, r.test_loss) for r in runs]
    sys.stdout.buffer.write(pickle.dumps(out))
""")
ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}


def _sequential_gram(V):
    S = np.zeros((V.shape[0], V.shape[0]))
    for k in range(V.shape[1]):
        S += V[:, k : k + 1] * V[:, k]
    return S


@pytest.mark.parametrize("p, d", [(3, 5), (8, 7), (9, 300), (24, 50), (37, 600), (64, 513), (170, 1300)])
def test_gram_kernel_is_the_sequential_sum_and_exactly_symmetric(p, d):
    V = np.random.default_rng(p * d).standard_normal((p, d))
    S = _kernels.gram(V)
    np.testing.assert_array_equal(S, _sequential_gram(V))
    np.testing.assert_array_equal(S, S.T)
    # V padded with zero rows to a multiple of 16, as the data's callers give it: the strips alone, the same bits.
    padded = np.zeros((_kernels.gram_rows(p), d))
    padded[:p] = V
    np.testing.assert_array_equal(_kernels.gram(padded, p), S)


@pytest.mark.parametrize("p, d", [(37, 600), (170, 1300)])
def test_threaded_gram_kernel_gives_the_bits_of_one_thread(p, d, monkeypatch):
    V = np.random.default_rng(p).standard_normal((p, d))
    one_thread = _kernels.gram(V)
    monkeypatch.setattr(_kernels._gram, "GRAM_PARALLEL_WORK", 0)  # threads for any size (read where gram is)
    np.testing.assert_array_equal(_kernels.gram(V), one_thread)
    np.testing.assert_array_equal(one_thread, _sequential_gram(V))


def test_simulate_gives_the_same_bits_with_one_thread_everywhere_and_with_two():
    env = {**os.environ, **ONE_THREAD}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, check=True)
    one_thread = pickle.loads(done.stdout)
    for kwargs, theirs in zip(RUNS, one_thread):
        ours = simulate(**kwargs)
        mine = (ours.data.gram, ours.gamma, ours.rho, ours.outputs, ours.test_error, ours.test_loss)
        for name, a, b in zip(("gram", "gamma", "rho", "outputs", "test_error", "test_loss"), mine, theirs):
            np.testing.assert_array_equal(a, b, err_msg=f"{name} of {kwargs}")


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="OpenBLAS core types named here are x86's")
def test_simulate_gives_the_same_bits_whichever_blas_kernel_the_cpu_selects():
    """OPENBLAS_CORETYPE picks OpenBLAS's kernels as another CPU would (Prescott: SSE3 only, any x86-64 runs it).
    LAPACK's eigensolver gave other bits in the test error under it; the library's own root does not."""
    env = {**os.environ, "OPENBLAS_CORETYPE": "Prescott"}
    env.pop("OPENBLAS_L2_SIZE", None)
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, check=True)
    for kwargs, theirs in zip(RUNS, pickle.loads(done.stdout)):
        ours = simulate(**kwargs)
        mine = (ours.data.gram, ours.gamma, ours.rho, ours.outputs, ours.test_error)
        for name, a, b in zip(("gram", "gamma", "rho", "outputs", "test_error"), mine, theirs):
            np.testing.assert_array_equal(a, b, err_msg=f"{name} of {kwargs}")


def test_the_covariance_roots_are_square_roots_with_the_eigenvalues_of_lapack():
    from labelnoise_sim.generalization import _roots

    rng = np.random.default_rng(5)
    for D, rank in ((1, 1), (4, 4), (20, 20), (20, 7), (60, 60)):
        a = rng.standard_normal((3, D, rank))
        cov = a @ a.transpose(0, 2, 1)
        cov = 0.5 * (cov + cov.transpose(0, 2, 1))
        roots = _roots(cov)
        scale = np.abs(cov).max()
        np.testing.assert_allclose(roots @ roots.transpose(0, 2, 1), cov, rtol=0, atol=1e-13 * D * scale)
        # Column norms are the eigenvalues, ascending (negative rounding of a singular one clipped to 0).
        lam = np.clip(np.linalg.eigvalsh(cov), 0.0, None)
        np.testing.assert_allclose((roots**2).sum(axis=1), lam, rtol=0, atol=1e-13 * D * scale)
    assert not _roots(np.zeros((1, 5, 5))).any()


def test_serial_and_process_sweeps_agree_bit_for_bit_where_blas_splits():
    grid = {"seed": [0, 1]}
    fixed = dict(n=160, d=1300, steps=200, record=50)
    serial = sweep(grid, fixed, backend="serial", progress=False).table.drop(columns="wall_time")
    processes = sweep(grid, fixed, backend="processes", workers=2, progress=False).table.drop(columns="wall_time")
    assert serial.equals(processes)



# The parallel draw of explicit sampling ------------------------------------------------------------------

import numba  # noqa: E402

from labelnoise_sim import SimulationConfig  # noqa: E402
from labelnoise_sim import data as data_module  # noqa: E402
from labelnoise_sim.data import sample_data, seed_streams, substream  # noqa: E402


def _with_threads(count, call):
    previous = numba.get_num_threads()
    numba.set_num_threads(count)
    try:
        return call()
    finally:
        numba.set_num_threads(previous)


def _blocks(seed, name, rows, d, per_block, scale):
    """What a parallel draw of (rows, d) gives: block k, of per_block rows, drawn by substream(seed, name, k)."""
    starts = range(0, rows, per_block)
    return scale * np.concatenate([substream(seed, name, k).standard_normal((min(per_block, rows - start), d))
                                   for k, start in enumerate(starts)])


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two numba threads")
@pytest.mark.parametrize("params", [dict(n=50, d=300, sigma_xi=0.7), dict(n=30, d=200, patches=3, noise="orthogonal"),
                                    dict(n=20, d=5000, m=40)], ids=str)
def test_the_parallel_draw_gives_the_same_bits_with_one_thread_and_two(params, monkeypatch):
    # Thresholds lowered so that these small draws are split, into blocks of 3 rows (ξ and W0 alike).
    monkeypatch.setattr(data_module, "PARALLEL_NORMALS", 3000)
    monkeypatch.setattr(data_module, "BLOCK_NORMALS", 3 * params["d"] + params["d"] // 2)
    config = SimulationConfig(**params)
    one, two = (_with_threads(k, lambda: sample_data(config)) for k in (1, 2))
    for name in ("gram", "xi", "W0"):
        assert getattr(one, name).tobytes() == getattr(two, name).tobytes(), name
    # Block k is drawn by substream(seed, name, k), then scaled: not the stream's own normals.
    seed, d, N, filters = config.seed, config.d, config.n * config.noise_patches, 2 * config.m
    xi = _blocks(seed, "noise", N, d, 3, config.sigma_xi)
    if config.noise == "orthogonal":
        xi[:, 0] = 0.0
    assert one.xi.reshape(N, d).tobytes() == xi.tobytes()
    assert one.W0.reshape(filters, d).tobytes() == _blocks(seed, "init", filters, d, 3, config.sigma0).tobytes()
    assert not np.array_equal(one.xi.reshape(N, d)[:, 1:],
                              config.sigma_xi * seed_streams(seed)["noise"].standard_normal((N, d))[:, 1:])


def test_below_the_threshold_a_draw_is_the_stream_s_own(monkeypatch):
    # Every explicit result of the documentation lies below the threshold (the largest draws 2e7 normals).
    assert data_module.PARALLEL_NORMALS == 2**25 > 200 * 100_000
    for threshold, split in ((78, False), (77, True)):
        monkeypatch.setattr(data_module, "PARALLEL_NORMALS", threshold)
        monkeypatch.setattr(data_module, "BLOCK_NORMALS", 22)
        out = np.empty((7, 11))
        data_module._standard_normals(out, 0.3, seed_streams(4)["noise"], 4, "noise")
        one_generator = 0.3 * seed_streams(4)["noise"].standard_normal((7, 11))
        expected = _blocks(4, "noise", 7, 11, 2, 0.3) if split else one_generator
        assert out.tobytes() == expected.tobytes()
