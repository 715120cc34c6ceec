"""How the cost of ``simulate`` grows with n, m, the number of steps and d.

- n and m: time per step of the dynamics alone (``run`` on drawn data), and
  the useful floating-point rate of the step's (2m×n)·(n×n) product,
  2·2m·n² flop per step. Expected: O(m n²) per step.
- steps: the whole ``simulate`` call for 10²..10⁵ steps (default logarithmic
  record grid). Expected: linear in steps once the data draw is amortised.
- d with ``sampling="gram"``: the whole call for d from 10³ to 10⁹; the Gram
  matrix is drawn without forming a d-dimensional vector, so the cost is flat
  in d.
- the large case, n=2000, d=20000, m=10, 200 steps: the whole ``simulate()``
  call, explicit and ``sampling="gram"``, against the whole warm JAX float32
  call (``_jax_baseline.jax_gd``: its arrays made from the data, the compiled
  loop, the outputs back), interleaved repeat by repeat and each credited with
  its fastest repeat, as on a shared machine the least disturbed; with the
  parts of the explicit call (drawing the data and its Gram matrix, the
  dynamics). ``--large`` runs this case alone.
- against JAX, in d (n=200) and in n (d=2000), m=10: time per step of the
  dynamics alone against the jitted JAX loop of gradient descent on the raw
  weights (``_jax_baseline.py``), float64 and float32, its arrays already in
  JAX's memory and compiled beforehand. Per step, neither side counts its
  one-off work: our data draw and O(n² d) Gram matrix, JAX's transfers and
  compilation (``bench_single.py`` times whole calls). Each size first checks
  that both JAX dtypes follow ``simulate``'s trajectory over 20 steps; the
  fastest repeat of each side is compared. Skipped with a note without JAX.

Usage::

    python benchmarks/bench_scaling.py            # full
    python benchmarks/bench_scaling.py --quick    # under a minute
    python benchmarks/bench_scaling.py --large    # the large case alone, a few minutes
"""

from __future__ import annotations

import argparse
import statistics
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
    median_time,
    print_header,
    relative_gap,
    write_json,
)

from labelnoise_sim import SimulationConfig, run, simulate  # noqa: E402
from labelnoise_sim.data import sample_data  # noqa: E402

BASE = dict(n=200, d=2000, m=10, eta=0.1)
LARGE = dict(n=2000, d=20000, m=10, eta=0.1, steps=200)

