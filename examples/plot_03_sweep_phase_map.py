"""
A small sweep and its phase map
===============================

:func:`~labelnoise_sim.sweep` runs every cell of a parameter grid and tables
the stage analysis of each; :func:`~labelnoise_sim.phase.phase_maps` draws the
table as heatmaps. Here a 4 × 4 grid over the signal strength n·SNR² and the
flip rate τ, one seed a cell, at a small size (the maps of the phase page run
the same code on larger grids, from ``labelnoise-sim sweep``). The dashed line
is n·SNR²(1 − 2τ)/2 = 1, where the signal should stop winning the race against
the noise.
"""

from labelnoise_sim import sweep
from labelnoise_sim.phase import phase_maps

if __name__ == "__main__":  # a sweep may start worker processes, which import this script again
    swept = sweep(
        grid={"n_snr2": [1.0, 2.0, 4.0, 8.0], "tau": [0.0, 0.1, 0.2, 0.3]},
        fixed=dict(n=60, d=600, eta=0.1, steps=800, seed=0),
        progress=False,
    )
    print(swept.table[["n_snr2", "tau", "t1", "best_test_error", "final_test_error"]].to_string())
    fig = phase_maps(swept.table, "n_snr2", "tau", metrics=("stage_one", "best_test_error", "final_test_error"))
