"""The test error of every network of the model family is its Gaussian law.

Each check builds explicit data (``sample_explicit``), picks coefficients
γ, ρ, a bias b and a weight-decay factor α at random, forms the filters
w_q = α w_q⁽⁰⁾ + j_q γ_q μ/‖μ‖² + Σ_k ρ_{q,k} ξ_k/‖ξ_k‖², and compares
``class_errors`` with the misclassification rate of the network on a fresh
explicit test set: T noise draws (P1 noise vectors each, or one vector added
to y μ), every one taken once with y = +1 and once with y = -1, the output
evaluated from the vectors with an activation written here from the spec.

Threshold. For a class with error p, the law's estimate is a binomial
proportion over S Monte Carlo draws and the test set's one over T samples,
independent of each other (the seed's "test" stream, and a generator of its
own here), both unbiased for p. Their difference has standard deviation
sqrt(p (1 - p) (1/S + 1/T)), and S p and T p run to thousands, so it is
normal to good accuracy. With p estimated by the pooled rate, a correct law
fails the check |difference| <= 4.5 sd with probability 2 Φ(-4.5) = 6.8e-6;
over the 58 comparisons of this file (29 networks, two classes each), at
most 4e-4 (union bound). At S = 2^17, T = 2 10^5 and p = 0.25 the
threshold is 0.0069: a mistake that moves an error rate by more than about
0.7 percentage points fails. Every draw is seeded, so the outcome is fixed:
the false-alarm rate is that of the seeds chosen here. The networks are
picked so that every error lies in [0.05, 0.45], where both estimates are
informative, and the checks of one ingredient also show that leaving it
out of the law moves it by more than the threshold (the comparison can tell).
"""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from _activations import sigma
from labelnoise_sim import _kernels, simulate
from labelnoise_sim.config import SimulationConfig
from labelnoise_sim.data import sample_explicit, seed_streams
from labelnoise_sim.generalization import class_errors, filter_statistics

#: Monte Carlo draws of the law (more than the default, for a tighter comparison).
DRAWS = 2**17
#: Noise draws of the explicit test set, each used for both classes, and how many are drawn at once.
TEST_SET = 200_000
CHUNK = 25_000
#: Standard deviations of the difference allowed.
Z_MAX = 4.5
ACTIVATIONS = ["relu", "relu^2", "leaky_relu(0.1)", "smoothed_relu(3,0.5)"]


class Network:
    """Explicit data of ``config``, random coefficients and the filters they make."""

    def __init__(self, config, *, gamma_scale=1.0, rho_scale=1.0, bias_scale=0.0, alpha=None, seed=0):
        self.config = config
        self.data = data = sample_explicit(config)
        m, P1 = config.m, config.noise_patches
        N = config.n * P1
        rng = np.random.default_rng(1000 + seed)
        self.gamma = gamma_scale * rng.uniform(0.3, 1.5, (1, 2, m))
        # The filters of class -1 take those of class +1 over a permutation of the noise vectors: filters of
        # both classes of about equal noise variance, so that neither class's error runs far above 1/2.
        rho = rho_scale * rng.standard_normal((m, N))
        self.rho = np.stack([rho, rho[:, rng.permutation(N)]])[None]
        self.bias = bias_scale * rng.standard_normal((1, 2, m)) if bias_scale else None
        self.alpha = None if alpha is None else np.array([alpha])
        mu, xi = data.mu, data.xi.reshape(N, config.d)
        jsign = np.repeat([1.0, -1.0], m)
        W = (1.0 if alpha is None else alpha) * data.W0.reshape(2 * m, -1)
        W = W + (jsign * self.gamma.reshape(-1))[:, None] * mu / (mu @ mu)
        W = W + self.rho.reshape(2 * m, N) @ (xi / (xi * xi).sum(axis=1, keepdims=True))
        self.W = W

    def law(self, config=None, **changes):
        """class_errors (2,) of the network; ``config`` or keyword changes (alpha=, bias=) to leave an ingredient out."""
        kwargs = dict(alpha=self.alpha, bias=self.bias, method="monte_carlo", draws=DRAWS)
        kwargs.update(changes)
        return class_errors(self.gamma, self.rho, self.data.gram, config or self.config, **kwargs)[0]

    def explicit(self, seed=0):
        """Misclassification rates (2,) of classes +1 and -1 on a fresh explicit test set."""
        return _explicit_errors(self.config, self.data.mu, self.W, self.bias, seed)


