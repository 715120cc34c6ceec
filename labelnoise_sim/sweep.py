"""Grid sweeps: :func:`~labelnoise_sim.sweep` runs the Cartesian product of parameter lists.

Every cell of a grid is one :func:`~labelnoise_sim.simulate` call, condensed
by :func:`~labelnoise_sim.analyze` into one row of a pandas DataFrame. A cell's
randomness comes from its own ``seed`` only, and its dynamics run in the
single-run kernel (batched by :func:`~labelnoise_sim.run_many`), so a row
does not depend on the backend, the number of workers, the batch it ran in or the order in which
cells finished; only the ``wall_time`` column does.

Backends
--------
``"serial"``
    In the calling process; the dynamics of a batch of cells run in parallel
    over numba threads.
``"processes"`` (default)
    Local worker processes (``spawn``), each running whole cells.
``client=``
    A ``distributed.Client`` the user already has: the same worker function
    runs on the Dask cluster. Setting up the cluster is the user's business.

With ``store=PATH`` each finished cell is written atomically as it ends and a
rerun computes only the missing cells (see :mod:`labelnoise_sim.store`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import math
import numbers
import os
import sys
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._validation import check_choice, check_int
from .analysis import analyze
from .config import FIELDS, PARAMETERS, SimulationConfig
from .data import sample_data
from .dynamics import (DivergenceError, available_memory, batch_key, check_memory, describe_runs, memory_bytes,
                       record_count, result_bytes, run, run_many)
from .result import SimulationResult
from .store import SweepStore, canonical_json

if TYPE_CHECKING:  # the dask extra
    import distributed

__all__ = ["sweep", "SweepResult", "expand_grid", "choose_backend", "cell_seconds", "BACKENDS", "SWEEP_PARAMETERS"]

BACKENDS = ("auto", "serial", "processes", "dask")
#: Parameters a grid or the fixed parameters may set: those of ``simulate``.
SWEEP_PARAMETERS = tuple(PARAMETERS)
#: Most cells handed to one batched kernel call (bounds memory: a cell's
#: trajectory is records × 2m × n floats; batches also shrink to fit the memory available).
MAX_BATCH = 8


@dataclasses.dataclass(frozen=True, eq=False)
class SweepResult:
    """Outcome of :func:`sweep`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per cell, in grid order (the last grid parameter varies
        fastest): the cell's grid parameters, the ``analyze()`` metrics
        (``StageAnalysis.to_dict()``), ``diverged_at`` (the step at which
        gradient descent diverged, or None) and ``wall_time`` (seconds spent
        on the cell; a batch's kernel time is shared evenly by its cells).
    grid, fixed : dict
        The sweep's grid and fixed parameters, as given.
    configs : tuple of SimulationConfig
        Every cell's full configuration, in table order.
    store : Path or None
        The store directory, if any.
    backend : str
        Where the cells ran ("serial", "processes" or "dask"): what "auto" chose.
    """

    table: object
    grid: dict
    fixed: dict
    configs: tuple
    store: Path | None = None
    backend: str = "serial"
    _kept: dict = dataclasses.field(default_factory=dict, repr=False)
    _store: SweepStore | None = dataclasses.field(default=None, repr=False)

    def result(self, index: int) -> SimulationResult:
        """The full trajectory of cell ``index`` (a row label of ``table``).

        Kept results (``trajectories=True``) are returned from memory or the
        store; otherwise the cell is simulated again, which gives the very same
        numbers since a cell depends on its parameters only. A stored
        trajectory is returned only if its SHA-256 matches the one in its cell
        record; one that does not is reported (:class:`~labelnoise_sim.store.StoreWarning`)
        and the cell simulated again, so damaged data is never returned. The
        store is only read here, never repaired: a rerun of the sweep does that.

        Parameters
        ----------
        index : int
            A row label of ``table``.

        Returns
        -------
        SimulationResult
            The cell's trajectory.
        """
        index = check_int("index", index, low=0, high=len(self.configs) - 1)
        if index in self._kept:
            return self._kept[index]
        config = self.configs[index]
        if self._store is not None:
            stored = self._store.read_result(_cell_key(config))
            if stored is not None:
                return stored
        return run(config)


def expand_grid(grid: Mapping, fixed: Mapping | None = None) -> list[tuple[dict, SimulationConfig]]:
    r"""The cells of ``grid`` × ``fixed``, each validated before anything runs.

    Parameters
    ----------
    grid : mapping
        Maps parameter names of :func:`~labelnoise_sim.simulate` to
        non-empty lists of values; the cells are their Cartesian product, the last
        name varying fastest. A key naming several parameters — a tuple
        ``("d", "eta")`` or the string ``"d+eta"`` — is one zipped axis: its values
        are lists that set those parameters together (e.g. :math:`\eta` scaled with :math:`d`).
    fixed : mapping or None, default None
        The other parameters, shared by every cell.

    Returns
    -------
    list of (dict, SimulationConfig)
        Each cell's grid values and its validated configuration, in grid order.

    Raises
    ------
    ValueError
        Naming the cell, for an invalid one.
    """
    grid, fixed = _normalise_grid(grid), _normalise_fixed(fixed or {})
    overlap = set(_grid_names(grid)) & set(fixed)
    if overlap:
        raise ValueError(f"{', '.join(sorted(overlap))} set both in the grid and as fixed parameters; keep one")
    cells = []
    for values in itertools.product(*grid.values()):
        params = {}
        for key, value in zip(grid, values):
            params.update(zip(key.split("+"), value) if "+" in key else [(key, value)])
        try:
            config = SimulationConfig.from_params(**fixed, **params)
        except ValueError as exc:
            raise ValueError(f"grid cell {len(cells)} {params}: {exc}") from None
        cells.append((params, config))
    return cells


def sweep(
    grid: Mapping,
    fixed: Mapping | None = None,
    *,
    store: str | os.PathLike | None = None,
    backend: str = "auto",
    workers: int | None = None,
    client: distributed.Client | None = None,
    progress: bool = True,
    trajectories: bool = False,
    test_error: bool = True,
) -> SweepResult:
    """Run every cell of a parameter grid and tabulate the stage analysis of each.

    Parameters
    ----------
    grid : mapping of str to list
        Parameter names of :func:`~labelnoise_sim.simulate` (``n``, ``d``,
        ``tau``, ``n_snr2``, ``seed``, ...) to the values to sweep; the sweep
        runs their Cartesian product. A key ``("d", "eta")`` (or ``"d+eta"``)
        zips parameters: its values are pairs set together.
    fixed : mapping of str to value, optional
        The other parameters of ``simulate``, shared by every cell (as in
        :func:`expand_grid`).
    store : path-like, optional
        Directory that keeps every finished cell (written atomically as it
        ends). Rerunning the same sweep with the same store computes only the
        missing cells; the store knows a cell by its full configuration, so
        the grid's keys and values may come in another order. A store of
        another sweep is refused (:class:`~labelnoise_sim.store.StoreMismatchError`),
        and so is a store that another running sweep holds
        (:class:`~labelnoise_sim.store.StoreLockedError`, at once, naming its
        process). A store file that cannot be written (a full disk) stops the
        sweep with :class:`~labelnoise_sim.store.StoreWriteError`, naming the
        file; the cells stored before are kept.
    backend : {"auto", "serial", "processes", "dask"}
        Where cells run: in this process, in local worker processes, or on
        the Dask cluster of ``client``. "auto" (default) runs in worker
        processes when the cells still to compute would take this process
        long enough to pay for starting them (:func:`~labelnoise_sim.sweep.choose_backend`), else
        here. The table is the same whichever runs.
    workers : int, optional
        Worker processes of the "processes" backend (default: the CPUs this
        process may use).
    client : distributed.Client, optional
        Run the cells on this Dask client's cluster (implies backend "dask").
    progress : bool
        Show a progress bar (tqdm) when standard error is a terminal.
    trajectories : bool
        Keep every cell's :class:`~labelnoise_sim.SimulationResult` (in the
        store if there is one, else in memory) for :meth:`SweepResult.result`.
    test_error : bool
        Compute the test error of every record (``analyze``'s
        ``best_test_error``, ``final_test_error``, ...). It is usually the
        largest cost of a cell; ``False`` leaves those columns empty.

    Returns
    -------
    SweepResult
        ``.table`` has one row per cell. All its columns but ``wall_time`` are
        bit-identical whatever the backend, the worker count or the order in
        which cells finish.

    Raises
    ------
    ValueError
        For an invalid cell or option; and, before any cell runs, with the
        serial or processes backend, when the largest cell, times the worker
        processes that hold one at once, does not fit in the memory
        available (``dynamics.memory_bytes``). Batches of cells shrink to fit.

    Examples
    --------
    >>> res = sweep({"tau": [0.0, 0.2], "seed": [0, 1]}, {"n": 100, "d": 1000, "steps": 500}, backend="serial")
    >>> res.table[["tau", "seed", "t1", "best_test_error"]]  # doctest: +SKIP
    """
    fixed = dict(fixed or {})
    cells = expand_grid(grid, fixed)
    backend = check_choice("backend", backend, BACKENDS)
    if client is not None:
        if backend in ("serial", "processes"):
            raise ValueError(f"backend={backend!r} runs on this machine and cannot use client=; drop one of them")
        backend = "dask"
    elif backend == "dask":
        raise ValueError("backend='dask' needs client=, a distributed.Client of the cluster to run on")
    if workers is not None:
        workers = check_int("workers", workers, low=1)
    trajectories, test_error = bool(trajectories), bool(test_error)
    pd = _import_pandas()

    spec = {"grid": _normalise_grid(grid), "fixed": _normalise_fixed(fixed), "test_error": test_error}
    keys = [_cell_key(config) for _, config in cells]

    records: dict[int, dict] = {}
    kept: dict[int, SimulationResult] = {}
    with contextlib.ExitStack() as cleanup:
        sweep_store = None
        if store is not None:
            # Holds the store's lock until the sweep ends, however it ends.
            sweep_store = SweepStore(store, spec, keys)
            cleanup.callback(sweep_store.close)
            for index, key in enumerate(keys):
                record = sweep_store.read(key, need_result=trajectories)
                if record is not None:
                    records[index] = record
        pending = [i for i in range(len(cells)) if i not in records]
        configs = [config for _, config in cells]
        if backend == "auto":
            backend = choose_backend([configs[i] for i in pending], test_error, workers)
        if backend == "serial":
            units = 1
        elif backend == "processes":
            units = workers or _available_cpus()
        else:
            units = max(1, sum(client.nthreads().values()))
        batches = _fit_memory(pending, configs, backend, units, trajectories and store is None, test_error)

        bar = _progress_bar(len(cells), len(records), progress)
        cleanup.callback(bar.close)
        for indices, outcomes in _execute(backend, batches, cells, (trajectories, test_error), workers, client):
            for index, outcome in zip(indices, outcomes):
                record = _record(cells[index][0], outcome)
                result = outcome.get("result")
                if sweep_store is not None:
                    sweep_store.write(keys[index], record, result if trajectories else None)
                elif result is not None:
                    kept[index] = result
                records[index] = record
                bar.update(1)

    diverged = [i for i, r in records.items() if r["diverged_at"] is not None]
    if diverged:
        warnings.warn(f"{len(diverged)} of {len(cells)} cells diverged (lower eta); see the column "
                      "diverged_at", RuntimeWarning, stacklevel=2)
    table = _table(pd, [records[i] for i in range(len(cells))], _grid_names(spec["grid"]))
    return SweepResult(
        table=table, grid=dict(grid), fixed=dict(fixed), configs=tuple(c for _, c in cells),
        store=None if store is None else Path(store), backend=backend, _kept=kept, _store=sweep_store,
    )


# Grid and records ------------------------------------------------------------


def _plain(value, name):
    """``value`` as plain JSON-ready Python (numpy scalars and arrays unwrapped)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v, name) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, numbers.Real):
        return float(value)
    raise ValueError(f"{name} must be a number, a string, None or a list of steps; got {value!r}")


