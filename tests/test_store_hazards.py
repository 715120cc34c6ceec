"""The store against what happens around it: an interruption at any point, planted links, damaged or foreign
files, a full disk, two sweeps at once. Each test holds one of the promises of docs/sweeps.md ("What the store
withstands"), and each failed on the store before it was made to hold them."""

import contextlib
import errno
import fcntl
import importlib
import itertools
import multiprocessing
import os
import shutil
import stat
import threading
import time

import pandas as pd
import pytest

from labelnoise_sim import sweep
from labelnoise_sim import store as store_module
from labelnoise_sim.cli import main
from labelnoise_sim.result import SimulationResult
from labelnoise_sim.store import StoreLockedError, StoreMismatchError, StoreWarning, StoreWriteError

# The package exports the function sweep, which hides the module of the same name.
sweep_module = importlib.import_module("labelnoise_sim.sweep")

TINY = dict(n=20, d=200, m=2, steps=50, record=10)
GRID = {"seed": [0, 1, 2]}
TINY_ARGS = ["--n", "20", "--d", "200", "--m", "2", "--steps", "50", "--record", "10"]
NO_SPACE = os.strerror(errno.ENOSPC)


def run_sweep(store, **options):
    return sweep(GRID, TINY, store=store, backend="serial", progress=False, **options)


@pytest.fixture(scope="module")
def reference():
    return sweep(GRID, TINY, backend="serial", progress=False).table.drop(columns="wall_time")


def same_table(result, reference):
    pd.testing.assert_frame_equal(result.table.drop(columns="wall_time"), reference)


