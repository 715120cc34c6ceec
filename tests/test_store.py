"""The sweep store: atomic cells, resume, refusal of other sweeps, damage detection, SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from _sweep_processes import finished_cells, reap
from labelnoise_sim import StoreMismatchError, simulate, sweep
from labelnoise_sim.store import StoreWarning


SMALL = dict(n=30, d=300, m=3, steps=100, record=10)
GRID = {"tau": [0.0, 0.2], "seed": [0, 1, 2]}


def _same_table(a, b):
    pd.testing.assert_frame_equal(a.table.drop(columns="wall_time"), b.table.drop(columns="wall_time"))


@pytest.fixture(scope="module")
def reference():
    return sweep(GRID, SMALL, backend="serial", progress=False)


def test_a_complete_store_is_read_back_without_computing(tmp_path, reference, count_cells):
    first = sweep(GRID, SMALL, store=tmp_path / "s", backend="serial", progress=False)
    assert len(count_cells) == 6
    again = sweep(GRID, SMALL, store=tmp_path / "s", backend="serial", progress=False)
    assert len(count_cells) == 6, "nothing recomputed"
    _same_table(first, reference)
    _same_table(again, reference)
    pd.testing.assert_series_equal(again.table["wall_time"], first.table["wall_time"])


def test_resume_computes_only_the_missing_cells(tmp_path, reference, count_cells):
    store = tmp_path / "s"
    sweep(GRID, SMALL, store=store, backend="serial", progress=False)
    for index in (1, 4):
        (store / "cells" / f"{index:06d}.json").unlink()
    count_cells.clear()
    resumed = sweep(GRID, SMALL, store=store, backend="serial", progress=False)
    assert sorted(count_cells) == [1, 1], "cells 1 and 4 (seed 1 at both tau) only"
    _same_table(resumed, reference)


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty", "other cell"])
def test_a_damaged_cell_file_is_detected_and_recomputed(tmp_path, reference, damage):
    store = tmp_path / "s"
    sweep(GRID, SMALL, store=store, backend="serial", progress=False)
    path = store / "cells" / "000003.json"
    text = path.read_text()
    if damage == "truncate":
        path.write_text(text[: len(text) // 2])
    elif damage == "flip":
        # A plausible but wrong number: parses, fails the checksum.
        payload = json.loads(text)
        payload["record"]["metrics"]["final_test_error"] = 0.123
        path.write_text(json.dumps(payload))
    elif damage == "garbage":
        path.write_bytes(os.urandom(200))
    elif damage == "empty":
        path.write_text("")
    else:
        path.write_text((store / "cells" / "000002.json").read_text())
    with pytest.warns(StoreWarning, match="000003.json"):
        resumed = sweep(GRID, SMALL, store=store, backend="serial", progress=False)
    _same_table(resumed, reference)
    assert json.loads(path.read_text())["record"]["index"] == 3, "the repaired file is written back"


def test_a_store_of_another_sweep_is_refused(tmp_path):
    store = tmp_path / "s"
    sweep(GRID, SMALL, store=store, backend="serial", progress=False)
    with pytest.raises(StoreMismatchError, match=r"grid: store has .*this sweep has"):
        sweep({"tau": [0.0, 0.1], "seed": [0, 1, 2]}, SMALL, store=store, backend="serial", progress=False)
    with pytest.raises(StoreMismatchError, match=r"fixed: store has .*\"steps\":100.*this sweep has .*\"steps\":200"):
        sweep(GRID, {**SMALL, "steps": 200}, store=store, backend="serial", progress=False)
    with pytest.raises(StoreMismatchError, match="not a sweep store"):
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "notes.txt").write_text("mine")
        sweep(GRID, SMALL, store=tmp_path / "other", backend="serial", progress=False)


def test_trajectories_are_stored_checked_and_reloaded_exactly(tmp_path, count_cells):
    store = tmp_path / "s"
    grid = {"seed": [0, 1]}
    first = sweep(grid, SMALL, store=store, backend="serial", progress=False, trajectories=True)
    np.testing.assert_array_equal(first.result(1).rho, simulate(seed=1, **SMALL).rho)
    (store / "cells" / "000000.npz").write_bytes(b"not an npz")
    count_cells.clear()
    with pytest.warns(StoreWarning, match="000000.npz"):
        again = sweep(grid, SMALL, store=store, backend="serial", progress=False, trajectories=True)
    assert count_cells == [0]
    np.testing.assert_array_equal(again.result(0).outputs, simulate(seed=0, **SMALL).outputs)
    # Metrics alone do not need the trajectory files.
    count_cells.clear()
    sweep(grid, SMALL, store=store, backend="serial", progress=False)
    assert count_cells == []


KILLED_GRID = {"tau": [0.0, 0.2], "seed": list(range(8))}
KILLED_FIXED = dict(n=40, d=400, m=3, steps=300, record=50)
KILLED_SWEEP = textwrap.dedent(f"""
    import sys
    from labelnoise_sim import sweep

    if __name__ == "__main__":
        sweep({KILLED_GRID!r}, {KILLED_FIXED!r}, store=sys.argv[1], backend=sys.argv[2], workers=2,
              progress=False)
