import os
import subprocess
import sys

import matplotlib
import pytest
from hypothesis import settings

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

# CI replays a fixed set of examples, so that a submission's result does not
# depend on the draw; local runs keep exploring new examples every time.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def numba_thread_counts():
    """Iterate over 1 and numba's thread count, each set (numba.set_num_threads) while its turn runs; the
    count is restored afterwards."""
    import numba

    threads = numba.get_num_threads()

    def counts():
        for count in sorted({1, threads}):
            numba.set_num_threads(count)
            yield count

    yield counts()
    numba.set_num_threads(threads)


@pytest.fixture
def count_cells(monkeypatch):
    """The seeds of the cells a sweep actually computes (its calls of ``sweep.run_cells``), in order."""
    import importlib

    sweep_module = importlib.import_module("labelnoise_sim.sweep")  # the module, not the function it exports
    computed = []
    original = sweep_module.run_cells

    def counting(configs, *args, **kwargs):
        computed.extend(c.seed for c in configs)
        return original(configs, *args, **kwargs)

    monkeypatch.setattr(sweep_module, "run_cells", counting)
    return computed


@pytest.fixture
def output_by_thread_count():
    """A function that runs a Python script in a new process with NUMBA_NUM_THREADS 1 and 2 (set before numba
    starts its threads, which numba.set_num_threads cannot undo) and returns each one's standard output."""

    def run(script):
        out = []
        for threads in ("1", "2"):
            env = {**os.environ, "NUMBA_NUM_THREADS": threads}
            done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
            out.append(done.stdout)
        return out

    return run
