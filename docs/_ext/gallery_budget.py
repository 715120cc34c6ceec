"""A CPU-time budget for each example of the gallery (sphinx-gallery's ``reset_modules`` hook).

sphinx-gallery calls :func:`time_budget` before and after every example. An
example that used more CPU time than :data:`BUDGET_S` (its own process and the
worker processes it waited for) gets a Sphinx warning, which fails a ``-W``
build with a message naming the override. Wall-clock time is not budgeted: on
a shared machine it measures the load, not the example (one example took
194 s of wall-clock time for 27 s of CPU at a load of 13), and a build must not
fail on it. The gallery is there to be quick: the long runs belong to the
commands the pages name.
"""

from __future__ import annotations

import os
import time

from sphinx.util import logging

#: The environment variable that overrides :data:`BUDGET_S`.
OVERRIDE = "GALLERY_BUDGET_S"
#: CPU seconds an example may use.
BUDGET_S = float(os.environ.get(OVERRIDE, 90))

logger = logging.getLogger(__name__)
_started: dict[str, tuple[float, float]] = {}


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have been waited for, user and system."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def time_budget(gallery_conf, fname, when):
    """Start the clocks before an example; after it, warn if it used more CPU time than its budget."""
    if when == "before":
        _started[fname] = (cpu_seconds(), time.perf_counter())
        return
    cpu0, wall0 = _started.pop(fname, (cpu_seconds(), time.perf_counter()))
    cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
    if cpu > BUDGET_S:
        logger.warning(f"gallery example {fname} used {cpu:.0f} s of CPU time ({wall:.0f} s of wall-clock time), "
                       f"over its budget of {BUDGET_S:g} s: make it smaller, or raise the budget with the "
                       f"environment variable {OVERRIDE}")
    elif wall > BUDGET_S:
        logger.info(f"gallery example {fname} took {wall:.0f} s of wall-clock time for {cpu:.0f} s of CPU time: "
                    "a busy machine, not over its CPU budget")
