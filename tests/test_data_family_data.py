"""The data of the data family: several signal vectors, several classes, both samplings.

Statistical checks compare a count or a mean with its expectation within 5 standard errors: a correct
law fails one of them by chance with probability about 6e-7, and the seeds are fixed, so a pass is
reproducible.
"""

import numpy as np
import pytest

from labelnoise_sim import SimulationConfig, _kernels
from labelnoise_sim.data import (STREAMS, Data, check_statistics, sample_data, sample_labels, sample_signals,
                                 seed_streams, signal_law, wishart_identity)

Z = 5.0  # standard errors allowed by the statistical checks


def _config(**params):
    return SimulationConfig(**{"n": 12, "d": 30, "m": 2, "sigma0": 0.3, "mu_norm": 2.0, **params})


def _binomial_ok(count, trials, p):
    """Whether a Binomial(trials, p) count is within Z standard deviations of its mean."""
    return abs(count - trials * p) <= Z * np.sqrt(trials * p * (1 - p))


FAMILY = [
    dict(features="xor"),
    dict(features="common_rare(0.25)"),
    dict(classes=3),
    dict(classes=3, features="common_rare(0.4)", patches=3),
    dict(loss="cross_entropy"),
    dict(features="xor", layout="additive"),
    dict(classes=4, noise="orthogonal", patches=3),
    dict(features="common_rare(0.25)", noise="orthogonal", d=5),  # d = S + 1: one noise direction
]


def _vectors(data):
    d = data.W0.shape[-1]
    return np.vstack([data.signal_vectors, data.xi.reshape(-1, d), data.W0.reshape(-1, d)])


@pytest.mark.parametrize("params", FAMILY, ids=str)
def test_explicit_gram_is_the_gram_of_the_vectors(params):
    config = _config(**params)
    data = sample_data(config)
    S, G = config.signal_vectors, config.groups
    assert (data.signals, data.groups, data.m) == (S, G, config.m)
    assert data.signal_vectors.shape == (S, config.d) and data.W0.shape == (G, config.m, config.d)
    assert data.gram.shape == (S + data.n_vectors + G * config.m,) * 2
    V = _vectors(data)
    np.testing.assert_allclose(data.gram, V @ V.T, rtol=0, atol=1e-12 * np.abs(data.gram).max())
    # The signal vectors are signal_basis's rows in the first S coordinates, and their block is exact.
    assert (data.signal_vectors[:, S:] == 0).all()
    np.testing.assert_array_equal(data.signal_sq, (data.signal_vectors**2).sum(axis=1))
    # The named blocks.
    N = data.n_vectors
    np.testing.assert_array_equal(data.xi_signal, data.gram[S : S + N, :S])
    np.testing.assert_array_equal(data.w0_signal.reshape(G * config.m, S), data.gram[S + N :, :S])
    np.testing.assert_array_equal(data.w0_xi.reshape(G * config.m, N), data.gram[S + N :, S : S + N])
    np.testing.assert_array_equal(data.xi_sq, np.diagonal(data.gram)[S : S + N])


