"""Numbers that leave the floating-point range are reported, never returned as results."""

import math

import numpy as np
import pytest

from labelnoise_sim import DivergenceError, SimulationConfig, simulate, sweep
from labelnoise_sim.data import sample_data
from labelnoise_sim.reference import full_weight_gd

#: A default-size run of the exponential loss on the additive layout whose loss slope -e^(-z) overflows at
#: step 3 (margins near -6e7): the step then makes inf - inf, and ReLU maps the NaN pre-activations to 0, so
#: the outputs of step 4 are finite over NaN weights. One of the 84 of 2,000 family configurations of issue 22.
OVERFLOWING = dict(loss="exponential", layout="additive", n_snr2=100, steps=200)


def test_weights_that_stop_being_finite_under_finite_outputs_raise_divergence_at_that_step():
    with pytest.raises(DivergenceError, match=r"diverged at step 4: the weights are no longer finite") as info:
        simulate(**OVERFLOWING)
    assert info.value.step == 4


def test_a_healthy_run_before_the_overflow_is_kept_bit_for_bit():
    # Stopping the same run at step 3, before its weights overflow, gives finite records, as before.
    res = simulate(**{**OVERFLOWING, "steps": 3})
    assert all(np.isfinite(a).all() for a in (res.gamma, res.rho, res.outputs))


def test_full_weight_gradient_descent_overflows_where_the_kernel_reports_divergence():
    # The same overflow, on the oracle at a size it runs quickly: the family kernel stops at the step where
    # full-weight gradient descent first has weights or outputs that are not finite.
    config = SimulationConfig.from_params(n=20, d=200, m=3, seed=1, **{**OVERFLOWING, "steps": 40})
    with pytest.raises(DivergenceError) as info:
        simulate(n=20, d=200, m=3, seed=1, **{**OVERFLOWING, "steps": 40})
    with np.errstate(all="ignore"):
        trajectory = full_weight_gd(sample_data(config), config.eta, 40, np.arange(41), config=config)
    finite = [np.isfinite(trajectory.weights[t]).all() and np.isfinite(trajectory.outputs[t]).all()
              for t in range(41)]
    assert finite.index(False) == info.value.step


def test_a_sweep_records_a_cell_whose_weights_overflow_as_diverged_not_healthy():
    # Before: the cell's NaN coefficients gave t1 = 1 and a Stage I, as a healthy run.
    fixed = dict(n=20, d=200, m=3, seed=1, loss="exponential", layout="additive", n_snr2=100, steps=40)
    with pytest.warns(RuntimeWarning, match="1 of 2 cells diverged"):
        res = sweep({"eta": [1e-3, 0.1]}, fixed, backend="serial", progress=False, test_error=False)
    assert res.table["diverged_at"].isna().tolist() == [True, False]
