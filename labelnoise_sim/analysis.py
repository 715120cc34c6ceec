"""Stage analysis of a run: Stage I and II, early stopping, small-loss selection.

:func:`~labelnoise_sim.analyze` condenses a :class:`~labelnoise_sim.SimulationResult` into a
:class:`StageAnalysis`: the stage boundaries of Theorems 4.1 and 4.2, the
oracle early-stopping step, and the coefficient picture that explains them.
:func:`select_clean` and :func:`selection_quality` implement and score the
small-loss criterion of Proposition 4.3 (keep the samples whose loss is at most
log 2).

Steps versus records: every function here takes and returns *step numbers*
(values of ``result.t``), never record indices. A step that was not recorded is
an error, not a silent neighbour.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np

from . import _kernels
from ._validation import check_real
from .data import signal_law
from .generalization import coefficient_matrix

if TYPE_CHECKING:  # result imports this module
    from .result import SimulationResult

__all__ = [
    "LOG2",
    "small_loss_threshold",
    "StageAnalysis",
    "SelectionQuality",
    "analyze",
    "select_clean",
    "selection_quality",
    "record_index",
    "noise_vs_signal",
    "own_class_noise",
    "class_signal",
    "filter_products",
    "stuck_samples",
    "roc_auc",
]

#: The logistic loss of a sample on the decision boundary, :math:`\ell(0) = \log 2`.
LOG2 = math.log(2.0)
#: :math:`\ell(0)` of each loss that decreases in the margin: the small-loss threshold that selects the fitted samples.
BOUNDARY_LOSS = {"logistic": LOG2, "hinge": 1.0, "exponential": 1.0}


def small_loss_threshold(loss: str) -> float:
    r""":math:`\ell(0)` of ``loss``: a sample's loss is at most this exactly when it is fitted (:math:`\tilde y f \ge 0`).

    Proposition 4.3's :math:`\log 2` rule for the logistic loss; 1 for the hinge and
    exponential losses. The squared loss has none: :math:`(1 - z)^2/2` is not
    monotone in the margin :math:`z`, so a small loss does not mean a fitted sample
    (:math:`z = 2` has the loss of :math:`z = 0`), and the rule is undefined.

    Parameters
    ----------
    loss : str
        A loss of the model family (``SimulationConfig.loss``).

    Returns
    -------
    float
        The loss at margin 0.

    Raises
    ------
    ValueError
        For a loss that is not monotone in the margin (the squared loss).
    """
    if loss not in BOUNDARY_LOSS:
        raise ValueError(f"the small-loss selection rule needs a loss that decreases in the margin "
                         f"({', '.join(map(repr, BOUNDARY_LOSS))}); it is undefined for loss={loss!r}, which is not "
                         "monotone (pass an explicit threshold to select by loss anyway)")
    return BOUNDARY_LOSS[loss]


def record_index(result, step) -> int:
    """Index into the recorded arrays of the recorded step ``step``.

    Parameters
    ----------
    result : SimulationResult
        The run.
    step : int
        A recorded step number (a value of ``result.t``).

    Returns
    -------
    int
        The index ``k`` with ``result.t[k] == step``.

    Raises
    ------
    ValueError
        Naming ``step``, when it is not an integer or was not recorded.

    Examples
    --------
    >>> from labelnoise_sim import simulate
    >>> result = simulate(n=20, d=200, steps=30, record=10)
    >>> result.t
    array([ 0, 10, 20, 30])
    >>> record_index(result, 20)
    2
    """
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
        raise ValueError(f"step must be an integer step number that was recorded; got {step!r}")
    k = int(np.searchsorted(result.t, step))
    if k >= len(result.t) or result.t[k] != step:
        raise ValueError(
            f"step must be a recorded step (one of result.t, {len(result.t)} steps from "
            f"{int(result.t[0])} to {int(result.t[-1])}); got step={step!r}. "
            "Record it with simulate(..., record=...)"
        )
    return k


def _class_index(result, labels: np.ndarray) -> np.ndarray:
    r"""The group of filters of each label: 0 for +1 and 1 for -1 (binary), the class itself with one output per
    class."""
    return labels if result.config.multiclass else np.where(labels == 1, 0, 1)


def own_class_noise(result, step=None) -> np.ndarray:
    r""":math:`\max_r \bar\rho_{\tilde y_i, r, i}`: the memorisation of each sample's noise patch by the filters of its observed label.

    With more than one noise patch, the largest over the patches, :math:`\max_{r,p} \bar\rho_{\tilde y_i, r, i, p}`.

    Parameters
    ----------
    result : SimulationResult
        The run.
    step : int or None, default None
        A recorded step number (a value of ``result.t``), or None for every recorded step.

    Returns
    -------
    ndarray of float64, shape (n,) or (K, n)
        Shape (n,) at the recorded step ``step``; with ``step=None``, one row per
        recorded step, as in ``result.t``.
    """
    k = slice(None) if step is None else record_index(result, step)
    cls = _class_index(result, result.data.y_noisy)
    rho = result.rho[k]
    if rho.ndim == 4 + (step is None):  # more noise patches: the largest of them
        rho = rho.max(axis=-1)
    own = rho[..., cls, :, np.arange(result.data.n)]  # (n, m) or (n, K, m)
    return np.maximum(own.max(axis=-1), 0.0).T


def noise_vs_signal(result, step):
    r"""Noise and signal coefficients of the noisy samples at the recorded step ``step``.

    For each noisy sample :math:`i` (in index order), the pair

    .. math::

        \text{noise}_i &= \max_r \bar\rho_{\tilde y_i, r, i}
            &&\text{(memorisation of } \xi_i \text{ by the filters of its noisy label)}

        \text{signal}_i &= \max_r \gamma_{y_i, r}
            &&\text{(signal learnt by the filters of its true class)}

    With several signal vectors, :math:`\gamma` is the coefficient of the sample's own signal vector
    :math:`u_{k_i}`, signed so that it is positive where the filter is aligned with the sample's signal patch
    :math:`s_i u_{k_i}` (:math:`s_i j \gamma_{j,r,k_i}` in the binary model, :math:`s_i \gamma_{c,r,k_i}` with one
    output per class).

    Theorem 4.1: :math:`\text{noise}_i < \text{signal}_i` for every
    noisy sample in Stage I; Theorem 4.2: noise beats signal for a share of them
    once all samples are fitted.

    Parameters
    ----------
    result : SimulationResult
        The run.
    step : int
        A recorded step number (a value of ``result.t``).

    Returns
    -------
    noise : ndarray of float64, shape (n_noisy,)
        The noise coefficient of each noisy sample.
    signal : ndarray of float64, shape (n_noisy,)
        The signal coefficient of each noisy sample.
    """
    data = result.data
    idx = np.flatnonzero(data.is_noisy)
    noise = own_class_noise(result, step)[idx]
    gamma = result.gamma[record_index(result, step)]
    if gamma.ndim == 2:
        gamma = gamma[..., None]
    own = _class_index(result, data.y[idx])
    aligned = data.signal_sign[idx] * result.config.group_signs[own]  # +1 for the binary single signal
    signal = (gamma[own, :, data.signal_index[idx]] * aligned[:, None]).max(axis=1)
    return noise, signal


def class_signal(result) -> np.ndarray:
    r"""The signal learnt by each class's filters, shape (K, G): the largest aligned signal coefficient.

    For class c, :math:`\max_r \max_{(k, s)} s\, j_c\, \gamma_{c,r,k}` over the signal patches
    :math:`s u_k` the class carries (``data.signal_law``): :math:`\max_r \gamma_{j,r}` for the binary
    single-signal model, the filter best aligned with either of a class's XOR patches, or with its common or
    rare vector.

    Parameters
    ----------
    result : SimulationResult
        The run.

    Returns
    -------
    ndarray of float64, shape (K, G)
        One column per class (group of filters).
    """
    config = result.config
    gamma = result.gamma if result.gamma.ndim == 4 else result.gamma[..., None]
    columns = []
    for c, patterns in enumerate(signal_law(config)):
        j = config.group_signs[c]
        columns.append(np.max([s * j * gamma[:, c, :, k].max(axis=1) if s * j > 0
                               else s * j * gamma[:, c, :, k].min(axis=1) for k, s, _ in patterns], axis=0))
    return np.stack(columns, axis=1)


def filter_products(result, step):
    r"""Inner products of the filters with each sample's signal and noise patches at a recorded step.

    :math:`\langle w_{j,r}, y_i \mu \rangle` and :math:`\langle w_{j,r}, \xi_i \rangle`, shapes (2, m, n) and
    (2, m, n) or, with more noise patches, (2, m, n, P - 1) for :math:`\langle w_{j,r}, \xi_{i,p} \rangle`.
    From the coefficients and the Gram matrix: :math:`W = C V` with
    :math:`V = [\mu; \xi_1, \dots, \xi_N; W^{(0)}]` (see ``generalization.coefficient_matrix``). The
    bias, where trained, is not included: it is ``result.bias``.

    Parameters
    ----------
    result : SimulationResult
        The run.
    step : int
        A recorded step number (a value of ``result.t``).

    Returns
    -------
    signal : ndarray of float64, shape (2, m, n)
        :math:`\langle w_{j,r}, y_i \mu \rangle`.
    noise : ndarray of float64, shape (2, m, n) or (2, m, n, P - 1)
        :math:`\langle w_{j,r}, \xi_i \rangle`, or :math:`\langle w_{j,r}, \xi_{i,p} \rangle`.
    """
    k = record_index(result, step)
    data = result.data
    n, m, N = data.n, result.config.m, data.n_vectors
    gram = data.gram
    alpha = None if result.alpha is None else result.alpha[k : k + 1]
    C = coefficient_matrix(result.gamma[k : k + 1], result.rho[k : k + 1], gram[0, 0],
                           np.diag(gram)[1 : 1 + N], alpha)[0]
    # (2m, 1 + N): against μ, ξ_1..ξ_N; in the library's fixed order, not BLAS's thread-dependent one.
    products = _kernels.product(C, np.ascontiguousarray(gram[:, : 1 + N]))
    signal = products[:, :1] * data.y[None, :]
    noise = products[:, 1:].reshape((2, m, n) + ((data.noise_patches,) if data.noise_patches > 1 else ()))
    return signal.reshape(2, m, n), noise


def stuck_samples(result, step) -> np.ndarray:
    r"""Unfitted samples on which every filter of their observed class is inactive, at ``step``.

    Inactive: every pre-activation of the filter on the sample is :math:`\le 0` (each
    patch's :math:`\langle w, x^{(p)} \rangle + b`, or :math:`\langle w, y \mu + \xi \rangle + b` in the additive layout).

    For such a sample :math:`i`, :math:`F_{\tilde y_i}(x_i) = 0`, so
    :math:`\tilde y_i f(x_i) = -F_{-\tilde y_i}(x_i) \le 0`,
    and its own gradient leaves the filters of class :math:`\tilde y_i` untouched (:math:`\sigma'(x) = 0`
    for :math:`x \le 0`): only cross-talk from other samples could switch them on.

    Parameters
    ----------
    result : SimulationResult
        The run.
    step : int
        A recorded step number (a value of ``result.t``).

    Returns
    -------
    ndarray of bool, shape (n,)
        Whether each sample is stuck.

    Raises
    ------
    ValueError
        For leaky_relu, whose slope is never 0.
    """
    config = result.config
    if config.activation_kind[0] == "leaky_relu":
        raise ValueError("stuck samples need an activation with slope 0 below zero; leaky_relu's slope there is "
                         f"a > 0 (activation={config.activation!r}), so no sample is ever stuck")
    signal, noise = filter_products(result, step)
    k = record_index(result, step)
    bias = np.zeros((2, config.m)) if result.bias is None else result.bias[k]
    n = result.data.n
    own = _class_index(result, result.data.y_noisy)
    idx = np.arange(n)
    signal = signal + bias[:, :, None]
    noise = noise.reshape(2, config.m, n, -1) + bias[:, :, None, None]
    if config.layout == "additive":
        inactive = (signal[own, :, idx] + noise[own, :, idx, 0] <= 0).all(axis=1)
    else:
        inactive = (signal[own, :, idx] <= 0).all(axis=1) & (noise[own, :, idx] <= 0).all(axis=(1, 2))
    return inactive & ~result.fitted[k]


def _several(config) -> bool:
    """Whether the run has several signal vectors or one output per class (no stuck-sample count yet)."""
    return config.signal_vectors > 1 or config.multiclass


def roc_auc(scores, positive) -> float:
    """Area under the ROC curve of ``scores`` for detecting ``positive``.

    The Mann-Whitney statistic: the probability that a random positive scores
    above a random negative, ties counting one half (average ranks).

    Parameters
    ----------
    scores : array_like of float, shape (N,)
        The score of each item.
    positive : array_like of bool, shape (N,)
        Whether each item is a positive.

    Returns
    -------
    float
        The area, in [0, 1]; NaN when either class is empty.

    Examples
    --------
    >>> roc_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True])
    0.75
    """
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0 or np.isnan(scores).any():
        return float("nan")
    u = _average_ranks(scores)[positive].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def _average_ranks(scores: np.ndarray) -> np.ndarray:
    """The ranks 1..N of ``scores`` (no NaN), tied scores sharing their average rank.

    The numbers of ``scipy.stats.rankdata(scores)``, whole numbers and halves, exact; written out because
    importing scipy.stats took 0.7 to 0.9 s of every ``labelnoise-sim run``.
    """
    order = np.argsort(scores, kind="stable")
    ordered = scores[order]
    first = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # where each run of equal scores starts
    ends = np.r_[first[1:], ordered.size]  # and ends (exclusive)
    ranks = np.empty(ordered.size)
    ranks[order] = np.repeat(0.5 * (first + ends + 1), ends - first)  # the mean of positions first+1..ends
    return ranks


def select_clean(result, step, threshold: float | None = None) -> np.ndarray:
    r"""Small-loss selection: samples whose loss at ``step`` is at most ``threshold``.

    The default threshold is :math:`\ell(0)` of the run's loss (:func:`small_loss_threshold`: :math:`\log 2`
    for the logistic loss), with which a sample is selected exactly when it
    is fitted (:math:`\tilde y_i f(x_i) \ge 0`); the squared loss has no default and raises
    ValueError.

    Parameters
    ----------
    result : SimulationResult
        The run.
    step : int
        A recorded step number (see :func:`record_index`).
    threshold : float or None, default None
        The largest loss selected, > 0; None for :math:`\ell(0)`.

    Returns
    -------
    ndarray of bool, shape (n,)
        True for the samples selected as clean.
    """
    if threshold is None:
        threshold = small_loss_threshold(result.config.loss)
    threshold = check_real("threshold", threshold, low=0, low_open=True)
    k = record_index(result, step)
    return result.sample_loss[k] <= threshold


@dataclasses.dataclass(frozen=True)
class SelectionQuality:
    """How well a small-loss selection recovers the truly clean samples.

    ``precision``: share of selected samples that are clean; ``recall``: share
    of clean samples selected; ``f1``: their harmonic mean; ``auc``: ROC AUC of
    the sample loss as a detector of noisy labels (1 = every noisy sample has a
    larger loss than every clean one). Undefined values are NaN.

    Attributes
    ----------
    step : int
        The recorded step of the selection.
    threshold : float
        The loss threshold used.
    selected : int
        How many samples were selected.
    precision, recall, f1, auc : float
        The scores above.
    """

    step: int
    threshold: float
    selected: int
    precision: float
    recall: float
    f1: float
    auc: float


def selection_quality(result, step, threshold: float | None = None) -> SelectionQuality:
    r"""Precision, recall, F1 and loss ROC AUC of :func:`select_clean` at ``step``.

    Parameters
    ----------
    result : SimulationResult
        The run.
    step : int
        A recorded step number (see :func:`record_index`).
    threshold : float or None, default None
        The largest loss selected, > 0; None for :math:`\ell(0)` of the run's loss.

    Returns
    -------
    SelectionQuality
        The scores of the selection.
    """
    if threshold is None:
        threshold = small_loss_threshold(result.config.loss)
    selected = select_clean(result, step, threshold)
    k = record_index(result, step)
    clean = ~result.data.is_noisy
    hits = int((selected & clean).sum())
    n_sel, n_clean = int(selected.sum()), int(clean.sum())
    precision = hits / n_sel if n_sel else float("nan")
    recall = hits / n_clean if n_clean else float("nan")
    if math.isnan(precision) or math.isnan(recall) or precision + recall == 0:
        f1 = float("nan") if math.isnan(precision) or math.isnan(recall) else 0.0
    else:
        f1 = 2 * precision * recall / (precision + recall)
    auc = roc_auc(result.sample_loss[k], result.data.is_noisy)
    return SelectionQuality(int(step), float(threshold), n_sel, precision, recall, f1, auc)


@dataclasses.dataclass(frozen=True, eq=False)
class StageAnalysis:
    r"""Stage boundaries, early stopping and coefficient picture of one run.

    Steps are step numbers (values of ``result.t``); a boundary never reached
    within the recorded steps is None. Shares over an empty set (no noisy
    samples) are None.

    Attributes
    ----------
    n, n_noisy : int
        Training samples, and how many have a flipped label.
    last_step : int
        The last recorded step.
    t1 : int or None
        First recorded step at which every clean sample is fitted (:math:`\tilde y_i f(x_i) > 0`).
    t2 : int or None
        First recorded step at which every training sample is fitted, noisy
        samples by their noisy label.
    t1_theory : float
        The Stage I time scale :math:`n m / (\eta \sigma_\xi^2 d)` of Theorem 4.1, constants dropped.
    noisy_true_share_at_t1 : float or None
        Share of noisy samples classified by their true label at t1.
    best_step, best_test_error : int, float
        Oracle early stopping: the recorded step of least clean test error
        (the earliest such step) and that error.
    final_test_error : float
        Clean test error at the last recorded step.
    final_test_loss : float
        Clean test loss at the last recorded step (:attr:`~SimulationResult.test_loss`, to 1 %).
    test_error_at_t1 : float or None
        Clean test error at t1. The four test-error fields and ``final_test_loss`` are None when
        :func:`~labelnoise_sim.analyze` was called with ``test_error=False``.
    noise_coef_t1, signal_coef_t1, noise_coef_end, signal_coef_end : ndarray (n_noisy,)
        Per noisy sample, :math:`\max_r \bar\rho_{\tilde y_i,r,i}` and :math:`\max_r \gamma_{y_i,r}` at t1 (empty if
        t1 is None) and at the last record (see :func:`~labelnoise_sim.analysis.noise_vs_signal`).
    noise_beats_signal_t1, noise_beats_signal_end : int or None
        How many noisy samples have noise coefficient above signal coefficient
        (Theorem 4.2's :math:`\tau' n`), at t1 and at the end.
    stuck_samples_end : int or None
        Unfitted samples at the last record on which every filter of their
        observed label's class is inactive, on both patches (see
        :func:`~labelnoise_sim.analysis.stuck_samples`). Their own gradient cannot switch those filters
        on (:math:`\sigma'(x) = 0` for :math:`x \le 0`), so they stay unfitted, their margin creeping
        up to 0 from below, and t2 is never reached however long the run.
        None for leaky_relu (no sample is ever stuck), and not counted (None) with several signal vectors
        or one output per class.
    selection_t1, selection_end : SelectionQuality or None
        The small-loss selection (:math:`\log 2` for the logistic loss, :math:`\ell(0)` for the
        others: :func:`~labelnoise_sim.analysis.small_loss_threshold`) scored at t1 and at the last
        record; None where undefined (t1 not reached; the squared loss).
    """

    n: int
    n_noisy: int
    last_step: int
    t1: int | None
    t2: int | None
    t1_theory: float
    noisy_true_share_at_t1: float | None
    best_step: int | None
    best_test_error: float | None
    final_test_error: float | None
    final_test_loss: float | None
    test_error_at_t1: float | None
    noise_coef_t1: np.ndarray = dataclasses.field(repr=False)
    signal_coef_t1: np.ndarray = dataclasses.field(repr=False)
    noise_coef_end: np.ndarray = dataclasses.field(repr=False)
    signal_coef_end: np.ndarray = dataclasses.field(repr=False)
    noise_beats_signal_t1: int | None
    noise_beats_signal_end: int
    stuck_samples_end: int | None
    selection_t1: SelectionQuality | None
    selection_end: SelectionQuality | None

    @property
    def stage_one(self) -> bool:
        """Whether a Stage I was seen: t1 reached before t2 (or without t2)."""
        return self.t1 is not None and (self.t2 is None or self.t1 < self.t2)

    @property
    def early_stopping_gain(self) -> float | None:
        """What oracle early stopping saves: ``final_test_error - best_test_error`` (>= 0), or None."""
        if self.best_test_error is None:
            return None
        return self.final_test_error - self.best_test_error

    def to_dict(self) -> dict:
        """Flat dict of scalars (int, float, bool or None), stable keys, ready for a DataFrame row.

        Returns
        -------
        dict of str to int, float, bool or None
            The scalar fields, the derived properties, the extremes of the coefficient arrays and the
            selection scores at t1 and at the end (``select_precision_t1``...).
        """
        out = {
            "n": self.n,
            "n_noisy": self.n_noisy,
            "last_step": self.last_step,
            "t1": self.t1,
            "t2": self.t2,
            "t1_theory": self.t1_theory,
            "stage_one": self.stage_one,
            "noisy_true_share_at_t1": self.noisy_true_share_at_t1,
            "best_step": self.best_step,
            "best_test_error": self.best_test_error,
            "final_test_error": self.final_test_error,
            "final_test_loss": self.final_test_loss,
            "test_error_at_t1": self.test_error_at_t1,
            "early_stopping_gain": self.early_stopping_gain,
            "noise_beats_signal_t1": self.noise_beats_signal_t1,
            "noise_beats_signal_end": self.noise_beats_signal_end,
            "stuck_samples_end": self.stuck_samples_end,
            "noise_coef_max_t1": _max_or_none(self.noise_coef_t1) if self.t1 is not None else None,
            "signal_coef_min_t1": _min_or_none(self.signal_coef_t1) if self.t1 is not None else None,
            "noise_coef_max_end": _max_or_none(self.noise_coef_end),
            "signal_coef_min_end": _min_or_none(self.signal_coef_end),
        }
        for where, sel in (("t1", self.selection_t1), ("end", self.selection_end)):
            for name in ("precision", "recall", "f1", "auc"):
                value = None if sel is None else getattr(sel, name)
                out[f"select_{name}_{where}"] = None if value is None or math.isnan(value) else value
        return out

    def summary(self) -> str:
        """A readable account of the stages, in a few lines.

        Returns
        -------
        str
            The lines, joined by newlines.
        """
        def step(s):
            return "not reached" if s is None else f"step {s}"

        def pct(x):
            return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"

        lines = [
            f"training set: {self.n} samples, {self.n_noisy} with flipped labels; {self.last_step} steps",
            f"Stage I  (t1, every clean sample fitted): {step(self.t1)}"
            f"   [theory scale n m/(eta sigma_xi^2 d) = {self.t1_theory:.3g}]",
        ]
        if self.t1 is not None and self.n_noisy:
            lines.append(
                f"  at t1: {pct(self.noisy_true_share_at_t1)} of noisy samples classified by their TRUE label; "
                f"noise beats signal for {self.noise_beats_signal_t1} of {self.n_noisy}"
                + ("" if self.test_error_at_t1 is None else f"; test error {self.test_error_at_t1:.3g}")
            )
        if self.selection_t1 is not None and self.n_noisy:
            s = self.selection_t1
            lines.append(
                f"  {'log 2' if s.threshold == LOG2 else f'small-loss (<= {s.threshold:g})'} selection at t1: "
                f"{s.selected} kept, precision {pct(s.precision)}, recall {pct(s.recall)}, F1 {s.f1:.3f}, "
                f"loss AUC {s.auc:.3f}"
            )
        lines.append(f"Stage II (t2, every sample fitted, noisy ones by noisy label): {step(self.t2)}")
        if self.n_noisy:
            lines.append(f"  at the end: noise beats signal for {self.noise_beats_signal_end} of {self.n_noisy} "
                         "noisy samples")
        if self.stuck_samples_end:
            lines.append(f"  {self.stuck_samples_end} unfitted sample(s) stuck: every filter of their label's "
                         "class is inactive on them")
        if self.best_test_error is not None:
            lines.append(
                f"clean test error: best {self.best_test_error:.3g} at step {self.best_step} "
                f"(oracle early stopping), final {self.final_test_error:.3g}"
            )
        return "\n".join(lines)


def _max_or_none(a):
    return float(a.max()) if a.size else None


def _min_or_none(a):
    return float(a.min()) if a.size else None


def _first(mask: np.ndarray):
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


#: ``analyze`` first estimates every step's test error to this relative standard error, then to the full
#: precision only the steps it reports and those within SCREEN_Z of these standard errors of the lowest.
SCREEN_RSE = 0.1
SCREEN_Z = 4.0


def _needed_errors(result, steps) -> tuple[int, dict]:
    """The index of the lowest test error and {index: error} at it, at the last record and at ``steps``.

    The errors are :attr:`~SimulationResult.test_error`'s, bit for bit (a
    step's estimate does not depend on the others). A cheap screening
    estimate of every step (relative standard error SCREEN_RSE; the whole
    curve itself when the result already holds it) finds the steps that can
    hold the lowest error: those whose interval (± SCREEN_Z standard errors)
    reaches below the highest end of the lowest interval; only they, the
    last and ``steps`` get the full precision.
    """
    K = len(result.t)
    screen = result.test_error_estimate_at(np.arange(K), rse=SCREEN_RSE)
    rough = screen.by_class.mean(axis=1)
    ceiling = np.min(rough + SCREEN_Z * screen.stderr)
    candidates = np.flatnonzero(rough - SCREEN_Z * screen.stderr <= ceiling)
    needed = np.unique(np.r_[candidates, K - 1, np.asarray(steps, dtype=np.int64)])
    errors = dict(zip(needed.tolist(), result.test_error_at(needed)))
    best = min(candidates.tolist(), key=lambda k: (errors[k], k))
    return int(best), errors


def analyze(result: SimulationResult, *, test_error: bool = True) -> StageAnalysis:
    """Stage boundaries, oracle early stopping and coefficient picture of ``result``.

    Uses the recorded steps only: t1 and t2 are the first *recorded* steps at
    which the condition holds, so a coarse record grid gives upper bounds.
    Without clean samples t1 is the first record (the condition is vacuous).

    Parameters
    ----------
    result : SimulationResult
        The run.
    test_error : bool, default True
        Whether to compute the test error and the test loss. False skips them
        (the costly part for long record grids): ``best_step``,
        ``best_test_error``, ``final_test_error``, ``final_test_loss`` and
        ``test_error_at_t1`` are then None.

    Returns
    -------
    StageAnalysis
        The stages of the run.
    """
    data = result.data
    t = result.t
    noisy = data.is_noisy
    fitted = result.fitted
    k1 = _first(fitted[:, ~noisy].all(axis=1))
    k2 = _first(fitted.all(axis=1))
    if test_error:
        kbest, errors = _needed_errors(result, [] if k1 is None else [k1])
    n_noisy = int(noisy.sum())

    selects = result.config.loss in BOUNDARY_LOSS and not result.config.multiclass
    if k1 is not None:
        share = float(result.train_acc_noisy_true[k1]) if n_noisy else None
        noise1, signal1 = noise_vs_signal(result, int(t[k1]))
        beats1 = int((noise1 > signal1).sum())
        sel1 = selection_quality(result, int(t[k1])) if selects else None
        err1 = float(errors[k1]) if test_error else None
    else:
        share, beats1, sel1, err1 = None, None, None, None
        noise1 = signal1 = np.empty(0)
    noise_end, signal_end = noise_vs_signal(result, int(t[-1]))

    return StageAnalysis(
        n=int(data.n),
        n_noisy=n_noisy,
        last_step=int(t[-1]),
        t1=None if k1 is None else int(t[k1]),
        t2=None if k2 is None else int(t[k2]),
        t1_theory=float(result.config.t1_theory),
        noisy_true_share_at_t1=share,
        best_step=int(t[kbest]) if test_error else None,
        best_test_error=float(errors[kbest]) if test_error else None,
        final_test_error=float(errors[len(t) - 1]) if test_error else None,
        final_test_loss=float(result.test_loss_at([len(t) - 1])[0]) if test_error else None,
        test_error_at_t1=err1,
        noise_coef_t1=noise1,
        signal_coef_t1=signal1,
        noise_coef_end=noise_end,
        signal_coef_end=signal_end,
        noise_beats_signal_t1=beats1,
        noise_beats_signal_end=int((noise_end > signal_end).sum()),
        stuck_samples_end=(None if result.config.activation_kind[0] == "leaky_relu" or _several(result.config)
                           else int(stuck_samples(result, int(t[-1])).sum())),
        selection_t1=sel1,
        selection_end=selection_quality(result, int(t[-1])) if selects else None,
    )
