r"""The paper's statements as measured laws, from one designed sweep.

Han et al. state their results up to constants: Stage I ends at
:math:`T_1 = \Theta(\eta^{-1} n m \sigma_\xi^{-2} d^{-1})`, stopping there keeps the clean test error below
:math:`\exp(-d/(n C'))`, without label noise it stays below :math:`\exp(-n \|\mu\|^4/(C \sigma_\xi^4 d))`,
after Stage II it stays above :math:`0.5 \cdot \min\{\tau_+, \tau_-\}`, and at :math:`T_1` the :math:`\log 2` loss rule
keeps only clean samples. Beside them the library's own rule from the update equations: Stage I exists while
:math:`n \cdot \mathrm{SNR}^2 (1 - 2\tau)` exceeds a constant (2 by the rule). :func:`measure` runs one sweep
(through :func:`labelnoise_sim.sweep` with a store, so an interrupted run resumes) whose cells fall in parts,
one per statement, fits each law and decides it with :meth:`~labelnoise_sim.papers.Verdict.decide`: an
interval of the measured quantity (regression intervals, bootstrap over seeds, Wilson intervals for shares)
against the range the statement accepts, both fixed here before any run (:data:`CRITERIA`).

Every part but one lies inside the paper's assumptions as the gallery entry declares them
(``labelnoise_sim.papers.han2025.ASSUMPTIONS``: d ≥ n², small σ₀ and η, n·SNR² of order one), which
the d-free Gram sampling makes cheap; the exception, ``stage2_extra``, is the harmful regime of the library's
earlier design (n = 100, d/n ≤ 5, η σ_ξ² d = n), kept as a labelled extra whose verdict is "outside
assumptions".

Operational choices:

- The theorem's :math:`T_1` is the time at which the coefficients reach order one. ``t1`` of
  :func:`~labelnoise_sim.analyze` (every clean sample fitted, margin above 0) comes within a step or two
  with a small initialisation, so :math:`T_1` is measured as ``t1_margin``: the first recorded step at which
  every clean sample has margin at least 1 (loss at most :math:`\log(1 + e^{-1})`). Early stopping, the
  selection rule and Stage I are measured there.
- At :math:`T_1` every clean sample has loss below :math:`\log 2` by the definition of :math:`T_1`, so the
  recall of the :math:`\log 2` rule is 1 whatever the dynamics: only its precision (the share of clean
  samples among those it keeps) is measured.
- A run has converged (Stage II) when every sample is fitted by its observed label (``t2`` reached); Stage II
  is judged on converged runs only, and the table says how many there are.
- Test errors are estimated by line sampling to 2 % at 95 % confidence, down to errors of 1e-30 and below,
  so they are 0 only far in the tail; log-fits mask such zeros and count them.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np

from .figures import plain_log_ticks
from .papers._base import Context, Verdict, markdown_table, regime_label, regime_rows

__all__ = ["Fit", "fit_line", "fit_power_law", "wilson_interval", "bootstrap_interval", "crossing", "outside_band",
           "design", "measure", "read_cells", "at_t1", "ClaimsOutcome", "CRITERIA", "THEORY_T1", "T1_FACTORS", "claim_rows",
           "PART_CLAIMS", "COLUMNS"]

#: The factors of the :math:`T_1` law, in the order of the exponents, and the theory's exponents.
T1_FACTORS = ("n", "m", "eta", "sigma_xi", "d")
THEORY_T1 = (1.0, 1.0, -1.0, -2.0, -1.0)
#: The margin at which ``t1_margin`` counts a clean sample as fitted "at order one".
T1_MARGIN = 1.0
#: Largest relative distance |a − a_theory|/|a_theory| of a T₁ exponent that the law accepts.
T1_TOLERANCE = 0.25
#: The rule from the update equations: Stage I while n·SNR²·(1 − 2τ) > 2; the accepted constants.
BOUNDARY_RULE, BOUNDARY_ACCEPTED = 2.0, (1.0, 4.0)
#: The accepted precision of the log 2 rule at T₁.
PRECISION_ACCEPTED = (0.98, 1.0)
#: Bootstrap resamples and the seed of their draws (the intervals are reproducible).
BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED = 2000, 0

#: The verdict criteria, declared before any run (the verdict words are those of :class:`~labelnoise_sim.papers.Verdict`).
CRITERIA = {
    "t1": f"log(median T₁ of each cell) on log n, m, η, σ_ξ, d: the largest relative distance |a − a_theory|/"
          f"|a_theory| of the five exponents (95% regression intervals) within [0, {T1_TOLERANCE}]",
    "boundary": f"the constant c of the Stage I boundary n·SNR²·(1 − 2τ) = c (where half the noisy samples are on "
                f"their true side at T₁), for every τ (95% bootstrap "
                f"interval over seeds), within [{BOUNDARY_ACCEPTED[0]:g}, {BOUNDARY_ACCEPTED[1]:g}]: within a "
                f"factor 2 of the rule's {BOUNDARY_RULE:g}",
    "early": "log(median clean test error at T₁ of each (n, d/n) cell) = a + b·d/n + c·log n: max(b, c) ≤ 0 (95% "
             "regression intervals): the error falls with d/n and does not grow with n at fixed d/n",
    "clean": "the slope of log(final clean test error) on n‖μ‖⁴/(σ_ξ⁴ d) ≤ 0 (95% regression interval)",
    "stage2": "in every (τ, d/n) cell, the mean final clean test error of the converged runs minus 0.5·min(τ₊, "
              "τ₋) ≥ 0 (95% bootstrap intervals over seeds; the smallest over the cells)",
    "selection": f"the precision of the log 2 rule at T₁, pooled over the runs with label noise (95% Wilson "
                 f"interval), within [{PRECISION_ACCEPTED[0]:g}, 1]",
}

# The design ---------------------------------------------------------------------------------------------------

#: The base point of the T₁ design: n·SNR² and τ where Stage I exists, d = 5 n² (inside d ≥ n² for every
#: level of n), η σ_ξ² d = 0.4 (inside the small step for every level: 0.8 at most), so T₁'s scale is
#: n m / 0.4 = 250 steps.
BASE = dict(n=20, m=5, eta=0.4 / 2000, sigma_xi=1.0, d=2000, tau=0.1, n_snr2=8.0)
#: η σ_ξ² d of every other part: half the small-step bound.
STEP = 0.5
#: Fixed for every cell: an initialisation small enough for every cell (σ₀ max(σ_ξ d/√n, ‖μ‖) ≤ 0.1) and
#: the d-free Gram sampling.
FIXED = dict(sigma0=1e-4, sampling="gram")
#: Factors by which each T₁ factor moves off the base point (σ_ξ by their square roots: the same range of T₁).
T1_LEVELS = {"full": (0.5, 0.7, 1.4, 2.0), "quick": (0.5, 2.0)}
#: n·SNR² of the early-stopping part: errors of 1e-10 to 1e-20 at T₁ over its d/n ≥ n (d ≥ n² for n ≤ 40),
#: still where Stage I exists.
EARLY_N_SNR2 = 4.0
#: The parts' seeds, full and quick: at least 10 where shares or cell means are judged.
SEEDS = {"t1": (10, 2), "boundary": (10, 3), "early": (10, 3), "clean": (5, 2), "stage2": (10, 3),
         "stage2_extra": (5, 2)}
#: The claim of the gallery entry han2025 (index into its CLAIMS) whose assumptions each part is judged under;
#: the boundary is the library's rule, under the assumptions of Theorem 4.1 but n·SNR² (which it crosses).
PART_CLAIMS = {"t1": 0, "boundary": 0, "early": 3, "clean": 5, "stage2": 2, "stage2_extra": 2, "selection": 4}
_NOT_FOR_BOUNDARY = ("signal and noise compete (from below)", "signal and noise compete (from above)")


def _theory_t1(cell) -> float:
    return cell["n"] * cell["m"] / (cell["eta"] * cell["sigma_xi"] ** 2 * cell["d"])


def _eta(d, sigma_xi=1.0):
    """The step with η σ_ξ² d = :data:`STEP`."""
    return STEP / (sigma_xi**2 * d)


def design(quick: bool = False) -> list[tuple[str, dict]]:
    r"""The cells of the sweep, as (part, parameters) in table order; each cell's ``seed`` included.

    Parts: ``"t1"`` (one factor at a time around ``BASE``), ``"boundary"`` (τ × n·SNR²·(1 − 2τ) across the
    rule's boundary), ``"early"`` (:math:`d/n \times n` at fixed :math:`n \cdot \mathrm{SNR}^2` and τ, d ≥ n²),
    ``"clean"`` (τ = 0 over :math:`d/n`, n and :math:`n \cdot \mathrm{SNR}^2`), ``"stage2"`` (τ × d/n, run
    200 times T₁'s scale) and ``"stage2_extra"`` (outside the assumptions: n = 100, d/n ≤ 5, the earlier
    design's large step). Steps follow each cell's :math:`T_1` scale :math:`n m/(\eta \sigma_\xi^2 d)`.

    Parameters
    ----------
    quick : bool, default False
        The smaller design of ``measure(quick=True)``.

    Returns
    -------
    list of (str, dict)
        The part and the parameters of each cell.
    """
    which = 1 if quick else 0
    cells: list[tuple[str, dict]] = []

    def add(part, steps_per_t1, **params):
        cell = {**BASE, **params}
        cell["steps"] = int(round(steps_per_t1 * _theory_t1(cell)))
        cells.extend((part, {**cell, "seed": seed}) for seed in range(SEEDS[part][which]))

    add("t1", 8)
    for factor in T1_FACTORS:
        for level in T1_LEVELS["quick" if quick else "full"]:
            value = BASE[factor] * (math.sqrt(level) if factor == "sigma_xi" else level)
            add("t1", 8, **{factor: int(value) if factor in ("n", "m", "d") else value})
    for tau in ((0.1, 0.3) if quick else (0.1, 0.2, 0.3)):
        for x in ((1.0, 2.0, 4.0, 8.0) if quick else (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)):
            add("boundary", 16, n=40, d=3200, eta=_eta(3200), tau=tau, n_snr2=x / (1 - 2 * tau))
    for n in ((10, 40) if quick else (10, 20, 40)):
        for ratio in ((40, 60) if quick else (40, 50, 60)):
            add("early", 8, n=n, d=ratio * n, eta=_eta(ratio * n), n_snr2=EARLY_N_SNR2)
    for n, ratio in (((10, 10), (20, 40)) if quick else ((10, 10), (10, 20), (20, 20), (10, 40), (20, 40))):
        for n_snr2 in ((1.25, 2.0) if quick else (1.25, 1.5, 2.0)):
            add("clean", 40, n=n, d=ratio * n, eta=_eta(ratio * n), tau=0.0, n_snr2=n_snr2)
    for tau in ((0.1, 0.3) if quick else (0.05, 0.1, 0.2, 0.3)):
        for ratio in ((20,) if quick else (20, 40)):
            add("stage2", 200, d=ratio * 20, eta=_eta(ratio * 20), tau=tau)
    for tau in (0.1, 0.2):
        for ratio in ((2,) if quick else (2, 5)):
            add("stage2_extra", 1000, n=100, d=ratio * 100, eta=1.0 / ratio, tau=tau)
    return cells


# Fits and intervals -------------------------------------------------------------------------------------------

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


def wilson_interval(successes: int, trials: int) -> tuple[float, float]:
    """Compute the 95% Wilson score interval of a share ``successes / trials`` (scipy's).

    Parameters
    ----------
    successes : int
        The count.
    trials : int
        Out of how many.

    Returns
    -------
    tuple of float
        ``(low, high)``; (NaN, NaN) without trials.
    """
    if trials == 0:
        return math.nan, math.nan
    from scipy.stats import binomtest

    ci = binomtest(int(successes), int(trials)).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def bootstrap_interval(values, statistic=np.mean) -> tuple[float, float]:
    """Compute the 95% percentile bootstrap interval of ``statistic`` over ``values``.

    scipy's bootstrap, ``BOOTSTRAP_RESAMPLES`` resamples drawn from ``BOOTSTRAP_SEED``.

    Parameters
    ----------
    values : array_like of float
        One value per seed.
    statistic : callable, default numpy.mean
        The statistic of the values.

    Returns
    -------
    tuple of float
        ``(low, high)``; (NaN, NaN) for fewer than two values.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return math.nan, math.nan
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    from scipy.stats import bootstrap

    ci = bootstrap((values,), statistic, n_resamples=BOOTSTRAP_RESAMPLES, method="percentile",
                   random_state=np.random.default_rng(BOOTSTRAP_SEED)).confidence_interval
    return float(ci.low), float(ci.high)


def outside_band(intervals, accepted) -> tuple[float, float]:
    """Measure how far a set of intervals lies outside the band ``accepted``.

    It is (0, 0) when every interval lies in the band, its low end is above 0 when one of them lies wholly
    outside it: a claim "every value in the band" is decided by this interval against (0, 0).

    Parameters
    ----------
    intervals : iterable of (float, float)
        The intervals :math:`I_k`.
    accepted : (float, float)
        The band.

    Returns
    -------
    tuple of float
        The interval of the largest distance from the band of a value of each interval,
        ``(max_k min_{x in I_k} dist, max_k max_{x in I_k} dist)``.
    """
    a, b = accepted
    if any(math.isnan(v) for interval in intervals for v in interval):
        return math.nan, math.nan
    low = max(max(a - hi, lo - b, 0.0) for lo, hi in intervals)
    high = max(max(a - lo, hi - b, 0.0) for lo, hi in intervals)
    return low, high


def crossing(x, share, level: float = 0.5) -> float:
    """Find the first x at which ``share`` rises through ``level``, linearly interpolated in log x.

    Parameters
    ----------
    x : array_like of float
        Increasing positive values.
    share : array_like of float
        The share at each x.
    level : float, default 0.5
        The level to cross.

    Returns
    -------
    float
        The crossing; inf if the share never reaches the level (the crossing lies beyond the largest x), 0 if
        it starts there (at or below the smallest x), NaN if a share is NaN.
    """
    x, share = np.asarray(x, dtype=np.float64), np.asarray(share, dtype=np.float64)
    if np.isnan(share).any():
        return math.nan
    above = share >= level
    if not above.any():
        return math.inf
    if above[0]:
        return 0.0
    k = int(np.argmax(above))
    lx0, lx1, s0, s1 = math.log(x[k - 1]), math.log(x[k]), share[k - 1], share[k]
    return math.exp(lx0 + (lx1 - lx0) * (level - s0) / (s1 - s0))


def _log_error(cells, column):
    """The test errors in ``column`` and their logs (zeros give -inf, which the fits mask and count)."""
    err = cells[column].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return err, np.log(err)


# The run ------------------------------------------------------------------------------------------------------

#: The columns of the claims table.
COLUMNS = ("claim", "theory", "measured", "verdict", "seeds", "uncertainty", "regime", "region")


@dataclasses.dataclass(frozen=True)
class ClaimsOutcome:
    """What :func:`measure` found.

    Attributes
    ----------
    rows : list of tuple
        A row per claim, with the :data:`COLUMNS`.
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
            The table, with the :data:`COLUMNS`.
        """
        return markdown_table(COLUMNS, self.rows)

    def summary(self) -> str:
        """A line per claim with its verdict, and a line for the files written.

        Returns
        -------
        str
            The lines, joined by newlines.
        """
        lines = [f"  [{row[3]}] {row[0]}: {row[2]}" for row in self.rows]
        lines.append(f"  {len(self.written)} files in {self.written[0].parent if self.written else '-'}; "
                     f"{self.seconds:.0f} s")
        return "\n".join(lines)


def at_t1(result) -> dict:
    """Measure a run at T₁ (``t1_margin``).

    T₁ is the first recorded step at which every clean sample has margin ≥ ``T1_MARGIN``.

    Parameters
    ----------
    result : SimulationResult
        The run.

    Returns
    -------
    dict
        The share of noisy samples on their true side, the clean test error, and the samples the log 2 rule
        keeps (loss ≤ log 2) and how many of them are clean; NaN where T₁ is never reached.
    """
    level = math.log1p(math.exp(-T1_MARGIN))
    noisy = result.data.is_noisy
    reached = np.flatnonzero((result.sample_loss[:, ~noisy] <= level).all(axis=1))
    out = dict(t1_margin=math.nan, noisy_count=int(noisy.sum()), noisy_true_share_T1=math.nan,
               test_error_T1=math.nan, kept_T1=math.nan, kept_clean_T1=math.nan)
    if reached.size:
        k = int(reached[0])
        kept = result.sample_loss[k] <= math.log(2.0)
        out.update(t1_margin=float(result.t[k]), noisy_true_share_T1=float(result.train_acc_noisy_true[k]),
                   test_error_T1=float(result.test_error_at(np.array([k]))[0]), kept_T1=int(kept.sum()),
                   kept_clean_T1=int((kept & ~noisy).sum()))
    return out


def _regime(part, config) -> str:
    from .papers.han2025 import ASSUMPTIONS

    assumptions = ASSUMPTIONS if part != "boundary" else [a for a in ASSUMPTIONS if a.name not in _NOT_FOR_BOUNDARY]
    return regime_label(regime_rows(assumptions, config, PART_CLAIMS[part]))


def measure(out, *, quick: bool = False, progress: bool = True) -> ClaimsOutcome:
    """Run the claims' sweep into the directory ``out`` and write its tables and figures.

    The files are ``claims.md``, ``claims_table.md``, the per-cell table ``claims_cells.csv`` and the
    figures ``claims_*.png``. The sweep's store is ``out/store``: rerunning resumes it.

    Parameters
    ----------
    out : str or os.PathLike
        The directory to write into.
    quick : bool, default False
        Run a smaller design (2-3 seeds, fewer levels) whose verdicts are marked "(quick)".
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
    at_first = pd.DataFrame([at_t1(swept.result(i)) for i in range(len(cells))])
    for name in at_first.columns:
        table[name] = at_first[name].to_numpy()
    table["regime"] = [_regime(part, config) for (part, _), config in zip(cells, swept.configs)]
    table["t1_scale"] = [_theory_t1(c) for _, c in cells]
    table["d_over_n"] = table.d / table.n
    table["clean_x"] = table.n_snr2 ** 2 * table.d / table.n  # n‖μ‖⁴/(σ_ξ⁴ d) with ‖μ‖² = n·SNR²·σ_ξ² d/n
    table["boundary_x"] = table.n_snr2 * (1 - 2 * table.tau)
    table["final_test_error_noisy"] = table.tau + (1 - 2 * table.tau) * table.final_test_error
    keep = ["part", *names, "regime", "t1", "t1_margin", "t1_scale", "d_over_n", "clean_x", "boundary_x", "t2",
            "noisy_count", "noisy_true_share_T1", "test_error_T1", "kept_T1", "kept_clean_T1", "best_step",
            "best_test_error", "final_test_error", "final_test_error_noisy"]
    table[keep].to_csv(out / "claims_cells.csv", index=False)
    # Judged from the file just written, so that the table can be checked against it (see claim_rows).
    rows = claim_rows(read_cells(out / "claims_cells.csv"), context, quick=quick)
    text = markdown_table(COLUMNS, rows) + "\n"
    (out / "claims_table.md").write_text(text)
    criteria = "\n".join(f"- {key}: {value}" for key, value in CRITERIA.items())
    (out / "claims.md").write_text(f"# The claims, measured{' (--quick)' if quick else ''}\n\n{text}\n"
                                   f"Verdict criteria (fixed before the run):\n\n{criteria}\n")
    written = context.written + [out / name for name in ("claims_cells.csv", "claims_table.md", "claims.md")]
    return ClaimsOutcome(rows, written, time.perf_counter() - start)


def read_cells(path):
    """Read ``claims_cells.csv`` as :func:`measure` judges it.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    pandas.DataFrame
        One row per run.
    """
    import pandas as pd

    return pd.read_csv(path)


def claim_rows(table, context: Context | None = None, *, quick: bool = False) -> list[tuple]:
    """Judge the claims from the per-cell table of the sweep.

    Parameters
    ----------
    table : pandas.DataFrame
        The per-cell table ``claims_cells.csv``, as :func:`read_cells` reads it.
    context : Context or None, default None
        Where to draw each claim's figure; None draws none.
    quick : bool, default False
        Mark the verdicts as those of a ``--quick`` run.

    Returns
    -------
    list of tuple
        A row per claim, with the :data:`COLUMNS`.
    """
    return [judge(table, context, quick).row for judge in
            (_t1_claim, _boundary_claim, _early_claim, _clean_claim, _stage2_claim, _stage2_extra_claim,
             _selection_claim)]


@dataclasses.dataclass(frozen=True)
class _Row:
    claim: str
    theory: str
    verdict: Verdict

    @property
    def row(self) -> tuple:
        v = self.verdict
        return (self.claim, self.theory, v.measured, v.label, v.seeds, v.uncertainty, v.regime, v.region)


def _part(table, part, inside_only=True):
    """The part's cells (those inside the assumptions, if ``inside_only``), and the regime of the part: "inside"
    or the broken assumptions of its first cell outside them."""
    cells = table[table.part == part]
    outside = cells[cells.regime != "inside"]
    regime = "inside" if outside.empty else str(outside.regime.iloc[0])
    return (cells[cells.regime == "inside"] if inside_only and regime == "inside" else cells), regime


def _region(cells) -> str:
    parts = []
    for name in ("n", "m", "eta", "sigma_xi", "d", "tau", "n_snr2"):
        values = sorted(set(cells[name]))
        parts.append(f"{name}={values[0]:.3g}" if len(values) == 1 else f"{name} {min(values):.3g}-{max(values):.3g}")
    return ", ".join(parts) + f"; {len(cells)} runs"


def _seeds(cells) -> int:
    return int(cells.seed.nunique())


def _fmt_ci(value, low, high) -> str:
    return f"{value:.3g} [{low:.3g}, {high:.3g}]"


def _figure():
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(5.4, 3.9), layout="constrained")


def _t1_claim(table, context, quick):
    cells, regime = _part(table, "t1")
    # The median run of each cell: a few runs with one class unlearnt at T₁ (test error near 1/2 there) reach
    # T₁ up to 8 times later, by memorising that class's samples, and would dominate a fit to every run.
    medians = cells.groupby(list(T1_FACTORS), sort=True).t1_margin.median().reset_index()
    fit = fit_power_law({k: medians[k] for k in T1_FACTORS}, medians.t1_margin)
    unlearnt = int((cells.test_error_T1 >= 0.4).sum())
    theory = np.array(THEORY_T1)
    lo, hi = (fit.low - theory) / np.abs(theory), (fit.high - theory) / np.abs(theory)
    # The largest relative distance of an exponent from theory: its interval from the intervals of each.
    nearest = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(np.abs(lo), np.abs(hi)))
    farthest = np.maximum(np.abs(lo), np.abs(hi))
    ratio = float(np.nanmedian(cells.t1_margin / cells.t1_scale))
    measured = ("exponents " + ", ".join(f"{k} {_fmt_ci(a, l, h)}" for k, a, l, h in
                                          zip(T1_FACTORS, fit.coef, fit.low, fit.high))
                + f"; largest relative distance from theory {np.max(np.abs(fit.coef - theory) / np.abs(theory)):.2f} "
                f"[{nearest.max():.2f}, {farthest.max():.2f}]; constant e^c = {math.exp(fit.intercept):.3g}; R² "
                f"{fit.r2:.3f}; the medians of {fit.used} cells of {len(cells)} runs "
                f"({int(cells.t1_margin.isna().sum())} "
                f"without T₁, {unlearnt} with one class unlearnt at T₁); T₁ / (n m/(η σ_ξ² d)) median {ratio:.3g}")
    verdict = Verdict.decide(measured, (nearest.max(), farthest.max()), (0.0, T1_TOLERANCE), seeds=_seeds(cells),
                             uncertainty="95% regression (Student t) intervals of the exponents, on the cell medians",
                             region=_region(cells),
                             regime=regime, quick=quick)
    if context is not None:
        fig, ax = _figure()
        ax.loglog(cells.t1_scale, cells.t1_margin, "o", alpha=0.25, label="measured T₁ (margin 1), runs")
        scale = medians.n * medians.m / (medians.eta * medians.sigma_xi**2 * medians.d)
        ax.loglog(scale, medians.t1_margin, "D", color="C1", label="median of each cell")
        grid = np.geomspace(cells.t1_scale.min(), cells.t1_scale.max(), 20)
        ax.loglog(grid, ratio * grid, "k--", label=f"{ratio:.2g} × theory scale (median ratio)")
        plain_log_ticks(ax.xaxis)
        plain_log_ticks(ax.yaxis)
        ax.set_xlabel(r"$n m / (\eta \sigma_\xi^2 d)$ (steps)")
        ax.set_ylabel("T₁ (steps)")
        ax.legend(fontsize="small", loc="upper left")
        context.figure(fig, "t1")
    return _Row("T₁ scaling: exponents of n, m, η, σ_ξ, d",
                "T₁ = Θ(η⁻¹ n m σ_ξ⁻² d⁻¹): exponents 1, 1, −1, −2, −1", verdict)


def _boundary_claim(table, context, quick):
    cells, regime = _part(table, "boundary")
    without = int((cells.noisy_count > 0).sum() - ((cells.noisy_count > 0) & cells.t1_margin.notna()).sum())
    cells = cells[(cells.noisy_count > 0) & cells.t1_margin.notna()]
    cells = cells.assign(true_side=cells.noisy_true_share_T1 * cells.noisy_count)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    resamples = BOOTSTRAP_RESAMPLES // 4
    low, high, summary = [], [], {}
    for tau, part in cells.groupby("tau", sort=True):
        # Per level of n·SNR²·(1 − 2τ), the share of noisy samples on their true side at T₁, pooled over seeds.
        groups = [(g.true_side.to_numpy(float), g.noisy_count.to_numpy(float))
                  for _, g in part.groupby("boundary_x", sort=True)]
        xs = np.array(sorted(set(part.boundary_x)))
        shares = np.array([side.sum() / count.sum() for side, count in groups])
        boot = []
        for _ in range(resamples):
            picks = [rng.integers(0, side.size, side.size) for side, _ in groups]
            boot.append(crossing(xs, [side[k].sum() / count[k].sum() for (side, count), k in zip(groups, picks)]))
        boot = np.array(boot)
        lo, hi = np.percentile(boot, 2.5, method="lower"), np.percentile(boot, 97.5, method="higher")
        low.append(lo)
        high.append(hi)
        summary[tau] = (xs, shares, crossing(xs, shares), lo, hi)
    measured = ("c = " + "; ".join(f"{_fmt_ci(c, lo, hi)} at τ = {tau:g}" for tau, (_, _, c, lo, hi) in summary.items())
                + f" (c: where half the noisy samples are on their true side at T₁; inf: not within n·SNR²·(1 − 2τ) ≤ "
                f"{cells.boundary_x.max():.3g}; {len(cells)} runs with a noisy sample and T₁"
                + (f", {without} without T₁ left out" if without else "") + ")")
    verdict = Verdict.decide(measured, outside_band(list(zip(low, high)), BOUNDARY_ACCEPTED), (0.0, 0.0),
                             seeds=_seeds(cells),
                             uncertainty=f"95% bootstrap intervals of c over seeds ({resamples} resamples)",
                             region=_region(cells), regime=regime, quick=quick)
    if context is not None:
        fig, ax = _figure()
        for k, (tau, (xs, shares, c, _, _)) in enumerate(summary.items()):
            label = f"τ = {tau:g}" + (f": c = {c:.2g}" if np.isfinite(c) else "")
            ax.plot(xs, shares, "o-", color=f"C{k}", label=label)
        ax.axvline(BOUNDARY_RULE, color="k", ls="--", lw=1, label=f"rule: c = {BOUNDARY_RULE:g}")
        ax.axhline(0.5, color="0.6", lw=0.8)
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("n·SNR²·(1 − 2τ)")
        ax.set_ylabel("noisy samples on their true side at T₁")
        ax.legend(fontsize="small", loc="lower right")
        context.figure(fig, "boundary")
    return _Row("Stage I boundary: Stage I exists where n·SNR²·(1 − 2τ) > c",
                f"rule from the update equations: c = {BOUNDARY_RULE:g} (the paper: n·SNR² = Θ(1))", verdict)


def _early_claim(table, context, quick):
    cells, regime = _part(table, "early")
    # The bound holds with high probability: the median run of each (n, d/n) cell is fitted, not the mean, which
    # a few runs with one class unlearnt at T₁ (error near 1/2) would dominate.
    medians = cells.groupby(["n", "d_over_n"], sort=True).test_error_T1.median().reset_index()
    with np.errstate(divide="ignore"):
        log_err = np.log(medians.test_error_T1.to_numpy(float))
    x = np.column_stack([medians.d_over_n.to_numpy(float), np.log(medians.n.to_numpy(float))])
    fit = fit_line(x, log_err)
    b, c = fit.coef
    const = -1 / b if b < 0 else math.nan
    stuck = int((cells.test_error_T1 > 0.1).sum())
    measured = (f"slope on d/n {_fmt_ci(b, fit.low[0], fit.high[0])}, so C′ = {const:.3g}; on log n (fixed d/n) "
                f"{_fmt_ci(c, fit.low[1], fit.high[1])}; R² {fit.r2:.3f}; the medians of {len(medians)} (n, d/n) cells "
                f"of {len(cells)} runs, {stuck} of which have an error above 0.1 at T₁"
                + (f"; {fit.masked} cells masked (error 0 or no T₁)" if fit.masked else ""))
    verdict = Verdict.decide(measured, (max(fit.low), max(fit.high)), (-math.inf, 0.0), seeds=_seeds(cells),
                             uncertainty="95% regression (Student t) intervals on the cell medians",
                             region=_region(cells),
                             regime=regime, quick=quick)
    if context is not None:
        fig, ax = _figure()
        for k, (n, part) in enumerate(cells.groupby("n", sort=True)):
            shown = part.test_error_T1 > 0
            ax.semilogy(part.d_over_n[shown], part.test_error_T1[shown], "o", color=f"C{k}", alpha=0.3)
            median = medians[medians.n == n]
            ax.semilogy(median.d_over_n, median.test_error_T1, "D", color=f"C{k}", ms=8, label=f"n = {n} (median)")
            grid = np.linspace(cells.d_over_n.min(), cells.d_over_n.max(), 20)
            ax.semilogy(grid, np.exp(fit.intercept + b * grid + c * math.log(n)), "--", color=f"C{k}")
        ax.set_xlabel("d / n")
        ax.set_ylabel("clean test error at T₁")
        ax.set_title("early stopping at T₁ (dots: runs; dashed: the fit to the medians)", fontsize="medium")
        ax.legend(fontsize="small", loc="upper right")
        context.figure(fig, "early_stopping")
    return _Row("Early stopping: log(clean test error at T₁) against d/n and n",
                "≤ exp(−d/(n C′)): falls with d/n, not with n at fixed d/n", verdict)


def _clean_claim(table, context, quick):
    cells, regime = _part(table, "clean")
    x = cells.clean_x.to_numpy(float)
    err, log_err = _log_error(cells, "final_test_error")
    fit = fit_line(x, log_err)
    slope, low, high = fit.coef[0], fit.low[0], fit.high[0]
    measured = (f"slope {_fmt_ci(slope, low, high)}, so C = {(-1 / slope if slope < 0 else math.nan):.3g}; R² "
                f"{fit.r2:.3f}; {fit.used} runs" + (f", {fit.masked} with error 0 masked" if fit.masked else ""))
    verdict = Verdict.decide(measured, (low, high), (-math.inf, 0.0), seeds=_seeds(cells),
                             uncertainty="95% regression (Student t) interval", region=_region(cells),
                             regime=regime, quick=quick)
    if context is not None:
        fig, ax = _figure()
        shown = err > 0
        ax.semilogy(x[shown], err[shown], "o", alpha=0.6, label="measured")
        grid = np.linspace(x.min(), x.max(), 20)
        ax.semilogy(grid, np.exp(fit.intercept + slope * grid), "k--", label="log-linear fit")
        ax.set_xlabel(r"$n\|\mu\|^4 / (\sigma_\xi^4 d)$")
        ax.set_ylabel("final clean test error")
        ax.set_title("no label noise", fontsize="medium")
        ax.legend(fontsize="small", loc="upper right")
        context.figure(fig, "no_label_noise")
    return _Row("No label noise: log(final clean test error) against n‖μ‖⁴/(σ_ξ⁴ d)",
                "≤ exp(−n‖μ‖⁴/(C σ_ξ⁴ d)): slope −1/C < 0", verdict)


def _stage2_measure(table, part, quick):
    """The Stage II bound on the converged runs of ``part``: the verdict and the per-cell summary."""
    import pandas as pd

    cells, regime = _part(table, part)
    converged = cells[cells.t2.notna()]
    rows = []
    for (tau, ratio), group in converged.groupby(["tau", "d_over_n"], sort=True):
        values = group.final_test_error.to_numpy(float)
        lo, hi = bootstrap_interval(values)
        rows.append(dict(tau=tau, d_over_n=ratio, runs=len(values), clean=values.mean(), median=np.median(values),
                         low=lo, high=hi,
                         noisy=group.final_test_error_noisy.mean(), bound=0.5 * tau))
    summary = pd.DataFrame(rows)
    margin_low = (summary.low - summary.bound).min() if len(summary) else math.nan
    margin_high = (summary.high - summary.bound).min() if len(summary) else math.nan
    below = summary[summary.high < summary.bound]
    measured = (f"converged (every sample fitted): {len(converged)} of {len(cells)} runs; mean clean error of the "
                f"converged runs ≥ 0.5τ in {int((summary.low >= summary.bound).sum())} of {len(summary)} (τ, d/n) "
                f"cells, wholly below it in {len(below)} (largest cell mean {summary.clean.max():.3g}); the error "
                f"against noisy labels, τ + (1 − 2τ)·clean ≥ τ, is above 0.5τ in every run, as for any classifier")
    verdict = Verdict.decide(measured, (margin_low, margin_high), (0.0, math.inf), seeds=_seeds(cells),
                             uncertainty="95% bootstrap intervals of each cell's mean over seeds",
                             region=_region(cells), regime=regime, quick=quick)
    return verdict, summary


def _stage2_claim(table, context, quick):
    verdict, summary = _stage2_measure(table, "stage2", quick)
    if context is not None:
        extra = _stage2_measure(table, "stage2_extra", quick)[1]
        fig, ax = _figure()
        groups = ([(g, "inside") for g in summary.groupby("d_over_n")]
                  + [(g, "outside") for g in extra.groupby("d_over_n")])
        for k, ((ratio, part), where) in enumerate(groups):
            label = f"d/n = {ratio:g}" + (" (n = 20, inside)" if where == "inside" else " (n = 100, outside)")
            shown = part.clean > 0  # a log axis: an error of exactly 0 is left out
            ax.plot(part.tau[shown], part.clean[shown], "o-" if where == "inside" else "s--", color=f"C{k}",
                    label=label + ": mean")
            if where == "inside":
                shown = part["median"] > 0
                ax.plot(part.tau[shown], part["median"][shown], "x:", color=f"C{k}", label=label + ": median")
        taus = np.unique(np.r_[summary.tau, extra.tau])
        ax.plot(taus, 0.5 * taus, "k--", label="0.5 min(τ₊, τ₋)")
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)
        ax.set_xlabel("τ")
        ax.set_ylabel("converged clean test error")
        ax.legend(fontsize="x-small", loc="lower right")
        context.figure(fig, "stage2")
    return _Row("Stage II: converged clean test error against 0.5·min{τ₊, τ₋} (converged runs only)",
                "≥ 0.5·min{τ₊, τ₋} (Theorem 4.2, read on clean labels)", verdict)


def _stage2_extra_claim(table, context, quick):
    verdict, _ = _stage2_measure(table, "stage2_extra", quick)
    return _Row("Stage II, labelled extra: the harmful regime of the earlier design (n = 100, d/n ≤ 5, large step)",
                "≥ 0.5·min{τ₊, τ₋} (Theorem 4.2, read on clean labels)", verdict)


def _selection_claim(table, context, quick):
    import pandas as pd

    inside = [cells for cells, regime in (_part(table, part) for part in ("t1", "early", "stage2"))
              if regime == "inside"]
    cells = pd.concat(inside) if inside else table.iloc[0:0]
    cells = cells[cells.kept_T1.notna() & (cells.noisy_count > 0)]
    kept, clean = int(cells.kept_T1.sum()), int(cells.kept_clean_T1.sum())
    low, high = wilson_interval(clean, kept)
    precision = cells.kept_clean_T1 / cells.kept_T1
    measured = (f"precision {clean / kept:.4f} ({kept - clean} noisy among {kept} kept samples; worst run "
                f"{precision.min():.3f}); recall is 1 at T₁ by its definition, so it is not measured")
    regime = "inside" if inside else "no part inside the assumptions"
    verdict = Verdict.decide(measured, (low, high), PRECISION_ACCEPTED, seeds=_seeds(cells),
                             uncertainty="95% Wilson interval of the pooled share", region=_region(cells),
                             regime=regime, quick=quick)
    if context is not None:
        fig, ax = _figure()
        for k, (part, group) in enumerate(cells.groupby("part", sort=False)):
            jitter = 1 + 0.02 * (k - 1)  # the parts share levels: set side by side
            ax.plot(group.boundary_x * jitter, group.kept_clean_T1 / group.kept_T1, "o", color=f"C{k}", alpha=0.4,
                    label=part)
        ax.set_ylim(min(0.9, float(precision.min()) - 0.01), 1.005)
        ax.set_xlabel("n·SNR²·(1 − 2τ)")
        ax.set_ylabel("precision of the log 2 rule at T₁")
        ax.legend(fontsize="small", loc="lower right")
        context.figure(fig, "selection")
    return _Row("Sample selection: precision of the log 2 rule at T₁",
                "precision 1 at T₁ (every noisy sample's loss ≥ log 2)", verdict)