def _check_name(name, where):
    if name not in SWEEP_PARAMETERS:
        raise TypeError(f"{where} has unknown parameter {name!r}; allowed: {', '.join(SWEEP_PARAMETERS)}")


def _axis_names(key) -> list[str]:
    """Parameter names of a grid key: ``"tau"``, or a zipped axis ``("d", "eta")`` / ``"d+eta"``."""
    names = list(key) if isinstance(key, tuple) else str(key).split("+")
    if len(set(names)) != len(names):
        raise ValueError(f"grid key {key!r} names a parameter twice")
    return names


def _normalise_grid(grid) -> dict:
    """Grid with string keys ("d+eta" for a zipped axis) and plain JSON values."""
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError(f"grid must be a non-empty mapping of parameter names to lists of values; got {grid!r}")
    out, seen = {}, set()
    for key, values in grid.items():
        names = _axis_names(key)
        for name in names:
            _check_name(name, "grid")
            if name in seen:
                raise ValueError(f"grid sets {name!r} on two axes")
            seen.add(name)
        label = "+".join(names)
        if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)) or len(values) == 0:
            raise ValueError(f"grid[{label!r}] must be a non-empty list of values; got {values!r}")
        values = [_plain(v, f"grid[{label!r}]") for v in values]
        if len(names) > 1 and any(not isinstance(v, list) or len(v) != len(names) for v in values):
            raise ValueError(f"grid[{label!r}] zips {len(names)} parameters: each value must be a list of "
                             f"{len(names)} values; got {values!r}")
        out[label] = values
    return out