def _explicit_errors(c, mu, W, bias, seed):
    """Error rates (2,) of classes +1 and -1 of the filters W (2m, d) and bias (2m,) or None on a fresh test set."""
    m, P1, d = c.m, c.noise_patches, c.d
    b = np.zeros(2 * m) if bias is None else np.reshape(bias, -1)
    jsign = np.repeat([1.0, -1.0], m)
    s = 1.0 / m if c.output_scale == "mean" else 1.0
    signal = W @ mu
    rng = np.random.default_rng(10_000 + seed)
    wrong = np.zeros(2)
    for start in range(0, TEST_SET, CHUNK):
        xi = c.sigma_xi * rng.standard_normal((min(CHUNK, TEST_SET - start), P1, d))
        if c.noise == "orthogonal":
            xi -= (xi @ mu)[..., None] * mu / (mu @ mu)
        Z = xi @ W.T  # (chunk, P1, 2m)
        for index, y in enumerate((1.0, -1.0)):
            if c.layout == "additive":
                act = sigma(y * signal + Z[:, 0, :] + b, c.activation)
            else:
                act = sigma(y * signal + b, c.activation) + sigma(Z + b, c.activation).sum(axis=1)
            f = s * (act * jsign).sum(axis=1)
            wrong[index] += np.count_nonzero(y * f <= 0)
    return wrong / TEST_SET


def _sd(p_law, p_test, draws=DRAWS):
    """Standard deviation of the difference of the two estimates, at their pooled rate."""
    p = (draws * p_law + TEST_SET * p_test) / (draws + TEST_SET)
    return np.sqrt(p * (1 - p) * (1 / draws + 1 / TEST_SET))


def _check_law(net, seed=0):
    """The law agrees with the explicit test set within Z_MAX sd, at errors in [0.05, 0.45]; returns the law."""
    law = net.law()
    test = net.explicit(seed)
    _check_agreement(law, test, [_sd(a, b) for a, b in zip(law, test)])
    return law


def _check_agreement(law, test, sd):
    """Each class's error of the law within Z_MAX sd (sd (2,): of the difference) of the test set's."""
    for cls, p_law, p_test, s in zip((+1, -1), law, test, sd):
        assert 0.05 <= p_test <= 0.45, f"class {cls}: error {p_test:.4f}, pick a network with an informative error"
        assert abs(p_law - p_test) <= Z_MAX * s, f"class {cls}: law {p_law:.5f}, test set {p_test:.5f} (sd {s:.5f})"


def _differs(law, other):
    """Whether some class's error moves by more than the threshold: the comparison would catch ``other``."""
    return any(abs(a - b) > Z_MAX * _sd(a, b) for a, b in zip(law, other))


def _config(**changes):
    base = dict(n=20, d=40, m=3, sigma0=0.1, seed=4)
    return SimulationConfig(**{**base, **changes})


# One ingredient at a time ----------------------------------------------------
#
# Each network is (coefficient seed, rho_scale, gamma_scale), picked for errors of both classes near 0.2.

ACTIVATION_NETWORKS = {
    ("relu", 1): (3, 1.0, 0.5), ("relu", 2): (4, 1.0, 1.0), ("relu", 4): (1, 0.7, 1.0),
    ("relu^2", 1): (3, 1.4, 1.0), ("relu^2", 2): (0, 0.5, 1.0), ("relu^2", 4): (5, 0.5, 1.0),
    ("leaky_relu(0.1)", 1): (3, 1.0, 0.5), ("leaky_relu(0.1)", 2): (4, 1.0, 1.0), ("leaky_relu(0.1)", 4): (1, 0.7, 1.0),
    ("smoothed_relu(3,0.5)", 1): (1, 1.4, 1.0), ("smoothed_relu(3,0.5)", 2): (4, 1.0, 1.0),
    ("smoothed_relu(3,0.5)", 4): (1, 0.7, 1.0),
}


