"""Measure the stage statistics over the parameter regions of the property tests.

    python docs/scripts/measure_thresholds.py            # rewrites the table in docs/stages.md
    python docs/scripts/measure_thresholds.py --draws 20 --no-write

Draws random settings from the three regions that tests/test_properties.py
samples with hypothesis (keep the two in step), runs each, and reports the
worst case and quantiles of every statistic a property test bounds. The test
thresholds are set below these measured worst cases, with a margin stated in
docs/stages.md.
"""

from __future__ import annotations

import argparse
import math
import re
import time
from pathlib import Path

import numpy as np

from labelnoise_sim import analyze, simulate, simulate_holdout
from labelnoise_sim.analysis import stuck_samples
from labelnoise_sim.config import log_grid

DOC = Path(__file__).resolve().parents[1] / "stages.md"
START, END = "<!-- measured-thresholds:start -->", "<!-- measured-thresholds:end -->"

#: Gradient-descent "time" η·steps given to runs of the Stage I/II region.
STAGE_TIME = 40.0
#: Steps of the harmful and noise-free regions.
LONG_STEPS = 1000
RECORDS_PER_DECADE = 10


def stage_region(rng, sigma0=None):
    """Stage I/II region: n SNR² well above the flip-rate rule, d >> n, small init."""
    n = int(rng.integers(40, 101))
    eta = float(rng.uniform(0.05, 0.2))
    steps = int(math.ceil(STAGE_TIME / eta))
    return dict(
        n=n, d=int(n * rng.uniform(10, 30)), m=int(rng.integers(4, 11)), eta=eta,
        steps=steps, n_snr2=float(rng.uniform(6, 15)),
        tau=float(rng.uniform(0.05, 0.2)),
        sigma0=float(10 ** rng.uniform(-4, -3)) if sigma0 is None else sigma0,
        seed=int(rng.integers(0, 2**31)),
        record=tuple(int(s) for s in log_grid(steps, RECORDS_PER_DECADE)),
    )


def default_init_region(rng):
    """The Stage I/II region with the library's default initial scale σ0 = 0.01 (outside it)."""
    return stage_region(rng, sigma0=0.01)


def harmful_region(rng):
    """Harmful overfitting region: d only a few times n, so memorising ξ costs test accuracy."""
    n = int(rng.integers(60, 121))
    return dict(
        n=n, d=int(n * rng.uniform(2, 4)), m=int(rng.integers(4, 11)), eta=0.1, steps=LONG_STEPS,
        n_snr2=float(rng.uniform(4, 10)), tau=float(rng.uniform(0.15, 0.25)),
        sigma0=float(10 ** rng.uniform(-4, -3)), seed=int(rng.integers(0, 2**31)),
        record=tuple(int(s) for s in log_grid(LONG_STEPS, RECORDS_PER_DECADE)),
    )


def clean_region(rng):
    """No label noise, across benign and harmful shapes (d/n from 2 to 30)."""
    n = int(rng.integers(40, 121))
    return dict(
        n=n, d=int(n * rng.uniform(2, 30)), m=int(rng.integers(4, 11)), eta=float(rng.uniform(0.05, 0.2)),
        steps=LONG_STEPS, n_snr2=float(rng.uniform(4, 15)), tau=0.0,
        sigma0=float(10 ** rng.uniform(-4, -2)), seed=int(rng.integers(0, 2**31)),
        record=tuple(int(s) for s in log_grid(LONG_STEPS, RECORDS_PER_DECADE)),
    )


def measure_stage(params):
    r = simulate(**params)
    a = analyze(r)
    if a.n_noisy == 0 or a.t1 is None:
        return None
    h = simulate_holdout(holdout=0.25, **params)
    return {
        "t1 < t2": float(a.t2 is not None and a.t1 < a.t2),
        "t2 reached": float(a.t2 is not None),
        "fitted or stuck at end": float((r.fitted[-1] | stuck_samples(r, len(r.t) - 1)).all()),
        "stuck samples at end (share)": a.stuck_samples_end / a.n,
        "noisy share by true label at t1": a.noisy_true_share_at_t1,
        "log 2 precision at t1": a.selection_t1.precision,
        "log 2 recall at t1": a.selection_t1.recall,
        "loss AUC at t1": a.selection_t1.auc,
        "noise beats signal at t1 (share)": a.noise_beats_signal_t1 / a.n_noisy,
        "noise beats signal at end (share)": a.noise_beats_signal_end / a.n_noisy,
        "eta * t2": params["eta"] * a.t2 if a.t2 is not None else float("nan"),
        "t1 / t1_theory": a.t1 / a.t1_theory,
        "final - best": a.final_test_error - a.best_test_error,
        "held-out stop - final": h.stop_test_error - h.result.test_error[-1],
    }


def measure_harmful(params):
    a = analyze(simulate(**params))
    h = simulate_holdout(holdout=0.25, **params)
    return {
        "best test error": a.best_test_error,
        "final test error": a.final_test_error,
        "final - best": a.final_test_error - a.best_test_error,
        "held-out stop - final": h.stop_test_error - h.result.test_error[-1],
    }


def measure_clean(params):
    a = analyze(simulate(**params))
    return {
        "best test error": a.best_test_error,
        "final test error": a.final_test_error,
        "final - best": a.final_test_error - a.best_test_error,
    }


REGIONS = [
    ("Stage I/II region", stage_region, measure_stage),
    ("Same region with the default sigma0 = 0.01 (outside the region)", default_init_region, measure_stage),
    ("Harmful region (d/n in [2, 4])", harmful_region, measure_harmful),
    ("No label noise (tau = 0)", clean_region, measure_clean),
]


def table(rows: list[dict]) -> list[str]:
    keys = list(rows[0])
    out = ["| statistic | min | 5% | median | 95% | max |", "|---|---|---|---|---|---|"]
    for key in keys:
        v = np.array([r[key] for r in rows], dtype=float)
        v = v[np.isfinite(v)]
        q = np.quantile(v, [0, 0.05, 0.5, 0.95, 1])
        out.append(f"| {key} | " + " | ".join(f"{x:.4g}" for x in q) + " |")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=60, help="random settings per region (default 60)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/stages.md alone")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    lines = [
        f"Measured by `python docs/scripts/measure_thresholds.py --draws {args.draws} --seed {args.seed}`"
        f" ({args.draws} random settings per region).",
        "",
    ]
    for title, draw, measure in REGIONS:
        start = time.perf_counter()
        rows = []
        for _ in range(args.draws):
            row = measure(draw(rng))
            if row is not None:
                rows.append(row)
        lines += [f"**{title}** ({len(rows)} runs with noisy samples, "
                  f"{time.perf_counter() - start:.0f} s)", ""] + table(rows) + [""]
        print("\n".join(lines[-len(rows[0]) - 4:]), flush=True)
    text = "\n".join(lines).rstrip() + "\n"
    if not args.no_write:
        doc = DOC.read_text()
        pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
        if not pattern.search(doc):
            raise SystemExit(f"{DOC} has no {START} ... {END} block to fill")
        DOC.write_text(pattern.sub(lambda _: f"{START}\n{text}{END}", doc))
        print(f"updated {DOC}")


if __name__ == "__main__":
    main()
