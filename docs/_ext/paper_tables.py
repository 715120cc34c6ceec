"""The tables of the paper gallery that no run writes, made when the site is built.

- ``setup_KEY`` (``-`` in a key spelled ``_``): the entry's setup table, the
  paper's settings beside ours, from its declaration (``PAPER.setup``);
- ``assumptions_KEY``: the conditions its claims are stated under, where the
  paper states them, and the numeric reading we check them by
  (``PAPER.assumptions``; the claims table's regime column says, claim by
  claim, whether the full run met them);
- ``paper_index``: one row per entry, with the tally of the verdicts of its
  full run, read from docs/papers/KEY/KEY_claims.md.

conf.py hands them to MyST as substitutions; a page shows one as ``{{ name }}``.
Everything else on a paper's page is included from the files that
``labelnoise-sim reproduce KEY --out docs/papers/KEY`` wrote.
"""

from __future__ import annotations

from pathlib import Path

from labelnoise_sim.papers import VERDICTS, markdown_table, papers

PAPERS = Path(__file__).resolve().parents[1] / "papers"


def setup_table(entry) -> str:
    """The entry's setup: each setting as the paper states it, as we run it, and why they differ."""
    return markdown_table(("setting", "the paper", "what we run", "why they differ"),
                          [(s.name, s.paper, s.ours, s.note) for s in entry.setup])


def assumptions_table(entry) -> str:
    """The entry's assumptions: each condition as the paper writes it, where, and the bound we read it as."""
    if not entry.assumptions:
        return "The entry declares no assumption."
    claims = lambda a: "all" if a.claims is None else ", ".join(str(c + 1) for c in a.claims)  # noqa: E731
    return markdown_table(("assumption", "the paper's condition", "stated in", "checked as", "claims"),
                          [(a.name, a.condition, a.where, f"{a.kind} {a.bound:g}" + (f": {a.reading}" if a.reading
                                                                                      else ""), claims(a))
                           for a in entry.assumptions])


def tally(key: str) -> str:
    """How many claims the committed full run of ``key`` gave each verdict."""
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
    tables.update({f"assumptions_{key.replace('-', '_')}": assumptions_table(entry) for key, entry in entries.items()})
    return {**tables, "paper_index": index_table(entries)}