@pytest.mark.parametrize("activation, noise_patches", list(ACTIVATION_NETWORKS))
def test_each_activation_with_one_two_and_four_noise_patches_has_its_gaussian_law(activation, noise_patches):
    seed, rho_scale, gamma_scale = ACTIVATION_NETWORKS[activation, noise_patches]
    net = Network(_config(activation=activation, patches=1 + noise_patches), seed=seed, rho_scale=rho_scale,
                  gamma_scale=gamma_scale)
    law = _check_law(net)
    if activation != "relu":
        assert _differs(law, net.law(net.config.replace(activation="relu"))), "ReLU in place of the activation"


ADDITIVE_NETWORKS = {"relu": (3, 1.0, 0.5), "relu^2": (3, 2.0, 1.0), "leaky_relu(0.1)": (3, 1.0, 0.5),
                     "smoothed_relu(3,0.5)": (3, 2.0, 1.0)}


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_the_additive_layout_has_its_gaussian_law(activation):
    seed, rho_scale, gamma_scale = ADDITIVE_NETWORKS[activation]
    net = Network(_config(activation=activation, layout="additive"), seed=seed, rho_scale=rho_scale,
                  gamma_scale=gamma_scale)
    law = _check_law(net)
    assert _differs(law, net.law(net.config.replace(layout="patches"))), "two patches in place of y mu + xi"


@pytest.mark.parametrize("layout, patches, network", [("patches", 3, (4, 2.0, 2.0)), ("additive", 2, (3, 1.0, 0.5))])
def test_a_bias_enters_every_patch_of_the_law(layout, patches, network):
    seed, rho_scale, gamma_scale = network
    net = Network(_config(layout=layout, patches=patches, activation="leaky_relu(0.1)"), seed=seed,
                  rho_scale=rho_scale, gamma_scale=gamma_scale, bias_scale=0.5)
    law = _check_law(net)
    assert _differs(law, net.law(bias=None)), "the law without the bias"


def test_output_scale_sum_has_the_law_and_the_counts_of_the_mean():
    """s > 0 multiplies f and changes no sign: the counts equal those of s = 1/m."""
    net = Network(_config(output_scale="sum", patches=3, activation="relu^2"), seed=3, bias_scale=0.3)
    law = _check_law(net)
    np.testing.assert_array_equal(law, net.law(net.config.replace(output_scale="mean")))


@pytest.mark.parametrize("layout, patches, network", [
    ("patches", 2, (2, 0.5, 0.5)), ("patches", 4, (2, 2.0, 2.0)), ("additive", 2, (3, 1.4, 0.5))])
def test_orthogonal_noise_has_its_gaussian_law(layout, patches, network):
    seed, rho_scale, gamma_scale = network
    # ‖μ‖ = 1: the filters' component γ μ/‖μ‖² along μ is as large as γ, and the projection removes it from the noise.
    net = Network(_config(noise="orthogonal", layout=layout, patches=patches, mu_norm=1.0,
                          activation="smoothed_relu(2,0.5)"), seed=seed, rho_scale=rho_scale, gamma_scale=gamma_scale)
    law = _check_law(net)
    assert _differs(law, net.law(net.config.replace(noise="isotropic"))), "isotropic noise in the law"


@pytest.mark.parametrize("alpha, network", [(0.4, (4, 1.0, 1.0)), (2.5, (5, 0.35, 2.0))])
def test_weight_decay_factor_alpha_scales_the_initial_filters_in_the_law(alpha, network):
    seed, rho_scale, gamma_scale = network
    net = Network(_config(sigma0=0.3, patches=3), seed=seed, rho_scale=rho_scale, gamma_scale=gamma_scale,
                  alpha=alpha)
    law = _check_law(net)
    assert _differs(law, net.law(alpha=None)), "the law with alpha = 1"


@pytest.mark.parametrize("layout, patches, activation, network", [
    ("patches", 3, "leaky_relu(0.2)", (3, 1.4, 1.0)), ("additive", 2, "smoothed_relu(2,1)", (0, 1.0, 0.5)),
    ("patches", 5, "relu^3", (3, 1.0, 2.0))])