def refused(capsys, argv, *words):
    """Run the command; expect exit status 2 and one line on standard error holding ``words``."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("labelnoise-sim: error: ") and err.count("\n") == 1, err
    for word in words:
        assert word in err, (word, err)
    return err


# Interrupted at any point -------------------------------------------------------

#: The calls by which a sweep changes its store; an interruption can come just before any of them.
FILE_SYSTEM_CALLS = ("mkdir", "open", "ftruncate", "pwrite", "fsync", "replace", "unlink", "rmdir")


def _interrupt_at(patch, k, interrupt):
    """Patch the file-system calls so that the ``k``-th of them (counted from now) calls ``interrupt`` first."""
    calls = itertools.count(1)
    for name in FILE_SYSTEM_CALLS:
        def wrapper(*args, _original=getattr(os, name), **kwargs):
            if next(calls) == k:
                interrupt()
            return _original(*args, **kwargs)

        patch.setattr(os, name, wrapper)


def _ctrl_c():
    raise KeyboardInterrupt


def test_a_sweep_interrupted_by_ctrl_c_before_any_file_system_call_resumes(tmp_path, monkeypatch, reference):
    for k in itertools.count(1):
        store = tmp_path / f"s{k}"
        with monkeypatch.context() as patch:
            _interrupt_at(patch, k, _ctrl_c)
            try:
                run_sweep(store)
            except KeyboardInterrupt:
                finished = False
            else:
                finished = True
        assert not list(store.rglob(".*.tmp")), "temporary files are removed"
        same_table(run_sweep(store), reference)
        if finished:
            break
    assert k > 10, "the sweep makes its store and three cells: more calls than that"


#: Exit status of a killed child that had made its store and reached the computation.
REACHED_THE_CELLS = 3


def _sigkilled_at(k, store):
    """In a child process, make the store of the sweep and die at the ``k``-th file-system call, as SIGKILL would
    (no clean-up at all); returns whether it got to the computation instead. The child computes nothing: numba's
    threads do not survive a fork."""
    pid = os.fork()
    if pid == 0:
        try:
            with pytest.MonkeyPatch.context() as patch:
                _interrupt_at(patch, k, lambda: os._exit(0))
                patch.setattr(sweep_module, "run_cells", lambda *args, **kwargs: os._exit(REACHED_THE_CELLS))
                run_sweep(store)
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) in (0, REACHED_THE_CELLS), status
    return os.WEXITSTATUS(status) == REACHED_THE_CELLS


def test_a_store_whose_making_was_killed_at_any_point_is_finished_by_the_same_sweep(tmp_path, reference):
    for k in itertools.count(1):
        store = tmp_path / f"s{k}"
        made = _sigkilled_at(k, store)
        same_table(run_sweep(store), reference)
        if made:
            break
    assert k > 4, "making a store takes several calls: directory, lock, manifest, cells/"


def test_a_store_half_made_by_an_older_version_is_finished(tmp_path, reference):
    # Older versions made cells/ before sweep.json; killed in between, they left this.
    store = tmp_path / "s"
    (store / "cells").mkdir(parents=True)
    (store / "sweep.lock").write_text("")
    (store / ".sweep.json.4242.tmp").write_text('{"spec": {"gr')
    same_table(run_sweep(store), reference)
    assert sorted(p.name for p in store.iterdir()) == ["cells", "sweep.json", "sweep.lock"]


# Two sweeps at once --------------------------------------------------------------


@pytest.mark.parametrize("state", ["lock file only", "a temporary manifest", "cells/ before the manifest"])
def test_a_store_being_made_by_another_sweep_is_refused_as_in_use_not_as_foreign(tmp_path, state, reference,
                                                                                  count_cells):
    store = tmp_path / "s"
    store.mkdir()
    with open(store / store_module.LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as the sweep making the store holds it
        if state == "a temporary manifest":
            (store / ".sweep.json.4242.tmp").write_text('{"spec": ')
        elif state == "cells/ before the manifest":
            (store / "cells").mkdir()
        with pytest.raises(StoreLockedError, match="is in use by another sweep"):
            run_sweep(store)
    assert count_cells == []
    same_table(run_sweep(store), reference)


SPEC = {"grid": {"seed": [0]}, "fixed": {}, "test_error": True}


def _open_store(store, barrier, outcomes):
    barrier.wait()
    try:
        opened = store_module.SweepStore(store, SPEC, ["cell"])
    except Exception as exc:  # reported to the test, which names what it expected
        outcomes.put(type(exc).__name__)
    else:
        time.sleep(0.3)  # the other one tries meanwhile
        opened.close()
        outcomes.put("opened")


@pytest.mark.slow
def test_two_sweeps_making_one_new_store_at_once_one_opens_it_the_other_is_refused_as_in_use(tmp_path):
    context = multiprocessing.get_context("fork")
    # The store used to refuse the second sweep as foreign 4 times in 45 such trials.
    for trial in range(60):
        store = tmp_path / f"s{trial}"
        barrier, outcomes = context.Barrier(2), context.Queue()
        processes = [context.Process(target=_open_store, args=(store, barrier, outcomes)) for _ in range(2)]
        for process in processes:
            process.start()
        got = sorted(outcomes.get(timeout=60) for _ in processes)
        for process in processes:
            process.join(timeout=60)
        assert got == ["StoreLockedError", "opened"], (trial, got)


# Planted links ---------------------------------------------------------------------


@pytest.fixture
def precious(tmp_path):
    victim = tmp_path / "precious.txt"
    victim.write_text("precious\n")
    return victim


def _plant(link, target, kind):
    if kind == "symbolic link":
        link.symlink_to(target)
    else:
        os.link(target, link)


#: What the store says of a link planted where it writes, by kind of link.
PLANTED = {"symbolic link": (r"is a symbolic link", errno.ELOOP),
           "hard link": (r"has other hard links|not of this sweep's making", None)}


@pytest.mark.parametrize("kind", PLANTED)
def test_a_lock_file_planted_as_a_link_is_refused_and_its_target_untouched(tmp_path, precious, count_cells, kind):
    store = tmp_path / "s"
    store.mkdir()
    _plant(store / store_module.LOCK, precious, kind)
    message, code = PLANTED[kind]
    with pytest.raises(StoreWriteError, match=rf"sweep\.lock {message}") as info:
        run_sweep(store)
    assert info.value.filename == str(store / store_module.LOCK) and code in (None, info.value.errno)
    assert precious.read_text() == "precious\n"
    assert count_cells == []


def test_a_cells_directory_planted_as_a_link_is_refused_and_the_directory_it_names_untouched(tmp_path,
                                                                                            count_cells):
    store = tmp_path / "s"
    run_sweep(store)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".draft.tmp").write_text("mine")
    shutil.rmtree(store / "cells")
    (store / "cells").symlink_to(elsewhere, target_is_directory=True)
    count_cells.clear()
    with pytest.raises(StoreWriteError, match=r"cells is a symbolic link") as info:
        run_sweep(store)
    assert info.value.filename == str(store / "cells")
    assert [p.name for p in elsewhere.iterdir()] == [".draft.tmp"], "nothing written there, nothing deleted"
    assert count_cells == []


@pytest.mark.parametrize("kind", PLANTED)
def test_a_link_planted_at_a_temporary_name_while_the_sweep_runs_is_not_written_through(tmp_path, precious,
                                                                                       monkeypatch, reference,
                                                                                       kind):
    store = tmp_path / "s"
    computing = sweep_module.run_cells

    def planting(configs, *args, **kwargs):
        for slot in range(len(GRID["seed"])):
            _plant(store / "cells" / f".{slot:06d}.json.{os.getpid()}.tmp", precious, kind)
        return computing(configs, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(sweep_module, "run_cells", planting)
        with pytest.raises(StoreWriteError, match=rf"\.000000\.json\.\d+\.tmp (is in the way of .*)?"
                                                  rf"{PLANTED[kind][0]}"):
            run_sweep(store)
    assert precious.read_text() == "precious\n"
    same_table(run_sweep(store), reference)  # the links are cleared away with the stray temporary files
    assert precious.read_text() == "precious\n"


# Damaged files --------------------------------------------------------------------


def _damage(path, kind):
    """Put something that is no file of the store's in place of ``path``."""
    if kind == "oversized":  # a record that parses and checks, buried in a file too large to be one
        path.write_text(path.read_text() + " " * (2 * store_module.RECORD_LIMIT))
        return
    path.unlink()
    if kind == "directory":
        path.mkdir()
        (path / "inside").write_text("x")
    elif kind == "nested JSON":
        path.write_text("[" * 100_000 + "]" * 100_000)
    elif kind == "FIFO":
        os.mkfifo(path)
    elif kind == "link to another cell":
        path.symlink_to(path.with_name("000000" + path.suffix))
    else:
        raise AssertionError(kind)


