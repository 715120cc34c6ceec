"""The test error and the test loss of the data family are those of a fresh explicit test set.

Each run of the data family (a trained output layer, XOR, common and rare features, three and four classes,
two logits with the softmax cross-entropy, XOR in the additive layout and with orthogonal noise) is checked
against the network itself on fresh samples: the filters rebuilt from the run's vectors
(``SimulationResult.weights``), the output weights of the result, and for every class c and signal pattern
(k, s) of ``data.signal_law`` T fresh samples whose signal patch is s u_k (``data.signal_vectors``) and whose
noise patches are drawn from the noise law (orthogonal noise: zero in the first S coordinates, which hold the
signal vectors). A sample of one output is wrong when y f <= 0, one of several outputs when numpy's argmax
of its outputs is not its class; the loss is the run's loss of y f, or the softmax cross-entropy.

Threshold. The test set's estimate of the error is the mixture Σ_c Σ_(k,s) p_c(k, s) e_(c,k,s) / G of
independent binomial proportions, of variance Σ (p / G)² e (1 - e) / T (e at least 1 / T, so that a
pattern without a mistake still counts), and the law's estimate has the standard error it reports; the two
are independent (the seed's Sobol draws, a generator of its own here), so their difference has standard
deviation sqrt(se_law² + se_set²), and the check allows 4 of them: a correct law fails one comparison with
probability 2 Φ(-4) = 6e-5 (Student's t with 15 degrees of freedom for the law's part: at most 1e-3), the
27 comparisons of the error at most 3 % (union bound); every draw is seeded, so the outcome is fixed. The loss
is compared likewise, with the test set's standard error from the spread of its losses. At T = 20 000 and an
error of 0.1 the threshold is about 0.01.
"""

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from _activations import sigma
from labelnoise_sim import generalization, simulate
from labelnoise_sim.data import signal_law
from labelnoise_sim.result import loss_value

#: Fresh samples of each class and pattern in the explicit test set.
TEST_SET = 20_000
#: Standard deviations of the difference allowed.
Z_MAX = 4.0

#: d/n small (harmful overfitting): errors far from 0 at the last records.
SMALL = dict(n=40, d=160, m=3, eta=0.3, steps=300, tau=0.2, n_snr2=2.0, seed=3, record=[0, 30, 300])
RUNS = {
    "trained output layer": dict(SMALL, output_layer="trained"),
    "xor": dict(SMALL, features="xor"),
    "common_rare(0.2)": dict(SMALL, features="common_rare(0.2)"),
    "classes=3": dict(SMALL, classes=3),
    "classes=2, cross_entropy": dict(SMALL, loss="cross_entropy"),
    "xor, additive": dict(SMALL, features="xor", layout="additive"),
    "xor, orthogonal noise": dict(SMALL, features="xor", noise="orthogonal"),
    "classes=4, trained, leaky_relu, 3 patches": dict(SMALL, classes=4, output_layer="trained",
                                                      activation="leaky_relu(0.1)", patches=3),
    "classes=3, relu^2": dict(SMALL, classes=3, activation="relu^2", record=[0, 80, 300]),
}


@pytest.fixture(scope="module")
def runs():
    return {name: simulate(**kwargs) for name, kwargs in RUNS.items()}


def _explicit(result, k, seed):
    """The error and the loss of record k on a fresh explicit test set, with their standard errors."""
    c, data = result.config, result.data
    G, m, d, S = c.groups, c.m, c.d, c.signal_vectors
    W = result.weights(result.t[k]).reshape(G * m, d)
    b = np.zeros(G * m) if result.bias is None else result.bias[k].reshape(-1)
    v = result.output_weights[k].reshape(-1)
    rng = np.random.default_rng(30_000 + seed)
    error = loss = error_var = loss_var = 0.0
    for label, patterns in enumerate(signal_law(c)):
        for index, sign, probability in patterns:
            xi = c.sigma_xi * rng.standard_normal((TEST_SET, c.noise_patches, d))
            if c.noise == "orthogonal":
                xi[..., :S] = 0.0
            Z = xi @ W.T
            a = sign * (W @ data.signal_vectors[index])
            if c.layout == "additive":
                act = sigma(a + Z[:, 0] + b, c.activation)
            else:
                act = sigma(a + b, c.activation) + sigma(Z + b, c.activation).sum(axis=1)
            if c.multiclass:
                F = (act * v).reshape(TEST_SET, G, m).sum(axis=2)
                wrong = F.argmax(axis=1) != label
                top = F.max(axis=1)
                losses = np.log(np.exp(F - top[:, None]).sum(axis=1)) + top - F[:, label]
            else:
                margin = (1.0 if label == 0 else -1.0) * (act * v).sum(axis=1)
                wrong = margin <= 0
                losses = loss_value(margin, c.loss)
            weight = probability / G
            e = wrong.mean()
            error += weight * e
            error_var += weight**2 * max(e * (1 - e), 1.0 / TEST_SET) / TEST_SET
            loss += weight * losses.mean()
            loss_var += weight**2 * losses.var() / TEST_SET
    return error, np.sqrt(error_var), loss, np.sqrt(loss_var)


