"""The precise test-error estimate (line sampling, ``generalization.estimate``).

What it promises: the clean test error of every recorded step with a relative
error of at most 2 % at 95 % confidence, down to errors of 1e-12, from draws
fixed by the run's seed; a standard error that says how precise it is; the
same bits whatever the thread count and whichever other steps are estimated.

Checked against:

- an exact computation for m = 1, where each class's error is a
  one-dimensional integral of the bivariate normal law of the two filters'
  projections (``_exact_m1``), at errors from 0.3 down to 1e-15;
- plain Monte Carlo (``class_errors(method="monte_carlo")``) where that is
  informative, for the paper's network and every option of the model family.

Thresholds. A correct estimate with standard error s lies within 4 s of the
truth except with probability 6e-5 per comparison (a normal law: the
estimate averages 16 independent replicates, and the replicates' spread
gives s); the calibration test asks that the squared z-scores average
between 0.25 and 2.5 over the (at least 10) comparisons where the sampled
lines differ, where a correct s gives 1 (the mean of 10 squared normals lies
in [0.25, 2.5] with probability 0.99).
"""


import numpy as np
import pytest
from scipy import integrate
from scipy.special import ndtr

from labelnoise_sim import simulate
from labelnoise_sim.config import SimulationConfig
from labelnoise_sim.data import sample_explicit
from labelnoise_sim.generalization import TARGET_RSE, class_errors, estimate, filter_statistics

Z_MAX = 4.0


def _exact_m1(A, cov, sigma_xi):
    """P(y f <= 0 | y) for y = +1, -1 of the paper's network with m = 1, by one-dimensional integrals.

    f = relu(y A₊) - relu(y A₋) + relu(Z₊) - relu(Z₋), (Z₊, Z₋) ~ N(0, σ_ξ² cov). Class +1 fails when
    relu(Z₋) >= s₊ + relu(Z₊) (s_y = relu(y A₊) - relu(y A₋)): given Z₊ = z, Z₋ is normal, and the
    failure is Z₋ >= s₊ + relu(z) when that is positive (always, when not). Class -1 fails when
    relu(Z₊) >= relu(Z₋) - s₋, the same with the roles of the filters exchanged.
    """
    S = sigma_xi**2 * cov
    out = []
    for y, (given, other) in ((1.0, (0, 1)), (-1.0, (1, 0))):
        s = max(y * A[0], 0) - max(y * A[1], 0)
        margin = y * s  # class +1: s₊; class -1: -s₋
        var_g, var_o, cov_go = S[given, given], S[other, other], S[given, other]
        slope, spread = cov_go / var_g, np.sqrt(var_o - cov_go**2 / var_g)
        sd_g = np.sqrt(var_g)

        def density(z):
            # The normal tail and density written out (scipy.stats' per-call overhead made this fixture 14 s).
            threshold = margin + max(z, 0.0)
            tail = 1.0 if threshold <= 0 else ndtr((slope * z - threshold) / spread)
            return tail * np.exp(-0.5 * (z / sd_g) ** 2) / (sd_g * np.sqrt(2.0 * np.pi))

        # Split at 0 (the kink) and in 20 pieces a side, each integrated to 1e-10: with 20 or 400 pieces the
        # integrals agree to 4e-15 (measured), far below the 2 % under test.
        total = 0.0
        for lo, hi in ((-40 * sd_g, 0.0), (0.0, 40 * sd_g)):
            points = np.linspace(lo, hi, 21)
            total += sum(integrate.quad(density, a, b, epsabs=0.0, epsrel=1e-10, limit=200)[0]
                         for a, b in zip(points[:-1], points[1:]))
        out.append(total)
    return np.array(out)


@pytest.fixture(scope="module")
def m1_cases():
    """Records of an m = 1 run whose signal is scaled so that the errors run from about 0.15 down to 4e-14."""
    result = simulate(n=30, d=300, m=1, tau=0.0, steps=60, seed=11)
    config = result.config
    k = len(result.t) - 1
    scales = np.geomspace(0.05, 6.0, 14)
    gamma = result.gamma[k] * scales[:, None, None]
    rho = np.repeat(result.rho[k : k + 1], len(scales), axis=0)
    A, cov = filter_statistics(gamma, rho, result.data.gram, config)
    exact = np.array([_exact_m1(A[i], cov[i], config.sigma_xi) for i in range(len(scales))])
    return config, gamma, rho, result.data.gram, exact


