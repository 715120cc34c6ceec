r"""Early stopping without the test set: a held-out split with noisy labels.

The oracle stop of :func:`~labelnoise_sim.analyze` (``best_step``) reads the
clean test error, which a practitioner never has. :func:`simulate_holdout` does
what one does instead: draw the same :math:`n` samples as :func:`~labelnoise_sim.simulate`,
train on the first ``n - n_val`` of them, and watch the error of the network on
the last ``n_val`` against their *observed* (possibly flipped) labels. With
flip rates :math:`\tau_+ = \tau_- = \tau`, the expected noisy-label error is
:math:`\tau + (1 - 2\tau) \cdot (\text{clean error})`, so its minimiser estimates the
clean one; the held-out logistic loss (the default criterion) is a smoother
guide to the same stop.

Held-out outputs are exact: the filters at every record are :math:`W = C V` with the
coefficient matrix :math:`C` of the training run and
:math:`V = [\mu; \xi_{\mathrm{train}}; W^{(0)}]`, so :math:`\langle w_q, \xi_v \rangle` follows from
the Gram matrix of the full draw (which holds
:math:`\langle \xi_{\mathrm{train}}, \xi_v \rangle`) without forming any
:math:`d`-dimensional vector.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._validation import check_choice, check_real
from .config import SimulationConfig
from .data import Data, sample_data
from . import _kernels
from .dynamics import check_memory, describe_runs, kernel_model, memory_bytes, run
from .generalization import coefficient_matrix
from .result import SimulationResult, loss_value

__all__ = ["HoldoutRun", "simulate_holdout", "holdout_outputs"]

CRITERIA = ("error", "loss")


def holdout_outputs(result: SimulationResult, gram_rows: np.ndarray, gram_cols: np.ndarray,
                    y: np.ndarray) -> np.ndarray:
    r"""Network outputs :math:`f(W^{(t)}, x)` on samples :math:`x = [y \mu, \xi^{(2)}, \dots]` outside the training set.

    Parameters
    ----------
    result : SimulationResult
        The training run (coefficients :math:`\gamma` (K, 2, m), :math:`\rho` over its
        :math:`N_{\mathrm{train}}` noise vectors).
    gram_rows : ndarray, shape (1 + N_train + 2m, n_out (P - 1))
        :math:`\langle v, \xi \rangle` for every training vector
        :math:`v = \mu, \xi_1, \dots, \xi_{N_{\mathrm{train}}}, w^{(0)}` (rows, in
        that order) and every noise vector of the new samples (columns,
        sample by sample).
    gram_cols : ndarray, shape (1 + N_train + 2m,)
        :math:`\langle v, \mu \rangle` for the same training vectors.
    y : ndarray, shape (n_out,)
        True labels of the new samples (their signal patch is :math:`y \mu`).

    Returns
    -------
    ndarray, shape (K, n_out)
        The outputs of the run's network: for the paper's model

        .. math::

            f = \frac{1}{m} \sum_r \left[\sigma(\langle w_{+1,r}, y \mu \rangle)
                + \sigma(\langle w_{+1,r}, \xi \rangle)\right] - (\text{same for } j = -1);

        for the family, the very function the dynamics kernel evaluates
        (``_kernels.family_outputs``).
    """
    gram = result.data.gram
    config = result.config
    N, m = result.data.n_vectors, config.m
    C = coefficient_matrix(result.gamma, result.rho, gram[0, 0], np.diag(gram)[1 : 1 + N], result.alpha)
    A = C @ gram_cols  # (K, 2m): ⟨w_q, μ⟩
    B = C @ gram_rows  # (K, 2m, n_out (P - 1)): ⟨w_q, ξ⟩
    y = np.asarray(y, dtype=np.float64)
    if config.paper_model:
        act = np.maximum(A[:, :, None] * y, 0.0) + np.maximum(B, 0.0)
        return (act[:, :m].sum(axis=1) - act[:, m:].sum(axis=1)) / m
    model = kernel_model(config)
    bias = np.zeros((len(result.t), 2 * m)) if result.bias is None else result.bias.reshape(len(result.t), 2 * m)
    outputs = np.empty((len(result.t), y.shape[0], 1))
    slopes, signal_slopes = np.empty(B.shape[1:]), np.empty((2 * m, 1, 2))
    index, out = np.zeros(y.shape[0], np.int64), np.repeat([1.0, -1.0], m)
    for k in range(len(result.t)):
        _kernels.family_outputs(np.ascontiguousarray(A[k][:, None]), np.ascontiguousarray(B[k]), bias[k], index, y,
                                out, model, outputs[k], slopes, signal_slopes, np.empty((0, 0)))
    return outputs[:, :, 0]


@dataclasses.dataclass(frozen=True, eq=False)
class HoldoutRun:
    """A run trained on part of the draw, with outputs on the held-out rest.

    Attributes
    ----------
    result : SimulationResult
        The training run on the first ``n - n_val`` samples of the draw.
    val_y, val_y_noisy : ndarray (n_val,)
        True and observed labels of the held-out samples.
    val_outputs : ndarray (K, n_val)
        Network outputs on the held-out samples at every recorded step.
    criterion : {"error", "loss"}
        What :attr:`stop_step` minimises on the held-out split.
    """

    result: SimulationResult
    val_y: np.ndarray
    val_y_noisy: np.ndarray
    val_outputs: np.ndarray
    criterion: str = "loss"

    @property
    def val_error_noisy(self) -> np.ndarray:
        """Share of held-out samples misclassified against their observed labels, shape (K,)."""
        return np.mean(self.val_outputs * self.val_y_noisy <= 0, axis=1)

    @property
    def val_loss_noisy(self) -> np.ndarray:
        """Mean loss (the run's) on the held-out samples against observed labels, shape (K,)."""
        return loss_value(self.val_outputs * self.val_y_noisy, self.result.config.loss).mean(axis=1)

    @property
    def stop_index(self) -> int:
        """Record index of the latest least held-out ``criterion`` after step 0.

        The held-out error is a step function with long ties on the Stage I
        plateau; the latest tie is the last step before memorisation shows on
        the held-out split, where the signal has grown the most. Step 0, the
        untrained network, is no candidate: on a small split its chance error
        can undercut the plateau.
        """
        curve = self.val_error_noisy if self.criterion == "error" else self.val_loss_noisy
        first = int(np.searchsorted(self.result.t, 1))
        if first >= len(curve):
            return len(curve) - 1
        return int(len(curve) - 1 - np.argmin(curve[first:][::-1]))

    @property
    def stop_step(self) -> int:
        """The step at which held-out early stopping stops (a recorded step)."""
        return int(self.result.t[self.stop_index])

    @property
    def stop_test_error(self) -> float:
        """Clean test error of the training run at :attr:`stop_step`."""
        return float(self.result.test_error[self.stop_index])


def simulate_holdout(*, holdout: float = 0.2, criterion: str = "loss", **params) -> HoldoutRun:
    """Simulate with a held-out noisy validation split and stop early on it.

    Parameters
    ----------
    holdout : float, default 0.2
        The share of the draw held out: its last ``round(holdout * n)`` samples (at
        least one, at most n - 1), so the training part is ``simulate(**params)``'s first samples.
    criterion : {"loss", "error"}, default "loss"
        ``"loss"`` stops at the least held-out loss (the
        run's: logistic by default) against the observed labels, ``"error"`` at the least held-out error.
        The loss is the steadier guide: the error of a split of a few dozen
        samples moves in steps of 1/n_val, and its minimum is often an early
        chance dip (docs/early_stopping.md compares the two).
    **params
        :func:`~labelnoise_sim.simulate`'s keywords; ``n`` is the size
        of the whole draw. The signal norm is resolved for the
        whole draw (``n_snr2`` refers to n) and kept for the training part.

    Returns
    -------
    HoldoutRun
        The training run and its outputs on the held-out samples.

    Raises
    ------
    ValueError
        For a holdout outside (0, 1), an unknown criterion, n < 2, or an option of the data family
        (``features``, ``classes``, ``loss="cross_entropy"``, ``output_layer``), whose held-out outputs are not
        built.
    """
    holdout = check_real("holdout", holdout, low=0, high=1, low_open=True, high_open=True)
    check_choice("criterion", criterion, CRITERIA)
    config = SimulationConfig.from_params(**params)
    if config.data_family:
        raise ValueError(f"simulate_holdout runs the binary single-signal models with a fixed output layer; got "
                         f"features={config.features!r}, classes={config.classes!r}, loss={config.loss!r}, "
                         f"output_layer={config.output_layer!r} (the data family's held-out outputs are not built)")
    n, m = config.n, config.m
    n_val = min(max(int(round(holdout * n)), 1), n - 1) if n > 1 else 0
    if n_val < 1:
        raise ValueError(f"holdout needs n >= 2 to leave samples on both sides; got n={n}")
    n_train = n - n_val
    # The whole draw is made before the training run is checked: check it first.
    check_memory(memory_bytes([config]), describe_runs([config]))
    data = sample_data(config)
    train = np.arange(n_train)
    val = np.arange(n_train, n)
    per = config.noise_patches
    N = n * per
    # The noise vectors of sample i are i P1 .. i P1 + P1 - 1 (P1 = per); rows of the Gram matrix add 1 for μ.
    rows = np.r_[0, 1 + np.arange(n_train * per), 1 + N + np.arange(2 * m)]
    val_vectors = 1 + np.arange(n_train * per, N)
    train_data = Data(
        data.y[train], data.y_noisy[train], data.gram[np.ix_(rows, rows)],
        mu=data.mu if data.has_vectors else None,
        xi=data.xi[train] if data.has_vectors else None,
        W0=data.W0 if data.has_vectors else None,
        sampling=data.sampling, noise_patches=per, bias=config.bias,
    )
    result = run(config.replace(n=n_train), train_data)
    outputs = holdout_outputs(result, data.gram[np.ix_(rows, val_vectors)], data.gram[rows, 0], data.y[val])
    return HoldoutRun(result, data.y[val], data.y_noisy[val], outputs, criterion)
