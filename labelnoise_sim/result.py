r"""The outcome of one run: :class:`SimulationResult`.

Shapes, with :math:`K` recorded steps: records × class (2) × filter (m) × sample (n);
class index 0 is :math:`j = +1`, index 1 is :math:`j = -1`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import struct
import zipfile
import zlib
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from . import _progress, generalization, schedule
from .analysis import record_index
from .config import SAMPLINGS, SimulationConfig, record_count
from .data import Data

if TYPE_CHECKING:  # an optional extra
    import xarray

__all__ = ["SimulationResult", "Velocity", "load", "logistic_loss", "loss_value"]

FORMAT_VERSION = 1

#: Blocks of recorded steps the test error is estimated in when it shows a progress bar: an update every 5 %.
#: Measured, warm, on 2 cores (121 records): 1.32-1.40 s in one call, 1.44 s in blocks (default run); ReLU^2
#: 6.0-6.3 s against 6.2-6.7 s. Without a bar to show, one call.
TEST_ERROR_BLOCKS = 20


def logistic_loss(z):
    r""":math:`\ell(z) = \log(1 + e^{-z})`, without overflow for any finite :math:`z`.

    Parameters
    ----------
    z : array_like of float
        Margins.

    Returns
    -------
    ndarray of float64
        The loss of each margin, the shape of ``z``.

    Examples
    --------
    >>> logistic_loss([0.0, 1000.0, -1000.0])
    array([6.93147181e-01, 0.00000000e+00, 1.00000000e+03])
    """
    return np.logaddexp(0.0, -np.asarray(z, dtype=np.float64))


def loss_value(z, loss: str = "logistic"):
    r""":math:`\ell(z)` of the loss named ``loss``, elementwise, without overflow where finite.

    Parameters
    ----------
    z : array_like of float
        Margins.
    loss : {"logistic", "hinge", "exponential", "squared"}, default "logistic"
        The loss (``SimulationConfig.loss``): :math:`\log(1 + e^{-z})`, :math:`\max(0, 1 - z)`,
        :math:`e^{-z}` or :math:`(1 - z)^2 / 2`.

    Returns
    -------
    ndarray of float64
        The loss of each margin, the shape of ``z``.

    Examples
    --------
    >>> loss_value([0.0, 2.0], "hinge")
    array([1., 0.])
    """
    z = np.asarray(z, dtype=np.float64)
    if loss == "logistic":
        return logistic_loss(z)
    if loss == "hinge":
        return np.maximum(1.0 - z, 0.0)
    if loss == "exponential":
        with np.errstate(over="ignore"):
            return np.exp(-z)
    return 0.5 * (1.0 - z) ** 2


class Velocity(NamedTuple):
    r"""The heavy-ball buffer of a run with momentum, in the coefficients of the weights, at each record.

    .. math::

        v_{j,r} = v_\alpha w_{j,r}^{(0)} + j v_\gamma \frac{\mu}{\|\mu\|^2} + \sum_k v_\rho \frac{\xi_k}{\|\xi_k\|^2}

    (the buffer of torch.optim.SGD for the filters), and :math:`v_\beta` for the bias.

    Attributes
    ----------
    gamma : ndarray of float64, shape (K, 2, m)
        :math:`v_\gamma`.
    rho : ndarray of float64
        :math:`v_\rho`, the shape of ``SimulationResult.rho``.
    alpha : ndarray of float64, shape (K,), or None
        :math:`v_\alpha`; None without weight decay (it stays 0).
    bias : ndarray of float64, shape (K, 2, m), or None
        :math:`v_\beta`; None without a bias.
    output_weights : ndarray of float64, shape (K, G, m), or None
        The buffer of the output weights; None unless they are trained.
    """

    gamma: np.ndarray  #: (K, 2, m)
    rho: np.ndarray  #: the shape of ``SimulationResult.rho``
    alpha: np.ndarray | None  #: (K,)
    bias: np.ndarray | None  #: (K, 2, m)
    output_weights: np.ndarray | None = None  #: (K, G, m)


@dataclasses.dataclass(frozen=True, eq=False)
class SimulationResult:
    r"""Recorded trajectory of one run.

    At each recorded step every filter is

    .. math::

        w_{j,r} = \alpha\, w_{j,r}^{(0)} + j \gamma_{j,r} \frac{\mu}{\|\mu\|^2}
            + \sum_{i=1}^{n} \rho_{j,r,i} \frac{\xi_i}{\|\xi_i\|^2},

    with :math:`j \in \{+1, -1\}`, :math:`r = 1, \dots, m` and :math:`\alpha = 1`
    without weight decay (a sum over :math:`i` and the noise patches
    :math:`p` with more than one). The arrays below hold these
    coefficients at the :math:`K` recorded steps.

    Derived arrays (``sample_loss``, ``test_error``, ``test_loss``, ...) are computed on first
    access and cached.

    Attributes
    ----------
    config : SimulationConfig
        Every parameter of the run.
    data : Data
        Labels (``y``, ``y_noisy``, ``is_noisy``), Gram statistics and, for
        explicit sampling, the vectors ``mu`` :math:`(d,)`, ``xi`` :math:`(n, d)`, ``W0`` :math:`(2, m, d)`.
    t : ndarray of int64, shape (K,)
        Recorded steps.
    gamma : ndarray, shape (K, 2, m)
        Signal coefficients :math:`\gamma_{j,r}`.
    rho : ndarray, shape (K, 2, m, n), or (K, 2, m, n, P - 1) with more than one noise patch
        Noise coefficients :math:`\rho_{j,r,i}` (signed), :math:`\rho_{j,r,i,p}` of noise patch :math:`p`.
    outputs : ndarray, shape (K, n)
        Network outputs :math:`f(W^{(t)}, x_i)` on the training samples.
    alpha : ndarray, shape (K,), or None
        With weight decay, the factor :math:`\alpha` of the initial filters; None (:math:`\alpha = 1`)
        without.
    bias : ndarray, shape (K, 2, m), or None
        The trained bias :math:`b_{j,r}` (``bias=True``).
    velocity : Velocity or None
        The heavy-ball buffer (``momentum > 0``).
    output_weights : ndarray, shape (K, G, m)
        The second layer :math:`v_{g,r}` at each record: trained with
        ``output_layer="trained"``, else the fixed :math:`\pm 1/m` (or :math:`1/m` per class; :math:`\pm 1`, 1
        with ``output_scale="sum"``), a read-only broadcast view.
    """

    config: SimulationConfig
    data: Data
    t: np.ndarray
    gamma: np.ndarray
    rho: np.ndarray
    outputs: np.ndarray
    alpha: np.ndarray | None = None
    bias: np.ndarray | None = None
    velocity: Velocity | None = None
    output_weights: np.ndarray | None = None

    def __post_init__(self):
        if self.output_weights is None:  # the fixed layer, at every record
            fixed = self.config.initial_output_weights
            object.__setattr__(self, "output_weights", np.broadcast_to(fixed, (len(self.t),) + fixed.shape))

    # Coefficients ----------------------------------------------------------

    @property
    def rho_bar(self) -> np.ndarray:
        r""":math:`\bar\rho = \max(\rho, 0)`, shape (K, 2, m, n): the memorisation part."""
        return np.maximum(self.rho, 0.0)

    @property
    def rho_under(self) -> np.ndarray:
        r""":math:`\min(\rho, 0)`, shape (K, 2, m, n): the part that stays bounded below."""
        return np.minimum(self.rho, 0.0)

    def weights(self, step: int) -> np.ndarray:
        r"""Rebuild the filters at the recorded step ``step`` from the coefficients.

        :math:`W = \alpha W^{(0)} + j \gamma \mu/\|\mu\|^2 + \sum_k \rho_k \xi_k/\|\xi_k\|^2`;
        needs explicit sampling.

        Parameters
        ----------
        step : int
            A recorded step number (a value of ``t``).

        Returns
        -------
        ndarray of float64, shape (G, m, d)
            The filters :math:`w_{g,r}` (G = 2 for the binary model: :math:`w_{j,r}`).

        Raises
        ------
        ValueError
            If ``step`` was not recorded.
        AttributeError
            For a run with ``sampling="gram"``, which has no d-dimensional vectors.
        """
        data = self.data
        if not data.has_vectors:
            raise AttributeError(
                f"weights() needs the d-dimensional vectors μ, ξ_i and W⁽⁰⁾, which a run with "
                f"sampling={data.sampling!r} never draws; rerun with sampling='explicit' to rebuild filters"
            )
        k = record_index(self, step)
        config = self.config
        G, m = config.groups, config.m
        xi = data.xi.reshape(data.n_vectors, -1)
        # Group signs j (binary) times γ (K, G, m[, S]), over the signal vectors u_s / ‖u_s‖².
        gamma = self.gamma[k].reshape(G * m, -1) * np.repeat(config.group_signs, m)[:, None]
        signal = (gamma @ (data.signal_vectors / data.signal_sq[:, None])).reshape(G, m, -1)
        noise = self.rho[k].reshape(G, m, -1) @ (xi / data.xi_sq[:, None])
        alpha = 1.0 if self.alpha is None else self.alpha[k]
        return alpha * data.W0 + signal + noise

    def _options(self) -> dict:
        """The arrays that options add (see ``_optional_members``), by member name; None where absent."""
        velocity = self.velocity or Velocity(None, None, None, None)
        trained = self.output_weights if self.config.output_layer == "trained" else None
        return {"alpha": self.alpha, "bias": self.bias, "output_weights": trained, "velocity_gamma": velocity.gamma,
                "velocity_rho": velocity.rho, "velocity_alpha": velocity.alpha, "velocity_bias": velocity.bias,
                "velocity_output_weights": velocity.output_weights}

    def schedule(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        r"""The minibatch and label multipliers of the update from ``step`` to ``step + 1``.

        See :func:`labelnoise_sim.schedule.schedule`: with them an outside
        implementation replays a stochastic run exactly.

        Parameters
        ----------
        step : int
            A step number in [0, ``config.steps``).

        Returns
        -------
        indices : ndarray of int64, shape ``(|B_t|,)``
            The samples of the step's minibatch.
        signs : ndarray of float64, shape ``(|B_t|,)``
            The multiplier :math:`\pm 1` of each one's observed label.
        """
        return schedule.schedule(self.config, step)

    # Training set ----------------------------------------------------------

    @cached_property
    def margins(self) -> np.ndarray:
        r"""The margin of each sample's observed label, shape (K, n).

        :math:`\tilde y_i f(x_i)` for the binary model; with one output per class,
        :math:`F_{\tilde c_i}(x_i) - \max_{g \ne \tilde c_i} F_g(x_i)`. Positive where the
        sample is classified as its observed label.
        """
        return self._margins(self.data.y_noisy)

    def _margins(self, labels) -> np.ndarray:
        if not self.config.multiclass:
            return self.outputs * labels
        F = self.outputs
        own = np.take_along_axis(F, np.broadcast_to(labels[None, :, None], F.shape[:2] + (1,)), axis=2)[..., 0]
        others = F.copy()
        np.put_along_axis(others, np.broadcast_to(labels[None, :, None], F.shape[:2] + (1,)), -np.inf, axis=2)
        return own - others.max(axis=2)

    @cached_property
    def sample_loss(self) -> np.ndarray:
        r""":math:`\ell(\tilde y_i f(x_i))` of the run's loss, shape (K, n).

        With one output per class, the softmax cross-entropy
        :math:`\log \sum_g e^{F_g(x_i)} - F_{\tilde c_i}(x_i)`.
        """
        if not self.config.multiclass:
            return loss_value(self.margins, self.config.loss)
        from scipy.special import logsumexp  # scipy.special costs half of numpy and numba's import: where used

        F = self.outputs
        labels = np.broadcast_to(self.data.y_noisy[None, :, None], F.shape[:2] + (1,))
        return logsumexp(F, axis=2) - np.take_along_axis(F, labels, axis=2)[..., 0]

    @cached_property
    def train_loss(self) -> np.ndarray:
        """Training loss L_S, shape (K,)."""
        return self.sample_loss.mean(axis=1)

    @cached_property
    def fitted(self) -> np.ndarray:
        """Whether each sample is classified as its observed label, shape (K, n)."""
        return self.margins > 0

    @property
    def train_acc_clean(self) -> np.ndarray:
        """Share of clean samples fitted, shape (K,) (NaN if there are none)."""
        return _share(self.fitted, ~self.data.is_noisy)

    @property
    def train_acc_noisy(self) -> np.ndarray:
        """Share of noisy samples classified as their noisy label (memorised), shape (K,)."""
        return _share(self.fitted, self.data.is_noisy)

    @property
    def train_acc_noisy_true(self) -> np.ndarray:
        """Share of noisy samples classified as their true label, shape (K,)."""
        return _share(self._margins(self.data.y) > 0, self.data.is_noisy)

    # Test error ---------------------------------------------------------

    @cached_property
    def test_error_estimate(self) -> generalization.TestErrorEstimate:
        r"""The test error of every recorded step with its standard errors (:func:`generalization.estimate`).

        Each step's clean test error is estimated to 2 % at 95 % confidence,
        down to errors of 1e-12 and below, from draws fixed by the run's seed.
        Raises :class:`~labelnoise_sim.DivergenceError` naming the first
        recorded step whose test statistics are not finite (:math:`\eta` far too large:
        the training outputs can stay finite longer than :math:`W \Sigma W^\top`).
        """
        return self._estimate(np.arange(len(self.t)))

    def __getstate__(self):
        # The test error's draws (up to tens of MB) are made again where they are needed, not carried along.
        return {key: value for key, value in self.__dict__.items() if key != "_test_draws"}

    def test_error_at(self, records: ArrayLike) -> np.ndarray:
        """The clean test error at some records, as :attr:`test_error` has them.

        A step's estimate does not depend on the other steps estimated with
        it: this is :attr:`test_error` at those records, bit for bit, at the
        cost of those records only.

        Parameters
        ----------
        records : array_like of int, shape (R,)
            Record indices (indices into ``t``, not step numbers).

        Returns
        -------
        ndarray of float64, shape (R,)
            The clean test error at each record.
        """
        return self.test_error_estimate_at(records).by_class.mean(axis=1)

    def test_error_estimate_at(self, records: ArrayLike,
                               rse: float = generalization.TARGET_RSE) -> generalization.TestErrorEstimate:
        """The test error and its standard errors at some records, to a relative standard error.

        With the default ``rse`` the numbers are :attr:`test_error_estimate`'s
        at those records, bit for bit, at the cost of those records only. A
        larger ``rse`` (a rough look: 0.1 costs about 100 times fewer draws)
        gives estimates of their own, or the whole curve's where it is
        already there (it is at least as precise).

        Parameters
        ----------
        records : array_like of int, shape (R,)
            Record indices (indices into ``t``, not step numbers).
        rse : float, default ``generalization.TARGET_RSE``
            The relative standard error to reach.

        Returns
        -------
        TestErrorEstimate
            :attr:`test_error_estimate`'s fields at those records.
        """
        records = np.asarray(records, dtype=np.int64)
        if "test_error_estimate" in self.__dict__ and rse >= generalization.TARGET_RSE:
            return generalization.TestErrorEstimate(*(field[records] for field in self.test_error_estimate))
        return self._estimate(records, rse)

    def _estimate(self, records, rse=generalization.TARGET_RSE, method=generalization.estimate):
        """``method`` (``generalization.estimate`` or ``estimate_loss``) of the given records, on the result's
        draws; a DivergenceError if one is not finite.

        A result of :func:`~labelnoise_sim.simulate` reports progress as it
        was asked to (``progress``; results made otherwise, such as a sweep's,
        stay silent): the records are then estimated in blocks, one bar update
        each. A record's estimate does not depend on the others estimated with
        it, so the blocks give the same bits.
        """
        c = self.config
        progress = self.__dict__.get("_progress", False)
        _progress.announce_compilation("test error", generalization.kernels(c), progress)
        if "_test_draws" not in self.__dict__:
            self.__dict__["_test_draws"] = generalization.estimate_draws(c)
        name = "test error" if method is generalization.estimate else "test loss"
        bar = _progress.bar(len(records), name, "step", progress)
        # Blocks only for a bar that can show (tqdm turns an automatic one off where no one sees it).
        shown = not getattr(bar, "disable", True)
        blocks = np.array_split(records, min(len(records), TEST_ERROR_BLOCKS)) if shown else [records]
        parts = []
        try:
            for block in blocks:
                parts.append(self._estimate_block(block, rse, method))
                bar.update(len(block))
        finally:
            bar.close()
        if len(parts) == 1:
            return parts[0]
        return type(parts[0])(*(np.concatenate(field) for field in zip(*parts)))

    def _estimate_block(self, records, rse, method):
        c = self.config
        pick = (lambda a: None if a is None else a[records])
        output_weights = self.output_weights if c.output_layer == "trained" else None
        estimate = method(self.gamma[records], self.rho[records], self.data.gram, c, alpha=pick(self.alpha),
                          bias=pick(self.bias), output_weights=pick(output_weights), rse=rse,
                          draws=self.__dict__["_test_draws"])
        # The statistics are not finite exactly where both estimates are NaN (an overflowing loss is inf).
        undefined = np.flatnonzero(np.isnan(estimate.by_class).any(axis=1))
        if undefined.size:
            # dynamics imports this module, so its error is imported where it is raised.
            from .dynamics import DivergenceError

            raise DivergenceError(
                int(self.t[records[undefined[0]]]), c.eta,
                what="the statistics of the test error (the filters' covariance W Σ Wᵀ) are no longer "
                     "finite, although the outputs on the training set are",
            )
        return estimate

    @property
    def test_error_by_class(self) -> np.ndarray:
        r"""The misclassification probability of a fresh sample of each true class, shape (K, G).

        :math:`P(y f(x) \le 0 \mid y)`, columns :math:`y = +1`, :math:`y = -1`, for the models of one output;
        :math:`P(\operatorname{argmax}_g F_g(x) \ne c \mid c)`, columns :math:`c = 0, \dots, C - 1`, for one output
        per class (the first largest output, as numpy's argmax: a tie with a class before :math:`c` is a
        mistake). A class that carries several signal patterns (``features``) averages them with their
        probabilities.
        """
        return self.test_error_estimate.by_class

    @property
    def test_error(self) -> np.ndarray:
        """Clean test error (against true labels), shape (K,)."""
        return self.test_error_by_class.mean(axis=1)

    @property
    def test_error_stderr(self) -> np.ndarray:
        """Standard error of :attr:`test_error`, shape (K,): at most 1/106 of it (2 % at 95 % confidence).

        The spread of the estimate's replicates, for every model (one output or one per class), unless a step
        reached the cap of draws first (:func:`~labelnoise_sim.generalization.estimate`); then what it reached.
        """
        return self.test_error_estimate.stderr

    @property
    def test_error_noisy(self) -> np.ndarray:
        r"""Test error against labels flipped at the run's rates, shape (K,).

        A label of class :math:`c` flipped with probability :math:`\tau_c` to another class chosen uniformly is
        missed with probability :math:`(1 - \tau_c) e_c + \tau_c (1 - e_c / (C - 1))`, :math:`e_c` the class's
        error (a mistake falls on each other class alike on average over the flips' targets); with two classes,
        :math:`(1 - \tau_c) e_c + \tau_c (1 - e_c)`.
        """
        err = self.test_error_by_class
        c = self.config
        tau = np.array([c.tau_pos, c.tau_neg]) if c.classes == 2 else np.full(c.classes, c.tau_pos)
        return ((1 - tau) * err + tau * (1 - err / (c.classes - 1))).mean(axis=1)

    # Test loss ----------------------------------------------------------------

    @cached_property
    def test_loss_estimate(self) -> generalization.TestLossEstimate:
        r"""The test loss of every recorded step with its standard error (:func:`generalization.estimate_loss`).

        :math:`L_{\mathcal D} = \tfrac12 \sum_{y = \pm 1} E[\ell(y f(W, x)) \mid y]`, the run's loss on a fresh
        clean sample (with one output per class the mean over the classes of the softmax cross-entropy
        :math:`E[-\log \operatorname{softmax}(F(W, x))_c \mid c]`; a class of several signal patterns averages
        them with their probabilities), from the same Gaussian law and draws as the test error, to 1 %
        relative standard error. Raises :class:`~labelnoise_sim.DivergenceError` as :attr:`test_error_estimate`
        does.
        """
        return self._estimate(np.arange(len(self.t)), generalization.LOSS_RSE, generalization.estimate_loss)

    def test_loss_at(self, records: ArrayLike) -> np.ndarray:
        """Estimate the test loss of the given records only, as :attr:`test_loss` has them, bit for bit.

        Parameters
        ----------
        records : array of int
            Record indices (into ``t``).

        Returns
        -------
        ndarray of float64
            The test loss of each, at the cost of those records only.
        """
        records = np.asarray(records, dtype=np.int64)
        if "test_loss_estimate" in self.__dict__:
            return self.test_loss_estimate.loss[records]
        return self._estimate(records, generalization.LOSS_RSE, generalization.estimate_loss).loss

    @property
    def test_loss(self) -> np.ndarray:
        r"""Clean test loss :math:`E[\ell(y f(W, x))]` of a fresh sample, shape (K,) (compare :attr:`train_loss`)."""
        return self.test_loss_estimate.loss

    @property
    def test_loss_stderr(self) -> np.ndarray:
        """Standard error of :attr:`test_loss`, shape (K,).

        At most 1 % of it, but where :func:`~labelnoise_sim.generalization.estimate_loss` says otherwise (a
        loss carried by rare draws).
        """
        return self.test_loss_estimate.stderr

    # Export ------------------------------------------------------------------

    def to_xarray(self, test_error: bool = True) -> xarray.Dataset:
        """The trajectory as an ``xarray.Dataset`` with dimensions t, j, r, i.

        Coordinates: ``t`` (recorded steps), ``j`` (+1, -1), ``r`` (filter),
        ``i`` (sample), and ``p`` (noise patch) with more than two patches;
        with one output per class ``c`` (the group of filters) in place of
        ``j`` and ``o`` (the output), with several signal vectors ``s``.
        Holds the coefficients (α and the bias where trained), outputs and
        per-sample losses, the training curves, the clean test error with its
        standard error, and the labels; the parameters are in ``attrs``.
        Needs the optional ``xarray`` package.

        Parameters
        ----------
        test_error : bool, default True
            Include ``test_error`` and ``test_error_stderr`` (:attr:`test_error`, computed on first use:
            several times the run's own cost); False leaves them out.

        Returns
        -------
        xarray.Dataset
            The trajectory.
        """
        try:
            import xarray as xr
        except ImportError as exc:
            raise ImportError("to_xarray() needs xarray: pip install 'labelnoise-sim[xarray]'") from exc
        c, data = self.config, self.data
        # The groups of filters: j = +1, -1 for the binary model, the class c with one output per class.
        group = "c" if c.multiclass else "j"
        coords = {"t": self.t, group: np.arange(c.classes) if c.multiclass else [1, -1], "r": np.arange(c.m),
                  "i": np.arange(c.n)}
        rho_dims = ("t", group, "r", "i") + (("p",) if self.rho.ndim == 5 else ())
        if self.rho.ndim == 5:
            coords["p"] = np.arange(1, c.patches)  # the noise patches, after the signal patch 0
        gamma_dims = ("t", group, "r") + (("s",) if self.gamma.ndim == 4 else ())
        if self.gamma.ndim == 4:
            coords["s"] = np.arange(c.signal_vectors)  # the signal vectors u_s
        output_dims = ("t", "i") + (("o",) if c.multiclass else ())
        if c.multiclass:
            coords["o"] = np.arange(c.classes)  # the outputs F_o
        variables = {
            "gamma": (gamma_dims, self.gamma),
            "rho": (rho_dims, self.rho),
            "outputs": (output_dims, self.outputs),
            "output_weights": (("t", group, "r"), np.asarray(self.output_weights)),
            "sample_loss": (("t", "i"), self.sample_loss),
            "train_loss": ("t", self.train_loss),
            "train_acc_clean": ("t", self.train_acc_clean),
            "train_acc_noisy": ("t", self.train_acc_noisy),
            "train_acc_noisy_true": ("t", self.train_acc_noisy_true),
            "y": ("i", data.y),
            "y_noisy": ("i", data.y_noisy),
            "is_noisy": ("i", data.is_noisy),
        }
        if test_error:
            variables["test_error"] = ("t", self.test_error)
            variables["test_error_stderr"] = ("t", self.test_error_estimate.stderr)
        if self.alpha is not None:
            variables["alpha"] = ("t", self.alpha)
        if self.bias is not None:
            variables["bias"] = (("t", group, "r"), self.bias)
        if c.data_family:
            variables["signal_index"] = ("i", data.signal_index)
            variables["signal_sign"] = ("i", data.signal_sign)
        # netCDF attributes hold no None nor bool: the full-batch batch_size is n, a bias flag 0 or 1.
        attrs = {k: (int(v) if isinstance(v, bool) else v) for k, v in self.config.to_dict().items()
                 if k != "record"}
        attrs["batch_size"] = c.batch_size or c.n
        return xr.Dataset(variables, coords=coords, attrs=attrs)

    # Persistence -------------------------------------------------------------

    def save(self, path: str | os.PathLike | BinaryIO) -> Path | BinaryIO:
        """Write the result to ``path`` (``.npz``); :func:`~labelnoise_sim.load` restores it exactly.

        Parameters
        ----------
        path : str, os.PathLike or binary file
            The file to write, or a binary file open for writing.

        Returns
        -------
        pathlib.Path or file
            ``path``, as a Path if it was a path.
        """
        path = path if hasattr(path, "write") else Path(path)
        arrays = dict(
            t=self.t, gamma=self.gamma, rho=self.rho, outputs=self.outputs,
            y=self.data.y, y_noisy=self.data.y_noisy, gram=self.data.gram,
        )
        if self.data.has_vectors:
            signal = {"mu": self.data.mu} if self.config.signal_vectors == 1 else {
                "signal_vectors": self.data.signal_vectors}
            arrays.update(signal, xi=self.data.xi, W0=self.data.W0)
        if self.config.data_family:
            arrays.update(signal_index=self.data.signal_index, signal_sign=self.data.signal_sign)
        arrays.update({name: value for name, value in self._options().items() if value is not None})
        meta = {"format": FORMAT_VERSION, "config": self.config.to_dict(), "sampling": self.data.sampling}
        if isinstance(path, Path):
            with open(path, "wb") as fh:
                np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)
        else:
            np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SimulationResult":
        """Read a result written by :meth:`save`, checking the file first.

        Only the members a result needs are read, and never as pickles, so a
        foreign or damaged file cannot run code or yield arrays that disagree
        with their configuration. Nothing is allocated before it is checked:
        the header of every member (its dtype and shape) must fit the
        configuration, and the bytes it declares must be the bytes the file
        holds for it, so that a small crafted file cannot make ``load`` ask
        for more memory than its own size (and the configuration's, which
        every shape must match).

        Parameters
        ----------
        path : str or os.PathLike
            A file written by :meth:`save`.

        Returns
        -------
        SimulationResult
            The result, bit for bit as it was saved.

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ValueError
            Naming the file and what is wrong: not a result file (not an
            ``.npz`` archive, or no readable ``meta`` member), an unknown format
            version, an invalid configuration, a missing member, a member
            whose dtype or shape does not fit the configuration, whose size
            is not the one its header declares, that is compressed (``save``
            stores its members), or that holds values no result holds (a
            coefficient that is not finite, a label other than -1 and +1).
        """
        path = Path(path)
        with _open_archive(path) as archive:
            members = {info.filename[:-len(".npy")]: info for info in archive.infolist()
                       if info.filename.endswith(".npy")}
            size = path.stat().st_size
            meta = _read_meta(path, archive, members, size)
            config, sampling = _meta_config(path, meta)
            missing = [name for name in _REQUIRED if name not in members]
            if missing:
                raise ValueError(f"{path}: missing member {missing[0]!r} (a result file holds "
                                 f"{', '.join(_REQUIRED)})")
            vector_names = _vector_members(config)
            present = [name for name in vector_names if name in members]
            if present and len(present) < len(vector_names):
                absent = next(name for name in vector_names if name not in present)
                raise ValueError(f"{path}: missing member {absent!r} ({', '.join(present)} present; "
                                 f"{', '.join(vector_names[:-1])} and {vector_names[-1]} come together)")
            if present and sampling != "explicit":
                raise ValueError(f"{path}: members {', '.join(vector_names)} are present but "
                                 f"sampling={sampling!r} never draws them")
            optional = _optional_members(config)
            absent = [name for name in optional if name not in members]
            if absent:
                raise ValueError(f"{path}: missing member {absent[0]!r}, which its config's options imply")
            names = _REQUIRED + tuple(present) + optional
            headers = {name: _member_header(path, archive, members[name], name, size) for name in names}
            # The count of recorded steps, not the steps themselves (config.record_steps), until the member
            # 't' is known to hold that many: record=1 with steps=10**12 would make an array of 8 TB.
            records = record_count(config)
            expected = _expected_members(config, records)
            for name in names:
                _check_header(path, name, *headers[name], *expected[name], config, records)
            arrays = {name: _read_member(path, archive, members[name], name) for name in names}
        if not np.array_equal(arrays["t"], config.record_steps):
            raise ValueError(f"{path}: member 't' does not hold the recorded steps of its config "
                             f"(record={config.record!r}, steps={config.steps})")
        labels, spelled = ((np.arange(config.classes), f"0, ..., {config.classes - 1}") if config.multiclass
                           else ((-1, 1), "-1 and +1"))
        for name in ("y", "y_noisy"):
            if not np.isin(arrays[name], labels).all():
                raise ValueError(f"{path}: member {name!r} holds a label other than {spelled}")
        for name in ("signal_index", "signal_sign"):
            allowed = np.arange(config.signal_vectors) if name == "signal_index" else (-1, 1)
            if name in arrays and not np.isin(arrays[name], allowed).all():
                raise ValueError(f"{path}: member {name!r} holds a value outside {list(allowed)}")
        for name, array in arrays.items():
            # A result is a run that stayed finite (one that did not raises DivergenceError instead).
            if array.dtype.kind == "f" and not np.isfinite(array).all():
                raise ValueError(f"{path}: member {name!r} holds a value that is not finite (NaN or inf), "
                                 "which no result holds")
        vectors = {name: arrays.get(name) for name in vector_names}
        data = Data(arrays["y"], arrays["y_noisy"], arrays["gram"], sampling=sampling,
                    noise_patches=config.noise_patches, bias=config.bias, signals=config.signal_vectors,
                    signal_index=arrays.get("signal_index"), signal_sign=arrays.get("signal_sign"),
                    groups=config.groups, additive=config.layout == "additive", **vectors)
        velocity = None
        if config.momentum > 0:
            velocity = Velocity(*(arrays.get(f"velocity_{name}") for name in Velocity._fields))
        return cls(config=config, data=data, t=arrays["t"], gamma=arrays["gamma"],
                   rho=arrays["rho"], outputs=arrays["outputs"], alpha=arrays.get("alpha"),
                   bias=arrays.get("bias"), velocity=velocity, output_weights=arrays.get("output_weights"))

    def __repr__(self) -> str:
        c = self.config
        return (f"SimulationResult(n={c.n}, d={c.d}, m={c.m}, eta={c.eta}, steps={c.steps}, "
                f"records={len(self.t)}, final train_loss={self.train_loss[-1]:.4g})")


def load(path: str | os.PathLike) -> SimulationResult:
    """Read a :class:`SimulationResult` written by ``SimulationResult.save``, checking it first.

    See :meth:`SimulationResult.load` for the checks and the errors.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :meth:`SimulationResult.save`.

    Returns
    -------
    SimulationResult
        The result, bit for bit as it was saved.
    """
    return SimulationResult.load(path)


_REQUIRED = ("t", "gamma", "rho", "outputs", "y", "y_noisy", "gram")


def _vector_members(config: SimulationConfig) -> tuple[str, ...]:
    """The members of the d-dimensional vectors (explicit sampling): μ, or the S signal vectors, ξ and W⁽⁰⁾."""
    return ("mu" if config.signal_vectors == 1 else "signal_vectors", "xi", "W0")


def _optional_members(config: SimulationConfig) -> tuple[str, ...]:
    """The members that ``config``'s options add: α (weight decay), the bias, the heavy-ball buffer (momentum)."""
    names = (["alpha"] if config.weight_decay > 0 else []) + (["bias"] if config.bias else [])
    names += ["output_weights"] if config.output_layer == "trained" else []
    if config.momentum > 0:
        names += ["velocity_gamma", "velocity_rho"] + [f"velocity_{name}" for name in names]
    return tuple((["signal_index", "signal_sign"] if config.data_family else []) + names)


def _expected_members(config: SimulationConfig, K: int) -> dict:
    """Per member of a result file: the dtype (a numpy type or abstract type) and shape that ``config`` implies,
    with K recorded steps."""
    n, m, d, G, S = config.n, config.m, config.d, config.groups, config.signal_vectors
    per = config.noise_patches
    p = S + n * per + G * m
    patch = (per,) if per > 1 else ()
    floats, ints = np.float64, np.integer
    rho = (floats, (K, G, m, n) + patch)
    gamma = (floats, (K, G, m) + ((S,) if S > 1 else ()))
    filters = (floats, (K, G, m))
    return {
        "t": (ints, (K,)), "gamma": gamma, "rho": rho,
        "outputs": (floats, (K, n) + ((config.classes,) if config.multiclass else ())), "y": (ints, (n,)),
        "y_noisy": (ints, (n,)), "gram": (floats, (p, p)), "signal_index": (ints, (n,)), "signal_sign": (ints, (n,)),
        "mu": (floats, (d,)), "signal_vectors": (floats, (S, d)), "xi": (floats, (n,) + patch + (d,)),
        "W0": (floats, (G, m, d)), "alpha": (floats, (K,)), "bias": filters, "output_weights": filters,
        "velocity_gamma": gamma, "velocity_rho": rho, "velocity_alpha": (floats, (K,)), "velocity_bias": filters,
        "velocity_output_weights": filters,
    }


#: What zipfile can raise for a file that is not a zip archive, or a damaged one.
_NOT_ZIP = (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, NotImplementedError, struct.error)
#: What reading a member of a damaged archive can raise (numpy's header parser: ValueError).
_DAMAGED = _NOT_ZIP + (OSError, zlib.error)
_NPY_MAGIC = b"\x93NUMPY"


def _open_archive(path: Path) -> zipfile.ZipFile:
    """The zip archive at ``path``; ValueError if it is none."""
    path.stat()  # FileNotFoundError for a missing file, before anything else
    try:
        return zipfile.ZipFile(path)
    except _NOT_ZIP as exc:
        with open(path, "rb") as fh:
            single = fh.read(len(_NPY_MAGIC)) == _NPY_MAGIC
        if single:
            raise ValueError(f"{path} is not a labelnoise-sim result file: it holds a single array, "
                             "not the .npz archive that SimulationResult.save writes") from None
        # Not numpy's own message, which, for a file that is no archive, suggests allow_pickle=True: loading
        # pickles runs whatever code the file holds.
        raise ValueError(f"{path} is not a labelnoise-sim result file: not a zip archive (.npz), as "
                         f"SimulationResult.save writes ({exc})") from None


def _member_header(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, size: int):
    """The shape and dtype that member ``name`` declares, checked against the bytes the file holds for it.

    Only the member's .npy header is read. The member must be stored, not
    compressed, as ``save`` writes it, so that the bytes it declares are in
    the file: a compressed member of a few kilobytes can expand to gigabytes.
    """
    if info.compress_type != zipfile.ZIP_STORED:
        raise ValueError(f"{path}: member {name!r} is compressed; SimulationResult.save stores every member, "
                         "and a compressed one can expand far beyond the size of the file")
    if info.file_size != info.compress_size or info.header_offset + info.compress_size > size:
        raise ValueError(f"{path}: member {name!r} declares {info.file_size} bytes, more than the file holds "
                         f"({size} bytes in all)")
    try:
        with archive.open(info) as fp:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise ValueError(f".npy format version {version}, which save never writes")
            header = fp.tell()
    except _DAMAGED as exc:
        raise ValueError(f"{path}: member {name!r} cannot be read ({exc})") from None
    if dtype.hasobject:
        raise ValueError(f"{path}: member {name!r} holds Python objects (pickles), which a result file never "
                         "does; they are not loaded")
    payload = math.prod(shape) * dtype.itemsize  # Python ints: no overflow for a crafted shape
    if header + payload != info.file_size:
        raise ValueError(f"{path}: member {name!r} declares shape {shape} of {dtype} ({payload} bytes) but holds "
                         f"{info.file_size - header} bytes of data")
    return shape, dtype


def _check_header(path: Path, name: str, shape: tuple, dtype, expected_dtype, expected_shape: tuple,
                  config: SimulationConfig, records: int) -> None:
    """Member ``name`` declares the dtype and shape that ``config`` implies."""
    if not np.issubdtype(dtype, expected_dtype):
        expected = "an integer type" if expected_dtype is np.integer else np.dtype(expected_dtype).name
        raise ValueError(f"{path}: member {name!r} has dtype {dtype}, expected {expected}")
    if shape != expected_shape:
        raise ValueError(
            f"{path}: member {name!r} has shape {shape}; its config (records={records}, "
            f"n={config.n}, m={config.m}, d={config.d}) needs {expected_shape}"
        )


def _read_member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> np.ndarray:
    """Member ``name``, whose header ``_member_header`` and ``_check_header`` have checked."""
    try:
        with archive.open(info) as fp:
            return np.lib.format.read_array(fp, allow_pickle=False)
    except _DAMAGED as exc:
        raise ValueError(f"{path}: member {name!r} cannot be read ({exc})") from None


def _read_meta(path: Path, archive: zipfile.ZipFile, members: dict, size: int) -> dict:
    if "meta" not in members:
        raise ValueError(f"{path} is not a labelnoise-sim result file: no member 'meta' "
                         f"(members: {', '.join(members) or 'none'})")
    try:
        shape, dtype = _member_header(path, archive, members["meta"], "meta", size)
        if dtype.kind != "U" or shape != ():
            raise ValueError(f"'meta' is a {dtype} array of shape {shape}, not a JSON string")
        meta = json.loads(str(_read_member(path, archive, members["meta"], "meta")))
        if not isinstance(meta, dict):
            raise ValueError(f"'meta' holds {type(meta).__name__}, not a JSON object")
    except ValueError as exc:
        raise ValueError(f"{path} is not a labelnoise-sim result file: unreadable member 'meta' ({exc})") from None
    if meta.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: unknown result format version {meta.get('format')!r}; this version of "
                         f"labelnoise-sim reads version {FORMAT_VERSION}")
    return meta


def _meta_config(path: Path, meta: dict) -> tuple[SimulationConfig, str]:
    fields = meta.get("config")
    if not isinstance(fields, dict):
        raise ValueError(f"{path}: member 'meta' holds no config (a JSON object of parameters); got {fields!r}")
    try:
        config = SimulationConfig(**fields)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: the config in its member 'meta' is not valid: {exc}") from None
    sampling = meta.get("sampling")
    if sampling not in SAMPLINGS:
        raise ValueError(f"{path}: sampling in its member 'meta' must be one of "
                         f"{', '.join(map(repr, SAMPLINGS))}; got {sampling!r}")
    return config, sampling


def _share(hits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    if not mask.any():
        return np.full(hits.shape[0], np.nan)
    return hits[:, mask].mean(axis=1)
