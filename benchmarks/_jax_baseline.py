"""The JAX baseline: full-batch gradient descent on the raw weights, the whole loop compiled.

What a researcher who cares about CPU speed writes: the network and the
logistic loss as array code, ``jax.grad`` for the gradient, and the loop of
plain gradient descent inside ``jax.jit`` (``lax.fori_loop``, or ``lax.scan``
over blocks of steps when outputs are recorded), so that no Python runs
between steps. ``jax.vmap`` of the same loop trains many independent runs in
one compiled call.

The network is the paper's, on the data of a run (``Data`` with its vectors,
``sampling="explicit"``): with W of shape (2, m, d),

    f(W, x_i) = (1/m) Σ_r [σ(⟨w_{+1,r}, y_i μ⟩) + σ(⟨w_{+1,r}, ξ_i⟩)] - (same for w_{-1,r}),
    L(W) = (1/n) Σ_i log(1 + exp(-ỹ_i f(W, x_i))).

The signal patch of every sample is ±μ, so ⟨w, y_i μ⟩ = y_i ⟨w, μ⟩: the
forward pass is one (2m × d)·d product for the signal and one (2m × d)·(d × n)
product for the noise, as in ``labelnoise_sim.reference``. Written over the
(n, 2, d) patches, as the PyTorch baseline is, it would do twice the work;
this is the fastest form we know, so the ratios against it are the
conservative ones. ``jax.nn.relu``'s derivative at 0 is 0, as in the
simulator.

64-bit floats must be switched on before any array is made, so importing this
module does it (``jax_enable_x64``); float32 arrays stay float32 under it.
"""

from __future__ import annotations

import numpy as np

try:
    import jax
except ImportError:  # the bench extra is not installed: callers check ``available()``
    jax = None
else:
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax import lax


def available() -> bool:
    """Whether JAX is installed (``pip install -e ".[bench]"``)."""
    return jax is not None


def clear_compiled() -> None:
    """Forget every compiled program, so that the next call compiles again (to time compilation)."""
    _require()
    jax.clear_caches()


def _require():
    if jax is None:
        raise RuntimeError("JAX is not installed: pip install -e '.[bench]'")


def _outputs(W, mu, xi, y):
    """Network outputs f(W, x_i), shape (n,)."""
    m = W.shape[1]
    signal = jax.nn.relu((W @ mu)[:, :, None] * y)  # (2, m, n): σ(y_i ⟨w, μ⟩)
    noise = jax.nn.relu(W @ xi.T)  # (2, m, n): σ(⟨w, ξ_i⟩)
    F = (signal + noise).sum(axis=1) / m  # (2, n)
    return F[0] - F[1]


def _loss(W, mu, xi, y, y_noisy):
    return jnp.mean(jax.nn.softplus(-y_noisy * _outputs(W, mu, xi, y)))  # log(1 + exp(-ỹ f))


def _steps(W, mu, xi, y, y_noisy, eta, steps):
    """``steps`` steps of gradient descent from W (a traced count: one compilation for every count)."""
    grad = jax.grad(_loss)
    return lax.fori_loop(0, steps, lambda _, W: W - eta * grad(W, mu, xi, y, y_noisy), W)


def _train(W0, mu, xi, y, y_noisy, eta, block, blocks):
    """Outputs at steps 0, block, 2·block, …, blocks·block; shape (blocks + 1, n)."""

    def one_block(W, _):
        W = _steps(W, mu, xi, y, y_noisy, eta, block)
        return W, _outputs(W, mu, xi, y)

    _, f = lax.scan(one_block, W0, None, length=blocks)
    return jnp.concatenate([_outputs(W0, mu, xi, y)[None], f])


# ``blocks`` fixes the length of the scan, hence the compiled program; the step
# count of a block is a traced value, so timing runs of any length reuse one
# compilation per shape and dtype.
_train_one = None if jax is None else jax.jit(_train, static_argnums=7)
# Many runs at once: the data and the weights carry a leading run axis; μ, η and
# the step counts are shared.
_train_many = None if jax is None else jax.jit(
    jax.vmap(_train, in_axes=(0, None, 0, 0, 0, None, None, None)), static_argnums=7)


def _test_error(W, mu, xi_test, y_test):
    """The share of a clean test set that W misclassifies: mean of 1(y f(W, x) <= 0)."""
    return jnp.mean(y_test * _outputs(W, mu, xi_test, y_test) <= 0)


