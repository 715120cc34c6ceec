"""A single large run on one thread, on two, and as the library chooses, on a quiet and on a loaded machine.

A single run from ``dynamics.HALVES_WORK`` (n >= 400 at m = 10) can share each step between two threads
(``_kernels.run_dynamics_halves``), which wait for each other twice a step. On a busy machine the thread
waited for is often descheduled, and two threads can be many times slower than one. The library measures
both kernels as the run goes and keeps the faster (``dynamics.ThreadChooser``); this script measures, in
one process, the median time per step of whole runs (``dynamics.run_many`` of one configuration, its data
drawn beforehand) with one thread, with two threads (forced: ``dynamics.SINGLE_RUN_THREADS = 2``) and
with the library's choice ("auto"), first quiet and then with ``--load`` busy processes (pure Python
loops) beside it. The modes alternate within each repeat, in a rotating order. Target (issue 25): at
load 4 on 2 cores, the library's choice at most 1.2x one thread's time; quiet, about two threads' time.

On a machine that other jobs share, ``--nice -20`` (root) runs this process and its load at the
highest priority, so that the other jobs weigh little beside the load it makes itself.
``--passive`` adds two threads in a child process started with ``OMP_WAIT_POLICY=passive`` (threads
that sleep at once when they wait, instead of spinning first; it must be set before the OpenMP runtime
starts, so a child process).

Usage::

    python benchmarks/bench_threads_under_load.py [--quick] [--n 1000] [--m 10] [--load 4] [--nice -20]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import format_table, machine_info, print_header, write_json  # noqa: E402

from labelnoise_sim import dynamics  # noqa: E402
from labelnoise_sim.config import SimulationConfig  # noqa: E402
from labelnoise_sim.data import sample_data  # noqa: E402

MODES = (1, 2, "auto")
NAMES = {1: "one thread", 2: "two threads", "auto": "library's choice", "passive": "two, passive waits"}


class _Counting(dynamics.ThreadChooser):
    """The library's chooser, counting the steps of the last run on each kernel."""

    last = None

    def __init__(self, chunk):
        super().__init__(chunk)
        _Counting.last = self


def run_seconds(config, data, mode) -> tuple[float, float | None]:
    """Wall time of one run in ``mode`` (1, 2 or "auto"), and for "auto" the share of its steps on two threads."""
    saved, chooser = dynamics.SINGLE_RUN_THREADS, dynamics.ThreadChooser
    dynamics.SINGLE_RUN_THREADS, dynamics.ThreadChooser = mode, _Counting
    _Counting.last = None
    try:
        start = time.perf_counter()
        dynamics.run_many([config], [data])
        seconds = time.perf_counter() - start
    finally:
        dynamics.SINGLE_RUN_THREADS, dynamics.ThreadChooser = saved, chooser
    last = _Counting.last
    share = None if last is None else last.steps[2] / max(1, last.steps[1] + last.steps[2])
    return seconds, share


def time_modes(config, data, repeats, modes=MODES) -> dict:
    """Median seconds per step of whole runs in each mode over ``repeats`` (the modes alternating, their order
    rotating), and the median share of the library's steps on two threads."""
    times = {mode: [] for mode in modes}
    shares = []
    for repeat in range(repeats):
        for i in range(len(modes)):
            mode = modes[(repeat + i) % len(modes)]
            seconds, share = run_seconds(config, data, mode)
            times[mode].append(seconds / config.steps)
            if share is not None:
                shares.append(share)
    result = {str(mode): statistics.median(values) for mode, values in times.items()}
    result["auto_share_two"] = statistics.median(shares) if shares else None
    return result


@contextlib.contextmanager
def busy(count: int):
    """``count`` processes that each keep a core busy (a pure Python loop) while the block runs."""
    processes = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        if processes:
            time.sleep(1.0)  # let them start and the scheduler settle
        yield
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait()


def passive_child(args) -> float:
    """Median seconds per step of two threads in a child process whose OpenMP threads wait passively."""
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    command = [sys.executable, __file__, "--child", "--n", str(args.n), "--m", str(args.m), "--steps",
               str(args.steps), "--repeats", str(args.repeats)]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["2"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer repeats")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--m", type=int, default=10)
    parser.add_argument("--steps", type=int, default=None, help="steps of each run (default 500, quick 200)")
    parser.add_argument("--repeats", type=int, default=None, help="runs of each mode (default 5, quick 3)")
    parser.add_argument("--load", type=int, default=4, help="busy processes of the loaded case")
    parser.add_argument("--nice", type=int, default=0, help="add this to the niceness first (-20: root)")
    parser.add_argument("--passive", action="store_true", help="also two threads with OMP_WAIT_POLICY=passive")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.steps = args.steps or (200 if args.quick else 500)
    args.repeats = args.repeats or (3 if args.quick else 5)
    if args.nice:
        os.nice(args.nice)
    config = SimulationConfig(n=args.n, d=2 * args.n, m=args.m, steps=args.steps, record=args.steps)
    data = sample_data(config)
    warm = config.replace(steps=20, record=20)
    for mode in MODES:  # compile, or load from the cache, both kernels
        run_seconds(warm, data, mode)
    if args.child:
        print(json.dumps(time_modes(config, data, args.repeats, modes=(2,))))
        return
    info = machine_info()
    print_header(f"A single run on one thread, two threads and the library's choice, quiet and at load {args.load}",
                 info)
    print("# quiet: no load added by this script; load L: L busy processes beside it; the load average "
          "(1 min, at the end of each case) counts whatever else ran")
    print(f"# n = {args.n}, m = {args.m}, {args.steps} steps a run, median of {args.repeats} runs a mode; "
          f"niceness {os.nice(0)}; numba threads {dynamics.numba.get_num_threads()}, layer "
          f"{dynamics.numba.threading_layer()}; the library measures both here: "
          f"{dynamics.halves_pay(args.m, args.n)}")
    rows = []
    for load in (0, args.load):
        with busy(load):
            row = time_modes(config, data, args.repeats)
            if args.passive:
                row["passive"] = passive_child(args)
            row["load_average"] = os.getloadavg()[0]
        row.update(case="quiet" if load == 0 else f"load {load}", one_ms=1e3 * row["1"], two_ms=1e3 * row["2"],
                   auto_ms=1e3 * row["auto"], two_vs_one=row["2"] / row["1"], auto_vs_one=row["auto"] / row["1"],
                   auto_vs_two=row["auto"] / row["2"], passive_ms=1e3 * row["passive"] if args.passive else None,
                   share=None if row["auto_share_two"] is None else 100 * row["auto_share_two"])
        rows.append(row)
        print(f"# {row['case']}: done (load average {row['load_average']:.2f})")
        sys.stdout.flush()
    columns = [("case", "case"), ("load_average", "load avg"), ("one_ms", "one thread ms/step"),
               ("two_ms", "two threads ms/step"), ("auto_ms", "library ms/step"), ("share", "library % on two"),
               ("two_vs_one", "two / one"), ("auto_vs_one", "library / one"), ("auto_vs_two", "library / two")]
    if args.passive:
        columns.insert(5, ("passive_ms", "two, passive waits ms/step"))
    print(format_table(rows, columns))
    loaded = rows[-1]
    print(f"# at load {args.load}: the library's choice {loaded['auto_vs_one']:.2f}x one thread's time "
          f"(target <= 1.2); quiet: {rows[0]['auto_vs_two']:.2f}x two threads' time")
    path = write_json("bench_threads_under_load", {"machine": info, "args": vars(args), "rows": rows})
    print(f"# written to {path}")


if __name__ == "__main__":
    main()
