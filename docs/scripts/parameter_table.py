"""The parameter table that docs/api.md includes, docs/tables/parameters.md, made from the parameter declarations.

    python docs/scripts/parameter_table.py            # writes docs/tables/parameters.md
    python docs/scripts/parameter_table.py --check    # fails if docs/tables/parameters.md is out of date

One row per parameter of ``simulate()``, in the order of its signature, read
from :data:`labelnoise_sim.config.PARAMETERS`: name, default, allowed values
(in the words of the error messages) and meaning.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from labelnoise_sim.config import PARAMETERS

TABLE = Path(__file__).resolve().parents[1] / "tables" / "parameters.md"


def table() -> str:
    """The markdown table, one row per declared parameter."""
    rows = ["| parameter | default | allowed | meaning |", "|---|---|---|---|"]
    for name, parameter in PARAMETERS.items():
        cells = [f"`{name}`", f"`{parameter.default!r}`", parameter.allowed, parameter.description]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that docs/tables/parameters.md is this table")
    args = parser.parse_args()
    if not args.check:
        TABLE.write_text(table())
        print(f"wrote {TABLE}")
    elif TABLE.read_text() != table():
        sys.exit(f"{TABLE} is out of date; run python docs/scripts/parameter_table.py")


if __name__ == "__main__":
    main()