def _train_tested(W0, mu, xi, y, y_noisy, eta, counts, xi_test, y_test):
    """The clean test-set error after each segment of ``counts[j]`` steps (the steps between records)."""

    def segment(W, count):
        W = _steps(W, mu, xi, y, y_noisy, eta, count)
        return W, _test_error(W, mu, xi_test, y_test)

    return lax.scan(segment, W0, counts)[1]


# The fair peer of a sweep: many runs, each scoring one shared clean test set at the recorded steps.
_train_tested_many = None if jax is None else jax.jit(
    jax.vmap(_train_tested, in_axes=(0, None, 0, 0, 0, None, None, None, None)))


def test_set(config, size: int, seed: int, dtype: str = "float32"):
    """A clean test set of ``size`` fresh samples of the run's law (its own generator): ξ (size, d) and y (size,)."""
    _require()
    rng = np.random.default_rng(seed)
    y = rng.choice([-1.0, 1.0], size)
    xi = config.sigma_xi * rng.standard_normal((size, config.d))
    dt = jnp.dtype(dtype)
    return jnp.asarray(xi, dt), jnp.asarray(y, dt)


def jax_tested_many(datas, eta: float, record_steps, xi_test, y_test, dtype: str = "float32"):
    """``jax.vmap`` over runs of one shape: the clean error of a shared test set (from :func:`test_set`) at
    each of ``record_steps`` (increasing, from 0), as a user without the exact estimate measures it; the
    whole loop compiled. Returns the errors (runs, records) as float64 NumPy."""
    counts = jnp.asarray(np.diff(np.r_[0, np.asarray(record_steps)]), jnp.int32)
    out = _train_tested_many(*stacked_arrays(datas, dtype), eta, counts, xi_test, y_test)
    return np.asarray(out, dtype=np.float64)


def arrays(data, dtype: str = "float64"):
    """The JAX arrays of one run's data: W0 (2, m, d), μ (d,), ξ (n, d), y, ỹ (n,)."""
    _require()
    dt = jnp.dtype(dtype)
    return (jnp.asarray(data.W0, dt), jnp.asarray(data.mu, dt), jnp.asarray(data.xi, dt),
            jnp.asarray(data.y, dt), jnp.asarray(data.y_noisy, dt))


def stacked_arrays(datas, dtype: str = "float32"):
    """The arrays of several runs of one shape with a leading run axis (μ is shared: μ = ‖μ‖ e₁ in every run)."""
    _require()
    dt = jnp.dtype(dtype)
    mu = datas[0].mu
    if any(not np.array_equal(d.mu, mu) for d in datas):
        raise ValueError("the runs must share μ")
    stack = lambda name: jnp.asarray(np.stack([getattr(d, name) for d in datas]), dt)  # noqa: E731
    return stack("W0"), jnp.asarray(mu, dt), stack("xi"), stack("y"), stack("y_noisy")


def train(args, eta: float, steps: int, record_every: int | None = None):
    """Run the compiled loop on arrays from :func:`arrays` or :func:`stacked_arrays`.

    Returns the float64 NumPy outputs at steps 0, k, 2k, …, steps for
    ``record_every=k`` (which must divide ``steps``; default: only 0 and
    ``steps``), shape (records, n), or (runs, records, n) for stacked arrays.
    """
    block = steps if record_every is None else record_every
    if block <= 0 or steps % block:
        raise ValueError(f"record_every={record_every} must be positive and divide steps={steps}")
    stacked = args[0].ndim == 4
    fn = _train_many if stacked else _train_one
    out = fn(*args, eta, block, steps // block)
    return np.asarray(out, dtype=np.float64)


def jax_gd(data, eta: float, steps: int, dtype: str = "float64", record_every: int | None = None):
    """The whole baseline call on one run's data, as timed: arrays in, compiled loop, outputs back.

    Returns the outputs (records, n) as :func:`train` does.
    """
    return train(arrays(data, dtype), eta, steps, record_every)


def jax_gd_many(datas, eta: float, steps: int, dtype: str = "float32", record_every: int | None = None):
    """``jax.vmap`` of the compiled loop over runs of one shape; outputs (runs, records, n)."""
    return train(stacked_arrays(datas, dtype), eta, steps, record_every)