@contextlib.contextmanager
def freed_if_stuck(fifo, after=20.0):
    """Yield a list that gets an entry if the code under test is still running ``after`` seconds on, as when it
    waits for a writer on the FIFO ``fifo``; the FIFO is then opened for writing, so that a read ends."""
    done, stuck = threading.Event(), []

    def watch():
        if not done.wait(after):
            stuck.append(True)
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield stuck
    finally:
        done.set()
        watcher.join()


@pytest.mark.parametrize("kind", ["directory", "nested JSON", "FIFO", "link to another cell", "oversized"])
def test_a_cell_record_damaged_in_any_way_is_recomputed(tmp_path, reference, count_cells, kind):
    store = tmp_path / "s"
    run_sweep(store)
    path = store / "cells" / "000001.json"
    _damage(path, kind)
    count_cells.clear()
    with freed_if_stuck(path) as stuck, pytest.warns(StoreWarning, match="000001.json"):
        resumed = run_sweep(store)
    assert not stuck, "the sweep waited on a FIFO"
    assert count_cells == [1]
    same_table(resumed, reference)
    assert stat.S_ISREG(os.lstat(path).st_mode), "the cell is a regular file again"


@pytest.mark.parametrize("kind", ["directory", "FIFO", "link to another cell"])
def test_a_trajectory_file_damaged_in_any_way_is_recomputed(tmp_path, reference, count_cells, kind):
    store = tmp_path / "s"
    run_sweep(store, trajectories=True)
    path = store / "cells" / "000001.npz"
    _damage(path, kind)
    count_cells.clear()
    with freed_if_stuck(path) as stuck, pytest.warns(StoreWarning, match="000001.npz"):
        resumed = run_sweep(store, trajectories=True)
    assert not stuck, "the sweep waited on a FIFO"
    assert count_cells == [1]
    same_table(resumed, reference)
    assert stat.S_ISREG(os.lstat(path).st_mode)
    assert resumed.result(1).config.seed == 1


@pytest.mark.parametrize("kind", ["directory", "nested JSON", "FIFO"])
def test_a_damaged_manifest_is_refused_in_one_error_never_a_crash_or_a_wait(tmp_path, kind, count_cells):
    store = tmp_path / "s"
    run_sweep(store)
    _damage(store / "sweep.json", kind)
    count_cells.clear()
    with freed_if_stuck(store / "sweep.json") as stuck, pytest.raises(StoreMismatchError,
                                                                       match=r"unreadable sweep\.json"):
        run_sweep(store)
    assert not stuck, "the sweep waited on a FIFO"
    assert count_cells == []


def test_a_config_file_nested_too_deeply_is_one_line(tmp_path, capsys):
    config = tmp_path / "deep.toml"
    config.write_text("[grid]\nseed = " + "[" * 5000 + "]" * 5000 + "\n")
    refused(capsys, ["sweep", "--config", str(config), "--out", str(tmp_path / "t.csv")],
            f"--config {config}: not valid TOML", "nested too deeply")


# A failed write -------------------------------------------------------------------


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, NO_SPACE)


