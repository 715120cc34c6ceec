"""The two tables of the paper gallery that no run writes, made when the site is built.

- ``setup_KEY`` (``-`` in a key spelled ``_``): the entry's setup table, the
  paper's settings beside ours, from its declaration (``PAPER.setup``);
- ``paper_index``: one row per entry, with the tally of the verdicts of its
  full run, read from docs/papers/KEY/KEY_claims.md.

conf.py hands them to MyST as substitutions; a page shows one as ``{{ name }}``.
Everything else on a paper's page is included from the files that
``labelnoise-sim reproduce KEY --out docs/papers/KEY`` wrote.
"""

from __future__ import annotations

from pathlib import Path

from labelnoise_sim.papers import markdown_table, papers

PAPERS = Path(__file__).resolve().parents[1] / "papers"
VERDICTS = ("confirmed", "partly", "not confirmed")


def setup_table(entry) -> str:
    """The entry's setup: each setting as the paper states it, as we run it, and why they differ."""
    return markdown_table(("setting", "the paper", "what we run", "why they differ"),
                          [(s.name, s.paper, s.ours, s.note) for s in entry.setup])


def tally(key: str) -> str:
    """How many claims the committed full run of ``key`` confirmed, partly confirmed, did not confirm."""
    claims = PAPERS / key / f"{key}_claims.md"
    verdicts = [line.split(" | ")[2] for line in claims.read_text().splitlines()[2:]] if claims.exists() else []
    return ", ".join(f"{verdicts.count(v)} {v}" for v in VERDICTS if verdicts.count(v)) or "-"


def index_table(entries) -> str:
    """The gallery's table: key, citation, page, and the tally of the full run's verdicts."""
    rows = [(f"`{key}`", entry.citation, f"[{key}](papers/{key}.md)", tally(key)) for key, entry in entries.items()]
    return markdown_table(("key", "paper", "page", "claims (full run)"), rows)


def substitutions() -> dict[str, str]:
    entries = papers()
    tables = {f"setup_{key.replace('-', '_')}": setup_table(entry) for key, entry in entries.items()}
    return {**tables, "paper_index": index_table(entries)}