""")


def _kill_until_done(tmp_path, store, backend, kill_after):
    """Start the sweep; SIGKILL it once it has finished each count of cells in turn; then let it finish."""
    script = tmp_path / "killed_sweep.py"
    script.write_text(KILLED_SWEEP)
    kills = 0
    for target in list(kill_after) + [None]:
        proc = subprocess.Popen([sys.executable, str(script), str(store), backend], start_new_session=True)
        try:
            while proc.poll() is None:
                if target is not None and finished_cells(store) >= target:
                    proc.send_signal(signal.SIGKILL)  # the sweep's own process only, as a crash would
                    proc.wait()
                    kills += 1
                    break
                time.sleep(0.01)
        finally:
            reap(proc)
        assert target is not None or proc.returncode == 0, "the last, uninterrupted run completes"
    return kills


@pytest.mark.slow  # 15-45 s a backend: the process kills wait for cells to finish
@pytest.mark.parametrize("backend", ["processes", "serial"])
def test_a_sweep_killed_with_sigkill_resumes_to_the_uninterrupted_table(tmp_path, backend):
    store = tmp_path / "store"
    kills = _kill_until_done(tmp_path, store, backend, kill_after=[1, 6, 11])
    assert kills == 3, "the sweep was interrupted three times"
    assert finished_cells(store) == 16
    resumed = sweep(KILLED_GRID, KILLED_FIXED, store=store, backend="serial", progress=False)
    uninterrupted = sweep(KILLED_GRID, KILLED_FIXED, backend="serial", progress=False)
    _same_table(resumed, uninterrupted)
    assert not list((store / "cells").glob(".*.tmp")), "stray temporary files are cleaned up"


def test_a_diverged_cell_is_stored_once_even_with_trajectories(tmp_path, count_cells):
    grid = {"eta": [0.1, 1e307]}
    fixed = dict(n=20, d=200, m=2, steps=50, record=10)
    kwargs = dict(store=tmp_path / "s", backend="serial", progress=False, trajectories=True)
    with pytest.warns(RuntimeWarning, match="diverged"):
        sweep(grid, fixed, **kwargs)
    count_cells.clear()
    with pytest.warns(RuntimeWarning, match="diverged"):
        again = sweep(grid, fixed, **kwargs)
    assert count_cells == [] and again.table["diverged_at"].tolist()[1] == 1


def test_a_store_from_another_library_version_is_used_with_a_warning(tmp_path):
    store = tmp_path / "s"
    sweep({"seed": [0]}, SMALL, store=store, backend="serial", progress=False)
    manifest = json.loads((store / "sweep.json").read_text())
    manifest["version"] = "0.0.1"
    (store / "sweep.json").write_text(json.dumps(manifest))
    with pytest.warns(StoreWarning, match="made by labelnoise-sim 0.0.1"):
        sweep({"seed": [0]}, SMALL, store=store, backend="serial", progress=False)


@pytest.mark.slow
def test_sigkill_at_random_moments_never_loses_or_corrupts_a_cell(tmp_path):
    """Kill the sweep at random times — during start-up, mid-cell, mid-write — then finish and compare."""
    store = tmp_path / "store"
    script = tmp_path / "killed_sweep.py"
    script.write_text(KILLED_SWEEP)
    rng = np.random.default_rng(2024)
    for delay in rng.uniform(0.2, 3.0, size=6):
        proc = subprocess.Popen([sys.executable, str(script), str(store), "processes"], start_new_session=True)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            pass
        reap(proc)
    resumed = sweep(KILLED_GRID, KILLED_FIXED, store=store, backend="serial", progress=False)
    uninterrupted = sweep(KILLED_GRID, KILLED_FIXED, backend="serial", progress=False)
    _same_table(resumed, uninterrupted)