@pytest.mark.parametrize("name", list(RUNS))
def test_test_error_and_test_loss_are_those_of_a_fresh_explicit_test_set(runs, name):
    result = runs[name]
    informative = False
    for k in range(len(result.t)):
        error, se_error, loss, se_loss = _explicit(result, k, k)
        law, se_law = result.test_error[k], result.test_error_stderr[k]
        assert abs(law - error) <= Z_MAX * np.hypot(se_law, se_error), (
            f"step {result.t[k]}: test error {law:.5f} ± {se_law:.2g}, test set {error:.5f} ± {se_error:.2g}")
        law, se_law = result.test_loss[k], result.test_loss_stderr[k]
        assert abs(law - loss) <= Z_MAX * np.hypot(se_law, se_loss), (
            f"step {result.t[k]}: test loss {law:.5f} ± {se_law:.2g}, test set {loss:.5f} ± {se_loss:.2g}")
        informative |= 0.02 < error < 0.45
    assert informative, "the comparison should include an error well away from 0 and 1/2"
    assert result.test_error_by_class.shape == (len(result.t), result.config.groups)


def test_the_trained_output_weights_enter_the_estimate(runs):
    """The trained layer moved: the estimate with the fixed layer instead is another number."""
    r = runs["trained output layer"]
    fixed = generalization.estimate(r.gamma, r.rho, r.data.gram, r.config)
    assert not np.allclose(r.output_weights[-1], r.config.initial_output_weights)
    assert abs(fixed.by_class[-1].mean() - r.test_error[-1]) > Z_MAX * np.hypot(fixed.stderr[-1],
                                                                                r.test_error_stderr[-1])


def test_two_logits_give_the_binary_logistic_runs_test_error_and_test_loss(runs):
    """classes=2 with the cross-entropy is the binary logistic network (F_0 - F_1 = f): the same error per class
    (class 0 is y = +1) and the same loss, within their standard errors (the estimates agree to rounding)."""
    two = runs["classes=2, cross_entropy"]
    binary = simulate(**SMALL)
    for name in ("test_error", "test_loss"):
        a, b = getattr(two, name), getattr(binary, name)
        se = np.hypot(getattr(two, f"{name}_stderr"), getattr(binary, f"{name}_stderr"))
        assert (np.abs(a - b) <= se).all(), name
    np.testing.assert_allclose(two.test_error_by_class, binary.test_error_by_class, rtol=1e-9)


def test_a_run_without_mistakes_reads_zero():
    """Three classes, a strong signal, no label noise: no fresh sample of 3 × 20 000 is wrong, and the estimate
    of the last step is 0 (no line fails within 12 standard deviations: below 4e-33)."""
    result = simulate(n=30, d=600, m=3, steps=200, record=[0, 200], tau=0.0, n_snr2=30.0, classes=3, seed=1)
    error, *_ = _explicit(result, 1, 0)
    assert error == 0.0
    assert result.test_error[1] <= 1e-30 and result.test_error_stderr[1] <= 1e-30
    assert result.test_error[0] > 0.5  # at initialisation the classes are a guess


def test_one_output_per_class_reaches_the_target_precision(runs):
    """The replicates' spread is at most TARGET_RSE times the error wherever the draws stayed below the cap."""
    for name in ("classes=3", "classes=4, trained, leaky_relu, 3 patches", "classes=3, relu^2"):
        est = runs[name].test_error_estimate
        below = est.draws < generalization.MAX_DRAWS
        assert below.any()
        error = est.by_class.mean(axis=1)
        assert (est.stderr[below] <= generalization.TARGET_RSE * error[below] * (1 + 1e-12)).all(), name


