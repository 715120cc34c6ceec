"""Bad input is refused at the boundary with a message naming parameter, range and value."""

import math

import numpy as np
import pytest

from labelnoise_sim import DivergenceError, SimulationConfig, simulate

BAD = [
    (dict(n=0), "n", "integer >= 1", "0"),
    (dict(n=2.5), "n", "integer >= 1", "2.5"),
    (dict(n="10"), "n", "integer >= 1", "'10'"),
    (dict(d=-3), "d", "integer >= 1", "-3"),
    (dict(m=0), "m", "integer >= 1", "0"),
    (dict(m=True), "m", "integer >= 1", "True"),
    (dict(steps=-1), "steps", "integer >= 0", "-1"),
    (dict(eta=0.0), "eta", "> 0", "0.0"),
    (dict(eta=-0.1), "eta", "> 0", "-0.1"),
    (dict(eta=math.inf), "eta", "finite", "inf"),
    (dict(eta=math.nan), "eta", "finite", "nan"),
    (dict(tau=0.5), "tau", "[0, 0.5)", "0.5"),
    (dict(tau=-0.01), "tau", "[0, 0.5)", "-0.01"),
    (dict(tau_pos=0.7), "tau_pos", "[0, 0.5)", "0.7"),
    (dict(tau_neg=-1), "tau_neg", "[0, 0.5)", "-1"),
    (dict(sigma0=0), "sigma0", "> 0", "0"),
    (dict(sigma_xi=-1.0), "sigma_xi", "> 0", "-1.0"),
    (dict(mu_norm=0.0), "mu_norm", "> 0", "0.0"),
    (dict(snr=-2), "snr", "> 0", "-2"),
    (dict(n_snr2=math.inf), "n_snr2", "finite", "inf"),
    (dict(noise="gaussian"), "noise", "'isotropic', 'orthogonal'", "'gaussian'"),
    (dict(d=1, noise="orthogonal"), "d", "integer >= 2 with noise='orthogonal'", "1"),
    (dict(seed=-1), "seed", "integer >= 0", "-1"),
    (dict(record=0), "record", "integer >= 1", "0"),
    (dict(steps=10, record=[0, 11]), "record", "[0, 10]", "11"),
    (dict(steps=10, record=[-1]), "record", "[0, 10]", "-1"),
    (dict(steps=10, record=[]), "record", "[0, 10]", "[]"),
    (dict(steps=10, record=[2.5]), "record", "[0, 10]", "2.5"),
]


@pytest.mark.parametrize("kwargs, name, allowed, value", BAD, ids=[str(b[0]) for b in BAD])
def test_bad_parameter_is_named_with_range_and_value(kwargs, name, allowed, value):
    with pytest.raises(ValueError) as info:
        simulate(**kwargs)
    message = str(info.value)
    assert message.startswith(name + " must be"), message
    assert allowed in message and value in message, message


@pytest.mark.parametrize("given", [
    dict(mu_norm=1.0, snr=0.1), dict(snr=0.1, n_snr2=2.0), dict(mu_norm=1.0, n_snr2=2.0),
])
def test_conflicting_signal_strengths_are_refused(given):
    with pytest.raises(ValueError, match="at most one of mu_norm, snr and n_snr2"):
        simulate(**given)


def test_tau_excludes_class_rates():
    with pytest.raises(ValueError, match="tau sets both flip rates"):
        simulate(tau=0.1, tau_pos=0.2)


def test_unknown_parameter_is_refused():
    with pytest.raises(TypeError, match="unknown parameter"):
        SimulationConfig.from_params(lr=0.1)


def test_integral_floats_are_accepted_as_sizes():
    assert SimulationConfig(n=20.0, d=np.int64(30)).n == 20


def test_divergence_names_the_step():
    with pytest.raises(DivergenceError, match=r"diverged at step \d+.*eta=1e\+308") as info:
        simulate(n=20, d=50, eta=1e308, steps=20)
    assert 0 < info.value.step <= 20


def test_signal_strength_parametrisations_agree():
    a = SimulationConfig.from_params(n=100, d=400, n_snr2=4.0)
    b = SimulationConfig.from_params(n=100, d=400, snr=a.snr)
    c = SimulationConfig.from_params(n=100, d=400, mu_norm=a.mu_norm)
    assert a.n_snr2 == pytest.approx(4.0)
    assert a.mu_norm == pytest.approx(b.mu_norm) == pytest.approx(c.mu_norm)
