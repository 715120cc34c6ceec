"""Bad input is refused at the boundary with a message naming parameter, range and value."""

import numpy as np
import pytest

from labelnoise_sim import DivergenceError, SimulationConfig, simulate
from labelnoise_sim.config import PARAMETERS

#: Every value that a declared constraint refuses, with the range it states.
DECLARED = [
    ({name: value}, name, parameter.constraint.allowed, repr(value))
    for name, parameter in PARAMETERS.items()
    for value in parameter.constraint.invalid()
]
#: The rules that tie parameters together, and explicit record steps (bounded by steps).
SPECIAL = [
    (dict(d=1, noise="orthogonal"), "d", "integer >= 2 with noise='orthogonal'", "1"),
    (dict(steps=10, record=[0, 11]), "record", "[0, 10]", "11"),
    (dict(steps=10, record=[-1]), "record", "[0, 10]", "-1"),
    (dict(steps=10, record=[]), "record", "[0, 10]", "[]"),
    (dict(steps=10, record=[2.5]), "record", "[0, 10]", "2.5"),
]
BAD = DECLARED + SPECIAL


@pytest.mark.parametrize("kwargs, name, allowed, value", BAD, ids=[str(b[0]) for b in BAD])
def test_bad_parameter_is_named_with_range_and_value(kwargs, name, allowed, value):
    with pytest.raises(ValueError) as info:
        simulate(**kwargs)
    message = str(info.value)
    assert message.startswith(name + " must be"), message
    assert allowed in message and value in message, message


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=0), "n must be an integer >= 1; got 0"),
    (dict(tau=0.5), "tau must be a finite real number in [0, 0.5); got 0.5"),
    (dict(eta=-0.1), "eta must be a finite real number > 0; got -0.1"),
    (dict(noise="gaussian"), "noise must be one of 'isotropic', 'orthogonal'; got 'gaussian'"),
    (dict(record=0), "record must be an integer >= 1; got 0"),
])
def test_messages_read_name_allowed_range_and_value(kwargs, message):
    with pytest.raises(ValueError) as info:
        simulate(**kwargs)
    assert str(info.value) == message


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
