"""The cost of a run's whole test-error curve against the cost of the run.

For each setting, in one process and interleaved repeat by repeat (a busy
machine slows both sides of a ratio alike), this times

- the run: ``simulate(**setting)`` with its data, warm;
- the precise curve: ``generalization.estimate`` at every recorded step (what
  ``result.test_error`` computes), to 2 % at 95 % confidence;
- the brute-force curve: ``class_errors(method="monte_carlo")`` with its 2^15
  plain draws per step (the estimator before line sampling), which reads 0
  below about 3e-5;

and prints each curve's time as a multiple of the run's, with the draws the
precise curve took and the largest relative standard error it reports.
Target: the precise curve of the default run at most 2x the run.

``--docs`` writes the table to docs/tables/test_error_cost.md, which
docs/model.md includes (tests/test_benchmarks.py checks that it is the
table of the JSON file the full run keeps).

Usage::

    python benchmarks/bench_test_error.py [--quick]   # prints the table; --quick: the default run only
    python benchmarks/bench_test_error.py --docs      # and writes the docs table
    python benchmarks/bench_test_error.py --reuse     # the table of the kept full run (with --docs: rewrite it)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import format_table, machine_info, print_header, write_json  # noqa: E402

from labelnoise_sim import simulate  # noqa: E402
from labelnoise_sim.generalization import TARGET_RSE, class_errors, estimate  # noqa: E402

TARGET_RATIO = 2.0

#: The kept full run, and the table of it that docs/model.md includes (``--docs``).
RESULT = Path(__file__).resolve().parent / "results" / "bench_test_error.json"
TABLE = Path(__file__).resolve().parents[1] / "docs" / "tables" / "test_error_cost.md"
COLUMNS = [("setting", "setting"), ("records", "records"), ("run_s", "run s"),
           ("precise_ratio", "precise curve / run"), ("brute_ratio", "2^15 plain draws / run"),
           ("draws_total", "draws"), ("smallest_error", "smallest error"), ("worst_rse", "worst rel. s.e.")]

SETTINGS = {
    "default": {},
    "no label noise": {"tau": 0.0},
    "harmful (n=500, d=1000, eta=0.2)": {"n": 500, "d": 1000, "eta": 0.2, "steps": 2000},
    "leaky ReLU, hinge": {"activation": "leaky_relu(0.1)", "loss": "hinge"},
    "relu^2": {"activation": "relu^2"},
}


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def measure(setting: dict, repeats: int, brute_force: bool = True) -> dict:
    """Median times of the run and of its curves, in one process, and the precise curve's statistics."""
    simulate(**setting)  # compile
    runs, precise, brute = [], [], []
    for _ in range(repeats):
        seconds, result = _timed(lambda: simulate(**setting))
        runs.append(seconds)
        args = (result.gamma, result.rho, result.data.gram, result.config)
        kwargs = {"alpha": result.alpha, "bias": result.bias}
        seconds, est = _timed(lambda: estimate(*args, **kwargs))
        precise.append(seconds)
        if brute_force:
            brute.append(_timed(lambda: class_errors(*args, method="monte_carlo", **kwargs))[0])
    error = est.by_class.mean(axis=1)
    positive = error > 0
    run_s = statistics.median(runs)
    out = {
        "records": int(error.size),
        "run_s": run_s,
        "precise_s": statistics.median(precise),
        "precise_ratio": statistics.median(precise) / run_s,
        "draws_total": int(est.draws.sum()),
        "draws_max": int(est.draws.max()),
        "smallest_error": float(error[positive].min()) if positive.any() else 0.0,
        "worst_rse": float(np.max(est.stderr[positive] / error[positive])) if positive.any() else 0.0,
    }
    if brute_force:
        out["brute_s"] = statistics.median(brute)
        out["brute_ratio"] = statistics.median(brute) / run_s
    return out


def markdown(rows: list[dict]) -> str:
    """The docs table of the rows: one line per setting."""
    head = "| " + " | ".join(title for _, title in COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in COLUMNS) + "|"
    lines = [head, rule]
    for row in rows:
        cells = []
        for key, _ in COLUMNS:
            value = row[key]
            if isinstance(value, str):
                cells.append(value)
            elif isinstance(value, int):
                cells.append(f"{value:,}")
            elif key in ("smallest_error", "worst_rse"):
                cells.append(f"{value:.2e}" if key == "smallest_error" else f"{value:.4f}")
            else:
                cells.append(f"{value:.3f}" if key == "run_s" else f"{value:.2f}x")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the default setting only, 3 repeats")
    parser.add_argument("--reuse", action="store_true", help=f"print the table of the kept full run ({RESULT.name})")
    parser.add_argument("--docs", action="store_true", help="write the table that docs/model.md includes")
    parser.add_argument("--out", default=None, help="directory of the JSON result (default benchmarks/results)")
    args = parser.parse_args(argv)
    if args.reuse:
        payload = json.loads(RESULT.read_text())
        rows = payload["rows"]
    else:
        info = machine_info()
        print_header("bench_test_error: the whole test-error curve of a run, as a multiple of the run", info)
        settings = {"default": SETTINGS["default"]} if args.quick else SETTINGS
        rows = []
        for name, setting in settings.items():
            rows.append({"setting": name, **measure(setting, 3 if args.quick else 7)})
            print(f"# {name}: done", flush=True)
        payload = {"machine": info, "quick": args.quick, "target_ratio": TARGET_RATIO, "rows": rows}
        path = write_json("bench_test_error_quick" if args.quick else "bench_test_error", payload, args.out)
        print(f"# written {path}")
    print(format_table(rows, COLUMNS))
    default = rows[0]
    verdict = "meets" if default["precise_ratio"] <= TARGET_RATIO else "MISSES"
    print(f"default run: the precise curve costs {default['precise_ratio']:.2f}x the run, {verdict} the "
          f"{TARGET_RATIO:.0f}x target; every step's relative standard error at most {TARGET_RSE:.4f} "
          f"(worst {default['worst_rse']:.4f})")
    if args.docs:
        if payload.get("quick"):
            parser.error("--docs needs a full run (not --quick)")
        TABLE.write_text(markdown(rows) + "\n")
        print(f"wrote {TABLE}")
    return payload


if __name__ == "__main__":
    main()
