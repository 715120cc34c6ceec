"""Which samples, and which labels, each step of a stochastic run uses.

Two options make the steps random: minibatch SGD (``batch_size`` below n)
and label-noise gradient descent (``label_noise`` > 0). The update from step
t to step t + 1 then uses

- the samples of the minibatch B_t: epoch e = t // E (E = ⌈n / batch_size⌉
  steps an epoch) draws a fresh permutation of the n samples, and step t takes
  its slice number t mod E of ``batch_size`` samples (the last one of an epoch
  is shorter when batch_size does not divide n);
- a multiplier ε_{t,i} = ±1 of each label: -1 with probability ``label_noise``,
  drawn afresh every step (all +1 without label noise).

and its loss is ``(1/|B_t|) Σ_{i ∈ B_t} ℓ(ε_{t,i} ỹ_i f_i)``. Every draw comes from
the run's seed, epoch by epoch and block by block of steps
(:func:`labelnoise_sim.data.substream`), so :func:`schedule` replays any one
step without the steps before it, and an outside implementation of the same
run can take its minibatches and labels from here.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_int
from .config import SimulationConfig
from .data import substream

__all__ = ["schedule", "step_weights", "steps_per_epoch", "LABEL_NOISE_BLOCK"]

#: Steps whose label multipliers are drawn together, from one generator.
LABEL_NOISE_BLOCK = 1024


def steps_per_epoch(config: SimulationConfig) -> int:
    r"""The steps of an epoch, :math:`E = \lceil n / \text{batch\_size} \rceil` (1 for full-batch runs).

    Parameters
    ----------
    config : SimulationConfig
        The run.

    Returns
    -------
    int
        :math:`E`.
    """
    size = config.batch_size or config.n
    return -(-config.n // size)


def _epoch_batches(config: SimulationConfig, epoch: int) -> list[np.ndarray]:
    """The minibatches of epoch ``epoch``: consecutive slices of batch_size samples of a fresh permutation."""
    size = config.batch_size
    order = substream(config.seed, "batches", epoch).permutation(config.n)
    return [order[start : start + size] for start in range(0, config.n, size)]


def _batch(config: SimulationConfig, step: int) -> np.ndarray:
    if (config.batch_size or config.n) >= config.n:
        return np.arange(config.n)
    epoch, position = divmod(step, steps_per_epoch(config))
    return _epoch_batches(config, epoch)[position]


def _signs(config: SimulationConfig, first: int, last: int) -> np.ndarray:
    """ε_{t,i} for the steps first..last-1 and every sample, shape (last - first, n), int8."""
    out = np.ones((last - first, config.n), dtype=np.int8)
    if config.label_noise == 0:
        return out
    for block in range(first // LABEL_NOISE_BLOCK, (last - 1) // LABEL_NOISE_BLOCK + 1):
        start = block * LABEL_NOISE_BLOCK
        flips = substream(config.seed, "label_noise", block).random((LABEL_NOISE_BLOCK, config.n)) < config.label_noise
        lo, hi = max(first, start), min(last, start + LABEL_NOISE_BLOCK)
        out[lo - first : hi - first][flips[lo - start : hi - start]] = -1
    return out


def schedule(config: SimulationConfig, step: int) -> tuple[np.ndarray, np.ndarray]:
    r"""The minibatch of the update from ``step`` to ``step + 1``, and the multipliers of its labels.

    Parameters
    ----------
    config : SimulationConfig
        The run.
    step : int
        A step number in [0, ``config.steps``).

    Returns
    -------
    indices : ndarray of int64, shape ``(|B_t|,)``
        The samples of the step, in the order of the epoch's permutation
        (all n in order for full-batch runs).
    signs : ndarray of float64, shape ``(|B_t|,)``
        :math:`\varepsilon_{t,i} = \pm 1` for those samples: the loss of the step uses the label
        :math:`\varepsilon_{t,i} \tilde y_i`.

    Examples
    --------
    >>> from labelnoise_sim import SimulationConfig
    >>> indices, signs = schedule(SimulationConfig(n=10, batch_size=4, steps=5), 2)
    >>> len(indices), signs.tolist()
    (2, [1.0, 1.0])
    """
    step = check_int("step", step, low=0, high=max(config.steps - 1, 0))
    indices = _batch(config, step)
    return indices, _signs(config, step, step + 1)[0, indices].astype(np.float64)


def step_weights(config: SimulationConfig, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
    r"""The schedule of the steps first..last-1 in the form the kernel takes.

    Parameters
    ----------
    config : SimulationConfig
        The run.
    first, last : int
        The steps :math:`t` with ``first <= t < last``.

    Returns
    -------
    eps : ndarray of int8, shape (last - first, n)
        :math:`\varepsilon_{t,i}` for the samples of :math:`B_t`, 0 for the others.
    inverse_size : ndarray of float64, shape (last - first,)
        :math:`1 / |B_t|`.
    """
    eps = _signs(config, first, last)
    n, size = config.n, config.batch_size or config.n
    if size < n:
        member = np.zeros(eps.shape, dtype=bool)
        per_epoch = steps_per_epoch(config)
        for epoch in range(first // per_epoch, (last - 1) // per_epoch + 1):
            batches = _epoch_batches(config, epoch)
            for t in range(max(first, epoch * per_epoch), min(last, (epoch + 1) * per_epoch)):
                member[t - first, batches[t - epoch * per_epoch]] = True
        eps[~member] = 0
    return eps, 1.0 / np.count_nonzero(eps, axis=1).astype(np.float64)