@pytest.mark.parametrize("params", FAMILY + [dict(), dict(layout="additive", bias=True)], ids=str)
def test_patches_agree_with_the_gram_matrix(params):
    config = _config(**params)
    data = sample_data(config)
    X = data.patches()
    P = 1 if config.layout == "additive" else config.patches
    assert X.shape == (config.n, P, config.d) and data.additive == (config.layout == "additive")
    W = data.W0.reshape(-1, config.d)
    k, s = data.signal_index, data.signal_sign
    signal_products = s * data.w0_signal.reshape(-1, data.signals)[:, k]  # <w_q, s_i u_{k_i}>, (G m, n)
    noise_products = data.w0_xi.reshape(len(W), config.n, -1)  # <w_q, xi_{i,p}>, (G m, n, P - 1)
    scale = np.abs(data.gram).max()
    if config.layout == "additive":
        np.testing.assert_allclose(W @ X[:, 0].T, signal_products + noise_products[:, :, 0], atol=1e-12 * scale)
        return
    np.testing.assert_array_equal((X[:, 0] ** 2).sum(axis=1), data.signal_sq[k])
    np.testing.assert_allclose(W @ X[:, 0].T, signal_products, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(np.einsum("qd,ipd->qip", W, X[:, 1:]), noise_products, rtol=0, atol=1e-12 * scale)


def test_orthogonal_noise_is_orthogonal_to_every_signal_vector():
    for sampling in ("explicit", "gram"):
        for params in (dict(features="xor"), dict(classes=3, features="common_rare(0.3)", patches=3)):
            data = sample_data(_config(noise="orthogonal", sampling=sampling, **params))
            assert (data.xi_signal == 0).all()
            if data.has_vectors:
                assert (data.xi.reshape(-1, data.xi.shape[-1]) @ data.signal_vectors.T == 0).all()


# The paper's model (S = 1, G = 2): the bits of the code before the data family ----------------------------

def _old_sample(config):
    """The data of S = 1, G = 2 as the library drew it before the data family (its code, condensed)."""
    rngs = seed_streams(config.seed)
    n, d, m, N = config.n, config.d, config.m, config.n * config.noise_patches
    rng = rngs["labels"]
    y = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int64)
    if config.flips == "exact":
        flipped = np.concatenate([rng.choice(np.flatnonzero(y == label), round(rate * np.count_nonzero(y == label)),
                                             replace=False)
                                  for label, rate in ((1, config.tau_pos), (-1, config.tau_neg))])
        y_noisy = y.copy()
        y_noisy[flipped] = -y[flipped]
    else:
        y_noisy = np.where(rng.random(n) < np.where(y == 1, config.tau_pos, config.tau_neg), -y, y)
    p = N + 2 * m
    gram = np.empty((1 + p, 1 + p))
    if config.sampling == "explicit":
        shape = (n, d) if config.noise_patches == 1 else (n, config.noise_patches, d)
        xi = config.sigma_xi * rngs["noise"].standard_normal(shape)
        if config.noise == "orthogonal":
            xi[..., 0] = 0.0
        W0 = config.sigma0 * rngs["init"].standard_normal((2, m, d))
        random = np.zeros((_kernels.gram_rows(p), d))
        random[:N] = xi.reshape(-1, d)
        random[N:p] = W0.reshape(-1, d)
        gram[1:, 1:] = _kernels.gram(random, p)
        gram[0, 0] = config.mu_norm * config.mu_norm
        gram[0, 1:] = gram[1:, 0] = config.mu_norm * random[:p, 0]
        return y, y_noisy, gram, (xi, W0)
    first = np.zeros(p)
    if config.noise == "isotropic":
        first[:N] = config.sigma_xi * rngs["noise"].standard_normal(N)
    first[N:] = config.sigma0 * rngs["init"].standard_normal(2 * m)
    scale = np.r_[np.full(N, config.sigma_xi), np.full(2 * m, config.sigma0)]
    rest = wishart_identity(config.d - 1, p, rngs["noise"])
    gram[0, 0] = config.mu_norm**2
    gram[0, 1:] = gram[1:, 0] = config.mu_norm * first
    gram[1:, 1:] = scale[:, None] * rest * scale[None, :] + first[:, None] * first[None, :]
    return y, y_noisy, 0.5 * (gram + gram.T), None


@pytest.mark.parametrize("sampling", ["explicit", "gram"])
@pytest.mark.parametrize("params", [dict(), dict(noise="orthogonal", patches=3), dict(flips="exact", tau_pos=0.3),
                                    dict(layout="additive", d=5, mu_norm=0.7, sigma_xi=1.3), dict(d=1)], ids=str)
def test_one_signal_vector_keeps_the_bits_of_the_paper_model(sampling, params):
    config = _config(sampling=sampling, seed=11, **params)
    if config.noise == "orthogonal" and config.d < 2:
        pytest.skip("orthogonal noise needs d >= 2")
    data = sample_data(config)
    y, y_noisy, gram, W0 = _old_sample(config)
    np.testing.assert_array_equal(data.y, y)
    np.testing.assert_array_equal(data.y_noisy, y_noisy)
    assert data.gram.tobytes() == gram.tobytes()
    np.testing.assert_array_equal(data.signal_index, 0)
    np.testing.assert_array_equal(data.signal_sign, y)
    assert (data.signals, data.groups) == (1, 2)
    assert data.mu_sq == data.signal_sq[0] and data.w0_mu.shape == (2, config.m)
    np.testing.assert_array_equal(data.xi_mu, data.xi_signal[:, 0])
    np.testing.assert_array_equal(data.w0_mu, data.w0_signal[..., 0])
    if W0 is not None:
        # Drawn in place, into the Gram kernel's padded input: the bits (and shapes) of fresh arrays.
        xi, W0 = W0
        assert data.xi.shape == xi.shape and data.W0.shape == W0.shape
        assert data.xi.tobytes() == xi.tobytes() and data.W0.tobytes() == W0.tobytes()
        np.testing.assert_array_equal(data.mu, np.r_[config.mu_norm, np.zeros(config.d - 1)])


