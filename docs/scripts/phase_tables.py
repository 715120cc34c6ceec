"""The table docs/phase.md includes: final test error against R = n‖μ‖⁴/(σ_ξ⁴ d), from docs/phase/dn_snr.csv.

Usage::

    python docs/scripts/phase_tables.py           # writes docs/tables/phase_r.md
    python docs/scripts/phase_tables.py --check   # exit 1 if docs/tables/phase_r.md differs from what this makes

R = (n·SNR²)²·d/n. Each grid cell is first averaged over its seeds; cells
are then grouped by log₂R rounded to an integer, in two bands of d/n, and
each group is reported as its mean (min–max over its cells).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

DOCS = Path(__file__).resolve().parents[1]
OUT = DOCS / "tables" / "phase_r.md"
TABLE = DOCS / "phase" / "dn_snr.csv"
BANDS = (("d/n ∈ [128, 1024]", 128, 1024), ("d/n ∈ [1, 16]", 1, 16))
LOG2_R = range(-2, 6)


def _fmt(x: float) -> str:
    return f"{x:.2f}" if x >= 0.01 else f"{x:.3f}"


def _group(mean: float, lo: float, hi: float) -> str:
    return _fmt(mean) if _fmt(lo) == _fmt(hi) else f"{_fmt(mean)} ({_fmt(lo)}–{_fmt(hi)})"


def table(csv: Path = TABLE) -> str:
    frame = pd.read_csv(csv, index_col="cell")
    cells = frame.groupby(["d", "n_snr2"], as_index=False)[["final_test_error", "n"]].mean()
    cells["d_over_n"] = cells["d"] / cells["n"]
    cells["log2_r"] = np.rint(np.log2(cells["n_snr2"] ** 2 * cells["d_over_n"])).astype(int)
    header = "| R | " + " | ".join(f"{2.0**k:g}" if k >= 0 else f"1/{2**-k}" for k in LOG2_R) + " |"
    lines = [header, "|---" * (len(LOG2_R) + 1) + "|"]
    for label, low, high in BANDS:
        band = cells[(cells["d_over_n"] >= low) & (cells["d_over_n"] <= high)]
        entries = []
        for k in LOG2_R:
            errors = band.loc[band["log2_r"] == k, "final_test_error"]
            entries.append(_group(errors.mean(), errors.min(), errors.max()) if len(errors) else "")
        lines.append(f"| final test error, {label} | " + " | ".join(entries) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with docs/tables/phase_r.md instead of writing it")
    args = parser.parse_args(argv)
    text = table()
    if args.check:
        if OUT.read_text() != text:
            print(f"{OUT} is out of date: run python docs/scripts/phase_tables.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
