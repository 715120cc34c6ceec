"""The generated blocks of the paper gallery's pages, docs/papers/KEY.md.

    python docs/scripts/paper_pages.py            # rewrites the blocks of every page
    python docs/scripts/paper_pages.py --check    # fails if a page's blocks are out of date

Each page holds three kinds of block, each filled from one source:

- ``setup``: the setup table, from the entry's declaration (``PAPER.setup``);
- ``claims``: docs/papers/KEY/KEY_claims.md, written by the full run,
  ``labelnoise-sim reproduce KEY --out docs/papers/KEY``;
- ``table NAME``: docs/papers/KEY/KEY_NAME.md, a table of that run;

and docs/gallery.md an ``index`` block, one row per entry.

So every number on a page is the output of the command the page names.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from labelnoise_sim.papers import markdown_table, papers

DOCS = Path(__file__).resolve().parents[1] / "papers"
GALLERY = DOCS.parent / "gallery.md"
INDEX = re.compile(r"(<!-- index -->\n)(.*?)(<!-- end -->)", re.S)
BLOCK = re.compile(r"(<!-- (setup|claims|table (\w+)) -->\n)(.*?)(<!-- end -->)", re.S)


def setup_table(entry) -> str:
    return markdown_table(("setting", "the paper", "what we run", "why they differ"),
                          [(s.name, s.paper, s.ours, s.note) for s in entry.setup])


def filled(page: str, entry) -> str:
    """``page`` with every block replaced by its source's current text."""
    def source(match):
        kind, name = match[2], match[3]
        if kind == "setup":
            text = setup_table(entry) + "\n"
        else:
            path = DOCS / entry.key / f"{entry.key}_{'claims' if kind == 'claims' else name}.md"
            if not path.exists():
                raise SystemExit(f"{path} does not exist: run labelnoise-sim reproduce {entry.key} "
                                 f"--out docs/papers/{entry.key}")
            text = path.read_text()
        return match[1] + text + match[5]

    return BLOCK.sub(source, page)


def index(entries) -> str:
    """The gallery's table: key, citation, page, and how many claims the full run confirmed."""
    rows = []
    for key, entry in entries.items():
        claims = DOCS / key / f"{key}_claims.md"
        verdicts = [line.split(" | ")[2] for line in claims.read_text().splitlines()[2:]] if claims.exists() else []
        tally = ", ".join(f"{verdicts.count(v)} {v}" for v in ("confirmed", "partly", "not confirmed")
                          if verdicts.count(v))
        rows.append((f"`{key}`", entry.citation, f"[{key}.md](papers/{key}.md)", tally or "-"))
    return markdown_table(("key", "paper", "page", "claims (full run)"), rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the pages' blocks are up to date")
    args = parser.parse_args()
    entries = papers()
    pages = {DOCS / f"{key}.md": lambda text, entry=entry: filled(text, entry) for key, entry in entries.items()}
    pages[GALLERY] = lambda text: INDEX.sub(lambda match: match[1] + index(entries) + match[3], text)
    stale = []
    for page, fill in pages.items():
        text = page.read_text()
        new = fill(text)
        if new == text:
            continue
        if args.check:
            stale.append(str(page))
        else:
            page.write_text(new)
            print(f"updated {page}")
    if stale:
        sys.exit(f"out of date: {', '.join(stale)}; run python docs/scripts/paper_pages.py")

if __name__ == "__main__":
    main()
