"""The store under stress: checked trajectories, bad cells, grid order, one sweep at a time."""

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from _sweep_processes import finished_cells, reap
from labelnoise_sim import DivergenceError, analyze, simulate, sweep
from labelnoise_sim import store as store_module
from labelnoise_sim.generalization import filter_statistics
from labelnoise_sim.store import StoreWarning

# The package exports the function sweep, which hides the module of the same name.
sweep_module = importlib.import_module("labelnoise_sim.sweep")

SMALL = dict(n=30, d=300, m=3, steps=100, record=10)


def run_sweep(grid, fixed, **options):
    """sweep() of ``grid`` with the fixed parameters ``fixed``, serial and silent unless told otherwise."""
    options = {"backend": "serial", "progress": False, **options}
    return sweep(grid, fixed, **options)


@pytest.fixture
def computed_configs(monkeypatch):
    """Every configuration the sweep actually computes."""
    computed = []
    original = sweep_module.run_cells

    def counting(configs, *args, **kwargs):
        computed.extend(configs)
        return original(configs, *args, **kwargs)

    monkeypatch.setattr(sweep_module, "run_cells", counting)
    return computed


# SweepResult.result checks the stored trajectory ------------------------------


@pytest.mark.parametrize("damage", ["other cell", "flipped byte"])
def test_result_of_a_damaged_stored_trajectory_is_recomputed_not_returned(tmp_path, damage):
    store = tmp_path / "s"
    res = run_sweep({"seed": [0, 1]}, SMALL, store=store, trajectories=True)
    path = store / "cells" / "000000.npz"
    if damage == "other cell":
        # A valid result file, of the right shape, but of seed 1.
        path.write_bytes((store / "cells" / "000001.npz").read_bytes())
    else:
        content = bytearray(path.read_bytes())
        content[len(content) // 2] ^= 0x01
        path.write_bytes(bytes(content))
    with pytest.warns(StoreWarning, match="000000.npz fails its checksum"):
        again = res.result(0)
    np.testing.assert_array_equal(again.rho, simulate(seed=0, **SMALL).rho)
    np.testing.assert_array_equal(res.result(1).rho, simulate(seed=1, **SMALL).rho)


# One bad cell never aborts a sweep ---------------------------------------------

TINY = dict(n=20, d=200, m=2, steps=50, record=10)
#: Outputs stay finite at this rate, but W Σ Wᵀ of the test error overflows.
HUGE_ETA = 1e300


def test_a_run_whose_test_statistics_overflow_raises_divergence_naming_eta():
    result = simulate(eta=HUGE_ETA, **TINY)
    assert np.isfinite(result.outputs).all() and np.isfinite(result.train_loss).all()
    message = r"diverged at step \d+: the statistics of the test error .* no longer finite.*eta=1e\+300"
    with pytest.raises(DivergenceError, match=message) as info:
        result.test_error
    step = info.value.step
    assert step in result.t
    with np.errstate(over="ignore", invalid="ignore"):
        A, cov = filter_statistics(result.gamma, result.rho, result.data.gram, result.config)
    finite = np.isfinite(A).all(axis=1) & np.isfinite(cov).all(axis=(1, 2))
    k = int(np.searchsorted(result.t, step))
    assert finite[:k].all() and not finite[k], "the first record whose statistics are not finite"
    with pytest.raises(DivergenceError, match=r"eta=1e\+300"):
        analyze(result)
    assert analyze(result, test_error=False).t1 is not None, "the training-set analysis needs no test statistics"


@pytest.mark.parametrize("backend", ["serial", "processes"])
def test_a_cell_whose_test_error_overflows_is_recorded_as_diverged_not_fatal(tmp_path, backend, request):
    grid = {"eta": [0.1, HUGE_ETA, 1e307]}
    with pytest.raises(DivergenceError) as info:
        simulate(eta=HUGE_ETA, **TINY).test_error
    with pytest.warns(RuntimeWarning, match="2 of 3 cells diverged"):
        res = run_sweep(grid, TINY, store=tmp_path / "s", backend=backend, workers=2)
    table = res.table
    assert table["diverged_at"].tolist()[1:] == [info.value.step, 1]
    metrics = [c for c in table.columns if c not in ("eta", "diverged_at", "wall_time")]
    assert table.loc[1:, metrics].isna().all().all(), "a diverged cell has empty metrics"
    assert table.loc[0, metrics].notna().any() and pd.isna(table.loc[0, "diverged_at"])
    # The bad cells are stored like any other: a rerun computes nothing.
    computed_configs = request.getfixturevalue("computed_configs")
    with pytest.warns(RuntimeWarning, match="2 of 3 cells diverged"):
        again = run_sweep(grid, TINY, store=tmp_path / "s")
    assert computed_configs == []
    assert again.table["diverged_at"].tolist()[1:] == [info.value.step, 1]


def test_without_the_test_error_a_cell_with_finite_outputs_is_not_diverged():
    res = run_sweep({"eta": [HUGE_ETA]}, TINY, test_error=False)
    assert pd.isna(res.table.loc[0, "diverged_at"]) and res.table.loc[0, "t1"] == analyze(
        simulate(eta=HUGE_ETA, **TINY), test_error=False).t1


def test_result_of_a_diverged_kept_cell_is_its_simulation_never_none():
    with pytest.warns(RuntimeWarning, match="2 of 2 cells diverged"):
        res = run_sweep({"eta": [HUGE_ETA, 1e307]}, TINY, trajectories=True)
    kept = res.result(0)
    np.testing.assert_array_equal(kept.outputs, simulate(eta=HUGE_ETA, **TINY).outputs)
    with pytest.raises(DivergenceError, match="diverged at step 1"):
        res.result(1)


# One sweep per store -------------------------------------------------------------

LONG_GRID = {"seed": list(range(48))}
LONG_FIXED = dict(n=60, d=600, m=3, steps=400, record=40)
FIRST_SWEEP = textwrap.dedent(f"""
    import sys
    from labelnoise_sim import sweep

    if __name__ == "__main__":
        sweep({LONG_GRID!r}, {LONG_FIXED!r}, store=sys.argv[1], backend="processes", workers=2,
              progress=False)
""")


def _start_first_sweep(tmp_path, store):
    """Start the sweep in another process; return it once it has finished a cell (so it holds the store)."""
    script = tmp_path / "first_sweep.py"
    script.write_text(FIRST_SWEEP)
    proc = subprocess.Popen([sys.executable, str(script), str(store)], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while finished_cells(store) < 1:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the first sweep never finished a cell"
        time.sleep(0.01)
    return proc


@pytest.mark.slow  # kills and starts sweep processes: 10 to 12 s on 2 loaded cores
def test_a_second_sweep_on_a_store_in_use_is_refused_and_the_first_finishes_intact(tmp_path, computed_configs):
    store = tmp_path / "store"
    first = _start_first_sweep(tmp_path, store)
    try:
        started = time.monotonic()
        with pytest.raises(BlockingIOError) as info:
            run_sweep(LONG_GRID, LONG_FIXED, store=store)
        assert time.monotonic() - started < 5, "refused at once, not after waiting"
        assert isinstance(info.value, store_module.StoreLockedError)
        message = str(info.value)
        assert str(store) in message and f"pid {first.pid}" in message and socket.gethostname() in message, message
        assert (info.value.pid, info.value.host) == (first.pid, socket.gethostname())
        assert computed_configs == [], "the refused sweep computed nothing"
        out, err = first.communicate(timeout=300)
        assert first.returncode == 0, err.decode()
        assert err.decode().strip() == "", "the first sweep noticed nothing"
    finally:
        reap(first)
    assert finished_cells(store) == len(LONG_GRID["seed"])
    resumed = run_sweep(LONG_GRID, LONG_FIXED, store=store)
    assert computed_configs == [], "every cell of the first sweep is intact"
    assert resumed.table["final_test_error"].notna().all()


@pytest.mark.slow  # kills and starts sweep processes: 10 to 12 s on 2 loaded cores
def test_a_store_whose_sweep_was_killed_is_free_at_once(tmp_path, computed_configs):
    store = tmp_path / "store"
    first = _start_first_sweep(tmp_path, store)
    first.send_signal(signal.SIGKILL)  # the sweep's own process only, as a crash would
    reap(first)
    assert (store / store_module.LOCK).exists(), "the killed sweep left its lock file behind"
    done = finished_cells(store)
    resumed = run_sweep(LONG_GRID, LONG_FIXED, store=store)
    assert len(computed_configs) == len(LONG_GRID["seed"]) - done, "resumed, not refused"
    assert resumed.table["final_test_error"].notna().all()


def test_the_lock_is_released_when_a_sweep_fails(tmp_path, monkeypatch):
    store = tmp_path / "s"

    def failing(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep_module, "run_cells", failing)
    with pytest.raises(KeyboardInterrupt):
        run_sweep({"seed": [0, 1]}, SMALL, store=store)
    monkeypatch.undo()
    assert run_sweep({"seed": [0, 1]}, SMALL, store=store).table["final_test_error"].notna().all()


def test_the_lock_also_keeps_apart_two_sweeps_of_one_process_and_spares_foreign_directories(tmp_path):
    spec = {"grid": {"seed": [0]}, "fixed": {}, "test_error": True}
    first = store_module.SweepStore(tmp_path / "s", spec, ["cell"])
    try:
        with pytest.raises(store_module.StoreLockedError, match=f"pid {os.getpid()}"):
            store_module.SweepStore(tmp_path / "s", spec, ["cell"])
    finally:
        first.close()
    store_module.SweepStore(tmp_path / "s", spec, ["cell"]).close()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(store_module.StoreMismatchError, match="not a sweep store"):
        store_module.SweepStore(foreign, spec, ["cell"])
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"], "no lock file left in a directory not ours"


# Grid order does not matter -----------------------------------------------------


@pytest.mark.parametrize("again", [
    {"seed": [0, 1, 2], "tau": [0.0, 0.2]},
    {"seed": [2, 0, 1], "tau": [0.2, 0.0]},
])
def test_a_grid_in_another_order_reuses_every_stored_cell(tmp_path, computed_configs, again):
    store = tmp_path / "s"
    first = run_sweep({"tau": [0.0, 0.2], "seed": [0, 1, 2]}, SMALL, store=store, trajectories=True)
    files = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(store.rglob("*")) if p.is_file()
             and p.name != store_module.LOCK}
    computed_configs.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no StoreWarning: nothing looks damaged or foreign
        second = run_sweep(again, SMALL, store=store, trajectories=True)
    assert computed_configs == [], "no cell recomputed"
    assert files == {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(store.rglob("*"))
                     if p.is_file() and p.name != store_module.LOCK}, "the store is untouched"
    assert list(second.table.columns[:2]) == list(again), "the table keeps this sweep's grid order"
    assert [(c.seed, c.tau) for c in second.configs] == [
        (s, t) for s in again["seed"] for t in again["tau"]]
    grid_columns = ["seed", "tau"]
    a = first.table.sort_values(grid_columns).reset_index(drop=True)
    b = second.table.sort_values(grid_columns).reset_index(drop=True)
    pd.testing.assert_frame_equal(b[a.columns], a)  # wall_time included: read back, not recomputed
    for index in (0, 4):
        config = second.configs[index]
        np.testing.assert_array_equal(second.result(index).rho, simulate(seed=config.seed, tau=config.tau,
                                                                          **SMALL).rho)


def test_a_zipped_axis_with_its_names_in_another_order_reuses_the_store(tmp_path, computed_configs):
    fixed = dict(n=30, m=3, steps=60, record=10)
    first = run_sweep({"d+eta": [[200, 0.4], [800, 0.1]], "seed": [0, 1]}, fixed, store=tmp_path / "s")
    computed_configs.clear()
    second = run_sweep({"seed": [1, 0], ("eta", "d"): [(0.1, 800), (0.4, 200)]}, fixed, store=tmp_path / "s")
    assert computed_configs == []
    assert list(second.table.columns[:3]) == ["seed", "eta", "d"]
    a = first.table.sort_values(["d", "seed"]).reset_index(drop=True)
    b = second.table.sort_values(["d", "seed"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(b[a.columns], a)


def test_a_resumed_store_in_another_order_computes_only_the_missing_cells(tmp_path, computed_configs):
    store = tmp_path / "s"
    grid = {"tau": [0.0, 0.2], "seed": [0, 1, 2]}
    reference = run_sweep(grid, SMALL)
    run_sweep(grid, SMALL, store=store)
    (store / "cells" / "000001.json").unlink()  # tau 0.0, seed 1
    computed_configs.clear()
    resumed = run_sweep({"seed": [0, 1, 2], "tau": [0.0, 0.2]}, SMALL, store=store)
    assert [(c.seed, c.tau) for c in computed_configs] == [(1, 0.0)]
    a = reference.table.sort_values(["seed", "tau"]).reset_index(drop=True).drop(columns="wall_time")
    b = resumed.table.sort_values(["seed", "tau"]).reset_index(drop=True).drop(columns="wall_time")
    pd.testing.assert_frame_equal(b[a.columns], a)
    # The first order reads the store as well, the repaired cell included.
    computed_configs.clear()
    run_sweep(grid, SMALL, store=store)
    assert computed_configs == []


def test_a_grid_with_other_cells_is_still_refused(tmp_path):
    store = tmp_path / "s"
    run_sweep({"tau": [0.0, 0.2], "seed": [0, 1]}, SMALL, store=store)
    with pytest.raises(store_module.StoreMismatchError, match=r"grid: store has .*this sweep has"):
        run_sweep({"seed": [0, 1], "tau": [0.0, 0.1]}, SMALL, store=store)
    with pytest.raises(store_module.StoreMismatchError, match=r"grid: store has .*this sweep has"):
        run_sweep({"seed": [0, 1]}, {**SMALL, "tau": 0.2}, store=store)


def _edit_manifest(store, edit):
    manifest = json.loads((store / "sweep.json").read_text())
    edit(manifest)
    (store / "sweep.json").write_text(json.dumps(manifest))


def test_a_store_made_before_cells_were_listed_resumes_and_learns_its_cells(tmp_path, computed_configs):
    store = tmp_path / "s"
    grid = {"tau": [0.0, 0.2], "seed": [0, 1]}
    run_sweep(grid, SMALL, store=store)
    _edit_manifest(store, lambda manifest: manifest.pop("cells"))
    computed_configs.clear()
    run_sweep(grid, SMALL, store=store)
    assert computed_configs == []
    assert len(json.loads((store / "sweep.json").read_text())["cells"]) == 4
    run_sweep({"seed": [0, 1], "tau": [0.0, 0.2]}, SMALL, store=store)
    assert computed_configs == [], "from then on the grid order is free"


def test_cells_of_other_configurations_under_the_same_grid_are_refused(tmp_path):
    store = tmp_path / "s"
    run_sweep({"seed": [0, 1]}, SMALL, store=store)
    _edit_manifest(store, lambda manifest: manifest.update(cells=["0" * 32, "1" * 32]))
    with pytest.raises(store_module.StoreMismatchError, match="cells: the store's 2 cells have other full config"):
        run_sweep({"seed": [0, 1]}, SMALL, store=store)