def test_the_exact_m1_errors_cover_1e_12_and_an_informative_range(m1_cases):
    exact = m1_cases[-1].mean(axis=1)
    assert exact.max() > 0.05 and exact.min() < 1e-12


def test_m1_estimates_match_the_exact_integral_down_to_1e_12(m1_cases):
    config, gamma, rho, gram, exact = m1_cases
    est = estimate(gamma, rho, gram, config)
    error, truth = est.by_class.mean(axis=1), exact.mean(axis=1)
    # With m = 1 the lines leave one dimension to sample, and far in the tail every sampled line holds the same
    # mass: the replicates agree to rounding. The lines that hold less lie beyond |v| = 4 across the direction
    # (the other filter turns on before the line fails there): a few 1e-6 of the error, which 256 draws do not
    # see. That floor, 1e-5 of the error, is the yardstick there.
    z = (error - truth) / np.maximum(est.stderr, 1e-5 * truth)
    assert np.all(est.stderr <= TARGET_RSE * error * (1 + 1e-12)), "every step reaches its precision target"
    assert np.all(np.abs(z) <= Z_MAX), f"z-scores {np.round(z, 2)}"
    assert np.all(np.abs(error / truth - 1) <= 0.04), "within 2 standard errors' worth of the 2 % promise"
    # Each class too, with its own standard error.
    zc = (est.by_class - exact) / np.maximum(est.stderr_by_class, 1e-5 * exact)
    assert np.all(np.abs(zc) <= Z_MAX), f"class z-scores {np.round(zc, 2)}"


def test_standard_errors_are_calibrated(m1_cases):
    """Over the m = 1 steps and two seeds of draws, squared z-scores average about 1."""
    config, gamma, rho, gram, exact = m1_cases
    z = []
    for seed in (11, 12):
        est = estimate(gamma, rho, gram, config.replace(seed=seed))
        truth = exact.mean(axis=1)
        # Where every sampled line holds the same mass (see above) the spread says nothing: leave those out.
        sampled = est.stderr > 1e-5 * truth
        z.extend(((est.by_class.mean(axis=1) - truth) / np.where(sampled, est.stderr, 1.0))[sampled])
    assert len(z) >= 10
    mean_square = float(np.mean(np.square(z)))
    assert 0.25 <= mean_square <= 2.5, mean_square


def _agree_with_monte_carlo(gamma, rho, gram, config, draws, **kwargs):
    """Both estimators of each class within Z_MAX standard errors of their difference, where the plain one sees
    at least 50 failures; returns how many classes were compared."""
    est = estimate(gamma, rho, gram, config, **kwargs)
    plain = class_errors(gamma, rho, gram, config, method="monte_carlo", draws=draws, **kwargs)
    informative = plain * draws >= 50
    sd = np.sqrt(plain * (1 - plain) / draws + est.stderr_by_class**2)
    z = np.where(informative, (est.by_class - plain) / np.where(sd > 0, sd, 1), 0.0)
    assert np.all(np.abs(z) <= Z_MAX), f"z-scores {np.round(z, 2)}"
    return int(informative.sum())


def test_default_run_agrees_with_plain_monte_carlo():
    """The default run's steps, at errors from 0.5 down to 1e-4 (2^20 plain draws)."""
    result = simulate(record=[0, 1, 2, 3, 5, 8, 12, 20, 50, 200, 2000])
    compared = _agree_with_monte_carlo(result.gamma, result.rho, result.data.gram, result.config, 2**20)
    assert compared >= 16
    assert result.test_error.min() < 1e-3


@pytest.mark.slow
def test_default_run_agrees_with_ten_million_plain_draws():
    """The issue's check: errors >= 1e-4 against 10^7 plain draws per step."""
    result = simulate(record=[2, 6, 12, 2000])
    assert result.test_error.min() >= 1e-4
    assert _agree_with_monte_carlo(result.gamma, result.rho, result.data.gram, result.config, 10**7) == 8


