"""A time budget for each example of the gallery (sphinx-gallery's ``reset_modules`` hook).

sphinx-gallery calls :func:`time_budget` before and after every example; it
fails the example that ran longer than :data:`BUDGET_S`, and with it the
build. The gallery is there to be quick: the long runs belong to the
commands the pages name.
"""

from __future__ import annotations

import os
import time

#: Seconds an example may take (the environment variable GALLERY_BUDGET_S overrides it).
BUDGET_S = float(os.environ.get("GALLERY_BUDGET_S", 90))

_started: dict[str, float] = {}


def time_budget(gallery_conf, fname, when):
    """Start the clock before an example, stop it after, raise for the one over its budget."""
    if when == "before":
        _started[fname] = time.perf_counter()
        return
    took = time.perf_counter() - _started.pop(fname, time.perf_counter())
    if took > BUDGET_S:
        raise RuntimeError(f"{fname} took {took:.0f} s, over its budget of {BUDGET_S:g} s")
