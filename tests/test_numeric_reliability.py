"""Numbers that leave the floating-point range are reported, never returned as results."""

import itertools
import math
import sys
import warnings
from fractions import Fraction

import numpy as np
import pytest

from labelnoise_sim import DivergenceError, SimulationConfig, StepSizeWarning, simulate, sweep
from labelnoise_sim.config import MAX_D
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


def test_the_same_run_stopped_before_the_overflow_keeps_finite_records_and_warns_of_its_last_step():
    # Step 3 has finite weights, but its step already took margins past where e^-z rounds to 0.
    with pytest.warns(StepSizeWarning, match="by step 3"):
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


# Derived statistics are total over the accepted parameters ----------------------------------------------------

#: Extremes of the accepted values (every positive float is accepted), and ordinary ones.
SCALES = (5e-324, 1e-200, 1e-5, 1.0, 1e200, sys.float_info.max)


def _exact(fraction: Fraction) -> float:
    """A positive rational as the float nearest to it, inf past the largest."""
    try:
        return float(fraction)
    except OverflowError:
        return math.inf


@pytest.mark.parametrize("d", [1, 2000, MAX_D])
def test_derived_statistics_are_the_exact_values_or_inf_never_an_exception(d):
    for eta, sigma_xi, mu_norm in itertools.product(SCALES, repeat=3):
        c = SimulationConfig(n=200, m=10, d=d, eta=eta, sigma_xi=sigma_xi, mu_norm=mu_norm)
        n, m, eta_, s, mu = (Fraction(x) for x in (c.n, c.m, eta, sigma_xi, mu_norm))
        expected = {
            "snr": mu / (s * Fraction(math.sqrt(d))),
            "n_snr2": n * mu**2 / (s**2 * d),
            "t1_theory": n * m / (eta_ * s**2 * d),
            "benign_ratio": n * mu**4 / (s**4 * d),
        }
        for name, value in expected.items():
            got = getattr(c, name)
            want = _exact(value)
            # Within the normal floats, a few roundings of the formula; below them, the spacing of subnormals.
            assert got == want or math.isclose(got, want, rel_tol=1e-14, abs_tol=1e-320), (name, c, got, want)


def test_a_cell_whose_theoretical_time_scale_is_past_the_float_range_does_not_abort_its_sweep():
    # Before: t1_theory divided by eta sigma_xi^2 d = 0 (underflow), and the ZeroDivisionError ended the sweep.
    res = sweep({"eta": [5e-324, 0.1]}, dict(sigma_xi=1e-5, n=20, d=200, m=2, steps=20, record=5),
                backend="serial", progress=False)
    assert res.table["t1_theory"].tolist() == [math.inf, pytest.approx(20 * 2 / (0.1 * 1e-10 * 200))]
    assert res.table["diverged_at"].isna().all()


# Accepted ranges are what the code computes ---------------------------------------------------------------------

def test_momentum_of_one_or_more_is_refused():
    # Before: momentum=1.5 ran, its steps growing without bound (a training loss of 6e6 at the default size).
    for momentum in (1.0, 1.5):
        with pytest.raises(ValueError, match=r"momentum must be a finite real number in \[0, 1\); got "):
            SimulationConfig(momentum=momentum)
    assert SimulationConfig(momentum=0.99).momentum == 0.99


def test_the_largest_d_is_the_largest_int64():
    with pytest.raises(ValueError, match="d must be an integer in"):
        SimulationConfig(d=2**63)
    assert np.int64(SimulationConfig(d=MAX_D).d) == 2**63 - 1


# A step past the range of the loss ----------------------------------------------------------------------------

def test_a_step_that_jumps_past_the_range_of_the_loss_warns_naming_eta():
    # Before: eta=1e6 ended at training loss 0, silently: the first step takes every margin past 1e5.
    with pytest.warns(StepSizeWarning, match=r"by step 1 a training margin passed 745\.1.*eta=1000000\.0"):
        res = simulate(eta=1e6)
    assert res.train_loss[-1] == 0.0


@pytest.mark.parametrize("params", [dict(), dict(eta=10.0), dict(n_snr2=1e4), dict(output_scale="sum", eta=1.0),
                                    dict(loss="exponential"), dict(loss="hinge", eta=10.0)])
def test_runs_whose_steps_follow_the_loss_do_not_warn(params):
    # Measured largest margins (default sizes, 2,000 steps), in order: 7.2, 15.6, 732 (n_snr2 = 1e4, whose
    # first step already moves the outputs by 707), 186, 7.2 and 30: under the 745 where e^-z rounds to 0.
    with warnings.catch_warnings():
        warnings.simplefilter("error", StepSizeWarning)
        simulate(**params)
