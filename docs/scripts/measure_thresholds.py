"""Measure the stage statistics over the parameter regions of the property tests.

    python docs/scripts/measure_thresholds.py            # writes docs/tables/thresholds.md (docs/stages.md includes it)
    python docs/scripts/measure_thresholds.py --draws 20 --no-write

Draws random settings from the three regions that tests/test_properties.py
samples with hypothesis (both take them from tests/property_regions.py), plus
every corner of the Stage I/II region and of the noise-free region
(hypothesis probes the edges, so the worst cases sit there), runs each, and
reports the worst case and quantiles of every statistic a property test
bounds. Stage runs without a noisy sample, or whose realized
rule n SNR² (1 - 2 τ̂)/2 is below MIN_RULE, are not kept. The test
thresholds are set below these measured worst cases, with a margin stated in
docs/stages.md.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from pathlib import Path

import numpy as np

from labelnoise_sim import analyze, simulate
from labelnoise_sim.analysis import noise_vs_signal, stuck_samples
from labelnoise_sim.early_stopping import simulate_holdout

# The regions are the property tests' own; they live with the tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

from property_regions import (  # noqa: E402
    MIN_RULE,
    STAGE_TIME,
    clean_region,
    corners,
    harmful_region,
    realized_rule,
    sparse_record,
    stage_region,
)

#: The table, which docs/stages.md includes.
TABLE = Path(__file__).resolve().parents[1] / "tables" / "thresholds.md"


class NumpyDraws:
    """The draws of a region (tests/property_regions.py) from a NumPy generator."""

    def __init__(self, rng):
        self.rng = rng

    def integer(self, low, high):
        return int(self.rng.integers(low, high + 1))

    def real(self, low, high):
        return float(self.rng.uniform(low, high))

    def seed(self):
        return int(self.rng.integers(0, 2**31))


def below_benign_region(draw):
    """The weakest corner of the noise-free grid first explored, outside the region: d/n = 2, n SNR² = 4."""
    return clean_region(draw, d_over_n=2, n_snr2=4.0)


def default_init_region(draw):
    """The Stage I/II region with the library's default initial scale σ0 = 0.01 (outside it)."""
    return stage_region(draw, sigma0=0.01)


def measure_stage(params, test_error=True):
    r = simulate(**params)
    if not r.data.is_noisy.any() or realized_rule(r) < MIN_RULE:
        return None
    a = analyze(r, test_error=test_error)
    if a.t1 is None:
        return None
    stuck = stuck_samples(r, int(r.t[-1]))
    noise_end, signal_end = noise_vs_signal(r, int(r.t[-1]))
    free = ~stuck[r.data.is_noisy]
    row = {
        "t1 < t2": float(a.t2 is not None and a.t1 < a.t2),
        "t2 reached": float(a.t2 is not None),
        "fitted or stuck at end": float((r.fitted[-1] | stuck).all()),
        "stuck samples at end (share)": a.stuck_samples_end / a.n,
        "noisy share by true label at t1": a.noisy_true_share_at_t1,
        "log 2 precision at t1": a.selection_t1.precision,
        "log 2 recall at t1": a.selection_t1.recall,
        "loss AUC at t1": a.selection_t1.auc,
        "noise beats signal at t1 (share)": a.noise_beats_signal_t1 / a.n_noisy,
        "noise beats signal at end (share)": a.noise_beats_signal_end / a.n_noisy,
        "noise beats signal at end, noisy not stuck (share)":
            float((noise_end > signal_end)[free].mean()) if free.any() else float("nan"),
        "eta * t2": params["eta"] * a.t2 if a.t2 is not None else float("nan"),
        "t1 / t1_theory": a.t1 / a.t1_theory,
    }
    if test_error:
        h = simulate_holdout(holdout=0.25, **params)
        row["final - best"] = a.final_test_error - a.best_test_error
        row["held-out stop - final"] = h.stop_test_error - h.result.test_error[-1]
    return row


def measure_stage_quick(params):
    return measure_stage(params, test_error=False)


