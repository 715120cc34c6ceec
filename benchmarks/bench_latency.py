"""First-call latency: how long a new Python process takes to finish a default run.

The numba kernels are compiled with ``cache=True``: the first process that
calls them compiles them and writes the machine code to disk; every later
process loads it. This script starts fresh interpreters, each of which imports
``labelnoise_sim`` and runs ``simulate()`` (n=200, d=2000, m=10, 2,000 steps),
and reports:

- cold: a first process with an empty numba cache directory (compilation), the median of three, each with a
  cache of its own (target: its simulate() within 5 s);
- cached: later processes, which load the compiled kernels from that cache;
- the first ``labelnoise-sim run`` (the command's default run: the run, its twin without label noise, the
  stage analysis with its test error and test loss, the summary, the PNG figure) with an empty cache of its own,
  its outputs in a temporary directory (target: the whole process within 12 s), and the same command again
  with that cache filled.

For each, the wall time of the whole process (interpreter start to exit) and
the time inside it from before ``import labelnoise_sim`` to the end of the
run. The cache lives in a temporary ``NUMBA_CACHE_DIR``, so the package's own
cache is neither used nor touched. Target: a cached process under 2 s.

Usage::

    python benchmarks/bench_latency.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import format_table, machine_info, print_header, write_json  # noqa: E402

TARGET_S = 2.0
#: The first simulate() of a process with an empty cache (compiling its kernels), at most.
COLD_TARGET_S = 5.0
#: The first ``labelnoise-sim run`` with an empty cache (the whole process), at most.
RUN_COLD_TARGET_S = 12.0

CHILD = """
import json, time
t0 = time.perf_counter()
from labelnoise_sim import simulate
t1 = time.perf_counter()
simulate({params})
t2 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "first_run_s": t2 - t1, "in_process_s": t2 - t0}}))
"""


def _timed_child(argv: list[str], cache_dir: str | None) -> tuple[str, dict]:
    """Run ``argv`` in a fresh process; its standard output, and the wall and CPU time of the whole process in
    seconds.

    ``cache_dir`` is the numba cache directory of the child; None keeps the package's own.
    """
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    start, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return done.stdout, {"process_wall_s": time.perf_counter() - start, "process_cpu_s": _children_cpu() - cpu}


def _children_cpu() -> float:
    """User and system CPU seconds of this process's finished children: a process's CPU time depends far less
    on the machine's load than its wall time."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def start_process(cache_dir: str | None, params: str = "") -> dict:
    """Run one fresh interpreter doing import + simulate(**params); its timings in seconds (``cache_dir`` as
    ``_timed_child`` takes it)."""
    stdout, times = _timed_child([sys.executable, "-c", CHILD.format(params=params)], cache_dir)
    return {**json.loads(stdout.strip().splitlines()[-1]), **times}


def start_run(cache_dir: str | None, out: str, args: tuple[str, ...] = ()) -> dict:
    """Run ``labelnoise-sim run --out OUT --no-progress ARGS`` in a fresh interpreter (``python -m
    labelnoise_sim``, what the console script runs); the wall and CPU time of the whole process in seconds."""
    argv = [sys.executable, "-m", "labelnoise_sim", "run", "--out", out, "--no-progress", *args]
    return _timed_child(argv, cache_dir)[1]


def _cold_then_cached(start, cold_runs: int, cached_runs: int) -> tuple[list[dict], list[dict]]:
    """``start(directory)`` ``cold_runs`` times, each in an empty temporary directory of its own (its numba cache
    and outputs), then ``cached_runs`` times in the last one's, whose cache is then filled."""
    colds, cached = [], []
    for _ in range(cold_runs):
        with tempfile.TemporaryDirectory(prefix="labelnoise_latency_") as work:
            colds.append(start(work))
            if len(colds) == cold_runs:
                cached = [start(work) for _ in range(cached_runs)]
    return colds, cached


