import os

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
