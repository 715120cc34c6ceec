"""What the data family costs: the dynamics of XOR, common and rare features and C classes against the binary run.

Targets (issue 24): a binary ``features="xor"`` run at most 1.3x a
``features="single"`` run of the same size, and ``classes=C`` about C/2 times
the binary run, no more (C groups of m filters against 2). Only the dynamics
are timed (``dynamics.run`` on data drawn beforehand, no test error); the
contenders are interleaved and each keeps its best of several repeats, so a
busy machine slows both sides of a ratio alike. The single-signal baseline
runs the family kernel too (``output_layer="trained"`` would change the work;
the baseline is the binary family model with the same options otherwise).

A full run keeps its rows in benchmarks/results/data_family.json; ``--docs``
writes their table to docs/tables/data_family_speed.md, which docs/family.md
includes (tests/test_benchmarks.py checks that the two agree).

Usage::

    python benchmarks/bench_data_family.py [--quick]        # measure and print
    python benchmarks/bench_data_family.py --docs           # measure, keep the rows, write the docs table
    python benchmarks/bench_data_family.py --reuse --docs   # the docs table of the kept rows
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS_DIR, format_table, machine_info, print_header, write_json  # noqa: E402

from labelnoise_sim import dynamics  # noqa: E402
from labelnoise_sim.config import SimulationConfig  # noqa: E402
from labelnoise_sim.data import sample_data  # noqa: E402

RESULT = RESULTS_DIR / "data_family.json"
TABLE = Path(__file__).resolve().parents[1] / "docs" / "tables" / "data_family_speed.md"
BASELINE = "single (baseline)"

#: Each case against its baseline: the options that differ, and the target ratio.
CASES = {
    "xor": (dict(features="xor"), 1.3),
    "common_rare(0.1)": (dict(features="common_rare(0.1)"), 1.3),
    "trained output layer": (dict(output_layer="trained"), 1.3),
    "classes=2, cross_entropy": (dict(loss="cross_entropy"), 1.0 * 1.3),
    "classes=4": (dict(classes=4), 4 / 2 * 1.3),
    "classes=8": (dict(classes=8), 8 / 2 * 1.3),
}


def best_times(configs: dict, repeats: int) -> dict:
    """Best wall time of the dynamics of each config, interleaved over ``repeats`` rounds."""
    datas = {name: sample_data(config) for name, config in configs.items()}
    for name, config in configs.items():  # compile first
        dynamics.run_many([config.replace(steps=2, record=None)], [datas[name]], parallel=False)
    best = dict.fromkeys(configs, np.inf)
    for _ in range(repeats):
        for name, config in configs.items():
            start = time.perf_counter()
            dynamics.run_many([config], [datas[name]], parallel=False)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def measure(size: dict, repeats: int) -> list[dict]:
    """The rows: each case's best time, its ratio to the baseline and its target."""
    # The baseline: the binary single-signal model in the family kernel (activation relu^2 keeps it off the
    # paper model's own kernel, as every data family run is).
    base = dict(size, activation="relu^2", record=100, seed=1)
    configs = {BASELINE: SimulationConfig.from_params(**base)}
    configs.update({name: SimulationConfig.from_params(**base, **options) for name, (options, _) in CASES.items()})
    times = best_times(configs, repeats)
    rows = []
    for name in configs:
        ratio = times[name] / times[BASELINE]
        target = CASES[name][1] if name in CASES else None
        rows.append(dict(case=name, seconds=times[name], ratio=ratio, target=target,
                         met=None if target is None else bool(ratio <= target)))
    return rows


def markdown(rows: list[dict]) -> str:
    """The docs table of ``rows``."""
    lines = ["| run | best time (s) | × the binary single-signal run | target | met |", "|---|---|---|---|---|"]
    for row in rows:
        target = "—" if row["target"] is None else f"≤ {row['target']:.2f}"
        met = "—" if row["met"] is None else ("yes" if row["met"] else "no")
        lines.append(f"| {row['case']} | {row['seconds']:.3f} | {row['ratio']:.2f} | {target} | {met} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats")
    parser.add_argument("--docs", action="store_true", help=f"write the table to {TABLE.name}")
    parser.add_argument("--reuse", action="store_true", help=f"the rows of the last full run ({RESULT.name})")
    args = parser.parse_args(argv)
    if args.reuse:
        kept = json.loads(RESULT.read_text())
        rows, size, repeats, info = kept["rows"], kept["size"], kept["repeats"], kept["machine"]
    else:
        size = dict(n=100, d=1000, m=10, steps=300) if args.quick else dict(n=400, d=4000, m=10, steps=1000)
        repeats = 2 if args.quick else 5
        info = machine_info()
        rows = measure(size, repeats)
        if not args.quick:
            write_json(RESULT.stem, {"machine": info, "size": size, "repeats": repeats, "rows": rows})
    print_header("Data family: the dynamics against the binary single-signal run", info)
    print(format_table(rows, [("case", "case"), ("seconds", "best s"), ("ratio", "x baseline"),
                              ("target", "target <="), ("met", "met")]))
    print(f"sizes: {size}, best of {repeats}")
    if args.docs:
        TABLE.write_text(markdown(rows))
        print(f"wrote {TABLE}")


if __name__ == "__main__":
    main()
