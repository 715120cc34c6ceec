"""Sweeps: useful FLOP rate against NumPy's matrix product, and cells per second against JAX's vmap.

Two parts, both measured in one run on this machine.

**FLOP rate** (``--part flops``).

A step of one run costs one (2m × n)·(n × n) product, ρ G, plus O(m n) work;
we count only that product, 2·(2m)·n² floating-point operations, as "useful".
The batched kernel runs many cells of the same shape in one numba call,
parallel over cells. We time

* the batched dynamics alone on all the cells (``run_many`` on data drawn
  beforehand: cells of one shape go through the kernel as one batch, as in a
  sweep);
* the whole ``sweep(..., backend="serial")`` of the same cells, which adds
  drawing the data and the stage analysis of each cell (with its precise
  test error); the same with the default backend (worker processes); and the
  serial sweep with ``sampling="gram"`` and ``test_error=False``, the
  lightest per-cell work;
* NumPy's matrix product (BLAS, all its threads) on the same (2m × n)·(n × n)
  shape and on large square matrices, where BLAS is at its best.

and print each rate and the ratio to the better NumPy rate. NumPy is timed
before and after the sweeps (best of both) and the kernel twice (best), since
a machine shared with other jobs makes single timings noisy.

**Against JAX** (``--part jax``). The strongest batched baseline a user would
write: ``jax.vmap`` of the jitted JAX gradient descent (``_jax_baseline.py``)
over 32 independent default cells (seeds 0..31; n = 200, d = 2000, m = 10,
500 steps) in float32, the whole loop compiled. It is timed as a whole warm
call from the drawn data (stacking and moving the arrays in, the outputs out;
the compilation, first call minus warm call, is reported apart) and returns
the final outputs only. Against it, the whole ``sweep()`` of the same cells
with the default record grid, its stage analysis and precise test error
(the table users read), which also draws every cell's data: serial and with
worker processes. Before any ratio, the JAX cells' outputs every 50 steps are
checked against the simulator's (``run_many`` on the same data): all 32 in
float32 to ``FLOAT32_RTOL``, and the first 4 run by the same vmapped code in
float64 to ``AGREEMENT_RTOL``. Each timing is the fastest of ``--repeats``.

    python benchmarks/bench_sweep.py                 # both parts: 256 cells, n = 200, m = 10, 1000 steps; then JAX
    python benchmarks/bench_sweep.py --steps 200 --cells 64
    python benchmarks/bench_sweep.py --part jax      # the JAX comparison alone (about three minutes)
    python benchmarks/bench_sweep.py --part backends # serial against worker processes, 16 to 256 cells
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _jax_baseline as jaxb  # noqa: E402
from _common import (  # noqa: E402
    AGREEMENT_RTOL,
    FLOAT32_RTOL,
    format_table,
    machine_info,
    print_header,
    relative_gap,
    write_json,
)

from labelnoise_sim import SimulationConfig, run_many, sweep  # noqa: E402
from labelnoise_sim.analysis import analyze  # noqa: E402
from labelnoise_sim.sweep import choose_backend  # noqa: E402
from labelnoise_sim.data import sample_data  # noqa: E402

#: The cells of the comparison with JAX: 32 seeds of the default cell, 500 steps.
JAX_CELLS = 32
JAX_FIXED = dict(n=200, d=2000, m=10, eta=0.1, steps=500)
#: The clean test set of the fair peer: what a JAX user scores at every recorded step instead of the exact estimate.
TEST_SET = 10_000
#: The sweep against the fair peer, at least (issue target).
PEER_TARGET = 20.0
#: A cell's stage analysis with its test error, at most this many times its dynamics (issue target).
ANALYSIS_TARGET = 2.0


def best_of(fn, repeats):
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def numpy_rates(n, m):
    rng = np.random.default_rng(0)
    rho, G = rng.standard_normal((2 * m, n)), rng.standard_normal((n, n))
    reps = 2000
    small = best_of(lambda: [rho @ G for _ in range(reps)], 3)
    big = rng.standard_normal((2000, 2000))
    large = best_of(lambda: big @ big, 3)
    return 2 * (2 * m) * n * n * reps / small, 2 * 2000**3 / large


def kernel_time(configs):
    """Seconds of the batched dynamics of all cells (``run_many`` on data drawn beforehand, compiled).

    ``run_many`` hands cells of equal shape to the kernel as one batch, as a
    sweep does; going through it rather than the kernel's own arguments keeps
    this benchmark in step with the kernel's internals.
    """
    datas = [sample_data(c) for c in configs]
    run_many([c.replace(steps=1, record=1) for c in configs], datas)
    return best_of(lambda: run_many(configs, datas), 2)


def flop_rates(cells, n, m, d, steps):
    """The FLOP-rate part: the batched kernel and whole sweeps against NumPy's matrix product."""
    grid = {"seed": list(range(cells))}
    fixed = dict(n=n, m=m, d=d, steps=steps, eta=0.1, record=steps)
    configs = [SimulationConfig(seed=s, **fixed) for s in grid["seed"]]
    useful = cells * steps * 2 * (2 * m) * n * n

    np_small, np_large = numpy_rates(n, m)
    t_kernel = kernel_time(configs)
    start = time.perf_counter()
    sweep(grid, fixed, backend="serial", progress=False)
    t_sweep = time.perf_counter() - start
    start = time.perf_counter()
    sweep(grid, fixed, backend="processes", progress=False)
    t_processes = time.perf_counter() - start
    start = time.perf_counter()
    sweep(grid, {**fixed, "sampling": "gram"}, backend="serial", progress=False, test_error=False)
    t_lean = time.perf_counter() - start

    # Measured again at the end, the better of the two: on a shared machine NumPy's
    # two-thread product suffers most from other jobs, and the reference should not.
    np_small, np_large = (max(a, b) for a, b in zip((np_small, np_large), numpy_rates(n, m)))
    reference = max(np_small, np_large)
    print(f"{cells} cells, n={n}, m={m}, d={d}, {steps} steps; useful work {useful / 1e9:.1f} GFLOP")
    print(f"NumPy matmul ({2 * m}x{n})@({n}x{n}):  {np_small / 1e9:7.1f} GFLOP/s")
    print(f"NumPy matmul 2000^3:           {np_large / 1e9:7.1f} GFLOP/s   (reference: the better one)")
    timings = {"batched kernel": t_kernel, "whole sweep (serial)": t_sweep,
               "whole sweep (processes)": t_processes, "sweep, gram, no test error": t_lean}
    for label, seconds in timings.items():
        rate = useful / seconds
        print(f"{label:<30} {rate / 1e9:7.1f} GFLOP/s   {seconds:7.2f} s   ratio to NumPy {rate / reference:.2f}")
    return {"cells": cells, "n": n, "m": m, "d": d, "steps": steps, "useful_gflop": useful / 1e9,
            "numpy_small_gflops": np_small / 1e9, "numpy_large_gflops": np_large / 1e9,
            "seconds": timings}