def test_the_new_stream_comes_last():
    assert STREAMS[:6] == ("labels", "noise", "init", "test", "batches", "label_noise")
    assert STREAMS[-1] == "features"


# Labels -------------------------------------------------------------------------------------------------

def _labels(seed=0, **params):
    config = SimulationConfig(**{"n": 20_000, "d": 10, **params})
    return config, *sample_labels(config, seed_streams(seed)["labels"])


@pytest.mark.parametrize("flips", ["bernoulli", "exact"])
def test_classes_are_uniform_and_flips_go_uniformly_to_another_class(flips):
    C, tau = 4, 0.3
    config, y, y_noisy = _labels(classes=C, tau_pos=tau, tau_neg=tau, flips=flips)
    assert y.dtype == y_noisy.dtype == np.int64
    assert set(np.unique(y)) == set(np.unique(y_noisy)) == set(range(C))
    n = config.n
    for c in range(C):
        assert _binomial_ok(np.count_nonzero(y == c), n, 1 / C), f"class {c}: {np.count_nonzero(y == c)} of {n}"
    flipped = y != y_noisy
    if flips == "exact":
        for c in range(C):  # exactly round(tau n_c) of each class (round halves to even)
            assert np.count_nonzero(flipped & (y == c)) == round(tau * np.count_nonzero(y == c))
    else:
        assert _binomial_ok(np.count_nonzero(flipped), n, tau)
    # A flip is a shift of 1..C-1 (mod C), each with probability 1 / (C - 1), whatever the class.
    shift = (y_noisy - y)[flipped] % C
    F = shift.size
    for k in range(1, C):
        assert _binomial_ok(np.count_nonzero(shift == k), F, 1 / (C - 1)), f"shift {k}"
    for c in range(C):
        targets = y_noisy[flipped & (y == c)]
        for other in set(range(C)) - {c}:
            assert _binomial_ok(np.count_nonzero(targets == other), targets.size, 1 / (C - 1))


