"""sweep(): one row per cell, the same numbers whatever the backend, batched kernels exact."""

import importlib
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from labelnoise_sim import DivergenceError, SimulationConfig, analyze, run, simulate, sweep
from labelnoise_sim.data import sample_data
from labelnoise_sim.dynamics import run_many
from labelnoise_sim.sweep import expand_grid, run_cells

SMALL = dict(n=30, d=300, m=3, steps=100, record=10)
GRID = {"tau": [0.0, 0.2], "n_snr2": [2.0, 6.0], "seed": [0, 1]}


def _frame_without_wall_time(result):
    return result.table.drop(columns="wall_time")


@pytest.fixture(scope="module")
def serial_run():
    return sweep(GRID, SMALL, backend="serial", progress=False)


def test_each_batched_cell_is_bit_identical_to_simulate():
    cells = [
        dict(seed=0), dict(seed=1, tau=0.0), dict(seed=2, eta=0.37, noise="orthogonal"),
        dict(seed=3, tau_pos=0.05, tau_neg=0.3, sigma0=0.05), dict(seed=4, sampling="gram", d=10**7, eta=1e-4),
        dict(seed=5, n_snr2=1.0, sigma_xi=1.7),
    ]
    configs = [SimulationConfig.from_params(**{**dict(n=40, d=400, m=4, steps=150), **c}) for c in cells]
    for parallel in (True, False):
        results = run_many(configs, [sample_data(c) for c in configs], parallel=parallel)
        for config, batched in zip(configs, results):
            single = run(config)
            for name in ("t", "gamma", "rho", "outputs"):
                np.testing.assert_array_equal(getattr(batched, name), getattr(single, name), err_msg=name)


def test_a_diverging_cell_fails_alone_at_the_step_simulate_reports():
    configs = [SimulationConfig(n=20, d=200, m=2, steps=200, eta=e, seed=1) for e in (0.1, 1e307)]
    ok, bad = run_many(configs, parallel=True, diverged="return")
    assert not isinstance(ok, DivergenceError)
    with pytest.raises(DivergenceError) as info:
        run(configs[1])
    assert isinstance(bad, DivergenceError) and bad.step == info.value.step


def test_run_many_keeps_the_order_of_mixed_shapes_and_raises_divergence_by_default():
    configs = [SimulationConfig(n=n, d=200, m=m, steps=40, seed=s) for n, m, s in ((20, 2, 0), (25, 3, 1), (20, 2, 2))]
    for config, result in zip(configs, run_many(configs)):
        assert result.config is config
        np.testing.assert_array_equal(result.outputs, run(config).outputs)
    diverging = configs[:1] + [SimulationConfig(n=20, d=200, m=2, steps=200, eta=1e307, seed=1)]
    with pytest.raises(DivergenceError):
        run_many(diverging)
    with pytest.raises(ValueError, match="diverged must be one of 'raise', 'return'; got 'ignore'"):
        run_many(configs, diverged="ignore")
    with pytest.raises(ValueError, match="one Data per config"):
        run_many(configs, [sample_data(configs[0])])


def test_table_has_grid_columns_then_analyze_metrics_then_wall_time(serial_run):
    table = serial_run.table
    assert len(table) == 8
    assert list(table.columns[:3]) == ["tau", "n_snr2", "seed"]
    assert list(table.columns[-2:]) == ["diverged_at", "wall_time"]
    # Cartesian product, last name fastest.
    assert table[["tau", "n_snr2", "seed"]].values.tolist()[:3] == [[0.0, 2.0, 0], [0.0, 2.0, 1], [0.0, 6.0, 0]]
    assert (table["wall_time"] > 0).all()
    for column in ("t1", "t2", "noisy_true_share_at_t1", "best_test_error", "final_test_error",
                   "select_precision_t1", "select_recall_t1", "select_f1_t1", "stage_one"):
        assert column in table.columns, column


def test_every_row_equals_analyze_of_simulate_of_its_cell(serial_run):
    for index in (0, 5, 7):
        row = serial_run.table.iloc[index]
        params = {k: row[k].item() if hasattr(row[k], "item") else row[k] for k in GRID}
        expected = analyze(simulate(**SMALL, **params)).to_dict()
        for name, value in expected.items():
            if value is None or (isinstance(value, float) and np.isnan(value)):
                assert pd.isna(row[name]), name
            else:
                assert row[name] == value, name