def test_the_estimates_of_classes_are_the_same_bits_for_any_records_and_thread_count(runs, monkeypatch):
    import numba

    r = runs["classes=4, trained, leaky_relu, 3 patches"]
    np.testing.assert_array_equal(r.test_error_at([2, 0]), r.test_error[[2, 0]])
    args = (r.gamma, r.rho, r.data.gram, r.config)
    kwargs = dict(bias=r.bias, output_weights=r.output_weights)
    for threads in (1, 3):
        # generalization._threaded cuts the records into one range per thread of numba's configured count.
        monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", threads)
        estimate = generalization.estimate(*args, **kwargs)
        np.testing.assert_array_equal(estimate.by_class, r.test_error_by_class)
        np.testing.assert_array_equal(estimate.stderr, r.test_error_stderr)
        np.testing.assert_array_equal(generalization.estimate_loss(*args, **kwargs).loss, r.test_loss)


def test_the_noisy_test_error_of_classes_spreads_a_flip_over_the_other_classes(runs):
    """A label flipped to one of the C - 1 other classes is missed unless the network picked that class."""
    r = runs["classes=3"]
    e, tau = r.test_error_by_class, r.config.tau_pos
    expected = ((1 - tau) * e + tau * (1 - e / 2)).mean(axis=1)
    np.testing.assert_allclose(r.test_error_noisy, expected, rtol=1e-12)


# Plain Python -----------------------------------------------------------------------

JIT_VARIANTS = [
    dict(n=6, d=20, m=2, classes=3, patches=3, activation="leaky_relu(0.1)", bias=True, output_layer="trained",
         seed=2),
    dict(n=6, d=20, m=2, features="xor", loss="cross_entropy", layout="additive", activation="smoothed_relu(2,0.5)",
         noise="orthogonal", seed=5),
]

JIT_SCRIPT = textwrap.dedent("""
    import pickle, sys
    import numba
    import numpy as np
    from labelnoise_sim.config import SimulationConfig
    from labelnoise_sim.data import sample_data
    from labelnoise_sim.generalization import class_errors, estimate, estimate_loss

    def errors(kwargs):
        config = SimulationConfig(**kwargs)
        G, m, S, N = config.groups, config.m, config.signal_vectors, config.n * config.noise_patches
        rng = np.random.default_rng(config.seed)
        gamma = rng.uniform(0.3, 1.5, (2, G, m) + ((S,) if S > 1 else ()))
        rho, bias = rng.standard_normal((2, G, m, N)), 0.3 * rng.standard_normal((2, G, m))
        weights = rng.standard_normal((2, G, m)) if config.output_layer == "trained" else None
        args = (gamma, rho, sample_data(config).gram, config)
        kwargs = dict(bias=bias, output_weights=weights)
        plain = class_errors(*args, **kwargs, method="monte_carlo", draws=2**9)
        precise = estimate(*args, **kwargs, max_draws=2**9)
        loss = estimate_loss(*args, **kwargs, max_draws=2**13)
        return np.concatenate([a.ravel() for a in (plain, precise.by_class, precise.stderr_by_class, loss.by_class,
                                                   loss.loss, loss.stderr)])

    if __name__ == "__main__":
        assert numba.config.DISABLE_JIT
        sys.stdout.buffer.write(pickle.dumps([errors(kwargs) for kwargs in eval(sys.argv[1])]))
""")


def test_pure_python_gives_the_compiled_test_error_and_test_loss_of_the_data_family(tmp_path):
    script = tmp_path / "data_family_errors.py"
    script.write_text(JIT_SCRIPT)
    # The package of this checkout, wherever the one installed is.
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(script), repr(JIT_VARIANTS)], env=env, capture_output=True, check=True)
    pure = pickle.loads(done.stdout)
    namespace = {}
    exec(compile(JIT_SCRIPT, str(script), "exec"), namespace)
    for kwargs, got in zip(JIT_VARIANTS, pure):
        compiled = namespace["errors"](kwargs)
        np.testing.assert_array_equal(got, compiled)
        assert ((compiled > 0) & (compiled < 1)).any()