def _disk_full_after_two_cells(patch, store):
    """The disk fills up once two cells are stored: flushing any file to disk then fails (as delayed allocation
    makes it do)."""
    flush = os.fsync

    def fsync(fd):
        if len(list((store / "cells").glob("*.json"))) >= 2:
            _enospc()
        return flush(fd)

    patch.setattr(os, "fsync", fsync)


def test_a_lock_whose_holder_cannot_be_written_is_released(tmp_path, monkeypatch, reference):
    store = tmp_path / "s"
    with monkeypatch.context() as patch:
        patch.setattr(os, "pwrite", _enospc)
        with pytest.raises(StoreWriteError, match=rf"cannot write {store / 'sweep.lock'} \({NO_SPACE}\)") as info:
            run_sweep(store)
    assert info.value.errno == errno.ENOSPC
    same_table(run_sweep(store), reference)  # in the same process: the lock was released


@pytest.mark.parametrize("trajectories", [False, True])
def test_a_full_disk_stops_the_sweep_with_one_error_naming_the_file_and_loses_nothing(tmp_path, monkeypatch,
                                                                                    reference, count_cells,
                                                                                    trajectories):
    store = tmp_path / "s"
    with monkeypatch.context() as patch:
        _disk_full_after_two_cells(patch, store)
        with pytest.raises(StoreWriteError) as info:
            run_sweep(store, trajectories=trajectories)
    error = info.value
    failed = store / "cells" / ("000002.npz" if trajectories else "000002.json")
    assert error.errno == errno.ENOSPC and error.filename == str(failed)
    assert str(failed) in str(error) and NO_SPACE in str(error) and "Nothing finished is lost" in str(error)
    assert error.__cause__ is None and error.__suppress_context__, "one error, not a chain of three"
    kept = [f"00000{i}.{ext}" for i in (0, 1) for ext in (["json", "npz"] if trajectories else ["json"])]
    assert sorted(p.name for p in (store / "cells").iterdir()) == sorted(kept), "no temporary file left"
    count_cells.clear()
    same_table(run_sweep(store, trajectories=trajectories), reference)
    assert count_cells == [2], "the two cells stored before the disk filled are kept"


def test_a_full_disk_under_the_store_is_one_line_from_the_command(tmp_path, capsys, monkeypatch):
    store, out = tmp_path / "s", tmp_path / "t.csv"
    argv = ["sweep", "--grid", "seed=0,1,2", *TINY_ARGS, "--backend", "serial", "--no-progress",
            "--store", str(store), "--out", str(out)]
    with monkeypatch.context() as patch:
        _disk_full_after_two_cells(patch, store)
        refused(capsys, argv, str(store / "cells" / "000002.json"), NO_SPACE, "Nothing finished is lost")
    assert not out.exists()


@pytest.mark.parametrize("earlier", [None, "the table of an earlier sweep\n"])
def test_a_full_disk_under_the_table_is_one_line_and_leaves_no_half_written_file(tmp_path, capsys, monkeypatch,
                                                                                  earlier):
    store, out = tmp_path / "s", tmp_path / "t.csv"
    if earlier is not None:
        out.write_text(earlier)

    def filling(self, path, *args, **kwargs):
        with open(path, "w") as fh:
            fh.write("cell,")  # what fitted on the disk
        raise OSError(errno.ENOSPC, NO_SPACE, str(path))

    monkeypatch.setattr(pd.DataFrame, "to_csv", filling)
    refused(capsys, ["sweep", "--grid", "seed=0,1", *TINY_ARGS, "--backend", "serial", "--no-progress",
                     "--store", str(store), "--out", str(out)],
            f"--out {out}: cannot write it ({NO_SPACE})", f"cells are in the store {store}")
    assert sorted(p.name for p in tmp_path.iterdir()) == (["s"] if earlier is None else ["s", "t.csv"])
    assert earlier is None or out.read_text() == earlier, "the earlier table is left whole"


def test_a_full_disk_under_a_run_is_one_line_and_leaves_no_half_written_result(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"

    def filling(self, path):
        with open(path, "wb") as fh:
            fh.write(b"PK")  # what fitted on the disk
        raise OSError(errno.ENOSPC, NO_SPACE, str(path))

    monkeypatch.setattr(SimulationResult, "save", filling)
    refused(capsys, ["run", *TINY_ARGS, "--out", str(out)], f"--out {out}: result.npz: cannot write it ({NO_SPACE})")
    assert sorted(p.name for p in out.iterdir()) == ["summary.txt"], "no result.npz, whole or in part"
