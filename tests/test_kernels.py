"""The fast kernels compute exactly what their plain definitions compute."""

import numpy as np
import pytest
import numba
from numba import njit

from labelnoise_sim import _kernels
from labelnoise_sim.data import seed_streams


@njit
def _tiled(rho, G, B):
    _kernels.accumulate_product(rho, G, B)


def _sequential(rho, G, B):
    """B += ρ G with each sum in ascending i, one multiply and one add per term."""
    out = B.copy()
    for i in range(rho.shape[1]):
        out += rho[:, i : i + 1] * G[i]
    return out


@pytest.mark.parametrize("rows, inner, cols", [(20, 200, 200), (6, 37, 37), (7, 13, 45), (1, 5, 3), (9, 20, 260)])
def test_register_tiled_product_is_bit_identical_to_the_sequential_sum(rows, inner, cols):
    rng = np.random.default_rng(rows * inner + cols)
    rho = rng.standard_normal((rows, inner))
    rho[rng.random(rho.shape) < 0.3] = 0.0  # exact zeros are skipped by the edge loops
    G = rng.standard_normal((inner, cols))
    B = rng.standard_normal((rows, cols))
    expected = _sequential(rho, G, B)
    _tiled(rho, G, B)
    np.testing.assert_array_equal(B, expected)
    # Non-contiguous operands take the plain loops, with the same result.
    B2 = np.asfortranarray(expected - expected)
    _tiled(rho, np.asfortranarray(G), B2)
    np.testing.assert_array_equal(B2, _sequential(rho, G, np.zeros_like(B)))


def _sparse_increment(B, w, jsign, G, P):
    """P + j_q Σ_{i: B[q, i] > 0} w_i G[i], block by block of GATHER_BLOCK i.

    Each block's sum starts from zero and runs in ascending i, one multiply
    and one add per term, then is multiplied by j_q and added to P.
    """
    out = P.copy()
    block = _kernels.GATHER_BLOCK
    for q in range(B.shape[0]):
        for start in range(0, B.shape[1], block):
            total = np.zeros(G.shape[1])
            for i in start + np.flatnonzero(B[q, start : start + block] > 0):
                total += w[i] * G[i]
            out[q] += jsign[q] * total
    return out


