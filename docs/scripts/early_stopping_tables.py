"""Tables of early stopping and small-loss selection across flip rates.

    python docs/scripts/early_stopping_tables.py            # writes docs/tables/early_stopping.md
    python docs/scripts/early_stopping_tables.py --seeds 1 --no-write

For two settings (the default run, where memorising noise is nearly harmless,
and a harmful one with d only twice n) and flip rates τ = 0 .. 0.4, runs
``--seeds`` seeds and reports means of: the stage steps, the log 2 selection
scored at t1 (precision, recall, F1, loss AUC) and at the end, and the clean
test error at t1, at the oracle best step, at the held-out stop
(:func:`labelnoise_sim.early_stopping.simulate_holdout`, 20 % held out, by held-out loss and
by held-out error) and at the end.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from labelnoise_sim import analyze, simulate
from labelnoise_sim.analysis import selection_quality
from labelnoise_sim.config import log_grid
from labelnoise_sim.early_stopping import simulate_holdout

#: The tables, which docs/early_stopping.md includes.
TABLE = Path(__file__).resolve().parents[1] / "tables" / "early_stopping.md"
TAUS = (0.0, 0.1, 0.2, 0.3, 0.4)


def _record(steps):
    return tuple(int(s) for s in log_grid(steps, 25))


SETTINGS = {
    "default run (n=200, d=2000, eta=0.1, n SNR^2=6, 2000 steps)":
        dict(n=200, d=2000, eta=0.1, steps=2000, record=_record(2000)),
    "harmful run (n=300, d=600, eta=0.2, n SNR^2=5, 5000 steps)":
        dict(n=300, d=600, eta=0.2, n_snr2=5.0, steps=5000, record=_record(5000)),
}


def measure(params):
    r = simulate(**params)
    a = analyze(r)
    h = simulate_holdout(holdout=0.2, **params)
    h_err = simulate_holdout(holdout=0.2, criterion="error", **params)
    k_best = int(np.searchsorted(r.t, a.best_step))
    best_sel = selection_quality(r, a.best_step)
    row = {
        "t1": a.t1, "t2": a.t2, "best step": a.best_step, "held-out stop (loss)": h.stop_step,
        "held-out stop (error)": h_err.stop_step,
        "prec@t1": a.selection_t1.precision if a.selection_t1 else np.nan,
        "rec@t1": a.selection_t1.recall if a.selection_t1 else np.nan,
        "F1@t1": a.selection_t1.f1 if a.selection_t1 else np.nan,
        "AUC@t1": a.selection_t1.auc if a.selection_t1 else np.nan,
        "prec@best": best_sel.precision, "rec@best": best_sel.recall, "AUC@best": best_sel.auc,
        "prec@end": a.selection_end.precision, "rec@end": a.selection_end.recall,
        "AUC@end": a.selection_end.auc,
        "err@t1": a.test_error_at_t1, "err@best": a.best_test_error,
        "err@held-out (loss)": h.stop_test_error, "err@held-out (error)": h_err.stop_test_error,
        "err@end": a.final_test_error,
    }
    assert r.test_error[k_best] == a.best_test_error
    return row


def _mean(values):
    """Mean over seeds of the values that exist (None when none does, e.g. an AUC without noisy samples)."""
    v = np.array([np.nan if x is None else x for x in values], dtype=float)
    return float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else None


def fmt(v, key):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "–"
    if key.startswith("err"):
        return f"{v:.4f}"
    if key in ("t1", "t2", "best step") or key.startswith("held-out stop"):
        return f"{v:.0f}"
    return f"{v:.3f}"


def mean_row(base: dict, tau: float, seeds: int) -> dict:
    """The means over ``seeds`` seeds of every measured value of one setting at flip rate ``tau``."""
    per_seed = [measure(dict(base, tau=tau, seed=s)) for s in range(seeds)]
    return {k: _mean([r[k] for r in per_seed]) for k in per_seed[0]}


def row_lines(tau: float, row: dict) -> list[str]:
    """The table lines of one flip rate, one per group of columns."""
    keys = list(row)
    return [f"| {tau:g} | " + " | ".join(fmt(row[k], k) for k in group) + " |"
            for group in (keys[:5], keys[5:15], keys[15:])]


def tables(seeds: int) -> list[str]:
    lines = []
    for title, base in SETTINGS.items():
        start = time.perf_counter()
        rows = {tau: mean_row(base, tau, seeds) for tau in TAUS}
        per_tau = {tau: row_lines(tau, row) for tau, row in rows.items()}
        keys = list(next(iter(rows.values())))
        groups = [keys[:5], keys[5:15], keys[15:]]
        lines.append(f"**{title}**, mean over {seeds} seeds ({time.perf_counter() - start:.0f} s)")
        lines.append("")
        for g, group in enumerate(groups):
            lines.append("| τ | " + " | ".join(group) + " |")
            lines.append("|---" * (len(group) + 1) + "|")
            lines.extend(per_tau[tau][g] for tau in TAUS)
            lines.append("")
        print("\n".join(lines[-(len(groups) * (len(TAUS) + 3)) - 2:]), flush=True)
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per cell (default 5)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave the docs table alone")
    args = parser.parse_args(argv)
    text = "\n".join(
        [f"Generated by `python docs/scripts/early_stopping_tables.py --seeds {args.seeds}`.", ""]
        + tables(args.seeds)
    ).rstrip() + "\n"
    if not args.no_write:
        TABLE.write_text(text)
        print(f"wrote {TABLE}")


if __name__ == "__main__":
    main()
