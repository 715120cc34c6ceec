"""How the cost of ``simulate`` grows with n, m, the number of steps and d.

- n and m: time per step of the dynamics alone (``run`` on drawn data), and
  the useful floating-point rate of the step's (2m×n)·(n×n) product,
  2·2m·n² flop per step. Expected: O(m n²) per step.
- steps: the whole ``simulate`` call for 10²..10⁵ steps (default logarithmic
  record grid). Expected: linear in steps once the data draw is amortised.
- d with ``sampling="gram"``: the whole call for d from 10³ to 10⁹; the Gram
  matrix is drawn without forming a d-dimensional vector, so the cost is flat
  in d.

Usage::

    python benchmarks/bench_scaling.py            # full
    python benchmarks/bench_scaling.py --quick    # a few seconds
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import format_table, machine_info, median_time, print_header, write_json  # noqa: E402

from labelnoise_sim import SimulationConfig, run, simulate  # noqa: E402
from labelnoise_sim.data import sample_data  # noqa: E402

BASE = dict(n=200, d=2000, m=10, eta=0.1)

FULL = dict(
    n=(50, 100, 200, 400, 800, 1600),
    m=(1, 2, 5, 10, 20, 40),
    steps=(100, 1_000, 10_000, 100_000),
    d_gram=(1e3, 1e5, 1e7, 1e9),
    dynamics_steps=None,
)
QUICK = dict(
    n=(50, 100, 200, 400),
    m=(1, 5, 10, 20),
    steps=(100, 1_000, 10_000),
    d_gram=(1e3, 1e6, 1e9),
    dynamics_steps=100,
)


def time_per_step(params: dict, steps: int | None, repeats: int) -> dict:
    """Dynamics alone (data drawn beforehand): seconds per step and useful GFLOP/s.

    ``steps=None`` picks enough steps for about 2 GFLOP of product per repeat,
    so that short runs are not timed in a single scheduler slice. Reports the
    median over repeats and, as the least disturbed estimate on a shared
    machine, the minimum.
    """
    config = SimulationConfig(**params)
    flop = 2.0 * 2 * config.m * config.n**2
    if steps is None:
        steps = int(np.clip(2e9 / flop, 100, 20_000))
    config = config.replace(steps=steps, record=[steps])
    data = sample_data(config)
    run(config.replace(steps=1, record=[1]), data)  # load the compiled kernels
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(config, data)
        times.append((time.perf_counter() - start) / steps)
    median, best = statistics.median(times), min(times)
    return {"n": config.n, "m": config.m, "steps": steps, "us_per_step": 1e6 * median,
            "us_per_step_min": 1e6 * best, "gflops": flop / median / 1e9, "gflops_max": flop / best / 1e9}


def scaling_in_steps(steps_list, repeats: int) -> list[dict]:
    rows = []
    simulate(**BASE, steps=1)
    for steps in steps_list:
        seconds = median_time(lambda: simulate(**BASE, steps=steps), repeats if steps <= 10_000 else 1)
        rows.append({"steps": steps, "simulate_s": seconds, "us_per_step": 1e6 * seconds / steps})
    return rows


def scaling_in_d_gram(d_list, repeats: int, steps: int = 2000) -> list[dict]:
    simulate(**BASE, steps=1, sampling="gram")
    rows = []
    for d in d_list:
        d = int(d)
        seconds = median_time(lambda: simulate(**{**BASE, "d": d}, steps=steps, sampling="gram"), repeats)
        rows.append({"d": d, "steps": steps, "simulate_s": seconds, "us_per_step": 1e6 * seconds / steps})
    return rows


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller grids (a few seconds)")
    parser.add_argument("--repeats", type=int, default=None, help="timing repeats (median reported)")
    parser.add_argument("--out", default=None, help="directory of the JSON result (default benchmarks/results)")
    args = parser.parse_args(argv)
    grid = QUICK if args.quick else FULL
    repeats = args.repeats or (1 if args.quick else 5)
    info = machine_info()
    print_header("bench_scaling: cost of simulate in n, m, steps and d", info)

    steps = grid["dynamics_steps"]
    by_n = [time_per_step({**BASE, "n": n}, steps, repeats) for n in grid["n"]]
    by_m = [time_per_step({**BASE, "m": m}, steps, repeats) for m in grid["m"]]
    by_steps = scaling_in_steps(grid["steps"], repeats)
    by_d = scaling_in_d_gram(grid["d_gram"], repeats)

    cols = [("n", "n"), ("m", "m"), ("steps", "steps"), ("us_per_step", "µs/step (median)"),
            ("us_per_step_min", "µs/step (min)"), ("gflops", "useful GFLOP/s"),
            ("gflops_max", "useful GFLOP/s (best)")]
    print("\n## Time per step vs n (m=10; dynamics alone)")
    print(format_table(by_n, cols))
    print("\n## Time per step vs m (n=200; dynamics alone)")
    print(format_table(by_m, cols))
    print("\n## Whole simulate call vs steps (n=200, d=2000, m=10)")
    print(format_table(by_steps, [("steps", "steps"), ("simulate_s", "simulate s"), ("us_per_step", "µs/step")]))
    print("\n## Whole simulate(sampling='gram') call vs d (n=200, m=10, 2,000 steps)")
    print(format_table(by_d, [("d", "d"), ("simulate_s", "simulate s"), ("us_per_step", "µs/step")]))

    payload = {"machine": info, "quick": args.quick, "repeats": repeats, "dynamics_steps": steps,
               "by_n": by_n, "by_m": by_m, "by_steps": by_steps, "by_d_gram": by_d}
    path = write_json("bench_scaling_quick" if args.quick else "bench_scaling", payload, args.out)
    print(f"# written {path}")
    return payload


if __name__ == "__main__":
    main()