def versus_jax(cells: int = JAX_CELLS, fixed: dict = JAX_FIXED, repeats: int = 2, check_every: int = 50,
               workers: int | None = None, f64_cells: int = 4) -> dict:
    """Cells per second of whole sweeps (serial, processes) and of JAX's vmap over the same cells.

    Ratios are formed only when every JAX float32 cell agrees with the
    simulator to ``FLOAT32_RTOL``, and the first ``f64_cells`` cells run by the
    same vmapped code in float64 to ``AGREEMENT_RTOL`` (the outputs every
    ``check_every`` steps, which must divide the steps).
    """
    grid = {"seed": list(range(cells))}
    configs = [SimulationConfig(seed=seed, **fixed) for seed in grid["seed"]]
    eta, steps = configs[0].eta, configs[0].steps
    datas = [sample_data(config) for config in configs]
    row = {"cells": cells, **fixed}

    checked = run_many([config.replace(record=check_every) for config in configs], datas)
    for dtype, count in (("float64", f64_cells), ("float32", cells)):
        f = jaxb.jax_gd_many(datas[:count], eta, steps, dtype, record_every=check_every)
        row[f"jax_{dtype}_rel_gap"] = max(relative_gap(result.outputs, cell) for result, cell in zip(checked, f))
    row["agree"] = row["jax_float64_rel_gap"] < AGREEMENT_RTOL and row["jax_float32_rel_gap"] < FLOAT32_RTOL

    jaxb.clear_compiled()  # the compilation of the timed call: its first call minus a warm one
    start = time.perf_counter()
    jaxb.jax_gd_many(datas, eta, 2, "float32")
    first = time.perf_counter() - start
    row["jax_float32_compile_s"] = max(first - best_of(lambda: jaxb.jax_gd_many(datas, eta, 2, "float32"), 3), 0.0)
    row["jax_float32_s"] = best_of(lambda: jaxb.jax_gd_many(datas, eta, steps, "float32"), repeats)
    # The fair peer: the same JAX loop scoring a clean test set of TEST_SET samples at the sweep's records.
    records = configs[0].record_steps
    xi_test, y_test = jaxb.test_set(configs[0], TEST_SET, seed=12345)
    peer = lambda: jaxb.jax_tested_many(datas, eta, records, xi_test, y_test)  # noqa: E731
    errors = peer()  # compiles
    row["peer_records"] = int(len(records))
    row["peer_test_set"] = TEST_SET
    row["peer_s"] = best_of(peer, repeats)
    # Its precision: the best error over the records reads 0 wherever fewer than one in TEST_SET fail.
    row["peer_best_zero_share"] = float(np.mean(errors.min(axis=1) == 0))
    sweep(grid, {**fixed, "steps": 1}, backend="serial", progress=False)  # load the compiled kernels
    # "auto" beside serial, before the workers run: exiting workers can slow what runs just after them.
    for backend in ("serial", "auto", "processes"):
        row[f"sweep_{backend}_s"] = best_of(
            lambda: sweep(grid, fixed, backend=backend, workers=workers, progress=False), repeats)
    # The sweep's parts: the dynamics of every cell (one batch, from the drawn data) and their stage analysis.
    results = run_many(configs, datas)
    row["dynamics_s"] = best_of(lambda: run_many(configs, datas), repeats)
    row["analysis_s"] = best_of(lambda: [analyze(copy.copy(result)) for result in results], repeats)
    row["analysis_over_dynamics"] = row["analysis_s"] / row["dynamics_s"]
    row["auto_backend"] = choose_backend(configs, True, workers)
    table = sweep(grid, fixed, backend="serial", progress=False).table
    row["sweep_best_error_median"] = float(np.median(table["best_test_error"]))
    for name in ("jax_float32", "peer", "sweep_serial", "sweep_processes", "sweep_auto"):
        row[f"{name}_cells_per_s"] = cells / row[f"{name}_s"]
    row["processes_over_serial"] = row["sweep_serial_s"] / row["sweep_processes_s"]
    row["auto_over_serial"] = row["sweep_serial_s"] / row["sweep_auto_s"]
    if row["agree"]:
        for backend in ("serial", "processes", "auto"):
            row[f"x_jax_float32_{backend}"] = row["jax_float32_s"] / row[f"sweep_{backend}_s"]
            row[f"x_peer_{backend}"] = row["peer_s"] / row[f"sweep_{backend}_s"]
    return row