def test_every_ingredient_at_once_has_its_gaussian_law(layout, patches, activation, network):
    seed, rho_scale, gamma_scale = network
    config = _config(layout=layout, patches=patches, activation=activation, noise="orthogonal", output_scale="sum",
                     sigma0=0.2)
    _check_law(Network(config, seed=seed, rho_scale=rho_scale, gamma_scale=gamma_scale, bias_scale=0.4, alpha=0.6))


# A trained run ---------------------------------------------------------------------


@pytest.mark.parametrize("options", [
    dict(patches=3, activation="leaky_relu(0.1)", bias=True, weight_decay=1e-2, output_scale="sum", n_snr2=2.0),
    dict(layout="additive", activation="smoothed_relu(2,0.5)", bias=True, weight_decay=5e-3, noise="orthogonal",
         n_snr2=1.0)])
def test_a_trained_family_runs_test_error_is_its_gaussian_law(options):
    """SimulationResult.test_error_by_class (its α, bias and ρ of every noise patch), the precise estimate."""
    result = simulate(n=40, d=120, m=3, eta=0.3, steps=300, record=[0, 300], tau=0.2, seed=3, **options)
    assert result.alpha[-1] < 0.9 and np.abs(result.bias[-1]).max() > 0.1, "weight decay and the bias at work"
    W = result.weights(result.t[-1]).reshape(2 * result.config.m, -1)
    test = _explicit_errors(result.config, result.data.mu, W, result.bias[-1], seed=1)
    # The precise estimate's own standard error, and the test set's binomial one.
    law_sd = result.test_error_estimate.stderr_by_class[-1]
    _check_agreement(result.test_error_by_class[-1], test, np.sqrt(law_sd**2 + test * (1 - test) / TEST_SET))


# The family kernel ---------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("layout, noise_patches", [("patches", 3), ("additive", 1)])
def test_family_kernel_counts_what_the_numpy_expression_counts(activation, layout, noise_patches):
    m, draws = 3, 3000
    rng = np.random.default_rng(noise_patches)
    M = rng.standard_normal((2 * m, 2 * m))
    lam, vec = np.linalg.eigh(M @ M.T)
    root = np.ascontiguousarray(vec * np.sqrt(lam))
    A, b = rng.standard_normal(2 * m), 0.5 * rng.standard_normal(2 * m)
    z = seed_streams(7)["test"].standard_normal((draws, noise_patches, 2 * m))
    sigma_xi, s = 0.4, 1.0 / m
    Z = sigma_xi * (z @ root.T)
    jsign = np.repeat([1.0, -1.0], m)
    f = {}
    for y in (1.0, -1.0):
        if layout == "additive":
            act = sigma(y * A + Z[:, 0] + b, activation)
        else:
            act = sigma(y * A + b, activation) + sigma(Z + b, activation).sum(axis=1)
        f[y] = s * (act * jsign).sum(axis=1)
    expected = (np.sum(f[1.0] <= 0), np.sum(-f[-1.0] <= 0))
    kind, params = SimulationConfig(activation=activation).activation_kind
    p1, p2 = (tuple(params) + (0.0, 0.0))[:2]
    z_t = np.ascontiguousarray(z.reshape(draws, -1).T)
    got = _kernels.misclassified_draws_family(root, z_t, sigma_xi, A, b, s, _kernels.ACTIVATION_CODES[kind], p1, p2,
                                              noise_patches, layout == "additive")
    assert tuple(got) == expected
    assert 0 < min(expected) and max(expected) < draws, "both classes should have misclassified and right draws"


# The output scale ------------------------------------------------------------------

PAPER_RUNS = [dict(n=40, d=120, m=3, steps=200, record=40, tau=0.2, n_snr2=2.0, seed=3),
              dict(n=30, d=100, m=4, steps=100, record=50, noise="orthogonal", sampling="gram", seed=1)]


