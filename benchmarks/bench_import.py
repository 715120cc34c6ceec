"""Import time: ``import labelnoise_sim`` against ``import numpy, numba``.

The package needs numpy and numba at import (the kernels are numba
functions), so their import is the floor. Everything else heavy (scipy.stats,
matplotlib, pandas, dask, xarray) is imported where it is used. Each import
is timed inside a fresh interpreter, from just before the ``import`` statement
to just after it, so interpreter start-up is left out and nothing is cached in
``sys.modules``; the best of several processes is the least disturbed
estimate on a shared machine. Target: the package within 1.6x of the floor.

Usage::

    python benchmarks/bench_import.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import format_table, machine_info, print_header, write_json  # noqa: E402

TARGET_RATIO = 1.6
#: What is timed: the package, and the imports it cannot do without.
IMPORTS = {"labelnoise_sim": "import labelnoise_sim", "numpy, numba": "import numpy, numba"}

CHILD = """
import json, time
t0 = time.perf_counter()
{statement}
print(json.dumps(time.perf_counter() - t0))
"""


def import_time(statement: str) -> float:
    """Seconds that ``statement`` takes in a new interpreter."""
    done = subprocess.run([sys.executable, "-c", CHILD.format(statement=statement)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(processes: int) -> dict:
    """Best and all import times of every entry of IMPORTS over ``processes`` fresh interpreters each.

    The two imports alternate, so that a burst of load on the machine slows both alike.
    """
    times = {name: [] for name in IMPORTS}
    for _ in range(processes):
        for name, statement in IMPORTS.items():
            times[name].append(import_time(statement))
    best = {name: min(values) for name, values in times.items()}
    ratio = best["labelnoise_sim"] / best["numpy, numba"]
    return {"best_s": best, "times_s": times, "ratio": ratio, "target_ratio": TARGET_RATIO,
            "meets_target": ratio <= TARGET_RATIO}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer processes")
    parser.add_argument("--processes", type=int, default=None, help="fresh interpreters per import (best reported)")
    parser.add_argument("--out", default=None, help="directory of the JSON result (default benchmarks/results)")
    args = parser.parse_args(argv)
    processes = args.processes or (3 if args.quick else 10)
    info = machine_info()
    print_header("bench_import: import labelnoise_sim against import numpy, numba (fresh interpreters)", info)
    result = measure(processes)
    rows = [{"import": name, "best_s": best, "median_s": statistics.median(result["times_s"][name])}
            for name, best in result["best_s"].items()]
    print(format_table(rows, [("import", "import"), ("best_s", f"best of {processes} s"),
                              ("median_s", "median s")]))
    verdict = "meets" if result["meets_target"] else "MISSES"
    print(f"labelnoise_sim / (numpy, numba): {result['ratio']:.2f}x, {verdict} the {TARGET_RATIO}x target")
    payload = {"machine": info, "quick": args.quick, "processes": processes, **result}
    path = write_json("bench_import_quick" if args.quick else "bench_import", payload, args.out)
    print(f"# written {path}")
    return payload


if __name__ == "__main__":
    main()