def _grid_names(grid: dict) -> list[str]:
    """Every parameter a normalised grid sets, in column order."""
    return [name for key in grid for name in key.split("+")]


def _normalise_fixed(fixed) -> dict:
    out = {}
    for name, value in fixed.items():
        _check_name(name, "sweep()")
        out[name] = _plain(value, name)
    return out


#: Fields added after stores existed: left out of a cell's fingerprint at their defaults, so that a store made
#: before them still resumes.
LATER_FIELDS = ("features", "classes", "output_layer")


def _cell_key(config: SimulationConfig) -> str:
    """Fingerprint of a cell's full configuration."""
    fields = config.to_dict()
    for name in LATER_FIELDS:
        if fields[name] == FIELDS[name].default:
            del fields[name]
    return hashlib.sha256(canonical_json(fields).encode()).hexdigest()[:32]


def _record(params: dict, outcome: dict) -> dict:
    """A cell's record; plain JSON values, so a fresh and a stored record agree bit for bit.

    The store adds the cell's identity (its configuration's fingerprint and its slot).
    """
    record = {
        "params": params, "metrics": outcome["metrics"],
        "diverged_at": outcome["diverged_at"], "wall_time": outcome["wall_time"],
    }
    return json.loads(canonical_json(record))


def _table(pd, records: list[dict], grid_names: list[str]):
    rows = []
    for r in records:
        row = dict(r["params"])
        for name, value in r["metrics"].items():
            row.setdefault(name, value)
        row["diverged_at"] = r["diverged_at"]
        row["wall_time"] = r["wall_time"]
        rows.append(row)
    table = pd.DataFrame(rows)
    front = grid_names + [c for c in table.columns if c not in grid_names and c not in ("diverged_at", "wall_time")]
    return table[front + ["diverged_at", "wall_time"]]