def measure_run(cached_runs: int, cold_runs: int = 3, args: tuple[str, ...] = ()) -> dict:
    """``cold_runs`` first ``labelnoise-sim run`` processes, each with an empty cache and an output directory of
    its own (their median), then ``cached_runs`` on the last one's filled cache."""
    colds, cached = _cold_then_cached(
        lambda work: start_run(os.path.join(work, "numba_cache"), os.path.join(work, "run"), args), cold_runs,
        cached_runs)
    cold = statistics.median(run["process_wall_s"] for run in colds)
    return {"cold_s": cold, "cold_cpu_s": statistics.median(run["process_cpu_s"] for run in colds), "cold_runs": colds,
            "cached_s": statistics.median(run["process_wall_s"] for run in cached), "cached_runs": cached,
            "cold_target_s": RUN_COLD_TARGET_S, "meets_cold_target": cold <= RUN_COLD_TARGET_S}


def _median(runs: list[dict]) -> dict:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def measure(cached_runs: int, params: str = "", cold_runs: int = 3) -> dict:
    """``cold_runs`` processes, each with an empty cache of its own (their median: on a shared machine one
    compilation can take 30 % longer than the next), then ``cached_runs`` on the last one's filled cache."""
    colds, cached = _cold_then_cached(lambda work: start_process(work, params), cold_runs, cached_runs)
    median = _median(cached)
    cold = _median(colds)
    return {"cold": cold, "cold_runs": colds, "cached_median": median, "cached_runs": cached,
            "target_s": TARGET_S, "meets_target": median["process_wall_s"] < TARGET_S,
            "cold_target_s": COLD_TARGET_S, "meets_cold_target": cold["first_run_s"] <= COLD_TARGET_S}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer cached processes")
    parser.add_argument("--no-cli", action="store_true", help="time simulate() only, not `labelnoise-sim run`")
    parser.add_argument("--out", default=None, help="directory of the JSON result (default benchmarks/results)")
    args = parser.parse_args(argv)
    info = machine_info()
    print_header("bench_latency: a new process runs simulate() (numba cache on disk)", info)
    result = measure(cached_runs=2 if args.quick else 5, cold_runs=1 if args.quick else 3)
    rows = [{"process": "cold (compiles; median)", **result["cold"]},
            {"process": "cached (median)", **result["cached_median"]}]
    print(format_table(rows, [("process", "process"), ("process_wall_s", "whole process s"),
                              ("process_cpu_s", "CPU s"), ("import_s", "import s"),
                              ("first_run_s", "first simulate() s")]))
    verdict = "meets" if result["meets_target"] else "MISSES"
    print(f"cached process: {result['cached_median']['process_wall_s']:.2f} s, {verdict} the {TARGET_S:.0f} s target")
    verdict = "meets" if result["meets_cold_target"] else "MISSES"
    each = ", ".join(f"{run['first_run_s']:.2f}" for run in result["cold_runs"])
    print(f"first simulate() with an empty cache: {result['cold']['first_run_s']:.2f} s (median of {each}), "
          f"{verdict} the {COLD_TARGET_S:.0f} s target")
    payload = {"machine": info, "quick": args.quick, **result}
    if not args.no_cli:
        run = measure_run(cached_runs=1 if args.quick else 3, cold_runs=1 if args.quick else 3)
        verdict = "meets" if run["meets_cold_target"] else "MISSES"
        each = ", ".join(f"{one['process_wall_s']:.2f}" for one in run["cold_runs"])
        print(f"first `labelnoise-sim run` with an empty cache: {run['cold_s']:.2f} s (median of {each}), "
              f"{verdict} the {RUN_COLD_TARGET_S:.0f} s target (CPU {run['cold_cpu_s']:.2f} s); with the cache "
              f"filled {run['cached_s']:.2f} s")
        payload["cli_run"] = run
    path = write_json("bench_latency_quick" if args.quick else "bench_latency", payload, args.out)
    print(f"# written {path}")
    return payload


if __name__ == "__main__":
    main()
