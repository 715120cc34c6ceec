"""The xu2024-xor-cluster entry: the paper's network as the simulator's, its assumptions, its claims on tiny runs."""

import math

import numpy as np
import pytest

from labelnoise_sim import SimulationConfig, simulate
from labelnoise_sim.papers import regime
from labelnoise_sim.papers import xu2024_xor_cluster as xu
from labelnoise_sim.reference import patch_gd

PAPER = dict(n=xu.PAPER_N, p=xu.PAPER_P, mu=xu.PAPER_MU, neurons=xu.PAPER_NEURONS, omega=xu.PAPER_OMEGA,
             alpha=xu.PAPER_ALPHAS[0])


@pytest.mark.parametrize("output_scale", ["mean", "sum"])
def test_the_papers_network_at_one_over_root_m_is_the_simulators_with_the_mapped_step_and_scale(output_scale):
    """Gradient descent on the full weights of f = Σ_j a_j ReLU(⟨w_j, x⟩), a_j = ±1/√M, step α, from W0/c, is the
    simulator's run with eta = c²α and sigma0 = c ω (c = √M/2 for 'mean', 1/√M for 'sum'), weights c w."""
    neurons, alpha, omega = 6, 0.3, 0.2
    keywords = xu.simulator_keywords(n=10, p=40, mu=3.0, neurons=neurons, alpha=alpha, omega=omega, flip=0.2,
                                     output_scale=output_scale)
    result = simulate(**dict(keywords, sampling="explicit"), steps=25, seed=4, record=(0, 1, 5, 25), progress=False)
    c = math.sqrt(neurons) / 2 if output_scale == "mean" else 1 / math.sqrt(neurons)
    assert result.config.eta == pytest.approx(c**2 * alpha) and result.config.sigma0 == pytest.approx(c * omega)
    data = result.data
    a = np.repeat([[1.0], [-1.0]], neurons // 2, axis=1) / math.sqrt(neurons)  # the paper's ±1/√M, fixed
    paper = patch_gd(data.patches(), data.y_noisy, data.W0 / c, a, alpha, 25, result.t, config=result.config)
    np.testing.assert_allclose(result.outputs, paper.outputs, rtol=1e-10, atol=1e-12)
    for k, step in enumerate(result.t):
        np.testing.assert_allclose(result.weights(step), c * paper.weights[k], rtol=1e-10, atol=1e-14)
    # The data law: ±(a + b) and ±(a - b), orthogonal, of norm ‖μ‖ = √2 mu_norm.
    u = data.signal_vectors
    assert abs(u[0] @ u[1]) < 1e-12 and np.linalg.norm(u, axis=1) == pytest.approx([3.0, 3.0])


@pytest.mark.parametrize("output_scale", ["mean", "sum"])
def test_paper_values_invert_the_mapping(output_scale):
    config = SimulationConfig.from_params(**xu.simulator_keywords(**PAPER, flip=0.05, output_scale=output_scale))
    back = xu.paper_values(config)
    assert back == pytest.approx(dict(PAPER, flip=0.05), rel=1e-12)
    assert config.m == 500 and config.d == 40_000 and config.mu_norm == pytest.approx(25.0)
    with pytest.raises(ValueError, match="neurons must be even"):
        xu.simulator_keywords(**dict(PAPER, neurons=7), flip=0.05)


def test_the_papers_experiment_breaks_a1_a2_a5_and_the_inside_setting_meets_every_assumption():
    rows = {row.name: row for row in regime("xu2024-xor-cluster", **xu.simulator_keywords(**PAPER, flip=0.05))}
    # Computed by hand: ‖μ‖² = 1250, n^0.51 √p = 200^0.51 · 200, n² ‖μ‖² = 5·10⁷, ω n m^1.5 p / (α ‖μ‖²).
    assert rows["(A1) strong signal"].value == pytest.approx(1250 / (200**0.51 * 200))
    assert rows["(A2) near-orthogonal data"].value == pytest.approx(40_000 / 5e7)
    assert rows["(A4) small step"].value == pytest.approx(1e-12 * 200 * 40_000)
    assert rows["(A5) small initialisation"].value == pytest.approx(1e-15 * 200 * 1000**1.5 * 40_000 / 1.25e-9)
    assert {name for name, row in rows.items() if not row.holds} == {"(A1) strong signal",
                                                                     "(A2) near-orthogonal data",
                                                                     "(A5) small initialisation"}
    for n in (50, 200, 400):
        values = xu.inside_values(n)
        inside = regime("xu2024-xor-cluster", **xu.simulator_keywords(**values, flip=0.05))
        assert all(row.holds for row in inside), [row.describe() for row in inside if not row.holds]
        by_name = {row.name: row.value for row in inside}
        assert by_name["(A1) strong signal"] == pytest.approx(2.1207, abs=1e-3)
        assert by_name["(A2) near-orthogonal data"] == pytest.approx(2.5, rel=1e-9)
    assert xu.INSIDE == xu.inside_values(200) and xu.INSIDE["p"] == 10**13
    # Another data law or network is outside: isotropic noise is the paper's, orthogonal noise is not.
    other = regime("xu2024-xor-cluster", **dict(xu.simulator_keywords(**xu.INSIDE, flip=0.05), noise="orthogonal"))
    assert {row.name for row in other if not row.holds} == {"the paper's data"}


def test_a_tiny_inside_run_fits_at_once_is_chance_at_step_one_and_then_learns():
    """n = 200 inside (A1)-(A6) with 20 neurons: the theorem's three statements on one seed, as measure() reads
    them, and the cluster means as centre_errors() reads them."""
    values = xu.inside_values(200, neurons=20)
    result = simulate(**xu.simulator_keywords(**values, flip=0.05), steps=14, seed=1, record=tuple(range(15)),
                      progress=False)
    measured = xu.measure(result, [0, 2, 3])
    assert measured["fit_window"] and measured["fit_1"] and measured["fit_end"] and measured["first_fit"] == 1
    assert abs(measured["error_1"] - 0.5) <= xu.DELTA
    assert measured["error_end"] <= xu.SMALL_ERROR and measured["first_small"] == 3
    assert set(measured["curve"]) == {0, 1, 2, 3, 14}
    assert xu.successes([measured]) == {0: 1, 1: 1, 2: 1}
    # A linear classifier at step 1 gets exactly one of the two means of each class wrong; by step 14 none.
    np.testing.assert_array_equal(xu.centre_errors(result, [1, 14]), [0.5, 0.0])
    with pytest.raises(ValueError, match=r"must record steps 1 and ⌊√n⌋ = 14"):
        xu.measure(simulate(**xu.simulator_keywords(**values, flip=0.05), steps=14, seed=1, record=(0, 1, 10),
                            progress=False))


def test_the_records_hold_every_step_of_the_window_and_the_curve_is_among_them():
    for steps, n in ((100, 200), (6000, 200), (20, 50)):
        records = set(xu._records(steps, n))
        assert set(range(xu._window(n) + 1)) <= records and steps in records
        assert xu._curve_steps(steps, n) <= records
