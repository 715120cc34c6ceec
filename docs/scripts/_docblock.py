"""Fill or read a generated block of a docs page (shared by the scripts in this folder)."""

from __future__ import annotations

import re
from pathlib import Path


def fill_block(doc: Path, start: str, end: str, text: str) -> None:
    """Replace what lies between the ``start`` and ``end`` markers of ``doc`` by ``text``."""
    page = doc.read_text()
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if not pattern.search(page):
        raise SystemExit(f"{doc} has no {start} ... {end} block to fill")
    doc.write_text(pattern.sub(lambda _: f"{start}\n{text}{end}", page))
    print(f"updated {doc}")


def read_block(doc: Path, start: str, end: str) -> str:
    """What lies between the ``start`` and ``end`` markers of ``doc`` (without the markers' own line ends)."""
    match = re.search(re.escape(start) + "\n(.*?)" + re.escape(end), doc.read_text(), re.S)
    if match is None:
        raise SystemExit(f"{doc} has no {start} ... {end} block")
    return match[1]
