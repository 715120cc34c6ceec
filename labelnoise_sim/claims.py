r"""The paper's statements as measured laws, from one designed sweep.

Han et al. state their results up to constants: Stage I ends at
:math:`T_1 = \Theta(\eta^{-1} n m \sigma_\xi^{-2} d^{-1})`, stopping there keeps the clean test error below
:math:`\exp(-d/(n C'))`, without label noise it stays below :math:`\exp(-n \|\mu\|^4/(C \sigma_\xi^4 d))`,
after Stage II it stays above :math:`0.5 \cdot \min\{\tau_+, \tau_-\}`, and at :math:`T_1` the :math:`\log 2` loss rule
separates clean from noisy samples. :func:`measure` runs one sweep (through
:func:`labelnoise_sim.sweep` with a store, so an interrupted run resumes)
whose cells fall in five parts, one per statement, fits each law by ordinary
least squares and judges it by criteria fixed here, before any run
(:data:`CRITERIA`).

Two operational choices are worth stating:

- ``t1`` of :func:`~labelnoise_sim.analyze` (every clean sample fitted, margin
  above 0) is reached within a step or two when the initialisation is small:
  one step of gradient descent already tilts each sample's own noise
  coefficient towards its label. The theorem's :math:`T_1` is the time at which the
  coefficients reach order one, so the scaling law is fitted to the first
  recorded step at which every clean sample has margin at least 1 (loss at
  most :math:`\ell(1) = \log(1 + e^{-1})`), ``t1_margin``; the analysis ``t1`` is reported
  beside it.
- Test errors are estimated by line sampling to 2 % at 95 % confidence, down
  to errors of 1e-12 and below, so they are 0 only when the error is exactly
  0; log-fits mask such zeros and count them. The fits are ordinary least
  squares: the estimates' 1 % is far below the cells' scatter about a line.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np

from .papers._base import Context, Verdict, markdown_table

__all__ = ["Fit", "fit_line", "fit_power_law", "design", "measure", "ClaimsOutcome", "CRITERIA", "THEORY_T1",
           "T1_FACTORS", "claim_rows"]

#: The factors of the :math:`T_1` law, in the order of the exponents, and the theory's exponents.
T1_FACTORS = ("n", "m", "eta", "sigma_xi", "d")
THEORY_T1 = (1.0, 1.0, -1.0, -2.0, -1.0)
#: The margin at which ``t1_margin`` counts a clean sample as fitted "at order one".
T1_MARGIN = 1.0

#: The verdict criteria, declared before any run (the verdict words are those of :class:`~labelnoise_sim.papers.Verdict`).
CRITERIA = {
    "t1": "confirmed if every theory exponent lies in its 95% CI or within 0.15 of the estimate; partly if "
          "every estimate is within 0.5 of theory",
    "early": "confirmed if the slope of log(best clean test error) on d/n is negative with its 95% CI below 0 "
             "and R² ≥ 0.8; partly if the slope is negative",
    "clean": "confirmed if the slope of log(final clean test error) on n‖μ‖⁴/(σ_ξ⁴ d) is negative with its 95% "
             "CI below 0 and R² ≥ 0.8; partly if the slope is negative",
    "stage2": "confirmed if the converged clean test error is ≥ 0.5·min(τ₊, τ₋) in every cell; partly if in "
              "some; the cells below it are the benign region",
    "selection": "confirmed if the mean precision and recall of the log 2 rule at t1 are both ≥ 0.95; partly "
                 "if both ≥ 0.8",
}

# The design ---------------------------------------------------------------------------------------------------

#: The base point of the T₁ design: n·SNR² and τ where Stage I exists, T₁ ≈ n m/(η σ_ξ² d) = 50 steps.
BASE = dict(n=100, m=5, eta=0.01, sigma_xi=1.0, d=1000, tau=0.1, n_snr2=8.0)
#: n·SNR² of the early-stopping part: lower than the base's, so that the errors stay above 1e-4 (chosen when the
#: test error was a Monte Carlo count that read 0 below that) over its range of d/n, and still where Stage I
#: exists (n·SNR²·(1 − 2τ)/2 = 1.6 > 1).
EARLY_N_SNR2 = 4.0
#: Fixed for every cell: a small initialisation (as the theorems assume) and the d-free Gram sampling.
FIXED = dict(sigma0=1e-3, sampling="gram")
#: Factors by which each T₁ factor moves off the base point (σ_ξ by their square roots: the same range of T₁).
T1_LEVELS = {"full": (0.5, 0.7, 1.4, 2.0), "quick": (0.5, 2.0)}


def _theory_t1(cell) -> float:
    return cell["n"] * cell["m"] / (cell["eta"] * cell["sigma_xi"] ** 2 * cell["d"])


def design(quick: bool = False) -> list[tuple[str, dict]]:
    r"""The cells of the sweep, as (part, parameters) in table order; each cell's ``seed`` included.

    Parts: ``"t1"`` (one factor at a time around ``BASE``), ``"early"`` (:math:`d/n` at fixed
    :math:`n \cdot \mathrm{SNR}^2` and :math:`\tau`), ``"clean"`` (:math:`\tau = 0` over :math:`d/n` and
    :math:`n \cdot \mathrm{SNR}^2`), ``"stage2"`` (:math:`\tau \times d/n`, run long).
    Steps follow each cell's :math:`T_1` scale :math:`n m/(\eta \sigma_\xi^2 d)`.

    Parameters
    ----------
    quick : bool, default False
        The smaller design of ``measure(quick=True)``.

    Returns
    -------
    list of (str, dict)
        The part and the parameters of each cell.
    """
    seeds = range(1 if quick else 5)
    cells: list[tuple[str, dict]] = []

    def add(part, steps_per_t1, **params):
        cell = {**BASE, **params}
        cell["steps"] = int(round(steps_per_t1 * _theory_t1(cell)))
        cells.extend((part, {**cell, "seed": seed}) for seed in seeds)

    add("t1", 8)
    for factor in T1_FACTORS:
        for level in T1_LEVELS["quick" if quick else "full"]:
            value = BASE[factor] * (math.sqrt(level) if factor == "sigma_xi" else level)
            add("t1", 8, **{factor: int(value) if factor in ("n", "m", "d") else value})
    n = BASE["n"]
    for ratio in ((1, 3, 6) if quick else (1, 2, 3, 4, 6, 8)):  # d/n, at a lower n·SNR² (EARLY_N_SNR2)
        add("early", 8, d=ratio * n, n_snr2=EARLY_N_SNR2, eta=n * BASE["m"] / (50 * ratio * n))
    for ratio in ((1, 3) if quick else (1, 2, 3, 5)):
        for n_snr2 in ((1.0, 3.0) if quick else (1.0, 2.0, 3.0)):
            add("clean", 40, d=ratio * n, tau=0.0, n_snr2=n_snr2, eta=n * BASE["m"] / (10 * ratio * n))
    for tau in ((0.1, 0.2) if quick else (0.05, 0.1, 0.2, 0.3)):
        for ratio in ((2, 50) if quick else (2, 5, 20, 50)):
            add("stage2", 400 if quick else 1000, d=ratio * n, tau=tau, eta=n * BASE["m"] / (5 * ratio * n))
    return cells


# Fits ---------------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Fit:
    r"""An ordinary least-squares fit, with 95% confidence intervals (Student t).

    :math:`y \approx \mathrm{intercept} + X \cdot \mathrm{coef}`.

    Attributes
    ----------
    intercept : float
        The intercept.
    coef : ndarray of float64, shape (p,)
        The coefficient of each column of :math:`X`.
    low, high : ndarray of float64, shape (p,)
        The bounds of each coefficient's interval.
    intercept_low, intercept_high : float
        The bounds of the intercept's interval.
    r2 : float
        The coefficient of determination.
    used : int
        The points fitted.
    masked : int
        The points left out (non-finite, e.g. the log of a test error that read 0).
    """

    intercept: float
    coef: np.ndarray
    low: np.ndarray
    high: np.ndarray
    intercept_low: float
    intercept_high: float
    r2: float
    used: int
    masked: int


def fit_line(x, y, weights=None) -> Fit:
    """OLS fit of y on the columns of x with an intercept; non-finite rows masked.

    Parameters
    ----------
    x : array_like of float, shape (N,) or (N, p)
        The regressors.
    y : array_like of float, shape (N,)
        The values fitted.
    weights : array_like of float, shape (N,), optional
        Positive weights for weighted least squares, e.g. 1/variance of each y.

    Returns
    -------
    Fit
        The fit and its intervals.

    Raises
    ------
    ValueError
        When fewer points remain than parameters plus one.
    """
    x = np.asarray(x, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"x must have shape (N,) or (N, p) and y shape (N,); got x {x.shape}, y {y.shape}")
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=np.float64)
    keep = np.isfinite(y) & np.isfinite(x).all(axis=1) & np.isfinite(w) & (w > 0)
    p = x.shape[1] + 1
    used = int(keep.sum())
    if used < p + 1:
        raise ValueError(f"a fit of {p} parameters needs at least {p + 1} finite points; got {used} "
                         f"({y.size - used} masked)")
    from scipy import stats

    design_matrix = np.column_stack([np.ones(used), x[keep]])
    sw = np.sqrt(w[keep])
    beta, *_ = np.linalg.lstsq(design_matrix * sw[:, None], y[keep] * sw, rcond=None)
    resid = (y[keep] - design_matrix @ beta) * sw
    dof = used - p
    s2 = float(resid @ resid) / dof
    cov = s2 * np.linalg.inv((design_matrix * w[keep][:, None]).T @ design_matrix)
    half = stats.t.ppf(0.975, dof) * np.sqrt(np.diag(cov))
    yk = y[keep]
    mean = np.average(yk, weights=w[keep])
    total = float(np.sum(w[keep] * (yk - mean) ** 2))
    r2 = 1.0 - float(resid @ resid) / total if total > 0 else float("nan")
    return Fit(float(beta[0]), beta[1:], beta[1:] - half[1:], beta[1:] + half[1:], float(beta[0] - half[0]),
               float(beta[0] + half[0]), r2, used, int(y.size - used))


def fit_power_law(factors: dict, y) -> Fit:
    r"""Fit :math:`\log y = c + \sum_k a_k \log x_k`: the exponents of a power law :math:`y = e^c \prod_k x_k^{a_k}`.

    Parameters
    ----------
    factors : dict of str to array_like of float, each of shape (N,)
        The factors :math:`x_k`, > 0, by name.
    y : array_like of float, shape (N,)
        The values; non-positive ones are masked.

    Returns
    -------
    Fit
        ``intercept`` is :math:`c`, ``coef`` the :math:`a_k` in the order of ``factors``.
    """
    x = np.column_stack([np.log(np.asarray(v, dtype=np.float64)) for v in factors.values()])
    with np.errstate(divide="ignore"):
        return fit_line(x, np.log(np.asarray(y, dtype=np.float64)))


def _log_error(cells, column):
    """The test errors in ``column`` and their logs (zeros give -inf, which the fits mask and count)."""
    err = cells[column].to_numpy(float)
    return err, _log(err)


def _log(values):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.asarray(values, dtype=np.float64))


# The run ------------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ClaimsOutcome:
    """What :func:`measure` found.

    Attributes
    ----------
    rows : list of tuple of str
        A row per claim: (claim, theory, measured, verdict, region).
    written : list of pathlib.Path
        The files written.
    seconds : float
        The seconds taken.
    """

    rows: list
    written: list
    seconds: float

    def table(self) -> str:
        """The claims as a Markdown table.

        Returns
        -------
        str
            The table.
        """
        return markdown_table(("claim", "theory", "measured", "verdict", "region"), self.rows)

    def summary(self) -> str:
        """A line per claim with its verdict, and a line for the files written.

        Returns
        -------
        str
            The lines, joined by newlines.
        """
        lines = [f"  [{verdict}] {claim}: {measured}" for claim, _, measured, verdict, _ in self.rows]
        lines.append(f"  {len(self.written)} files in {self.written[0].parent if self.written else '-'}; "
                     f"{self.seconds:.0f} s")
        return "\n".join(lines)


def _t1_margin(result) -> float:
    """First recorded step at which every clean sample has margin ≥ :data:`T1_MARGIN` (NaN if never)."""
    level = math.log1p(math.exp(-T1_MARGIN))
    clean = ~result.data.is_noisy
    reached = np.flatnonzero((result.sample_loss[:, clean] <= level).all(axis=1))
    return float(result.t[reached[0]]) if reached.size else float("nan")


def _fmt_ci(value, low, high) -> str:
    return f"{value:.2f} [{low:.2f}, {high:.2f}]"


def measure(out, *, quick: bool = False, progress: bool = True) -> ClaimsOutcome:
    """Run the claims' sweep into the directory ``out`` and write its tables and figures.

    The files are ``claims.md``, ``claims_table.md``, the per-cell table ``claims_cells.csv`` and the
    figures ``claims_*.png``. The sweep's store is ``out/store``: rerunning resumes it.

    Parameters
    ----------
    out : str or os.PathLike
        The directory to write into.
    quick : bool, default False
        Run a smaller design (one seed, fewer levels, shorter Stage II): seconds, where the full run takes
        under a minute on 2 cores.
    progress : bool, default True
        Show the sweep's progress bar.

    Returns
    -------
    ClaimsOutcome
        The claims' rows and the files written.
    """
    import pandas as pd

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    context = Context("claims", out, quick=quick, progress=progress)
    cells = design(quick)
    names = tuple(cells[0][1])
    swept = context.sweep("design", {"+".join(names): [tuple(c[k] for k in names) for _, c in cells]}, FIXED,
                          trajectories=True)
    table = swept.table.copy()
    table["part"] = [part for part, _ in cells]
    for name in names:  # the zipped axis gives the parameters back as columns; make sure of it
        table[name] = [c[name] for _, c in cells]
    table["t1_margin"] = [_t1_margin(swept.result(i)) if part in ("t1", "early") else float("nan")
                          for i, (part, _) in enumerate(cells)]
    table["t1_scale"] = [_theory_t1(c) for _, c in cells]
    table["d_over_n"] = table.d / table.n
    table["clean_x"] = table.n_snr2 ** 2 * table.d / table.n  # n‖μ‖⁴/(σ_ξ⁴ d) with ‖μ‖² = n·SNR²·σ_ξ² d/n
    table["final_test_error_noisy"] = table.tau + (1 - 2 * table.tau) * table.final_test_error
    keep = ["part", *names, "t1", "t1_margin", "t1_scale", "d_over_n", "clean_x", "t2", "stage_one",
            "test_error_at_t1", "best_step", "best_test_error", "final_test_error", "final_test_error_noisy",
            "select_precision_t1", "select_recall_t1", "noisy_true_share_at_t1"]
    table[keep].to_csv(out / "claims_cells.csv", index=False)
    # Judged from the file just written, so that the table can be checked against it (see claim_rows).
    rows = claim_rows(pd.read_csv(out / "claims_cells.csv"), context)
    text = markdown_table(("claim", "theory", "measured", "verdict", "region"), rows) + "\n"
    (out / "claims_table.md").write_text(text)
    criteria = "\n".join(f"- {key}: {value}" for key, value in CRITERIA.items())
    (out / "claims.md").write_text(f"# The claims, measured{' (--quick)' if quick else ''}\n\n{text}\n"
                                   f"Verdict criteria (fixed before the run):\n\n{criteria}\n")
    written = context.written + [out / name for name in ("claims_cells.csv", "claims_table.md", "claims.md")]
    return ClaimsOutcome(rows, written, time.perf_counter() - start)


def claim_rows(table, context: Context | None = None) -> list[tuple[str, str, str, str, str]]:
    """Judge the claims from the per-cell table of the sweep.

    Parameters
    ----------
    table : pandas.DataFrame
        The per-cell table ``claims_cells.csv``.
    context : Context or None, default None
        Where to draw each claim's figure; None draws none.

    Returns
    -------
    list of tuple of str
        A row per claim: (claim, theory, measured, verdict, region).
    """
    return [_t1_claim(table, context), _early_claim(table, context), _clean_claim(table, context),
            _stage2_claim(table, context), _selection_claim(table, context)]


def _region(cells) -> str:
    parts = []
    for name in ("n", "m", "eta", "sigma_xi", "d", "tau", "n_snr2"):
        values = sorted(set(cells[name]))
        parts.append(f"{name}={values[0]:g}" if len(values) == 1 else f"{name} {min(values):g}-{max(values):g}")
    return ", ".join(parts) + f"; {cells.seed.nunique()} seed(s), {len(cells)} runs"


def _figure():
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(5.2, 3.8), layout="constrained")


def _t1_claim(table, context):
    cells = table[table.part == "t1"]
    fit = fit_power_law({k: cells[k] for k in T1_FACTORS}, cells.t1_margin)
    inside = [(lo <= th <= hi) or abs(a - th) <= 0.15 for a, lo, hi, th in zip(fit.coef, fit.low, fit.high, THEORY_T1)]
    near = [abs(a - th) <= 0.5 for a, th in zip(fit.coef, THEORY_T1)]
    measured = ("exponents " + ", ".join(f"{k} {_fmt_ci(a, lo, hi)}" for k, a, lo, hi in
                                          zip(T1_FACTORS, fit.coef, fit.low, fit.high))
                + f"; constant e^c = {math.exp(fit.intercept):.3g} [{math.exp(fit.intercept_low):.3g}, "
                f"{math.exp(fit.intercept_high):.3g}]; R² {fit.r2:.3f}; {fit.used} runs"
                + (f" ({fit.masked} without t1)" if fit.masked else "")
                + f"; analysis t1 (margin 0) median {np.nanmedian(cells.t1.astype(float)):g} steps")
    ratio = float(np.nanmedian(cells.t1_margin / cells.t1_scale))
    measured += f"; T₁ / (n m/(η σ_ξ² d)) median {ratio:.3g}"
    verdict = Verdict.judge(measured, all(inside), all(near), _region(cells))
    if context is not None:
        fig, ax = _figure()
        ax.loglog(cells.t1_scale, cells.t1_margin, "o", label="measured (margin 1)")
        grid = np.geomspace(cells.t1_scale.min(), cells.t1_scale.max(), 20)
        ax.loglog(grid, ratio * grid, "k--", label=f"{ratio:.2g} × theory scale (median ratio)")
        ax.set_xlabel(r"$n m / (\eta \sigma_\xi^2 d)$")
        ax.set_ylabel("T1 (steps)")
        ax.legend(fontsize="small")
        context.figure(fig, "t1")
    return ("T₁ scaling: exponents of n, m, η, σ_ξ, d", "T₁ = Θ(η⁻¹ n m σ_ξ⁻² d⁻¹): exponents 1, 1, −1, −2, −1",
            verdict.measured, verdict.verdict, verdict.region)


def _slope_verdict(fit, label, region, constant_name):
    slope, low, high = fit.coef[0], fit.low[0], fit.high[0]
    const = -1 / slope if slope < 0 else float("nan")
    measured = (f"slope {_fmt_ci(slope, low, high)}, so {constant_name} = {const:.3g}; R² {fit.r2:.3f}; "
                f"{fit.used} runs" + (f", {fit.masked} with error 0 masked" if fit.masked else ""))
    return Verdict.judge(measured, high < 0 and fit.r2 >= 0.8, slope < 0, region)


def _log_error_figure(ax, x, err, fit, xlabel):
    shown = err > 0
    ax.semilogy(x[shown], err[shown], "o", label="measured")
    if (~shown).any():
        ax.plot(x[~shown], np.full((~shown).sum(), err[shown].min() / 3 if shown.any() else 1e-5), "v",
                color="0.5", label="error 0 (masked)")
    grid = np.linspace(x.min(), x.max(), 20)
    ax.semilogy(grid, np.exp(fit.intercept + fit.coef[0] * grid), "k--", label="log-linear fit")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("clean test error")
    ax.legend(fontsize="small")


def _exponential_claim(table, context, part, x_column, error, label, constant, xlabel, title, stem, claim, theory):
    """A law log(error) = c - x / constant: the least squares line of the part's log errors on x, its verdict
    and (with a context) its figure."""
    cells = table[table.part == part]
    x = cells[x_column].to_numpy(float)
    err, log_err = _log_error(cells, error)
    fit = fit_line(x, log_err)
    verdict = _slope_verdict(fit, label, _region(cells), constant)
    if context is not None:
        fig, ax = _figure()
        _log_error_figure(ax, x, err, fit, xlabel)
        ax.set_title(title, fontsize="medium")
        context.figure(fig, stem)
    return claim, theory, verdict.measured, verdict.verdict, verdict.region


def _early_claim(table, context):
    return _exponential_claim(table, context, "early", "d_over_n", "best_test_error", "d/n", "C′", "d / n",
                              "best clean test error (early stopping)", "early_stopping",
                              "Early stopping: log(best clean test error) against d/n",
                              "≤ exp(−d/(n C′)): slope −1/C′ < 0")


def _clean_claim(table, context):
    return _exponential_claim(table, context, "clean", "clean_x", "final_test_error", "x", "C",
                              r"$n\|\mu\|^4 / (\sigma_\xi^4 d)$", "no label noise: final clean test error",
                              "no_label_noise", "No label noise: log(final clean test error) against n‖μ‖⁴/(σ_ξ⁴ d)",
                              "≤ exp(−n‖μ‖⁴/(C σ_ξ⁴ d)): slope −1/C < 0")


def _stage2_claim(table, context):
    cells = table[table.part == "stage2"]
    groups = cells.groupby(["tau", "d_over_n"], sort=True)
    summary = groups.agg(clean=("final_test_error", "mean"), noisy=("final_test_error_noisy", "mean"),
                         fitted=("t2", lambda s: float(s.notna().mean()))).reset_index()
    summary["bound"] = 0.5 * summary.tau
    above = summary.clean >= summary.bound
    benign = summary[~above]
    measured = (f"clean error ≥ 0.5τ in {int(above.sum())} of {len(summary)} (τ, d/n) cells; below it (benign) at "
                + (", ".join(f"τ={t:g} d/n={r:g}" for t, r in zip(benign.tau, benign.d_over_n)) or "none")
                + f"; noisy-label error ≥ 0.5τ in {int((summary.noisy >= summary.bound).sum())} of {len(summary)}"
                f"; every sample fitted (t2 reached) in {100 * summary.fitted.mean():.0f}% of runs")
    verdict = Verdict.judge(measured, bool(above.all()), bool(above.any()), _region(cells))
    if context is not None:
        fig, ax = _figure()
        for k, (ratio, part) in enumerate(summary.groupby("d_over_n")):
            # A log axis: an error of exactly 0 is left out (NaN) rather than drawn.
            ax.plot(part.tau, part.clean.where(part.clean > 0), "o-", color=f"C{k}", label=f"clean, d/n={ratio:g}")
            ax.plot(part.tau, part.noisy.where(part.noisy > 0), "s:", color=f"C{k}", alpha=0.6)
        taus = np.unique(summary.tau)
        ax.plot(taus, 0.5 * taus, "k--", label="0.5 min(τ+, τ−)")
        ax.set_yscale("log")
        ax.set_xlabel("τ")
        ax.set_ylabel("converged test error (dotted: noisy labels)")
        ax.legend(fontsize="x-small")
        context.figure(fig, "stage2")
    return ("Stage II: converged clean test error against 0.5·min{τ₊, τ₋}", "≥ 0.5·min{τ₊, τ₋}",
            verdict.measured, verdict.verdict, verdict.region)


def _selection_claim(table, context):
    cells = table[table.part.isin(["t1", "early", "stage2"])]
    precision, recall = cells.select_precision_t1.astype(float), cells.select_recall_t1.astype(float)
    measured = (f"precision mean {precision.mean():.3f} (min {precision.min():.3f}), recall mean "
                f"{recall.mean():.3f} (min {recall.min():.3f}) over {int(precision.notna().sum())} runs")
    verdict = Verdict.judge(measured, precision.mean() >= 0.95 and recall.mean() >= 0.95,
                            precision.mean() >= 0.8 and recall.mean() >= 0.8, _region(cells))
    if context is not None:
        fig, ax = _figure()
        ax.plot(cells.d_over_n, precision, "o", label="precision", alpha=0.7)
        ax.plot(cells.d_over_n, recall, "x", label="recall", alpha=0.7)
        ax.set_xscale("log")
        ax.set_xlabel("d / n")
        ax.set_ylabel("log 2 rule at t1")
        ax.legend(fontsize="small")
        context.figure(fig, "selection")
    return ("Sample selection: the log 2 rule at t1", "precision = recall = 1 at T₁", verdict.measured,
            verdict.verdict, verdict.region)
