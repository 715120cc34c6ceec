"""The store under stress: checked trajectories, bad cells, grid order, one sweep at a time."""

import importlib

import numpy as np
import pytest

from labelnoise_sim import simulate, sweep
from labelnoise_sim.store import StoreWarning

# The package exports the function sweep, which hides the module of the same name.
sweep_module = importlib.import_module("labelnoise_sim.sweep")

SMALL = dict(n=30, d=300, m=3, steps=100, record=10)


def run_sweep(grid, fixed, **options):
    """sweep() of ``grid`` with the fixed parameters ``fixed``, serial and silent unless told otherwise."""
    options = {"backend": "serial", "progress": False, **options}
    return sweep(grid, **options, **fixed)


@pytest.fixture
def count_cells(monkeypatch):
    """Every configuration the sweep actually computes."""
    computed = []
    original = sweep_module.run_cells

    def counting(configs, *args, **kwargs):
        computed.extend(configs)
        return original(configs, *args, **kwargs)

    monkeypatch.setattr(sweep_module, "run_cells", counting)
    return computed


# SweepResult.result checks the stored trajectory ------------------------------


@pytest.mark.parametrize("damage", ["other cell", "flipped byte"])
def test_result_of_a_damaged_stored_trajectory_is_recomputed_not_returned(tmp_path, damage):
    store = tmp_path / "s"
    res = run_sweep({"seed": [0, 1]}, SMALL, store=store, trajectories=True)
    path = store / "cells" / "000000.npz"
    if damage == "other cell":
        # A valid result file, of the right shape, but of seed 1.
        path.write_bytes((store / "cells" / "000001.npz").read_bytes())
    else:
        content = bytearray(path.read_bytes())
        content[len(content) // 2] ^= 0x01
        path.write_bytes(bytes(content))
    with pytest.warns(StoreWarning, match="000000.npz fails its checksum"):
        again = res.result(0)
    np.testing.assert_array_equal(again.rho, simulate(seed=0, **SMALL).rho)
    np.testing.assert_array_equal(res.result(1).rho, simulate(seed=1, **SMALL).rho)