@pytest.mark.parametrize("kwargs", PAPER_RUNS)
def test_the_output_scale_leaves_the_test_error_as_it_is(kwargs):
    """s > 0 scales f, not its sign: output_scale="sum" gives the same estimate, bit for bit, of both estimators."""
    result = simulate(**kwargs)
    c = result.config
    for method in ("precise", "monte_carlo"):
        mean = class_errors(result.gamma, result.rho, result.data.gram, c, method=method)
        summed = class_errors(result.gamma, result.rho, result.data.gram, c.replace(output_scale="sum"), method=method)
        np.testing.assert_array_equal(summed, mean)
        assert ((mean > 0) & (mean < 0.5)).any()


def test_filter_statistics_take_every_noise_vector_and_alpha():
    """A and W Σ Wᵀ of explicit filters with P1 = 3 noise patches and α ≠ 1, against the vectors themselves."""
    net = Network(_config(patches=4, noise="orthogonal", sigma0=0.3), alpha=0.7)
    A, cov = filter_statistics(net.gamma, net.rho, net.data.gram, net.config, alpha=net.alpha)
    mu = net.data.mu
    projector = np.eye(net.config.d) - np.outer(mu, mu) / (mu @ mu)
    np.testing.assert_allclose(A[0], net.W @ mu, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cov[0], net.W @ projector @ net.W.T, rtol=1e-10, atol=1e-12)
    # The 5-D layout of the noise coefficients (K, 2, m, n, P1) is the same vectors, sample by sample.
    rho5 = net.rho.reshape(1, 2, net.config.m, net.config.n, 3)
    np.testing.assert_array_equal(
        class_errors(net.gamma, rho5, net.data.gram, net.config, alpha=net.alpha, method="monte_carlo", draws=4096)[0],
        net.law(draws=4096))


# Plain Python -----------------------------------------------------------------------

JIT_VARIANTS = [
    dict(n=10, d=30, m=2, patches=3, activation="leaky_relu(0.1)", noise="orthogonal", output_scale="sum", seed=2),
    dict(n=12, d=30, m=3, layout="additive", activation="smoothed_relu(2,0.5)", seed=5),
]

JIT_SCRIPT = textwrap.dedent("""
    import pickle, sys
    import numba
    import numpy as np
    from labelnoise_sim.config import SimulationConfig
    from labelnoise_sim.data import sample_explicit
    from labelnoise_sim.generalization import class_errors, estimate, estimate_loss

    def errors(kwargs):
        config = SimulationConfig(**kwargs)
        m, N = config.m, config.n * config.noise_patches
        rng = np.random.default_rng(config.seed)
        gamma, rho = rng.uniform(0.3, 1.5, (2, 2, m)), rng.standard_normal((2, 2, m, N))
        bias, alpha = 0.3 * rng.standard_normal((2, 2, m)), np.array([0.5, 0.8])
        gram = sample_explicit(config).gram
        plain = class_errors(gamma, rho, gram, config, alpha=alpha, bias=bias, method="monte_carlo", draws=2**11)
        precise = estimate(gamma, rho, gram, config, alpha=alpha, bias=bias, max_draws=2**10)
        loss = estimate_loss(gamma, rho, gram, config.replace(loss="exponential"), alpha=alpha, bias=bias,
                             max_draws=2**13)
        return np.concatenate([plain, precise.by_class, precise.stderr_by_class, loss.by_class,
                               np.c_[loss.loss, loss.stderr]])

    if __name__ == "__main__":
        assert numba.config.DISABLE_JIT
        sys.stdout.buffer.write(pickle.dumps([errors(kwargs) for kwargs in eval(sys.argv[1])]))
""")


def test_pure_python_family_test_error_and_test_loss_give_the_compiled_numbers(tmp_path):
    script = tmp_path / "family_errors.py"
    script.write_text(JIT_SCRIPT)
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    done = subprocess.run([sys.executable, str(script), repr(JIT_VARIANTS)], env=env, capture_output=True, check=True)
    pure = pickle.loads(done.stdout)
    namespace = {}
    exec(compile(JIT_SCRIPT, str(script), "exec"), namespace)
    for kwargs, got in zip(JIT_VARIANTS, pure):
        compiled = namespace["errors"](kwargs)
        np.testing.assert_array_equal(got, compiled)
        assert ((compiled > 0) & (compiled < 1)).any()