def test_two_classes_relabel_the_binary_draw():
    params = dict(tau_pos=0.2, tau_neg=0.35, n=500)
    _, y, y_noisy = _labels(seed=3, **params)
    _, c, c_noisy = _labels(seed=3, loss="cross_entropy", **params)
    np.testing.assert_array_equal(c, (1 - y) // 2)
    np.testing.assert_array_equal(c_noisy, (1 - y_noisy) // 2)
    data = sample_data(_config(loss="cross_entropy", seed=3))
    np.testing.assert_array_equal(data.signal_sign, 1 - 2 * data.y)  # class 0 carries +mu, class 1 -mu
    np.testing.assert_array_equal(data.signal_index, 0)


@pytest.mark.parametrize("tau_pos, tau_neg", [(0.1, 0.3), (0.0, 0.45)])
def test_binary_flip_rates(tau_pos, tau_neg):
    config, y, y_noisy = _labels(tau_pos=tau_pos, tau_neg=tau_neg)
    assert _binomial_ok(np.count_nonzero(y == 1), config.n, 0.5)
    for label, tau in ((1, tau_pos), (-1, tau_neg)):
        members = y == label
        assert _binomial_ok(np.count_nonzero(y_noisy[members] != label), np.count_nonzero(members), tau)


# Signal patches -----------------------------------------------------------------------------------------

def _signals(seed=0, **params):
    config, y, _ = _labels(seed, **params)
    index, sign = sample_signals(config, y, seed_streams(seed)["features"])
    classes = y if config.multiclass else (1 - y) // 2
    return config, classes, index, sign


def test_xor_signs_are_fair_coins_and_the_vector_is_the_class():
    _, classes, index, sign = _signals(features="xor")
    np.testing.assert_array_equal(index, classes)
    for c in range(2):
        members = classes == c
        assert _binomial_ok(np.count_nonzero(sign[members] == 1), np.count_nonzero(members), 0.5)
    assert set(np.unique(sign)) == {-1, 1}


@pytest.mark.parametrize("classes", [2, 3])
def test_rare_vectors_come_with_probability_p(classes):
    p = 0.15
    _, c, index, sign = _signals(features=f"common_rare({p})", classes=classes)
    assert (sign == 1).all()
    assert np.isin(index - 2 * c, (0, 1)).all(), "each class carries its own common or rare vector"
    for k in range(classes):
        members = c == k
        assert _binomial_ok(np.count_nonzero(index[members] == 2 * k + 1), np.count_nonzero(members), p)


def test_the_frequencies_follow_signal_law():
    """Every pattern (k, s) of every class at the frequency signal_law gives it."""
    for params in (dict(features="xor"), dict(features="common_rare(0.3)", classes=3), dict(classes=3), dict()):
        config, classes, index, sign = _signals(seed=5, **params)
        for c, patterns in enumerate(signal_law(config)):
            members = classes == c
            assert sum(np.count_nonzero(members & (index == k) & (sign == s)) for k, s, _ in patterns) == \
                np.count_nonzero(members)
            for k, s, prob in patterns:
                count = np.count_nonzero(members & (index == k) & (sign == s))
                assert _binomial_ok(count, np.count_nonzero(members), prob), (params, c, k, s)


def test_both_samplings_share_labels_and_signal_patches():
    for params in (dict(features="xor"), dict(classes=3, features="common_rare(0.3)")):
        explicit, gram = (sample_data(_config(sampling=s, seed=9, **params)) for s in ("explicit", "gram"))
        for name in ("y", "y_noisy", "signal_index", "signal_sign"):
            np.testing.assert_array_equal(getattr(explicit, name), getattr(gram, name))
        # The signal vectors' block is not random: the same numbers (to rounding: mu_norm^2 against mu_norm mu_norm).
        np.testing.assert_allclose(explicit.gram[:explicit.signals, :explicit.signals],
                                   gram.gram[:gram.signals, :gram.signals], rtol=1e-15, atol=0)


# Explicit and Gram sampling: the same law ---------------------------------------------------------------

SEEDS = 300


def _entries(sampling, noise, d, params, seeds):
    """The Gram matrices of many seeds, stacked."""
    return np.stack([sample_data(SimulationConfig(n=3, m=1, d=d, sampling=sampling, noise=noise, seed=int(s),
                                                  sigma0=0.3, sigma_xi=1.5, mu_norm=2.0, **params)).gram
                     for s in seeds])


@pytest.mark.parametrize("noise", ["isotropic", "orthogonal"])
@pytest.mark.parametrize("params, d", [(dict(features="xor"), 14), (dict(features="xor"), 5),
                                       (dict(classes=3, features="common_rare(0.3)"), 16)], ids=str)
def test_gram_sampling_has_the_law_of_explicit_vectors(params, d, noise):
    """Means and variances of every kind of entry agree within 5 standard errors of their difference.

    d - S = 12 >= N + G m (Bartlett's draw), d - S = 3 < N + G m (the Wishart's Z drawn); each
    variance's standard error is estimated from the fourth central moment.
    """
    explicit = _entries("explicit", noise, d, params, range(SEEDS))
    gram = _entries("gram", noise, d, params, range(10_000, 10_000 + SEEDS))
    config = SimulationConfig(n=3, m=1, d=d, noise=noise, mu_norm=2.0, **params)
    S, N = config.signal_vectors, config.n
    w = S + N  # the first filter
    entries = {"|u_0|^2": (0, 0), "<u_0,u_1>": (0, 1), "<u_1,xi_1>": (1, S), "<u_0,w>": (0, w),
               "|xi_1|^2": (S, S), "<xi_1,xi_2>": (S, S + 1), "<w,xi_2>": (w, S + 1), "|w|^2": (w, w),
               "<w,w'>": (w, w + 1)}
    for name, (a, b) in entries.items():
        x, z = explicit[:, a, b], gram[:, a, b]
        if a < S and b < S or (noise == "orthogonal" and a < S <= b < S + N):
            assert (x == x[0]).all() and (z == x[0]).all(), f"{name} is not random"
            continue
        se = np.sqrt(x.var(ddof=1) / SEEDS + z.var(ddof=1) / SEEDS)
        assert abs(x.mean() - z.mean()) < Z * se, f"{name}: means {x.mean():.4g} and {z.mean():.4g} (se {se:.3g})"
        var_se = np.sqrt(sum((((v - v.mean()) ** 4).mean() - v.var() ** 2) / SEEDS for v in (x, z)))
        assert abs(x.var() - z.var()) < Z * var_se, f"{name}: variances {x.var():.4g} and {z.var():.4g}"
    # Against the law itself: E |xi|^2 = sigma_xi^2 (d, or d - S for orthogonal noise); <u_k, xi> ~ N(0, |u_k|^2 sigma_xi^2)
    # for isotropic noise.
    dims = d if noise == "isotropic" else d - S
    for g in (explicit, gram):
        xi_sq = g[:, S, S]
        assert abs(xi_sq.mean() - 1.5**2 * dims) < Z * np.sqrt(2 * 1.5**4 * dims / SEEDS)
        if noise == "isotropic":
            u_xi = g[:, 1, S]
            assert 0.7 < u_xi.var() / (g[0, 1, 1] * 1.5**2) < 1.4


# Errors -------------------------------------------------------------------------------------------------

def test_names_of_the_paper_model_refuse_several_signal_vectors():
    data = sample_data(_config(features="xor"))
    for name, general in (("mu", "signal_vectors"), ("mu_sq", "signal_sq"), ("xi_mu", "xi_signal"),
                          ("w0_mu", "w0_signal")):
        with pytest.raises(AttributeError, match=f"data.{name} exists only for one signal vector .*data.{general}"):
            getattr(data, name)
    gram = sample_data(_config(features="xor", sampling="gram"))
    for name in ("signal_vectors", "W0", "xi"):
        with pytest.raises(AttributeError, match=f"data.{name} does not exist for sampling='gram'"):
            getattr(gram, name)
    with pytest.raises(AttributeError, match="data.signal_vectors does not exist for sampling='gram'"):
        gram.patches()


def test_data_refuses_inconsistent_input_naming_the_parameter():
    data = sample_data(_config(classes=3))
    y, gram, n = data.y, data.gram, data.n
    common = dict(signals=3, groups=3, signal_sign=np.ones(n, dtype=int), signal_index=y)
    Data(y, y, gram, **common)  # consistent
    bad = {
        "signal_index": dict(common, signal_index=np.full(n, 3)),
        "signal_sign": dict(common, signal_sign=np.zeros(n, dtype=int)),
        "gram": dict(common, groups=4),
        "groups": dict(common, groups=1),
        "signals": dict(common, signal_vectors=np.zeros((2, 30))),
    }
    for name, keywords in bad.items():
        with pytest.raises(ValueError, match=name):
            Data(y, y, gram, **keywords)
    with pytest.raises(ValueError, match="signal_sign must be given"):
        Data(y, y, gram, signals=3, groups=3, signal_index=y)
    with pytest.raises(ValueError, match="signal_index must hold one integer per sample"):
        Data(y, y, gram, **dict(common, signal_index=y[:-1]))
    with pytest.raises(ValueError, match="mu or signal_vectors, not both"):
        Data(y, y, gram, mu=np.zeros(30), signal_vectors=np.zeros((1, 30)))
    with pytest.raises(ValueError, match="noise_patches"):
        paper = sample_data(_config(patches=3))
        Data(paper.y, paper.y_noisy, paper.gram, noise_patches=2, additive=True)


@pytest.mark.parametrize("features", ["xor", "common_rare(0.2)"])
def test_scales_float64_cannot_hold_name_the_parameter(features):
    for sampling in ("explicit", "gram"):
        with pytest.raises(ValueError, match=r"^mu_norm too large: .*mu_norm=1e\+200"):
            sample_data(_config(features=features, mu_norm=1e200, sampling=sampling))
        with pytest.raises(ValueError, match=r"^mu_norm too small: .*underflow"):
            sample_data(_config(features=features, mu_norm=1e-200, sampling=sampling))
        with pytest.raises(ValueError, match=r"^sigma_xi too large"):
            sample_data(_config(features=features, sigma_xi=1e200, sampling=sampling))
    data = sample_data(_config(features="xor"))
    check_statistics(data.gram, _config(features="xor"))