def backends(cell_counts=(16, 64, 256), fixed: dict = JAX_FIXED, repeats: int = 1) -> list[dict]:
    """Whole sweeps of default cells (seeds) on each local backend, and what ``backend="auto"`` picks: where
    worker processes start paying for themselves on this machine (``sweep.AUTO_PROCESSES_SECONDS``)."""
    from labelnoise_sim.sweep import cell_seconds

    sweep({"seed": [0, 1]}, {**fixed, "steps": 1}, backend="serial", progress=False)  # load the compiled kernels
    rows = []
    for cells in cell_counts:
        grid = {"seed": list(range(1000, 1000 + cells))}
        configs = [SimulationConfig(seed=seed, **fixed) for seed in grid["seed"]]
        row = {"cells": cells, "estimated_s": sum(cell_seconds(c) for c in configs),
               "auto": choose_backend(configs)}
        for backend in ("serial", "processes"):
            row[f"{backend}_s"] = best_of(lambda: sweep(grid, fixed, backend=backend, progress=False), repeats)
        row["processes_over_serial"] = row["serial_s"] / row["processes_s"]
        rows.append(row)
        print(f"{cells} cells: serial {row['serial_s']:.2f} s, processes {row['processes_s']:.2f} s "
              f"({row['processes_over_serial']:.2f}x), estimated {row['estimated_s']:.2f} s, auto picks {row['auto']}",
              flush=True)
    return rows


