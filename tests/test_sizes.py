"""Sizes are checked before any work: what numpy can index, what float64 can hold, what memory the machine has.

Nothing here allocates a large array: every refusal comes before the draw.
"""

import numpy as np
import pytest

from labelnoise_sim import SimulationConfig, simulate
from labelnoise_sim.config import MAX_D, MAX_GRAM_SIDE, MAX_STEPS


@pytest.mark.parametrize("kwargs, name, shown", [
    pytest.param(dict(n=1e300), "n", "n=1e+300", id="n=1e300"),
    pytest.param(dict(n=10**400), "n", "n=1000000", id="n=10**400"),
    pytest.param(dict(n=10**400, n_snr2=2.0), "n", "n=1000000", id="n=10**400,n_snr2"),
    pytest.param(dict(m=10**12), "m", "m=1000000000000", id="m=10**12"),
    pytest.param(dict(n=MAX_GRAM_SIDE - 2, m=1), "n", f"n={MAX_GRAM_SIDE - 2}", id="gram-side+1"),
    pytest.param(dict(d=1e300), "d", "got 1e+300", id="d=1e300"),
    pytest.param(dict(d=10**400), "d", "got 1000000", id="d=10**400"),
    pytest.param(dict(d=MAX_D + 1, sampling="gram"), "d", f"got {MAX_D + 1}", id="d=2**63+1,gram"),
    pytest.param(dict(steps=10**30), "steps", "got 1000000", id="steps=10**30"),
    pytest.param(dict(steps=MAX_STEPS + 3), "steps", f"got {MAX_STEPS + 3}", id="steps=2**53+3"),
])
def test_sizes_past_what_numpy_or_float64_can_index_are_refused_naming_the_parameter(kwargs, name, shown):
    with pytest.raises(ValueError) as info:
        SimulationConfig.from_params(**kwargs)
    message = str(info.value)
    assert message.startswith(f"{name} must be an integer"), message
    assert shown in message, message


def test_the_largest_sizes_allowed_are_usable():
    assert SimulationConfig(n=MAX_GRAM_SIDE - 3, m=1).n == MAX_GRAM_SIDE - 3
    # The default record grid stays within the steps up to the bound (2**53 + 3 would record 2**53 + 4).
    assert SimulationConfig(steps=MAX_STEPS).record_steps.max() == MAX_STEPS
    result = simulate(n=10, m=2, d=MAX_D, steps=5, sampling="gram")
    assert np.isfinite(result.outputs).all()


@pytest.mark.parametrize("sampling", ["explicit", "gram"])
@pytest.mark.parametrize("kwargs, names, size", [
    (dict(sigma_xi=1e200, mu_norm=1.0), "sigma_xi", "large"),
    (dict(sigma_xi=1e200), "mu_norm and sigma_xi", "large"),  # the default mu_norm follows sigma_xi
    (dict(sigma0=1e200), "sigma0", "large"),
    (dict(mu_norm=1e300), "mu_norm", "large"),
    (dict(mu_norm=1e-200), "mu_norm", "small"),
    (dict(sigma_xi=1e-200, mu_norm=1.0), "sigma_xi", "small"),
])
def test_statistics_beyond_float64_are_named_not_blamed_on_eta(sampling, kwargs, names, size):
    with pytest.raises(ValueError) as info:
        simulate(n=10, d=20, m=2, steps=5, sampling=sampling, **kwargs)
    message = str(info.value)
    assert message.startswith(f"{names} too {size}: the Gram statistics of the data"), message
    assert "overflow float64" in message if size == "large" else "underflow to 0" in message