FAMILY = [dict(activation="leaky_relu(0.1)"), dict(patches=3), dict(patches=5), dict(layout="additive"),
          dict(bias=True), dict(activation="relu^2"), dict(activation="smoothed_relu(3,0.5)"),
          dict(patches=3, activation="leaky_relu(0.2)", bias=True, noise="orthogonal"),
          dict(layout="additive", activation="relu^3", weight_decay=1e-3)]


@pytest.mark.parametrize("options", FAMILY, ids=[",".join(f"{k}={v}" for k, v in o.items()) for o in FAMILY])
def test_every_network_of_the_family_agrees_with_plain_monte_carlo(options):
    result = simulate(n=40, d=200, m=4, eta=0.5, steps=300, record=[0, 5, 30, 300], tau=0.2, n_snr2=1.5, seed=2,
                      **options)
    assert _agree_with_monte_carlo(result.gamma, result.rho, result.data.gram, result.config, 2**18,
                                   alpha=result.alpha, bias=result.bias) >= 4


def test_tiny_errors_are_estimated_not_zero():
    """Far in the tail, where plain Monte Carlo reads 0, the estimate is positive and reaches its target."""
    result = simulate(tau=0.0, n_snr2=12.0, record=[0, 20, 200])
    est = result.test_error_estimate
    assert result.test_error[-1] < 1e-9
    assert np.all(result.test_error > 0)
    assert np.all(est.stderr <= TARGET_RSE * result.test_error * (1 + 1e-12))
    assert class_errors(result.gamma[-1:], result.rho[-1:], result.data.gram, result.config,
                        method="monte_carlo").max() == 0.0


def test_a_step_does_not_depend_on_the_others():
    """The draws are fixed per replicate: a step alone gives the bits it gives among all steps."""
    result = simulate(n=50, d=300, steps=200, record=20, seed=4)
    est = result.test_error_estimate
    for k in (0, 3, len(result.t) - 1):
        alone = estimate(result.gamma[k : k + 1], result.rho[k : k + 1], result.data.gram, result.config)
        np.testing.assert_array_equal(alone.by_class[0], est.by_class[k])
        np.testing.assert_array_equal(alone.stderr[0], est.stderr[k])


def test_estimates_at_chosen_records_are_the_whole_curves_or_rougher_on_request():
    result = simulate(n=50, d=300, steps=200, record=20, seed=4)
    records = np.array([0, 3, len(result.t) - 1])
    alone = result.test_error_estimate_at(records)  # before the whole curve exists
    rough = result.test_error_estimate_at(records, rse=0.1)
    curve = result.test_error_estimate
    for field in ("by_class", "stderr_by_class", "stderr", "draws"):
        np.testing.assert_array_equal(getattr(alone, field), getattr(curve, field)[records])
    np.testing.assert_array_equal(result.test_error_at(records), result.test_error[records])
    assert rough.draws.sum() < alone.draws.sum()
    assert np.all(rough.stderr <= 0.1 * rough.by_class.mean(axis=1) * (1 + 1e-12))
    # Once the whole curve is there it serves any request at most as precise as it.
    again = result.test_error_estimate_at(records, rse=0.1)
    np.testing.assert_array_equal(again.by_class, curve.by_class[records])


THREADS_SCRIPT = """
import sys
import numpy as np
from labelnoise_sim import simulate
r = simulate(n=50, d=300, steps=300, record=30, seed=8, patches=3)
e = r.test_error_estimate
sys.stdout.write(np.concatenate([e.by_class.ravel(), e.stderr]).tobytes().hex())
"""


def test_the_estimate_does_not_depend_on_the_thread_count(output_by_thread_count):
    out = output_by_thread_count(THREADS_SCRIPT)
    assert out[0] == out[1] and out[0]


def test_an_unknown_method_is_refused_by_name():
    config = SimulationConfig(n=10, d=20, m=2, seed=0)
    gram = sample_explicit(config).gram
    with pytest.raises(ValueError, match="method must be 'precise' or 'monte_carlo', got 'exact'"):
        class_errors(np.ones((1, 2, 2)), np.zeros((1, 2, 2, 10)), gram, config, method="exact")
