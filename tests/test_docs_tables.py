"""The numbers committed under docs/ are what their commands print today.

A kernel change that moves a result must come with regenerated docs. Each
check reruns a quick part of a page's command and compares it with the
committed numbers exactly:

- docs/phase/*.csv (``labelnoise-sim sweep --config docs/phase/NAME.toml``):
  a few cells of each grid, recomputed, against their committed rows;
- docs/stages.md: the ``analyze()`` summary that ``labelnoise-sim figure``
  prints, against the one quoted on the page;
- docs/tables/*.md, the tables the pages include: each is included by its
  page, and each script's table is what it computes now.
"""

import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labelnoise_sim import analyze, expand_grid, simulate
from labelnoise_sim.sweep import run_cells

DOCS = Path(__file__).resolve().parents[1] / "docs"
PHASE_GRIDS = sorted((DOCS / "phase").glob("*.toml"))


def _cells_to_check(count: int) -> list[int]:
    """The first, the last and two between: corners and inside of the grid, in a few seconds."""
    return sorted({0, count // 3, (2 * count) // 3, count - 1})


# dn_snr's cells are its largest (10 s for four of them): with the slow checks, which CI also runs.
@pytest.mark.parametrize("grid_file", [pytest.param(p, marks=pytest.mark.slow) if p.stem == "dn_snr" else p
                                       for p in PHASE_GRIDS], ids=[p.stem for p in PHASE_GRIDS])
def test_committed_phase_table_matches_its_sweep(grid_file):
    spec = tomllib.loads(grid_file.read_text())
    cells = expand_grid(spec["grid"], spec.get("fixed", {}))
    table = pd.read_csv(grid_file.with_suffix(".csv"), index_col="cell")
    assert len(table) == len(cells), f"{grid_file.name}: the CSV has {len(table)} rows for {len(cells)} cells"
    indices = _cells_to_check(len(cells))
    outcomes = run_cells([cells[i][1] for i in indices], test_error=spec.get("sweep", {}).get("test_error", True),
                         parallel=True)
    for index, outcome in zip(indices, outcomes):
        row = table.loc[index]
        for name, value in outcome["metrics"].items():
            committed = row[name]
            if value is None:
                assert pd.isna(committed), f"{grid_file.name} cell {index} {name}: {committed!r}, now None"
            elif isinstance(value, (bool, np.bool_)):
                assert bool(committed) == value, f"{grid_file.name} cell {index} {name}"
            else:
                assert committed == value, f"{grid_file.name} cell {index} {name}: {committed!r}, now {value!r}"


def test_stage_page_quotes_the_summary_the_figure_command_prints():
    page = (DOCS / "stages.md").read_text()
    quoted = re.search(r"## What the summary says\n\n```text\n(.*?)```", page, re.S)[1]
    assert quoted.strip() == analyze(simulate()).summary().strip()


def test_phase_page_table_is_what_its_script_makes_of_the_committed_csv(monkeypatch):
    monkeypatch.syspath_prepend(str(DOCS / "scripts"))
    import phase_tables

    assert phase_tables.main(["--check"]) == 0


@pytest.mark.slow  # reruns two rows of the page's table (7 s)
def test_early_stopping_page_rows_are_what_its_script_measures(monkeypatch):
    """The τ = 0.2 rows of the default-run table, recomputed over the page's seeds (the whole page takes minutes)."""
    monkeypatch.syspath_prepend(str(DOCS / "scripts"))
    import early_stopping_tables as script

    page = script.TABLE.read_text()
    seeds = int(re.search(r"--seeds (\d+)", page)[1])
    title, base = next(iter(script.SETTINGS.items()))
    section = page[page.index(f"**{title}**"):]
    section = section[: section.index("\n**")] if "\n**" in section else section
    for line in script.row_lines(0.2, script.mean_row(base, 0.2, seeds)):
        assert line in section, line


#: The tables of docs/tables/, each with the page that includes it.
INCLUDED = {"parameters.md": "api.md", "early_stopping.md": "early_stopping.md", "family_autograd.md": "family.md",
            "phase_r.md": "phase.md", "thresholds.md": "stages.md", "test_error_cost.md": "model.md",
            "data_family_speed.md": "family.md"}


def test_every_table_is_included_by_its_page():
    assert {path.name for path in (DOCS / "tables").glob("*.md")} == set(INCLUDED)
    for table, page in INCLUDED.items():
        assert f"```{{include}} tables/{table}\n```" in (DOCS / page).read_text(), f"{page} does not include {table}"