FULL = dict(
    n=(50, 100, 200, 400, 800, 1600),
    m=(1, 2, 5, 10, 20, 40),
    steps=(100, 1_000, 10_000, 100_000),
    d_gram=(1e3, 1e5, 1e7, 1e9),
    dynamics_steps=None,
    jax_d=(1_000, 10_000, 100_000),
    jax_n=(50, 100, 200, 400, 800, 1600),
    jax_flop=2e10,
)
QUICK = dict(
    n=(50, 100, 200, 400),
    m=(1, 5, 10, 20),
    steps=(100, 1_000, 10_000),
    d_gram=(1e3, 1e6, 1e9),
    dynamics_steps=100,
    jax_d=(1_000, 10_000),
    jax_n=(50, 200),
    jax_flop=2e9,
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


def versus_jax(params: dict, repeats: int, flop: float = 2e10, dynamics_steps: int | None = None,
               check_steps: int = 20) -> dict:
    """Time per step of the dynamics alone and of the jitted JAX loop, float64 and float32, at one size.

    JAX runs enough steps for about ``flop`` floating-point operations of its
    own (8·m·n·d a step: forward and backward products) per repeat. Ratios
    are formed only when both dtypes agree with ``simulate`` over
    ``check_steps`` steps (float64 to ``AGREEMENT_RTOL``, float32 to
    ``FLOAT32_RTOL``).
    """
    row = time_per_step(params, dynamics_steps, repeats)
    config = SimulationConfig(**{**params, "steps": check_steps, "record": [check_steps]})
    row["d"] = config.d
    data = sample_data(config)
    reference = run(config, data).outputs[-1]
    steps = int(np.clip(flop / (8.0 * config.m * config.n * config.d), 5, 2000))
    row["jax_steps"] = steps
    agree = True
    for dtype, rtol in (("float64", AGREEMENT_RTOL), ("float32", FLOAT32_RTOL)):
        args = jaxb.arrays(data, dtype)  # in JAX's memory before the clock starts
        gap = relative_gap(reference, jaxb.train(args, config.eta, check_steps)[-1])  # also compiles
        row[f"jax_{dtype}_rel_gap"] = gap
        agree = agree and gap < rtol
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            jaxb.train(args, config.eta, steps)
            times.append((time.perf_counter() - start) / steps)
        row[f"jax_{dtype}_us_per_step"] = 1e6 * min(times)
    row["agree"] = agree
    if agree:
        for dtype in ("float64", "float32"):
            row[f"x_jax_{dtype}"] = row[f"jax_{dtype}_us_per_step"] / row["us_per_step_min"]
    return row


def versus_jax_large(repeats: int, params: dict = LARGE, check_steps: int = 20) -> dict:
    """Whole calls at ``params``' size: ``simulate()`` explicit and ``sampling="gram"`` against JAX float32.

    Each repeat times, in turn, the explicit call, the ``"gram"`` call, the
    warm JAX float32 call on the explicit data, and the two parts of the
    explicit call (``sample_data``: the vectors and their Gram matrix;
    ``run`` on that data: the dynamics); the fastest repeat of each is kept.
    Agreement first, as ``bench_single.time_large`` checks it: JAX float64
    against ``simulate`` over the first ``check_steps`` steps (to
    ``AGREEMENT_RTOL``) and JAX float32 over all the steps (to
    ``FLOAT32_RTOL``); no ratio where they disagree.
    """
    start = time.perf_counter()
    config = SimulationConfig(**params)
    result = simulate(**params)  # loads the compiled kernels; its data and outputs are the reference
    simulate(**params, sampling="gram")
    data, steps = result.data, config.steps
    row = {"n": config.n, "d": config.d, "m": config.m, "steps": steps, "repeats": repeats}
    check = run(config.replace(steps=check_steps, record=[check_steps]), data).outputs[-1]
    row["jax_float64_rel_gap"] = relative_gap(check, jaxb.jax_gd(data, config.eta, check_steps, "float64")[-1])
    jaxb.jax_gd(data, config.eta, 2, "float32")  # compiles
    calls = {
        "explicit_s": lambda: simulate(**params),
        "gram_s": lambda: simulate(**params, sampling="gram"),
        "jax_float32_s": lambda: jaxb.jax_gd(data, config.eta, steps, "float32"),
        "draw_s": lambda: sample_data(config),
        "dynamics_s": lambda: run(config, data),
    }
    times = {name: [] for name in calls}
    gaps = []
    for _ in range(repeats):
        for name, call in calls.items():
            t0 = time.perf_counter()
            out = call()
            times[name].append(time.perf_counter() - t0)
            if name == "jax_float32_s":
                gaps.append(relative_gap(result.outputs[-1], out[-1]))
            del out
    row.update({name: min(values) for name, values in times.items()})
    row["jax_float32_rel_gap"] = max(gaps)
    row["agree"] = row["jax_float64_rel_gap"] < AGREEMENT_RTOL and row["jax_float32_rel_gap"] < FLOAT32_RTOL
    if row["agree"]:
        row["x_jax_float32_explicit"] = row["jax_float32_s"] / row["explicit_s"]
        row["x_jax_float32_gram"] = row["jax_float32_s"] / row["gram_s"]
    row["seconds"] = time.perf_counter() - start
    return row


LARGE_COLUMNS = [
    ("explicit_s", "simulate s"), ("draw_s", "of which data s"), ("dynamics_s", "of which dynamics s"),
    ("gram_s", "simulate gram s"), ("jax_float32_s", "JAX f32 s"),
    ("x_jax_float32_explicit", "x JAX f32 (explicit)"), ("x_jax_float32_gram", "x JAX f32 (gram)"),
    ("jax_float64_rel_gap", "f64 gap (first steps)"), ("jax_float32_rel_gap", "f32 gap"),
]


JAX_COLUMNS = [
    ("n", "n"), ("d", "d"), ("us_per_step_min", "simulate µs/step"), ("jax_steps", "JAX steps"),
    ("jax_float64_us_per_step", "JAX f64 µs/step"), ("jax_float32_us_per_step", "JAX f32 µs/step"),
    ("x_jax_float64", "x JAX f64"), ("x_jax_float32", "x JAX f32"),
    ("jax_float64_rel_gap", "f64 gap"), ("jax_float32_rel_gap", "f32 gap"),
]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller grids (a few seconds)")
    parser.add_argument("--large", action="store_true", help="only the large case (n=2000, d=20000) against JAX")
    parser.add_argument("--repeats", type=int, default=None, help="timing repeats (median reported)")
    parser.add_argument("--out", default=None, help="directory of the JSON result (default benchmarks/results)")
    args = parser.parse_args(argv)
    grid = QUICK if args.quick else FULL
    repeats = args.repeats or (1 if args.quick else 5)
    info = machine_info()
    print_header("bench_scaling: cost of simulate in n, m, steps and d", info)
    if args.large:
        return large_case(info, args.repeats or 3, args.out)

    steps = grid["dynamics_steps"]
    by_n = [time_per_step({**BASE, "n": n}, steps, repeats) for n in grid["n"]]
    by_m = [time_per_step({**BASE, "m": m}, steps, repeats) for m in grid["m"]]
    by_steps = scaling_in_steps(grid["steps"], repeats)
    by_d = scaling_in_d_gram(grid["d_gram"], repeats)
    jax_by_d = jax_by_n = None
    if jaxb.available():
        jax_by_d = [versus_jax({**BASE, "d": d}, repeats, grid["jax_flop"], steps) for d in grid["jax_d"]]
        jax_by_n = [versus_jax({**BASE, "n": n}, repeats, grid["jax_flop"], steps) for n in grid["jax_n"]]

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
    if jax_by_d is None:
        print("\n# JAX is not installed: the comparison with it is skipped (pip install -e '.[bench]' adds it)")
    else:
        for label, rows in (("d (n=200", jax_by_d), ("n (d=2000", jax_by_n)):
            print(f"\n## Time per step vs {label}, m=10): dynamics alone vs the jitted JAX loop, fastest repeats; "
                  "no ratio where a trajectory disagrees")
            print(format_table(rows, JAX_COLUMNS))

    large = None if args.quick else large_case(info, repeats, None, write=False)

    payload = {"machine": info, "quick": args.quick, "repeats": repeats, "dynamics_steps": steps,
               "by_n": by_n, "by_m": by_m, "by_steps": by_steps, "by_d_gram": by_d,
               "jax_by_d": jax_by_d, "jax_by_n": jax_by_n, "large": large}
    path = write_json("bench_scaling_quick" if args.quick else "bench_scaling", payload, args.out)
    print(f"# written {path}")
    return payload


def large_case(info: dict, repeats: int, out, write: bool = True) -> dict | None:
    """Print (and with ``write``, save as bench_scaling_large.json) the large case against JAX float32."""
    size = ", ".join(f"{k}={v}" for k, v in LARGE.items())
    if not jaxb.available():
        print(f"\n# JAX is not installed: the large case ({size}) against JAX float32 is skipped")
        return None
    row = versus_jax_large(repeats)
    print(f"\n## Large case ({size}): whole calls, interleaved, fastest of {repeats} repeats each; "
          f"{info['cpu']}, {info['cores']} cores; {row['seconds']:.0f} s for this part")
    print(format_table([row], LARGE_COLUMNS))
    if not row["agree"]:
        print("# TRAJECTORIES DISAGREE: no ratio is reported for the large case")
    if write:
        path = write_json("bench_scaling_large", {"machine": info, "repeats": repeats, "large": row}, out)
        print(f"# written {path}")
    return row


if __name__ == "__main__":
    main()