def print_versus_jax(row: dict) -> None:
    print(f"\n## {row['cells']} cells (seeds), n={row['n']}, d={row['d']}, m={row['m']}, {row['steps']} steps: "
          "cells per second, fastest of the repeats")
    print(f"JAX cells against the simulator (max |Δf| / max |f| over the cells and the checked steps): "
          f"float32 {row['jax_float32_rel_gap']:.1e} (tolerance {FLOAT32_RTOL:g}), "
          f"float64 {row['jax_float64_rel_gap']:.1e} (tolerance {AGREEMENT_RTOL:g})")
    peer = row.get("x_peer_serial") is not None
    lines = [
        {"what": "sweep(), serial: data, dynamics, stage analysis, test error", "s": row["sweep_serial_s"],
         "rate": row["sweep_serial_cells_per_s"], "peer": row.get("x_peer_serial"),
         "x": row.get("x_jax_float32_serial")},
        {"what": "sweep(backend=\"processes\"), worker processes", "s": row["sweep_processes_s"],
         "rate": row["sweep_processes_cells_per_s"], "peer": row.get("x_peer_processes"),
         "x": row.get("x_jax_float32_processes")},
        {"what": f"sweep(), backend=\"auto\" (chose {row['auto_backend']})", "s": row["sweep_auto_s"],
         "rate": row["sweep_auto_cells_per_s"], "peer": row.get("x_peer_auto"), "x": row.get("x_jax_float32_auto")},
        {"what": f"JAX vmap, float32, jitted loop, {row['peer_test_set']:,}-sample test set at the "
                 f"{row['peer_records']} records", "s": row["peer_s"], "rate": row["peer_cells_per_s"],
         "peer": 1.0 if peer else None, "x": None},
        {"what": "JAX vmap, float32, jitted loop (final outputs only)", "s": row["jax_float32_s"],
         "rate": row["jax_float32_cells_per_s"], "peer": None, "x": 1.0 if row["agree"] else None},
    ]
    print(format_table(lines, [("what", "method"), ("s", "seconds"), ("rate", "cells/s"),
                               ("peer", "x JAX with test set"), ("x", "x JAX without")]))
    if peer:
        verdict = "meets" if row["x_peer_serial"] >= PEER_TARGET else "MISSES"
        print(f"serial sweep against the fair peer: {row['x_peer_serial']:.1f}x, {verdict} the {PEER_TARGET:g}x "
              f"target; the peer's best error reads 0 in {100 * row['peer_best_zero_share']:.0f} % of the cells "
              f"(median best error of ours {row['sweep_best_error_median']:.2g})")
    print(f"the sweep's parts: dynamics of the {row['cells']} cells {row['dynamics_s']:.3f} s (one batch), their "
          f"stage analysis with its test error {row['analysis_s']:.2f} s: {row['analysis_over_dynamics']:.1f}x the "
          f"dynamics (target {ANALYSIS_TARGET:g}x)")
    print(f"JAX compilation (not in its time above): {row['jax_float32_compile_s']:.2f} s; "
          f"processes vs serial: {row['processes_over_serial']:.2f}x; auto vs serial: {row['auto_over_serial']:.2f}x")
    if not row["agree"]:
        print("# TRAJECTORIES DISAGREE: no ratio against JAX is reported")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "flops", "jax", "backends"), default="all")
    parser.add_argument("--cells", type=int, default=256)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--m", type=int, default=10)
    parser.add_argument("--d", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2, help="repeats of each timing of the JAX part (fastest)")
    parser.add_argument("--out", default=None, help="directory of the JSON result (default benchmarks/results)")
    args = parser.parse_args(argv)
    info = machine_info()
    print_header("bench_sweep: batched sweeps against NumPy's matrix product and JAX's vmap", info)
    payload = {"machine": info, "flops": None, "versus_jax": None}
    if args.part in ("all", "flops"):
        payload["flops"] = flop_rates(args.cells, args.n, args.m, args.d, args.steps)
    if args.part in ("all", "jax"):
        if jaxb.available():
            payload["versus_jax"] = versus_jax(repeats=args.repeats)
            print_versus_jax(payload["versus_jax"])
        else:
            print("# JAX is not installed: the comparison with it is skipped (pip install -e '.[bench]' adds it)")
    if args.part == "backends":
        payload["backends"] = backends()
    path = write_json("bench_sweep_backends" if args.part == "backends" else "bench_sweep", payload, args.out)
    print(f"# written {path}")
    return payload

if __name__ == "__main__":
    main()
