"""What returning to Python between chunks of steps costs: chunked dynamics against one kernel call.

``run_many`` runs the dynamics in chunks of ``dynamics.CHUNK_WORK``
multiply-adds (about a tenth of a second) so that Ctrl-C stops a run within a
chunk's time. This script times the same runs with the default chunks and
with a single chunk (``CHUNK_WORK`` set beyond the run), alternating the two,
best of several; the outputs are checked to be bit-identical before the ratio
is printed. Target: no measurable cost (a ratio within noise of 1).

Usage::

    python benchmarks/bench_chunks.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import format_table, machine_info, print_header  # noqa: E402

from labelnoise_sim import dynamics  # noqa: E402
from labelnoise_sim.config import SimulationConfig  # noqa: E402
from labelnoise_sim.data import sample_data  # noqa: E402


def time_case(config: SimulationConfig, repeats: int) -> dict:
    """Best wall time of ``run`` with the default chunks and with one chunk; outputs checked equal."""
    data = sample_data(config)
    default = dynamics.CHUNK_WORK
    times = {"chunked": np.inf, "one_call": np.inf}
    outputs = {}
    try:
        for _ in range(repeats):
            for name, work in (("chunked", default), ("one_call", 2**62)):
                dynamics.CHUNK_WORK = work
                start = time.perf_counter()
                outputs[name] = dynamics.run(config, data).outputs
                times[name] = min(times[name], time.perf_counter() - start)
    finally:
        dynamics.CHUNK_WORK = default
    np.testing.assert_array_equal(outputs["chunked"], outputs["one_call"])
    return {
        "n": config.n, "steps": config.steps,
        "chunks": -(-(config.steps + 1) // dynamics.chunk_steps(1, config.m, config.n)),
        "chunked_s": times["chunked"], "one_call_s": times["one_call"],
        "ratio": times["chunked"] / times["one_call"],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, fewer repeats")
    args = parser.parse_args(argv)
    cases = [dict(n=200, d=2000, steps=20_000), dict(n=800, d=4000, steps=1_000)]
    if args.quick:
        cases = [dict(n=200, d=2000, steps=6_000), dict(n=800, d=4000, steps=300)]
    print_header("Chunked dynamics against one kernel call", machine_info())
    rows = [time_case(SimulationConfig(**case, record=case["steps"]), 2 if args.quick else 5) for case in cases]
    print(format_table(rows, [("n", "n"), ("steps", "steps"), ("chunks", "chunks"), ("chunked_s", "chunked s"),
                              ("one_call_s", "one call s"), ("ratio", "chunked / one call")]))


if __name__ == "__main__":
    main()
