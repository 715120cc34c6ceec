"""Exact simulation of feature learning under label noise.

Full-batch gradient descent of the two-layer ReLU CNN of Han et al. (ICML 2025)
on signal-noise data, run in the coefficient space of the weights.

>>> from labelnoise_sim import simulate
>>> result = simulate(n=200, d=2000, eta=0.1)
"""

from .analysis import (
    LOG2,
    SelectionQuality,
    StageAnalysis,
    analyze,
    filter_products,
    noise_vs_signal,
    own_class_noise,
    record_index,
    roc_auc,
    select_clean,
    selection_quality,
    stuck_samples,
)
from .early_stopping import HoldoutRun, holdout_outputs, simulate_holdout
from .figures import save_figure, stage_figure, twin_without_noise
from .config import DEFAULT_N_SNR2, DEFAULT_TAU, SimulationConfig
from .data import Data, sample_data
from .dynamics import DivergenceError, run, simulate
from .result import SimulationResult, load, logistic_loss
from .store import StoreMismatchError, StoreWarning
from .sweep import SweepResult, expand_grid, sweep

__all__ = [
    "LOG2",
    "filter_products",
    "noise_vs_signal",
    "own_class_noise",
    "record_index",
    "stuck_samples",
    "holdout_outputs",
    "save_figure",
    "stage_figure",
    "twin_without_noise",
    "HoldoutRun",
    "simulate_holdout",
    "SelectionQuality",
    "StageAnalysis",
    "analyze",
    "roc_auc",
    "select_clean",
    "selection_quality",
    "DEFAULT_N_SNR2",
    "DEFAULT_TAU",
    "Data",
    "DivergenceError",
    "SimulationConfig",
    "SimulationResult",
    "load",
    "logistic_loss",
    "run",
    "sample_data",
    "simulate",
    "StoreMismatchError",
    "StoreWarning",
    "SweepResult",
    "expand_grid",
    "sweep",
]

__version__ = "0.1.0"