@pytest.mark.slow  # starts three pools of workers (5 s); test_determinism compares serial and processes in the main suite
def test_processes_backend_gives_the_same_table_for_any_worker_count(serial_run):
    expected = _frame_without_wall_time(serial_run)
    for workers in (1, 2):
        got = sweep(GRID, SMALL, backend="processes", workers=workers, progress=False)
        pd.testing.assert_frame_equal(_frame_without_wall_time(got), expected)


def test_dask_client_runs_the_same_kernel_with_the_same_table(serial_run):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        got = sweep(GRID, SMALL, client=client, progress=False)
    pd.testing.assert_frame_equal(_frame_without_wall_time(got), _frame_without_wall_time(serial_run))


BLAS_SCRIPT = textwrap.dedent("""
    import pickle, sys
    from labelnoise_sim import SimulationConfig
    from labelnoise_sim.sweep import run_cells
    configs = [SimulationConfig(n=40, d=500, m=3, steps=60, seed=s, sampling=w)
               for s, w in ((0, "explicit"), (1, "gram"))]
    out = run_cells(configs, trajectories=True, parallel=False)
    sys.stdout.buffer.write(pickle.dumps([(o["metrics"], o["result"].data.gram, o["result"].outputs) for o in out]))
""")


@pytest.mark.parametrize("threads", ["1", "2"])
def test_blas_thread_count_does_not_change_the_numbers(threads):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    done = subprocess.run([sys.executable, "-c", BLAS_SCRIPT], env=env, capture_output=True, check=True)
    theirs = pickle.loads(done.stdout)
    configs = [SimulationConfig(n=40, d=500, m=3, steps=60, seed=s, sampling=w)
               for s, w in ((0, "explicit"), (1, "gram"))]
    ours = run_cells(configs, trajectories=True, parallel=True)
    for (metrics, gram, outputs), mine in zip(theirs, ours):
        assert metrics == mine["metrics"]
        np.testing.assert_array_equal(gram, mine["result"].data.gram)
        np.testing.assert_array_equal(outputs, mine["result"].outputs)


def test_result_of_a_cell_is_its_simulation(serial_run):
    again = serial_run.result(5)
    config = serial_run.configs[5]
    np.testing.assert_array_equal(again.outputs, run(config).outputs)
    kept = sweep({"seed": [3, 4]}, SMALL, backend="serial", progress=False, trajectories=True)
    np.testing.assert_array_equal(kept.result(1).rho, simulate(seed=4, **SMALL).rho)


def test_gram_sampling_and_huge_d_sweep_like_any_other_parameter():
    res = sweep({"d": [10**3, 10**7]}, dict(sampling="gram", n=30, m=3, steps=50, record=10, n_snr2=6.0, eta=1e-2),
                backend="serial", progress=False)
    assert list(res.table["d"]) == [10**3, 10**7]
    assert res.table["final_test_error"].notna().all()


def test_diverged_cells_are_reported_not_fatal():
    with pytest.warns(RuntimeWarning, match="1 of 2 cells diverged"):
        res = sweep({"eta": [0.1, 1e307]}, dict(n=20, d=200, m=2, steps=100, record=10), backend="serial",
                    progress=False)
    assert res.table["diverged_at"].isna().tolist() == [True, False]
    assert pd.isna(res.table.loc[1, "final_test_error"]) and not pd.isna(res.table.loc[0, "final_test_error"])


