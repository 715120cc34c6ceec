"""Useful FLOP rate of a batched sweep against NumPy's own matrix product, on this machine, in this run.

A step of one run costs one (2m × n)·(n × n) product, ρ G, plus O(m n) work;
we count only that product, 2·(2m)·n² floating-point operations, as "useful".
The batched kernel runs many cells of the same shape in one numba call,
parallel over cells. We time

* the batched dynamics alone on all the cells (``run_many`` on data drawn
  beforehand: cells of one shape go through the kernel as one batch, as in a
  sweep);
* the whole ``sweep(..., backend="serial")`` of the same cells, which adds
  drawing the data and the stage analysis of each cell (with its Monte Carlo
  test error); the same with the default backend (worker processes); and the
  serial sweep with ``sampling="gram"`` and ``test_error=False``, the
  lightest per-cell work;
* NumPy's matrix product (BLAS, all its threads) on the same (2m × n)·(n × n)
  shape and on large square matrices, where BLAS is at its best.

and print each rate and the ratio to the better NumPy rate. NumPy is timed
before and after the sweeps (best of both) and the kernel twice (best), since
a machine shared with other jobs makes single timings noisy.

    python benchmarks/bench_sweep.py            # 256 cells, n = 200, m = 10, 1000 steps
    python benchmarks/bench_sweep.py --steps 200 --cells 64
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from labelnoise_sim import SimulationConfig, run_many, sweep
from labelnoise_sim.data import sample_data


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=256)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--m", type=int, default=10)
    parser.add_argument("--d", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args(argv)
    n, m, steps = args.n, args.m, args.steps
    grid = {"seed": list(range(args.cells))}
    fixed = dict(n=n, m=m, d=args.d, steps=steps, eta=0.1, record=steps)
    configs = [SimulationConfig(seed=s, **fixed) for s in grid["seed"]]
    useful = args.cells * steps * 2 * (2 * m) * n * n

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
    print(f"{args.cells} cells, n={n}, m={m}, d={args.d}, {steps} steps; useful work {useful / 1e9:.1f} GFLOP")
    print(f"NumPy matmul ({2 * m}x{n})@({n}x{n}):  {np_small / 1e9:7.1f} GFLOP/s")
    print(f"NumPy matmul 2000^3:           {np_large / 1e9:7.1f} GFLOP/s   (reference: the better one)")
    timings = (("batched kernel", t_kernel), ("whole sweep (serial)", t_sweep),
               ("whole sweep (processes)", t_processes), ("sweep, gram, no test error", t_lean))
    for label, seconds in timings:
        rate = useful / seconds
        print(f"{label:<30} {rate / 1e9:7.1f} GFLOP/s   {seconds:7.2f} s   ratio to NumPy {rate / reference:.2f}")


if __name__ == "__main__":
    main()
