"""Exact simulation of feature learning under label noise.

Full-batch gradient descent of the two-layer ReLU CNN of Han et al. (ICML 2025)
on signal-noise data, run in the coefficient space of the weights.

>>> from labelnoise_sim import simulate
>>> result = simulate(n=200, d=2000, eta=0.1)

The top level holds the entry points, the result and configuration types and
the errors. Helpers live in their modules: :mod:`labelnoise_sim.analysis`
(small-loss selection and coefficient views), :mod:`labelnoise_sim.early_stopping`
(held-out early stopping), :mod:`labelnoise_sim.figures`, :mod:`labelnoise_sim.phase`
and :mod:`labelnoise_sim.data`.
"""

from .analysis import StageAnalysis, analyze
from .config import SimulationConfig
from .dynamics import DivergenceError, StepSizeWarning, run, run_many, simulate
from .result import SimulationResult, load
from .store import StoreMismatchError, StoreWarning
from .sweep import SweepResult, expand_grid, sweep

__all__ = [
    "simulate",
    "run",
    "run_many",
    "sweep",
    "expand_grid",
    "analyze",
    "load",
    "SimulationConfig",
    "SimulationResult",
    "SweepResult",
    "StageAnalysis",
    "DivergenceError",
    "StepSizeWarning",
    "StoreMismatchError",
    "StoreWarning",
]

__version__ = "0.1.0"
