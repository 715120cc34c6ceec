"""Files written whole or not at all (private)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


@contextlib.contextmanager
def replacing(path: Path):
    """Yield a temporary name beside ``path`` to write to; once the block ends, it replaces ``path``.

    A block that raises (a full disk, Ctrl-C) removes the temporary file and leaves ``path`` as it was, never
    half-written. The temporary name ends as ``path`` does, since writers choose the format by it.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