def test_progress_bar_stays_silent_off_a_terminal(capsys):
    sweep({"seed": [0]}, SMALL, backend="serial", progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and "sweep" not in captured.err


def test_grid_errors_name_the_parameter_or_the_cell():
    with pytest.raises(TypeError, match="unknown parameter 'taus'"):
        expand_grid({"taus": [0.1]})
    with pytest.raises(ValueError, match=r"grid\['tau'\] must be a non-empty list"):
        expand_grid({"tau": []})
    with pytest.raises(ValueError, match=r"grid\['n'\] must be a non-empty list"):
        expand_grid({"n": 5})
    with pytest.raises(ValueError, match=r"grid cell 1 \{'tau': 0.7\}: tau must be"):
        expand_grid({"tau": [0.1, 0.7]})
    with pytest.raises(ValueError, match="backend must be one of"):
        sweep({"seed": [0]}, backend="threads", progress=False)
    with pytest.raises(ValueError, match="needs client="):
        sweep({"seed": [0]}, backend="dask", progress=False)
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        sweep({"seed": [0]}, workers=0, progress=False)


def test_fixed_parameters_come_as_a_mapping_of_known_names():
    with pytest.raises(TypeError, match="unexpected keyword argument 'n'"):
        sweep({"seed": [0]}, n=30, progress=False)
    with pytest.raises(TypeError, match="unknown parameter 'lr'"):
        sweep({"seed": [0]}, {"lr": 0.1}, progress=False)


def test_a_zipped_axis_sets_its_parameters_together():
    res = sweep({("d", "eta"): [(200, 0.4), (800, 0.1)], "seed": [0, 1]}, dict(n=30, m=3, steps=60, record=10),
                backend="serial", progress=False)
    assert list(res.table.columns[:3]) == ["d", "eta", "seed"]
    assert res.table[["d", "eta"]].values.tolist() == [[200, 0.4], [200, 0.4], [800, 0.1], [800, 0.1]]
    assert res.configs[3].d == 800 and res.configs[3].eta == 0.1 and res.configs[3].seed == 1
    same = sweep({"d+eta": [[200, 0.4], [800, 0.1]], "seed": [0, 1]}, dict(n=30, m=3, steps=60, record=10),
                 backend="serial", progress=False)
    pd.testing.assert_frame_equal(_frame_without_wall_time(same), _frame_without_wall_time(res))
    with pytest.raises(ValueError, match="zips 2 parameters"):
        expand_grid({"d+eta": [200, 800]})
    with pytest.raises(ValueError, match="grid sets 'd' on two axes"):
        expand_grid({"d+eta": [[200, 0.4]], "d": [100]})
    with pytest.raises(ValueError, match="set both in the grid and as fixed"):
        expand_grid({"d": [100]}, {"d": 200})


def test_cells_of_different_shapes_run_in_separate_batches_with_exact_rows():
    res = sweep({"n": [20, 30], "m": [2, 3], "steps": [40, 60]}, dict(d=300, record=10), backend="serial",
                progress=False)
    for index, config in enumerate(res.configs):
        expected = analyze(run(config)).to_dict()
        row = res.table.iloc[index]
        assert (row["n"], row["m"], row["steps"]) == (config.n, config.m, config.steps)
        assert row["final_test_error"] == expected["final_test_error"]
        assert row["t2"] == expected["t2"] if expected["t2"] is not None else pd.isna(row["t2"])


def test_auto_backend_runs_small_work_here_and_large_work_in_workers(monkeypatch):
    sweep_module = importlib.import_module("labelnoise_sim.sweep")  # the module, not the function
    monkeypatch.setattr(sweep_module, "_available_cpus", lambda: 2)
    small = [SimulationConfig(n=30, d=300, m=3, steps=100, seed=s) for s in range(8)]
    large = [SimulationConfig(seed=s, steps=500) for s in range(256)]  # workers 1.3x faster (bench_sweep)
    assert sweep_module.choose_backend(small) == "serial"
    assert sweep_module.choose_backend(large[:64]) == "serial"  # workers 0.79x here: never the slower choice
    assert sweep_module.choose_backend(large) == "processes"
    assert sweep_module.choose_backend(large[:1]) == "serial"  # one cell: nothing to share
    assert sweep_module.choose_backend(large, workers=1) == "serial"
    assert sweep_module.choose_backend(large, test_error=False) == "serial"  # the test error is most of it


def test_auto_backend_says_where_the_cells_ran():
    res = sweep({"seed": [0, 1]}, SMALL, progress=False)
    assert res.backend == "serial"
    assert _frame_without_wall_time(res).equals(
        _frame_without_wall_time(sweep({"seed": [0, 1]}, SMALL, backend="serial", progress=False)))
