"""sampling="gram" draws the Gram statistics from the same law as explicit vectors, at a cost free of d."""

import time

import numpy as np
import pytest
from scipy import stats

from labelnoise_sim import SimulationConfig, load, simulate
from labelnoise_sim.data import sample_data, wishart_identity
from labelnoise_sim.generalization import class_errors

# A test with level ALPHA fails by chance once in 1/ALPHA runs; the seeds are
# fixed, so a pass is reproducible and a law mismatch shows as a tiny p-value.
ALPHA = 1e-3
SEEDS = 400


def _gram_entries(sampling, noise, d, seeds, **params):
    """Gram matrices of many seeds, stacked: shape (seeds, 1 + n + 2m, 1 + n + 2m)."""
    return np.stack([
        sample_data(SimulationConfig(n=4, m=1, d=d, sampling=sampling, noise=noise, seed=int(s),
                                     sigma0=0.3, sigma_xi=1.5, mu_norm=2.0, **params)).gram
        for s in seeds
    ])


# Entries of the Gram matrix of (μ, ξ_1..ξ_4, w_{+1}, w_{-1}) that cover every kind of block.
ENTRIES = {
    "|xi_1|^2": (1, 1), "<xi_1,xi_2>": (1, 2), "<mu,xi_3>": (0, 3), "<w+,mu>": (0, 5),
    "<w+,xi_1>": (5, 1), "|w-|^2": (6, 6), "<w+,w->": (5, 6),
}


@pytest.mark.parametrize("noise", ["isotropic", "orthogonal"])
@pytest.mark.parametrize("d", [30, 3])  # d - 1 = 29 >= n + 2m uses Bartlett; d - 1 = 2 < 6 draws Z
def test_gram_entries_have_the_law_of_explicit_vectors(noise, d):
    explicit = _gram_entries("explicit", noise, d, range(SEEDS))
    gram = _gram_entries("gram", noise, d, range(10_000, 10_000 + SEEDS))
    for name, (a, b) in ENTRIES.items():
        x, z = explicit[:, a, b], gram[:, a, b]
        if noise == "orthogonal" and name == "<mu,xi_3>":
            assert (x == 0).all() and (z == 0).all(), "orthogonal noise has no component along μ"
            continue
        p = stats.ks_2samp(x, z).pvalue
        assert p > ALPHA, f"{name}: KS p-value {p:.2g}"


@pytest.mark.parametrize("noise", ["isotropic", "orthogonal"])
def test_gram_entries_have_the_exact_moments(noise):
    d, sigma_xi, sigma0 = 30, 1.5, 0.3
    g = _gram_entries("gram", noise, d, range(SEEDS))
    dims = d if noise == "isotropic" else d - 1  # coordinates that carry noise
    checks = {
        (1, 1): (sigma_xi**2 * dims, 2 * sigma_xi**4 * dims),  # χ² with `dims` degrees of freedom
        (1, 2): (0.0, sigma_xi**4 * dims),
        (6, 6): (sigma0**2 * d, 2 * sigma0**4 * d),
        (5, 1): (0.0, sigma0**2 * sigma_xi**2 * dims),
        (0, 5): (0.0, 4.0 * sigma0**2),                         # ‖μ‖² σ₀²
    }
    for (a, b), (mean, var) in checks.items():
        x = g[:, a, b]
        z = (x.mean() - mean) / np.sqrt(var / SEEDS)
        assert abs(z) < 4.5, f"entry {(a, b)}: mean {x.mean():.4g}, expected {mean:.4g} (z = {z:.2f})"
        assert 0.75 < x.var(ddof=1) / var < 1.3, f"entry {(a, b)}: variance {x.var():.4g}, expected {var:.4g}"


def test_bartlett_draw_matches_the_wishart_mean_and_is_positive_definite():
    rng = np.random.default_rng(0)
    draws = np.stack([wishart_identity(12, 5, rng) for _ in range(2000)])
    np.testing.assert_allclose(draws.mean(axis=0), 12 * np.eye(5), atol=0.35)
    assert (np.linalg.eigvalsh(draws) > 0).all()


def _outcomes(sampling, seeds):
    """Final training loss, t1 (first record fitting every clean sample) and final test error."""
    loss, t1, err = [], [], []
    for s in seeds:
        r = simulate(n=16, d=40, m=2, eta=0.5, steps=60, record=1, tau=0.2, n_snr2=4,
                     sampling=sampling, seed=int(s))
        loss.append(r.train_loss[-1])
        clean_fit = r.fitted[:, ~r.data.is_noisy].all(axis=1)
        t1.append(r.t[np.argmax(clean_fit)] if clean_fit.any() else r.t[-1] + 1)
        c = r.config
        err.append(class_errors(r.gamma[-1:], r.rho[-1:], r.data.gram, c).mean())
    return np.array(loss), np.array(t1), np.array(err)