# Execution -------------------------------------------------------------------


def _batches(pending: list[int], configs: list[SimulationConfig], units: int, fits=None) -> list[list[int]]:
    """Split pending cells into batches of equal shape, enough of them to keep ``units`` busy.

    ``fits(cells)``, if given, says whether a batch of those cells fits in memory; batches shrink until
    all do (down to single cells, which :func:`_fit_memory` checks).
    """
    groups: dict[tuple, list[int]] = {}
    for index in pending:
        groups.setdefault(batch_key(configs[index]), []).append(index)
    batches = []
    for members in groups.values():
        size = max(1, min(MAX_BATCH, len(members) // (4 * units)))
        while size > 1 and fits is not None and not all(fits(members[i : i + size])
                                                        for i in range(0, len(members), size)):
            size -= 1
        batches.extend(members[i : i + size] for i in range(0, len(members), size))
    return batches


#: Seconds of one core per unit of work of each part of a cell, measured at
#: n = 100..400 on the 2-core development machine (the slower end of what it
#: measured): dynamics per step·2m·n², drawing explicit data per (n + 2m)²·d/2
#: (its Gram matrix) or a Bartlett draw per (n + 2m)³, and the test error per
#: record·P1·(2m)² (its estimate takes a few thousand draws a record: about
#: 0.5 s of one core for the 121 records of a default run).
CELL_COSTS = {"dynamics": 6e-11, "explicit": 3e-10, "gram": 7e-10, "test_error": 1e-5}
#: Work (``cell_seconds``, summed) above which ``backend="auto"`` starts worker processes. This process already
#: runs a batch's dynamics and the test error's kernels on every core, so workers gain only its serial Python
#: parts, and their start costs several seconds (each imports the library and loads its compiled kernels).
#: Measured on 2 idle cores (AMD EPYC, znver3; ``benchmarks/bench_sweep.py --part backends``), default cells of
#: 500 steps took 3.1 s here against 5.2 s in workers (16 cells), 10.1 s against 12.8 s (64), 46.2 s against
#: 35.0 s (256): workers lose below about 85 cells (about 34 s of estimated work) and gain 1.3x at 256. The
#: threshold sits well above the break-even, so that "auto" is never the slower choice.
AUTO_PROCESSES_SECONDS = 60.0


def cell_seconds(config: SimulationConfig, test_error: bool = True) -> float:
    """Estimate roughly the seconds one core spends on a cell: drawing, dynamics, analysis.

    Parameters
    ----------
    config : SimulationConfig
        The cell.
    test_error : bool, default True
        Whether its analysis includes the test error.

    Returns
    -------
    float
        Seconds.
    """
    N = config.n * config.noise_patches
    q, p = 2 * config.m, N + 2 * config.m
    draw = p * p * config.d / 2 * CELL_COSTS["explicit"] if config.sampling == "explicit" else (
        p**3 * CELL_COSTS["gram"])
    # The family kernel takes up to about twice the paper's per step, SAM twice that again (benchmarks).
    family = 1.0 if config.paper_model else 2.0 * (2.0 if config.sam > 0 else 1.0)
    dynamics = config.steps * q * N**2 * CELL_COSTS["dynamics"] * family
    analysis = record_count(config) * config.noise_patches * q * q * CELL_COSTS["test_error"] if test_error else 0.0
    return draw + dynamics + analysis


def choose_backend(configs, test_error: bool = True, workers: int | None = None) -> str:
    """What ``backend="auto"`` picks for these cells: "processes" or "serial".

    Worker processes when there are at least two cells and two CPUs to run
    them and the cells would take this process more than
    AUTO_PROCESSES_SECONDS (:func:`cell_seconds`); this process otherwise, and
    always when the main script cannot be re-run by a worker (a script from
    standard input).

    Parameters
    ----------
    configs : sequence of SimulationConfig
        The cells to run.
    test_error : bool, default True
        Whether their analysis includes the test error.
    workers : int or None, default None
        The worker processes asked for; None for the CPUs there are.

    Returns
    -------
    str
        "processes" or "serial".
    """
    if len(configs) < 2 or (workers or _available_cpus()) < 2 or _main_script_unreadable() is not None:
        return "serial"
    work = sum(cell_seconds(config, test_error) for config in configs)
    return "processes" if work > AUTO_PROCESSES_SECONDS else "serial"


def _main_script_unreadable():
    """The main script's name if a spawned worker could not run it again (a script from standard input), else None."""
    main = sys.modules["__main__"]
    script = getattr(main, "__file__", None)
    spec = getattr(main, "__spec__", None)
    if getattr(spec, "name", None) is None and script is not None and not os.path.isfile(script):
        return script
    return None


def _fit_memory(pending, configs, backend, units, keep, test_error) -> list[list[int]]:
    """The batches of :func:`_batches`, within the memory of this machine, checked before any cell runs.

    With a local backend up to ``min(units, pending cells)`` batches are in memory at once (one in the
    serial backend), each counted by ``memory_bytes`` with its analysis, besides every result if they are
    kept in memory (``keep``: trajectories without a store). The largest cell alone must fit, or
    ValueError; batches then shrink until they fit. A Dask cluster's memory is not this machine's: its
    workers check their batches (:func:`run_cells`).
    """
    at_once = 1 if backend == "serial" else min(units, len(pending))
    available = available_memory()[0] if backend != "dask" and pending else None
    if available is None:
        return _batches(pending, configs, units)

    def need(cells):
        return memory_bytes([configs[i] for i in cells], analyze=True, test_error=test_error)

    kept = sum(result_bytes(configs[i], analyzed=True) for i in pending) if keep else 0
    # Checked from the parameters alone, before _batches makes any array of a cell (its record steps).
    largest = max(pending, key=lambda i: need([i]))
    what = f"the sweep's largest cell, {describe_runs(configs[largest])}"
    if at_once > 1:
        what += f", {at_once} at a time ({backend} backend)"
    if kept:
        what += f", with {kept / 2**30:.3g} GiB of results kept in memory (trajectories=True without a store)"
    check_memory(at_once * need([largest]) + kept, what,
                 "use fewer workers or smaller cells" if at_once > 1 else "use smaller cells")
    return _batches(pending, configs, units, lambda cells: at_once * need(cells) + kept <= available)


def _execute(backend, batches, cells, options, workers, client):
    """Yield (cell indices, outcomes) per batch, as batches finish; options = (trajectories, test_error)."""
    jobs = [([cells[i][1] for i in batch], batch) for batch in batches]
    if not jobs:
        return
    if backend == "serial":
        for configs, batch in jobs:
            yield batch, run_cells(configs, *options, parallel=True)
    elif backend == "processes":
        yield from _execute_processes(jobs, options, workers)
    else:
        yield from _execute_dask(jobs, options, client)


def _execute_processes(jobs, options, workers):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # A spawned worker first runs the main script again, found by its __file__; a script read from
    # standard input ("<stdin>") cannot be, and every worker would die with an opaque BrokenProcessPool.
    script = _main_script_unreadable()
    if script is not None:
        raise RuntimeError(
            f"backend='processes' starts worker processes that run the main script again, and {script!r} is "
            "no file they can read (a script given on standard input?): save the code in a file, with the "
            'sweep under `if __name__ == "__main__":`, and run that file; '
            "or pass backend='serial'"
        )
    workers = min(workers or _available_cpus(), len(jobs))
    # spawn: the parent may hold numba or BLAS threads, which fork would copy in a broken state.
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init, initargs=(os.getpid(),))
    try:
        futures = {pool.submit(run_cells, configs, *options, parallel=False): batch for configs, batch in jobs}
        for future in as_completed(futures):
            yield futures[future], future.result()
    except BaseException:
        # Interrupted (Ctrl-C, a failing cell, a closed generator): drop the
        # queued cells and stop the running ones; finished cells are stored.
        # (ProcessPoolExecutor has no public way to stop running workers before Python 3.14.)
        running = list((pool._processes or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in running:
            process.terminate()
        raise
    pool.shutdown(wait=True)


def _execute_dask(jobs, options, client):
    from distributed import as_completed

    futures = {}
    for configs, batch in jobs:
        future = client.submit(run_cells, configs, *options, parallel=False, pure=False)
        futures[future] = batch
    try:
        for future in as_completed(list(futures)):
            yield futures[future], future.result()
    except BaseException:
        client.cancel(list(futures))
        raise


def _worker_init(parent_pid: int) -> None:
    """Set up a worker process: one BLAS thread, and exit when the parent dies."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        # The worker processes are the parallelism; BLAS threads would only compete.
        threadpool_limits(1)
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()


def _exit_with_parent(parent_pid: int) -> None:
    # A parent killed with SIGKILL cannot stop its workers; they notice here.
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    os._exit(1)


def run_cells(configs: list[SimulationConfig], trajectories: bool = False, test_error: bool = True, *,
              parallel: bool = True) -> list[dict]:
    """Simulate and analyze cells of equal shape in one batched kernel call.

    This is the unit of work of every backend; ``parallel`` runs the batch
    over numba threads. Returns per cell a dict with ``metrics``
    (``analyze(result, test_error=test_error).to_dict()``, empty if the run diverged),
    ``diverged_at`` (step or None), ``wall_time`` and, if ``trajectories``,
    ``result`` (None if the run diverged).

    A run diverged if its outputs stopped being finite, or if the statistics
    of its test error did (``test_error=True`` only): ``diverged_at`` is then
    the step of the first non-finite output, or the first recorded step with
    non-finite statistics. Either way the cell is recorded, never raised, so
    one bad cell cannot abort a sweep.
    """
    check_memory(memory_bytes(configs, analyze=True, test_error=test_error), describe_runs(configs))
    datas, prep = [], []
    for config in configs:
        t0 = time.perf_counter()
        datas.append(sample_data(config))
        prep.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    results = run_many(configs, datas, parallel=parallel, diverged="return")
    shared = (time.perf_counter() - t0) / len(configs)
    outcomes = []
    for result, own in zip(results, prep):
        t0 = time.perf_counter()
        if not isinstance(result, DivergenceError):
            try:
                metrics = analyze(result, test_error=test_error).to_dict()
            except DivergenceError as exc:
                # Finite outputs, overflowing test statistics: diverged all the same.
                result = exc
        if isinstance(result, DivergenceError):
            outcome = {"metrics": {}, "diverged_at": result.step}
        else:
            outcome = {"metrics": _plain_metrics(metrics), "diverged_at": None}
        outcome["wall_time"] = own + shared + time.perf_counter() - t0
        if trajectories:
            outcome["result"] = None if isinstance(result, DivergenceError) else result
        outcomes.append(outcome)
    return outcomes


def _plain_metrics(metrics: dict) -> dict:
    out = {}
    for name, value in metrics.items():
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and math.isnan(value):
            value = None
        out[name] = value
    return out


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _progress_bar(total: int, done: int, progress: bool):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        if progress:
            warnings.warn("progress=True needs tqdm (pip install 'labelnoise-sim[sweep]'); no progress bar",
                          stacklevel=3)
        return _NoBar()
    # disable=None lets tqdm turn itself off when standard error is not a terminal.
    return tqdm(total=total, initial=done, disable=None if progress else True, desc="sweep", unit="cell")


class _NoBar:
    def update(self, _):
        pass

    def close(self):
        pass


def _import_pandas():
    try:
        import pandas
    except ImportError:
        raise ImportError("sweep() returns a pandas DataFrame: pip install 'labelnoise-sim[sweep]'") from None
    return pandas
