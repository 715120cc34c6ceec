"""Helpers of the tests that run a sweep in a process of its own and kill it (store tests)."""

import os
import signal
import time


def finished_cells(store) -> int:
    """Cells a sweep has written to its store so far."""
    return len(list((store / "cells").glob("*.json"))) if (store / "cells").exists() else 0


def reap(proc) -> None:
    """SIGKILL the sweep's process if it still runs (as a crash would), then anything left in its session."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.communicate()
    # Workers notice that their parent died and exit; make sure nothing we started lingers.
    time.sleep(0.2)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