@pytest.mark.parametrize("p", [1, 5, 16, 37, 300, 650])
def test_the_triangular_gram_of_bartletts_factor_has_the_full_products_bits(p):
    """``gram(L, triangular=True)`` leaves out the terms beyond a tile's last nonzero coordinate: the bits of
    the full sums, with zero rows padded up to 16 or not (then the leftover columns' plain loops), on one
    thread and (p = 650) on the threaded strips; and the Wishart draw is that product."""
    from labelnoise_sim import _kernels

    rng = np.random.default_rng(p)
    for rows in (p, _kernels.gram_rows(p)):
        L = np.zeros((rows, p))
        L[:p] = np.tril(rng.standard_normal((p, p)))
        L[np.diag_indices(p)] = np.abs(L[np.diag_indices(p)])
        L[p // 2, : p // 2] = -0.0  # negative zeros: their products add nothing either
        full = _kernels.gram(L, p)
        assert np.array_equal(_kernels.gram(L, p, triangular=True), full)
    assert _kernels.gram_rows(650) ** 3 // 2 >= _kernels.GRAM_PARALLEL_WORK  # the threaded path
    draw = wishart_identity(p + 3, p, np.random.default_rng(1))
    rng = np.random.default_rng(1)
    L = np.zeros((_kernels.gram_rows(p), p))
    rng.standard_normal(out=L[:p])
    L[:p] = np.tril(L[:p], k=-1)
    L[np.diag_indices(p)] = np.sqrt(rng.chisquare(p + 3 - np.arange(p)))
    assert np.array_equal(draw, _kernels.gram(L, p))


def test_training_outcomes_have_the_same_law_for_both_samplings():
    loss_x, t1_x, err_x = _outcomes("explicit", range(250))
    loss_g, t1_g, err_g = _outcomes("gram", range(5000, 5250))
    assert stats.ks_2samp(loss_x, loss_g).pvalue > ALPHA
    assert stats.ks_2samp(err_x, err_g).pvalue > ALPHA
    # t1 takes few values: compare the whole distribution with a rank test and a χ² test.
    assert stats.mannwhitneyu(t1_x, t1_g).pvalue > ALPHA
    values = np.union1d(t1_x, t1_g)
    table = np.array([[np.sum(t1_x == v) for v in values], [np.sum(t1_g == v) for v in values]])
    table = table[:, table.sum(axis=0) >= 10]
    assert stats.chi2_contingency(table).pvalue > ALPHA
    # The two samples are not trivially equal: the test has something to compare.
    assert np.std(t1_x) > 0 and np.std(loss_x) > 0


def test_labels_are_the_same_for_both_samplings():
    a = sample_data(SimulationConfig(n=50, d=100, seed=7))
    b = sample_data(SimulationConfig(n=50, d=100, seed=7, sampling="gram"))
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.y_noisy, b.y_noisy)


def test_gram_sampling_cost_does_not_grow_with_d():
    configs = {d: SimulationConfig(n=200, m=10, d=d, sampling="gram") for d in (1_000, 10_000_000)}
    best = dict.fromkeys(configs, np.inf)
    # Interleaved, so that both sizes see the same background load; the best of many is the cost.
    for _ in range(15):
        for d, config in configs.items():
            start = time.perf_counter()
            sample_data(config)
            best[d] = min(best[d], time.perf_counter() - start)
    small, large = best[1_000], best[10_000_000]
    assert large < 2 * small + 5e-3, f"d=1e7 took {large:.4f}s against {small:.4f}s at d=1e3"


def test_a_run_at_d_one_billion_is_finite_and_learns():
    n, m, d = 100, 5, 10**9
    r = simulate(n=n, d=d, m=m, eta=20 * n * m / d, steps=100, sampling="gram", seed=1)
    gram = r.data.gram
    assert np.isfinite(gram).all() and np.isfinite(r.outputs).all()
    xi_sq = np.diag(gram)[1 : 1 + n]
    assert np.all(np.abs(xi_sq / d - 1) < 6 * np.sqrt(2 / d)), "‖ξ_i‖² concentrates at σ_ξ² d"
    assert r.train_loss[-1] < 0.5 * r.train_loss[0]


def test_vectors_are_absent_for_gram_runs_with_a_clear_message():
    r = simulate(n=20, d=10**6, steps=5, sampling="gram")
    for name in ("xi", "W0", "mu"):
        with pytest.raises(AttributeError, match="sampling='gram'"):
            getattr(r.data, name)
    with pytest.raises(AttributeError, match="sampling='explicit'"):
        r.weights(0)
    assert not r.data.has_vectors


def test_gram_runs_save_and_load_exactly(tmp_path):
    r = simulate(n=30, d=10**6, steps=50, sampling="gram", seed=4, eta=1e-3)
    back = load(r.save(tmp_path / "gram.npz"))
    assert back.config == r.config and back.config.sampling == "gram"
    assert back.data.sampling == "gram" and not back.data.has_vectors
    for name in ("t", "gamma", "rho", "outputs", "test_error"):
        np.testing.assert_array_equal(getattr(back, name), getattr(r, name))
    np.testing.assert_array_equal(back.data.gram, r.data.gram)


@pytest.mark.parametrize("noise", ["isotropic", "orthogonal"])
def test_squared_norms_follow_their_exact_chi_square_laws(noise):
    d, sigma_xi, sigma0 = 30, 1.5, 0.3
    g = _gram_entries("gram", noise, d, range(2000))
    dims = d if noise == "isotropic" else d - 1  # orthogonal noise has no first coordinate
    assert stats.kstest(g[:, 1, 1] / sigma_xi**2, stats.chi2(dims).cdf).pvalue > ALPHA
    assert stats.kstest(g[:, 6, 6] / sigma0**2, stats.chi2(d).cdf).pvalue > ALPHA
    # ⟨ξ_1, ξ_2⟩ given ‖ξ_1‖ is normal with variance σ_ξ² ‖ξ_1‖²: standardised, it is N(0, 1).
    z = g[:, 1, 2] / (sigma_xi * np.sqrt(g[:, 1, 1]))
    assert stats.kstest(z, "norm").pvalue > ALPHA