def rule_table(seeds: int) -> list[str]:
    """Stage I statistics binned by the realized rule n SNR² (1 - 2 τ̂)/2 (n SNR² = 6, τ = 0.2 .. 0.3)."""
    bins = [0.0, 0.9, 1.2, 1.5, 1.8, 2.1, 3.0]
    stats = {k: [] for k in range(len(bins) - 1)}
    grid = itertools.product((40, 100), (10, 30), (8, 12), (0.2, 0.25, 0.3), (0.05, 0.2), range(seeds))
    for n, ratio, m, tau, eta, seed in grid:
        steps = int(math.ceil(STAGE_TIME / eta))
        r = simulate(n=n, d=n * ratio, m=m, eta=eta, steps=steps, n_snr2=6.0, tau=tau, sigma0=1e-3,
                     seed=seed, record=sparse_record(steps))
        a = analyze(r, test_error=False)
        if a.n_noisy == 0 or a.t1 is None:
            continue
        k = int(np.searchsorted(bins, realized_rule(r), side="left")) - 1
        stats[min(max(k, 0), len(bins) - 2)].append(
            (a.noisy_true_share_at_t1, a.selection_t1.precision, a.noise_beats_signal_t1 / a.n_noisy))
    out = ["| n SNR² (1 − 2τ̂)/2 | runs | worst share on true side at t1 | worst precision at t1 "
           "| worst share with noise beating signal at t1 |", "|---|---|---|---|---|"]
    for k, rows in stats.items():
        if rows:
            v = np.array(rows)
            out.append(f"| ({bins[k]:g}, {bins[k + 1]:g}] | {len(v)} | {v[:, 0].min():.3f} | {v[:, 1].min():.3f} "
                       f"| {v[:, 2].max():.3f} |")
    return out


def measure_harmful(params):
    a = analyze(simulate(**params))
    h = simulate_holdout(holdout=0.25, **params)
    clean = analyze(simulate(**dict(params, tau=0.0)))
    return {
        "best test error": a.best_test_error,
        "final test error": a.final_test_error,
        "final - best": a.final_test_error - a.best_test_error,
        "(final - best) minus the same for tau = 0":
            (a.final_test_error - a.best_test_error) - (clean.final_test_error - clean.best_test_error),
        "held-out stop - final": h.stop_test_error - h.result.test_error[-1],
    }


def measure_clean(params):
    a = analyze(simulate(**params))
    return {
        "best test error": a.best_test_error,
        "final test error": a.final_test_error,
        "final - best": a.final_test_error - a.best_test_error,
    }


def _random(region):
    return lambda rng, draws: [region(NumpyDraws(rng)) for _ in range(draws)]


def _corners(region):
    return lambda rng, draws: corners(region, seeds=5)


#: (title, settings from (rng, draws), measurement of one setting)
REGIONS = [
    ("Stage I/II region, random settings", _random(stage_region), measure_stage),
    ("Stage I/II region, its 128 corners x 5 seeds", _corners(stage_region), measure_stage_quick),
    ("Same region with the default sigma0 = 0.01 (outside the region)", _random(default_init_region),
     measure_stage),
    ("Harmful region (d/n in [2, 4])", _random(harmful_region), measure_harmful),
    ("No label noise (tau = 0)", _random(clean_region), measure_clean),
    ("No label noise, the region's 64 corners x 5 seeds", _corners(clean_region), measure_clean),
    ("No label noise below the region: (n SNR^2)^2 d/n = 32 (d/n = 2, n SNR^2 = 4), random n, m, sigma0, eta",
     _random(below_benign_region), measure_clean),
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
        f" ({args.draws} random settings per region, plus the corners of the Stage I/II and noise-free regions).",
        "",
    ]
    for title, settings, measure in REGIONS:
        start = time.perf_counter()
        rows = []
        all_params = settings(rng, args.draws)
        for params in all_params:
            row = measure(params)
            if row is not None:
                rows.append(row)
        lines += [f"**{title}** ({len(rows)} runs kept of {len(all_params)}, "
                  f"{time.perf_counter() - start:.0f} s)", ""] + table(rows) + [""]
        print("\n".join(lines[-len(rows[0]) - 4:]), flush=True)
    start = time.perf_counter()
    rule = rule_table(4)
    lines += [f"**Stage I against the realized rule**: n SNR² = 6, τ in {{0.2, 0.25, 0.3}}, "
              f"n in {{40, 100}}, d/n in {{10, 30}}, m in {{8, 12}}, η in {{0.05, 0.2}}, σ0 = 1e-3, "
              f"4 seeds ({time.perf_counter() - start:.0f} s)", ""] + rule + [""]
    print("\n".join(lines[-10:]), flush=True)
    text = "\n".join(lines).rstrip() + "\n"
    if not args.no_write:
        TABLE.write_text(text)
        print(f"wrote {TABLE}")


if __name__ == "__main__":
    main()
