"""The paper gallery: its command, its framework, its pages, and every entry in quick mode (slow)."""

import sys
from pathlib import Path

import pytest

from labelnoise_sim import papers
from labelnoise_sim.cli import main
from labelnoise_sim.papers import Paper, Setting, Verdict

ROOT = Path(__file__).resolve().parents[1]


def test_list_prints_one_line_per_entry_key_first(capsys):
    assert main(["reproduce", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    entries = papers.papers()
    assert [line.split()[0] for line in lines] == list(entries)
    for line, entry in zip(lines, entries.values()):
        assert line.endswith(entry.citation)


def test_an_unknown_entry_is_one_line_naming_the_entries(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["reproduce", "nobody2099", "--quick"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "paper must be one of 'han2025'" in err and "got 'nobody2099'" in err and len(err.splitlines()) == 1


def _fake(verdicts):
    def run(context):
        import pandas as pd

        context.table(pd.DataFrame({"a": [1.0, float("nan")], "b": ["x|y", None]}), "numbers")
        return verdicts

    return Paper("fake", "Nobody, Nothing, 2099", (Setting("n", "10", "20", "cheaper"),), ("it works", "it is fast"),
                 run)


def test_reproduce_writes_the_tables_and_the_claims_beside_the_measurements(tmp_path):
    pytest.importorskip("pandas")
    from labelnoise_sim.papers._base import reproduce

    works = Verdict.decide("yes", (1, 2), (0, 3), seeds=5, uncertainty="95% CI")
    fast = Verdict.decide("no", (1, 2), (0, 3), seeds=5, uncertainty="95% CI", region="n=20",
                          regime="large d 0.5 (needs >= 1)")
    outcome = reproduce(_fake([works, fast]), tmp_path)
    claims = (tmp_path / "fake_claims.md").read_text().splitlines()
    assert claims[0] == "| claim | measured | verdict | seeds | uncertainty | regime | region |"
    assert claims[2:] == ["| it works | yes | confirmed | 5 | 95% CI | inside |  |",
                          "| it is fast | no | outside assumptions | 5 | 95% CI | large d 0.5 (needs >= 1) | n=20 |"]
    assert (tmp_path / "fake_numbers.md").read_text().splitlines()[2:] == ["| 1 | x\\|y |", "| - | - |"]
    assert (tmp_path / "fake_numbers.csv").exists() and len(outcome.written) == 3
    with pytest.raises(RuntimeError, match="1 verdicts for 2 claims"):
        reproduce(_fake([works]), tmp_path)


def test_every_entry_declares_its_setup_and_names_each_difference():
    for key, entry in papers.papers().items():
        assert entry.claims and entry.setup and entry.runtime, key
        for setting in entry.setup:
            assert not setting.differs or setting.note, f"{key}: {setting.name} differs without a reason"


def _paper_tables():
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        import paper_tables
    finally:
        sys.path.remove(str(ROOT / "docs" / "_ext"))
    return paper_tables


def test_the_gallery_lists_every_entry():
    gallery = (ROOT / "docs" / "gallery.md").read_text()
    index = _paper_tables().substitutions()["paper_index"]
    assert "{{ paper_index }}" in gallery
    for key in papers.papers():
        assert f"(papers/{key}.md)" in index and f"\npapers/{key}\n" in gallery
    assert "| `han2025` |" in index and " confirmed |" in index  # the tally of a committed full run


def test_every_page_shows_what_its_command_wrote():
    """A page shows its setup, includes every table its full run wrote and shows every figure."""
    tables = _paper_tables().substitutions()
    for key, entry in papers.papers().items():
        page = (ROOT / "docs" / "papers" / f"{key}.md").read_text()
        assert f"labelnoise-sim reproduce {key}" in page
        name = f"setup_{key.replace('-', '_')}"
        assert f"{{{{ {name} }}}}" in page and tables[name].count("\n") == len(entry.setup) + 1
        written = ROOT / "docs" / "papers" / key
        assert (written / f"{key}_claims.md").exists()
        for table in written.glob("*.md"):
            assert f"```{{include}} {key}/{table.name}\n```" in page, f"{table.name} is not included in {key}.md"
        for image in written.glob("*.png"):
            assert f"{key}/{image.name}" in page, f"{image.name} is not shown on {key}.md"


@pytest.mark.slow
@pytest.mark.parametrize("key", list(papers.papers()))
def test_every_entry_runs_in_quick_mode(key, tmp_path):
    pytest.importorskip("pandas")
    entry = papers.paper(key)
    outcome = papers.reproduce(entry.key, tmp_path, quick=True, progress=False)
    assert {v.verdict for v in outcome.verdicts} <= set(papers.VERDICTS)
    assert all(v.quick for v in outcome.verdicts)
    assert len(outcome.verdicts) == len(entry.claims)
    written = {path.suffix for path in outcome.written}
    assert {".png", ".pdf", ".csv", ".md"} <= written
    # Run again: every sweep resumes from its store, nothing is recomputed, the claims are the same.
    again = papers.reproduce(entry.key, tmp_path, quick=True, progress=False)
    assert [v.measured for v in again.verdicts] == [v.measured for v in outcome.verdicts]


def _claim_tables():
    """Every committed table of verdicts: each entry's KEY_claims.md and the claims report."""
    tables = [ROOT / "docs" / "papers" / key / f"{key}_claims.md" for key in papers.papers()]
    return tables + [ROOT / "docs" / "claims" / "claims_table.md"]


@pytest.mark.parametrize("table", _claim_tables(), ids=lambda path: path.name)
def test_every_committed_verdict_names_its_regime_seeds_and_uncertainty(table):
    lines = table.read_text().splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split(" | ")]
    assert {"verdict", "seeds", "uncertainty", "regime"} <= set(header), header
    rows = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[2:] if line.strip()]
    assert rows
    for row in rows:
        cell = dict(zip(header, row))
        assert cell["verdict"] in papers.VERDICTS, f"{table.name}: verdict {cell['verdict']!r}"
        assert int(cell["seeds"]) >= 1 and cell["uncertainty"] not in ("", "-"), f"{table.name}: {row[0]}"
        assert cell["regime"] == "inside" or "needs" in cell["regime"], f"{table.name}: regime {cell['regime']!r}"
        if cell["verdict"] == "outside assumptions":
            assert cell["regime"] != "inside", f"{table.name}: {row[0]} is outside assumptions yet 'inside'"