@pytest.mark.parametrize("q2, n", [(20, 200), (6, 37), (8, 48), (2, 9), (4, 5), (3, 64), (3, 300), (2, 520)])
def test_sparse_increment_is_bit_identical_to_the_sequential_sum(q2, n):
    """The gather tiles (strips of 3 and 1, blocks of i, leftover columns in loops) add what the plain sum adds."""
    rng = np.random.default_rng(q2 * n)
    B = rng.standard_normal((q2, n))
    B[0] = -1.0  # a filter active on no sample
    w, G, P = rng.standard_normal(n), rng.standard_normal((n, n)), rng.standard_normal((q2, n))
    jsign = np.repeat([1.0, -1.0], q2 - q2 // 2)[:q2]
    expected = _sparse_increment(B, w, jsign, G, P)
    strips = _kernels.pack_strips(G)
    # Whole; cut into two ranges of rows, or into two or three parts of the columns, as run_dynamics_halves cuts it.
    for cut, parts in ((q2, 1), (q2 // 2, 1), (q2 // 2, 2), (q2 // 2, 3)):
        out = P.copy()
        _increment(B, w, jsign, strips, G, out, np.empty((q2, n), np.uint32), cut, parts)
        np.testing.assert_array_equal(out, expected)


@njit
def _increment(B, w, jsign, strips, G, P, idx, cut, parts):
    """The run kernels' P += Δρ G (inner kernels: no CPython wrapper): ``_kernels._active_lists`` on the rows
    below ``cut`` and then on the others; then ``_kernels._accumulate_increment`` on the same two ranges of
    rows (parts = 1) or on all rows in ``parts`` parts of the columns."""
    q2, n = B.shape
    starts = _kernels._list_starts(q2, n)
    lo, q2 = np.int64(0), np.int64(q2)
    _kernels._active_lists(B, True, idx, starts, lo, np.int64(cut))
    _kernels._active_lists(B, True, idx, starts, np.int64(cut), q2)
    if parts == 1:
        _kernels._accumulate_increment(w, jsign, strips, G, P, idx, starts, lo, np.int64(cut), lo, np.int64(1))
        _kernels._accumulate_increment(w, jsign, strips, G, P, idx, starts, np.int64(cut), q2, lo, np.int64(1))
    else:
        for part in range(parts):
            _kernels._accumulate_increment(w, jsign, strips, G, P, idx, starts, lo, q2, np.int64(part),
                                           np.int64(parts))


def _relative_gap(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@njit
def _recomputing_run(stats, m, eta, steps, f_out):
    """The step functions composed: products (ρ G recomputed), network_outputs, update; f at the last step."""
    a0, b0, c, e, G = stats.a0[0], stats.b0[0], stats.c[0], stats.e[0], stats.G[0]
    mu_sq, xi_sq, y, y_noisy = stats.mu_sq[0], stats.xi_sq[0], stats.y[0], stats.y_noisy[0]
    jsign = _kernels.class_signs(m)
    n = y.shape[0]
    gamma, rho = np.zeros(2 * m), np.zeros((2 * m, n))
    A, B, g = np.empty(2 * m), np.empty((2 * m, n)), np.empty(n)
    for t in range(steps + 1):
        _kernels.products(gamma, rho, a0, b0, c, e, G, jsign, A, B)
        _kernels.network_outputs(A, B, y, jsign, m, f_out)
        if t < steps:
            _kernels.update(gamma, rho, A, B, f_out, y, y_noisy, mu_sq, xi_sq, jsign, eta / (n * m), g)


def _run_dynamics(config, record_steps, kernel=None, chunk=None):
    from labelnoise_sim.data import sample_data
    from labelnoise_sim.dynamics import kernel_statistics

    stats = kernel_statistics([sample_data(config)])
    n, m, K = config.n, config.m, len(record_steps)
    gamma_out, rho_out, f_out = np.empty((K, 2 * m)), np.empty((K, 2 * m, n)), np.empty((K, n))
    state = _kernels.new_state(1, m, n)
    kernel = _kernels.run_dynamics if kernel is None else kernel
    chunk = config.steps + 1 if chunk is None else chunk
    for first in range(0, config.steps + 1, chunk):
        kernel(stats, state, 0, config.eta, config.steps, record_steps, first, first + chunk, gamma_out, rho_out,
               f_out)
    assert state.status[0] == -1
    return stats, gamma_out, rho_out, f_out


@pytest.mark.parametrize("n, m", [(37, 3), (40, 4), (9, 1), (64, 2)])
def test_run_dynamics_follows_the_step_functions_composed(n, m):
    """run_dynamics (ρ G updated by each step's change) does what products, network_outputs and update do.

    Not bit for bit: its ρ G accumulates the rounding of the updates. Each
    step, f, γ and ρ agree to 1e-12 relative, and the activation patterns
    (which sample each filter fires on) are identical; the agreement of both
    with gradient descent on the raw weights is tests/test_equivalence.py.
    """
    from labelnoise_sim import SimulationConfig

    config = SimulationConfig(n=n, d=3 * n, m=m, eta=0.3, steps=60)
    steps = np.arange(config.steps + 1)
    stats, gamma_out, rho_out, f_out = _run_dynamics(config, steps)
    a0, b0, c, e, G, mu_sq, xi_sq, y, y_noisy = (field[0] for field in stats)
    jsign = np.repeat([1.0, -1.0], m)
    gamma, rho = np.zeros(2 * m), np.zeros((2 * m, n))
    A, B, f, g = np.empty(2 * m), np.empty((2 * m, n)), np.empty(n), np.empty(n)
    for t in steps:
        _kernels.products(gamma, rho, a0, b0, c, e, G, jsign, A, B)
        _kernels.network_outputs(A, B, y, jsign, m, f)
        assert _relative_gap(f_out[t], f) < 1e-12
        if t > 0:
            assert _relative_gap(rho_out[t], rho) < 1e-12
            assert _relative_gap(gamma_out[t], gamma) < 1e-12
        # Same activations: ρ moved on exactly the same (filter, sample) pairs.
        np.testing.assert_array_equal(rho_out[t] != 0, rho != 0)
        _kernels.update(gamma, rho, A, B, f, y, y_noisy, mu_sq, xi_sq, jsign, config.eta / (n * m), g)


@pytest.mark.slow  # 2·10⁴ steps, recomputed too (5 s)
def test_run_dynamics_stays_close_to_the_recomputing_run_over_long_horizons():
    """2·10⁴ steps at the default size: the accumulated rounding of ρ G stays near 1e-14 (10⁵ steps: 2.4e-14)."""
    from labelnoise_sim import SimulationConfig

    config = SimulationConfig(steps=20_000)
    stats, _, _, f_out = _run_dynamics(config, np.array([config.steps]))
    f = np.empty(config.n)
    _recomputing_run(stats, config.m, config.eta, config.steps, f)
    assert _relative_gap(f_out[-1], f) < 1e-13


def test_run_dynamics_is_deterministic():
    from labelnoise_sim import SimulationConfig

    config = SimulationConfig(n=45, d=300, m=3, steps=500)
    record = np.arange(0, 501, 50)
    first, second = _run_dynamics(config, record)[1:], _run_dynamics(config, record)[1:]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n, m, chunk", [(45, 3, None), (300, 1, 7), (520, 2, 40), (203, 5, None), (731, 2, 50)])
def test_run_dynamics_halves_is_bit_identical_to_one_thread(n, m, chunk, numba_thread_counts):
    """The run with each class's filters on a thread of its own gives the one-thread run's bits, with any
    thread count (numba.set_num_threads), in whole or in chunks; n > GATHER_BLOCK and n not a multiple of
    8 go through every path of the gather, and n = 731 (G of 4.1 MiB) through P += Δρ G split by columns."""
    if n == 731:
        assert 8 * n * n >= _kernels.SPLIT_COLUMNS_BYTES > 8 * 520 * 520
    from labelnoise_sim import SimulationConfig

    config = SimulationConfig(n=n, d=2 * n, m=m, eta=0.5, steps=120)
    record = np.arange(0, config.steps + 1, 10)
    expected = _run_dynamics(config, record)[1:]
    for _ in numba_thread_counts:
        got = _run_dynamics(config, record, _kernels.run_dynamics_halves, chunk)[1:]
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)


def test_run_dynamics_halves_stops_where_one_thread_stops():
    """A run whose outputs overflow stops at the same step, with the same records, on either kernel."""
    from labelnoise_sim import SimulationConfig
    from labelnoise_sim.data import sample_data
    from labelnoise_sim.dynamics import kernel_statistics

    config = SimulationConfig(n=60, d=120, m=2, eta=1e308, steps=20)
    stats = kernel_statistics([sample_data(config)])
    record = np.arange(config.steps + 1)
    runs = []
    for kernel in (_kernels.run_dynamics, _kernels.run_dynamics_halves):
        state = _kernels.new_state(1, config.m, config.n)
        f_out = np.zeros((len(record), config.n))
        kernel(stats, state, 0, config.eta, config.steps, record, 0, config.steps + 1,
               np.zeros((len(record), 2 * config.m)), np.zeros((len(record), 2 * config.m, config.n)), f_out)
        runs.append((state.status[0], f_out))
    assert runs[0][0] >= 0 and runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_a_single_large_run_uses_both_threads_and_keeps_its_bits():
    """simulate() takes the two-thread kernel where it may pay (dynamics.halves_pay; its first probe runs both
    kernels, dynamics.ThreadChooser) and gives what a run on one thread gives (run_many(parallel=False))."""
    from labelnoise_sim import SimulationConfig, simulate
    from labelnoise_sim.dynamics import halves_pay, run_many

    assert not halves_pay(10, 200)
    if not halves_pay(10, 400):
        pytest.skip(f"one thread, or numba's {numba.threading_layer()!r} threading layer: runs keep to one thread")
    kwargs = dict(n=400, d=800, steps=100, seed=3)  # longer than the first probe's two calls
    one, = run_many([SimulationConfig(**kwargs)], parallel=False)
    two = simulate(**kwargs)
    np.testing.assert_array_equal(one.outputs, two.outputs)
    np.testing.assert_array_equal(one.rho, two.rho)


def test_inner_kernels_refuse_python_calls():
    """A kernel built without a CPython wrapper (``_kernels._inner``) raises TypeError when Python calls it,
    instead of jumping to a wrapper that does not exist; kernels still call it."""
    if numba.config.DISABLE_JIT:
        pytest.skip("plain Python functions under NUMBA_DISABLE_JIT")
    with pytest.raises(TypeError, match="only kernels call it"):
        _kernels.normal_mass(0.0, 1.0)
    assert _kernels.activation(1.5, 0, 0.0, 0.0) == 1.5  # a public kernel, through the inner activation_pair


def _defined_names(tree):
    """The names a module's top level binds by def, class or assignment (inside ``if`` blocks too)."""
    import ast

    for node in tree:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            yield node.name
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                yield from (name.id for name in ast.walk(target) if isinstance(name, ast.Name))
        elif isinstance(node, ast.If):
            yield from _defined_names(node.body)
            yield from _defined_names(node.orelse)


def test_the_package_reexports_every_name_its_kernel_modules_define():
    """``_kernels.NAME`` is the object of the module that defines it, for every name of every kernel module
    (private ones included: tests and njit functions reach for them); the cache locator's module aside."""
    import ast
    import importlib
    from pathlib import Path

    for path in sorted(Path(_kernels.__file__).parent.glob("_*.py")):
        if path.stem in ("__init__", "_cache"):
            continue
        module = importlib.import_module(f"labelnoise_sim._kernels.{path.stem}")
        for name in set(_defined_names(ast.parse(path.read_text()).body)) - {"__all__"}:
            assert getattr(_kernels, name) is getattr(module, name), f"{path.stem}.{name}"


# One compiled signature per kernel ------------------------------------------------------------------------------
# numba compiles a kernel again for every new set of argument types (seconds each, on a first run): an unsigned
# index or a read-only array is a type of its own.


def test_a_batch_calls_the_single_run_kernel_with_a_single_runs_index_type():
    from labelnoise_sim import SimulationConfig, simulate
    from labelnoise_sim.dynamics import run_many

    simulate(n=12, d=40, m=2, steps=3, progress=False)
    run_many([SimulationConfig(n=12, d=40, m=2, steps=3, seed=s) for s in range(2)], parallel=True)
    assert _kernels.run_batch.signatures  # the batch ran in this process
    assert {signature[2] for signature in _kernels.run_dynamics.signatures} == {numba.types.int64}


def test_read_only_inputs_reach_the_kernels_as_writable_arrays():
    """A read-only Gram matrix (a memory map, a frozen array), one noise vector (whose diagonal slice passes for
    contiguous) and the fixed output layer of one record (a broadcast view) give the kernels writable arrays."""
    from labelnoise_sim import SimulationConfig, generalization
    from labelnoise_sim.data import sample_data
    from labelnoise_sim.dynamics import kernel_statistics

    for n in (1, 5):
        data = sample_data(SimulationConfig(n=n, d=30, m=2))
        data.gram.setflags(write=False)
        assert data.xi_sq.flags.writeable
        for name, field in zip(_kernels.Statistics._fields, kernel_statistics([data])):
            assert field.flags.writeable and field.flags.c_contiguous, name
    assert generalization._kernel_output_weights(SimulationConfig(), None, 1).flags.writeable
