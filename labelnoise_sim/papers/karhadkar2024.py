"""Karhadkar et al., NeurIPS 2024: benign overfitting in leaky ReLU networks with moderate input dimension.

A two-layer leaky ReLU network (slope α = 0.1, 64 neurons, second layer ±1
alternating) trained by gradient descent on the hinge loss, on one vector per
sample x = √γ·y·v + √(1−γ)·n with n ~ N(0, (1/d)(I − vvᵀ)) and each label
flipped with probability 0.1. The authors stop at the first step of zero
training error; so does this entry (:func:`first_fit`), and it also reports the
run trained on to zero hinge loss. Its designs: the authors' d/n heatmap grid
(γ = 5/n), set beside their released data; the weak-signal regime of their
Theorem 3.4 (γ ≤ α³/d); and, as an extra, their γ grid at d = 2n.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .._validation import check_int
from ..config import SimulationConfig
from ._base import Assumption, Context, Paper, Setting, Verdict

M_TOTAL, TAU, SLOPE = 64, 0.1, 0.1
M = M_TOTAL // 2  #: the library's m counts filters per class: 64 neurons, 32 of each sign
ETA = 1 / M_TOTAL  #: lr 1/(m n) on the summed loss = lr 1/m on the library's mean loss
#: The authors' heatmap grid (experiments.ipynb): n = 50, 60, ..., 150, d/n = 1..10, γ = 5/n, 5 runs a cell.
AUTHORS_N = tuple(range(50, 151, 10))
RATIOS = tuple(range(1, 11))
#: Their γ plot: d = 2n, γ = 0, 0.01, ..., 0.09, 10 runs a point (γ = 0 has no signal vector here: left out).
GAMMAS = tuple(round(0.01 * k, 2) for k in range(1, 10))
#: The lower bound on the test error of Theorem 3.4 (weak signal).
HARMFUL_ERROR = 1 / 8
#: The authors' released heatmap data (authors_d_over_n_heatmap.source.txt names its source).
AUTHORS_DATA = (Path(__file__).resolve().parents[2] / "docs" / "papers" / "karhadkar2024"
                / "authors_d_over_n_heatmap.csv")


def _data(n: int, d: int, gamma: float) -> dict:
    """x = √γ y v + √(1−γ) n, n ~ N(0, (I − vvᵀ)/d): additive layout, ‖μ‖ = √γ, σ_ξ = √((1−γ)/d)."""
    return dict(n=n, d=d, mu_norm=math.sqrt(gamma), sigma_xi=math.sqrt((1 - gamma) / d),
                sigma0=1 / (M_TOTAL * math.sqrt(d)))


def _slope(config) -> float:
    """α of a config's ``leaky_relu(α)`` activation (NaN for another activation: no assumption holds)."""
    name = config.activation
    return float(name[len("leaky_relu("):-1]) if name.startswith("leaky_relu(") else math.nan


ASSUMPTIONS = (
    Assumption("moderate dimension", "d = Ω(n log(1/ε))", "abstract and the benign-overfitting theorem",
               lambda c: c.d / c.n, 1.0,
               reading="d/n ≥ 1, fixed before any run: the constant and ε are not in the text we could read; 1 is "
                       "the smallest d/n of the authors' own grid"),
    Assumption("weak signal", "γ ≲ α³/d", "Theorem 3.4", lambda c: c.mu_norm ** 2 * c.d / _slope(c) ** 3, 1.0,
               kind="<=", reading="γ d/α³ ≤ 1 (constant 1), fixed before any run: 2.5e-6 at d = 400, α = 0.1",
               claims=(3,)),
)


def first_fit(context: Context, name: str, grid: dict, fixed: dict, *, steps: int, every: int,
              claims: tuple[int, ...] | None = None):
    """The test error at the first step of zero training error and at the end of a run, for every cell of a sweep.

    The authors stop gradient descent at the first step t₂ at which every
    training label is fitted, ỹᵢ f(xᵢ) > 0 for all i. Recording every step
    of a long run is costly, so three sweeps of the same cells (the same
    seeds, hence the same trajectories) find it exactly:

    1. ``steps`` steps recorded every ``every``: t₂ to within ``every`` steps,
       ``t₂' ∈ [t₂, t₂ + every)``;
    2. ``t₂'`` steps recorded at each of ``t₂' − every + 1, …, t₂'``: t₂ itself;
    3. ``steps`` steps recorded at t₂ and at ``steps``: the test error there.

    Pass 2 looks only inside the last interval of pass 1: a zero training
    error that came and went between two records of pass 1, before t₂', is
    not seen (in the small runs of the tests, recorded at every step, the
    training error stayed 0 once it got there).

    Parameters
    ----------
    context : Context
        The entry's context; the sweeps' stores are ``name``, ``name-refine`` and ``name-stop``.
    name : str
        The sweep's name.
    grid, fixed : dict
        As :meth:`Context.sweep`; ``fixed`` without ``steps`` and ``record``.
    steps : int
        The run's length: the end error is measured there (with the hinge
        loss, gradient descent stops moving once the loss is 0).
    every : int
        The first sweep's record interval.
    claims : tuple of int, optional
        As :meth:`Context.sweep`.

    Returns
    -------
    pandas.DataFrame
        One row per cell, in grid order: the grid's parameters, ``inside``,
        ``t2`` (the first step of zero training error, NaN if not reached
        within ``steps``), ``error_first_fit`` (the test error at t₂ against
        the true label, NaN without t₂), ``error_end`` (at ``steps``) and
        ``zero_loss`` (whether the hinge loss is 0 at ``steps``).
    """
    steps, every = check_int("steps", steps, low=1), check_int("every", every, low=1)
    names = [part for key in grid for part in (key if isinstance(key, tuple) else key.split("+"))]
    coarse = context.sweep(name, grid, {**fixed, "steps": steps, "record": every}, claims=claims,
                           test_error=False).table
    cells = [[row[part] for part in names] for _, row in coarse.iterrows()]
    coarse_t2 = [None if math.isnan(t) else int(t) for t in coarse.t2.astype(float)]
    reached = [i for i, t in enumerate(coarse_t2) if t is not None]
    exact = {}
    if reached:
        refine = context.sweep(
            f"{name}-refine",
            {tuple(names) + ("steps", "record"): [cells[i] + [coarse_t2[i], list(range(max(0, coarse_t2[i] - every + 1),
                                                                                    coarse_t2[i] + 1))]
                                                  for i in reached]},
            dict(fixed), claims=claims, test_error=False).table
        exact = dict(zip(reached, (int(t) for t in refine.t2)))
    stop = context.sweep(
        f"{name}-stop",
        {tuple(names) + ("record",): [cells[i] + [[exact[i], steps] if i in exact and exact[i] < steps else [steps]]
                                      for i in range(len(cells))]},
        {**fixed, "steps": steps}, claims=claims, trajectories=True)
    table = stop.table
    out = coarse[names + ["inside"]].copy()
    out["t2"] = [exact.get(i, math.nan) for i in range(len(cells))]
    # Record 0 of a stopped cell is t₂, where every sample is fitted: analyze's t1 (every clean sample fitted) is it.
    out["error_first_fit"] = [table.test_error_at_t1[i] if i in exact else math.nan for i in range(len(cells))]
    out["error_end"] = table.final_test_error.to_numpy()
    out["zero_loss"] = [bool(stop.result(i).train_loss[-1] == 0.0) for i in range(len(cells))]
    return out


def load_authors(path=AUTHORS_DATA):
    """The authors' heatmap data: columns n, ratio (d/n), error (mean of 5 runs at the first zero training error)."""
    import pandas as pd

    if not Path(path).exists():
        raise FileNotFoundError(f"the authors' data file {path} is missing: it is kept in the repository's "
                                "docs/papers/karhadkar2024/, so run this entry from a clone of the repository")
    frame = pd.read_csv(path, index_col=0)
    expected = ["n", "d/n", "generalization_error"]
    if list(frame.columns) != expected:
        raise ValueError(f"{path} must have the columns {expected}; got {list(frame.columns)}")
    return frame.rename(columns={"d/n": "ratio", "generalization_error": "error"}).reset_index(drop=True)


def _mean_interval(values) -> tuple[float, float, float, float]:
    """Mean, standard error and the 95 % Student t interval of the mean of errors in [0, 1], the interval clipped
    to [0, 1] (NaN with fewer than 2 values)."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) < 2:
        mean = float(values.mean()) if len(values) else math.nan
        return mean, math.nan, math.nan, math.nan
    mean, se = float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))
    half = float(stats.t.ppf(0.975, len(values) - 1)) * se
    return mean, se, max(mean - half, 0.0), min(mean + half, 1.0)


def _share_interval(hits: int, total: int) -> tuple[float, float]:
    """The 95 % Clopper-Pearson interval of a share of ``hits`` in ``total``."""
    from scipy import stats

    low = float(stats.beta.ppf(0.025, hits, total - hits + 1)) if hits > 0 else 0.0
    high = float(stats.beta.ppf(0.975, hits + 1, total - hits)) if hits < total else 1.0
    return low, high


#: The two ways of ending a run the comparison with the authors' data sets side by side.
VARIANTS = {"error_first_fit": "stopped at the first zero training error (the authors' rule)",
            "error_end": "trained on to zero hinge loss"}


def compare_authors(ours, authors, runs: int = 5, test_points: int = 1000):
    """Our cells beside the authors' heatmap cells, and how well each variant fits them.

    The authors' cell mean of ``runs`` runs, each on ``test_points`` test
    samples, spreads as the runs do plus a binomial test-set term; we take
    the runs' spread from our own seeds. For a variant v,
    z = (authors − ours_v) / √(2 s_v²/runs + p(1 − p)/(runs · test_points)),
    with s_v our runs' standard deviation and p the larger of the two means,
    at least 1/(runs · test_points).

    Returns
    -------
    cells : DataFrame
        One row per (n, d/n) that both have: the authors' error and, per variant, our mean, its standard
        error and z.
    fit : DataFrame
        One row per variant: cells, mean difference (ours − authors), χ²/cell (mean z²), median z, share of
        |z| ≤ 2, cells where ours lies above theirs, the two-sided sign test of z's signs, and ``matches``:
        centred (sign test p ≥ MATCH_SIGN_P) and within ±2 in at least MATCH_SHARE of the cells.
    """
    import pandas as pd

    ours = ours.assign(ratio=ours.d / ours.n)
    rows = []
    for (n, ratio), group in ours.groupby(["n", "ratio"]):
        match = authors[(authors.n == n) & np.isclose(authors.ratio, ratio)]
        if match.empty:
            continue
        row = {"n": int(n), "d/n": float(ratio), "authors": float(match.error.iloc[0])}
        for column in VARIANTS:
            values = group[column].dropna().to_numpy(float)
            mean = float(values.mean()) if len(values) else math.nan
            spread = float(values.std(ddof=1)) if len(values) > 1 else math.nan
            # The binomial term at the larger of the two errors, and at least the authors' resolution (one
            # error in runs × test_points): a near-zero error of ours must not make their single miss a 100σ event.
            p = min(max(mean, row["authors"], 1 / (runs * test_points)), 1.0)
            scale = math.sqrt(2 * spread ** 2 / runs + p * (1 - p) / (runs * test_points))
            row[f"{column}"] = mean
            row[f"{column}_se"] = spread / math.sqrt(len(values)) if len(values) > 1 else math.nan
            row[f"z_{column}"] = (row["authors"] - mean) / scale if scale > 0 else math.nan
        rows.append(row)
    cells = pd.DataFrame(rows)
    fit = pd.DataFrame([_fit_row(cells, column) for column in VARIANTS])
    return cells, fit


#: A variant matches the authors' data when its z's are centred (the sign test's p at least this) ...
MATCH_SIGN_P = 0.05
#: ... and at most 2 in size in at least this share of the cells (0.954 for z ~ N(0, 1); looser, since the
#: authors' 5-run means have heavier tails than our seeds' spread, from which their spread is estimated).
MATCH_SHARE = 0.8
#: |z| at most this is a tie (the two errors equal up to rounding): it has no sign.
TIE_Z = 1e-9


def _fit_row(cells, column) -> dict:
    """How the variant ``column`` fits the authors' cells: the statistics of its z (see :func:`compare_authors`)."""
    from scipy import stats

    z = cells[f"z_{column}"].dropna()
    signed = z[z.abs() > TIE_Z]
    sign_p = float(stats.binomtest(int((signed < 0).sum()), len(signed)).pvalue) if len(signed) else 1.0
    share = float((z.abs() <= 2).mean())
    return {"variant": VARIANTS[column], "cells": len(z),
            "mean difference (ours − authors)": float((cells[column] - cells.authors).mean()),
            "χ² per cell": float((z ** 2).mean()), "median z": float(z.median()), "share with |z| ≤ 2": share,
            "cells with ours above theirs": int((signed < 0).sum()), "sign test p": sign_p,
            "matches": bool(sign_p >= MATCH_SIGN_P and share >= MATCH_SHARE)}


def run(context: Context) -> list:
    import matplotlib.pyplot as plt
    import pandas as pd

    quick = context.quick
    seeds = context.repetitions(full=5, quick=2)
    harmful_seeds = context.repetitions(full=10, quick=3)
    gamma_seeds = context.repetitions(full=10, quick=1)
    steps = 8000 if quick else 16000
    every = 50
    heat_n = (50,) if quick else (50, 100, 150)
    ratios = (1, 2, 5, 10) if quick else RATIOS
    gammas = (0.01, 0.05) if quick else GAMMAS
    harmful_n = (50,) if quick else (50, 100)
    fixed = dict(m=M, tau=TAU, flips="bernoulli", eta=ETA, layout="additive", noise="orthogonal", sampling="gram",
                 activation=f"leaky_relu({SLOPE})", loss="hinge", output_scale="sum")
    axis = ("n", "d", "mu_norm", "sigma_xi", "sigma0")

    def design(name, points, repetitions, claims):
        grid = {axis: [tuple(_data(*point).values()) for point in points], "seed": list(range(repetitions))}
        return first_fit(context, name, grid, fixed, steps=steps, every=every, claims=claims)

    heat = design("heatmap", [(n, r * n, 5 / n) for n in heat_n for r in ratios], seeds, (0, 1, 2))
    # γ = α³/(2d) at d = 2n: inside Theorem 3.4's γ ≤ α³/d with room for rounding.
    harmful = design("harmful", [(n, 2 * n, SLOPE ** 3 / (2 * 2 * n)) for n in harmful_n], harmful_seeds, (3,))
    gamma = design("gamma", [(50, 100, g) for g in gammas], gamma_seeds, (3,))
    heat["ratio"] = heat.d / heat.n
    for frame in (harmful, gamma):
        frame["gamma"] = frame.mu_norm ** 2

    # Tables: what each design measured, pooled over seeds (and over n for the heatmap).
    rows = []
    designs = (("d/n (γ = 5/n), n = " + ", ".join(map(str, heat_n)), heat, "ratio"),
               ("γ ≤ α³/d (Theorem 3.4), d = 2n", harmful, "n"),
               ("extra: γ grid at n = 50, d = 100", gamma, "gamma"))
    for design, frame, key in designs:
        for value, group in frame.groupby(key):
            first, _, lo1, hi1 = _mean_interval(group.error_first_fit)
            end, _, lo2, hi2 = _mean_interval(group.error_end)
            rows.append({"design": design, "value": f"{key} = {value:g}", "runs": len(group),
                         "inside": bool(group.inside.all()),
                         "share fitting every label": float(group.t2.notna().mean()),
                         "median t2": float(group.t2.median()),
                         "error at first zero training error": first, "95% CI (first fit)": f"[{lo1:.3g}, {hi1:.3g}]",
                         "error at zero hinge loss": end, "95% CI (zero loss)": f"[{lo2:.3g}, {hi2:.3g}]",
                         "share reaching zero hinge loss": float(group.zero_loss.mean())})
    context.table(pd.DataFrame(rows), "summary")

    regime = []
    for assumption in ASSUMPTIONS:
        for design, frame, _ in designs:
            checks = [assumption.check(config) for config in _configs(frame, fixed, axis, steps)]
            applies = assumption.claims is None or frame is not heat
            regime.append({"assumption": assumption.name, "condition": assumption.condition, "where": assumption.where,
                           "reading": f"{assumption.kind} {assumption.bound:g}", "design": design,
                           "values": f"{min(c.value for c in checks):.3g} .. {max(c.value for c in checks):.3g}",
                           "holds": ("yes" if all(c.holds for c in checks) else "no")
                           if applies else "not a condition of its claims"})
    context.table(pd.DataFrame(regime), "regime")

    authors = load_authors()
    cells, fit = compare_authors(heat, authors, runs=5)
    context.table(cells, "authors")
    context.table(fit, "fit")

    _figure_designs(context, plt, heat, harmful, gamma, authors, heat_n, steps)
    _figure_authors(context, plt, cells, fit)

    region = (f"n = {', '.join(map(str, heat_n))}, d/n = {ratios[0]}..{ratios[-1]}, γ = 5/n; up to {steps} steps, "
              f"t2 found to the step")
    inside = heat[heat.inside]
    fitted = int(inside.t2.notna().sum())
    low, high = _share_interval(fitted, len(inside))
    verdicts = [Verdict.decide(
        f"{fitted} of {len(inside)} runs fitted every label within {steps} steps (t2 from "
        f"{inside.t2.min():.0f} to {inside.t2.max():.0f})", (low, high), (0.95, 1.0), seeds=seeds,
        uncertainty=f"95% Clopper-Pearson interval of the share: [{low:.3f}, {high:.3f}]; accepted ≥ 0.95",
        region=region, quick=quick)]

    # Each (n, d/n) cell is a design point of the claim: the worst cell decides (pooling over n would hide an n
    # whose error is above the flip rate behind the others).
    by_cell = {key: _mean_interval(g.error_first_fit) for key, g in inside.groupby(["n", "ratio"])}
    worst = max(by_cell, key=lambda key: by_cell[key][3])
    by_ratio = inside.groupby("ratio").error_first_fit.mean()
    verdicts.append(Verdict.decide(
        "test error at the first zero training error, by d/n (mean over n and seeds): "
        + ", ".join(f"{r:g}: {v:.3g}" for r, v in by_ratio.items())
        + f"; the worst cell n = {worst[0]}, d/n = {worst[1]:g}: {by_cell[worst][0]:.3g}",
        (max(v[2] for v in by_cell.values()), max(v[3] for v in by_cell.values())), (0.0, TAU), seeds=seeds,
        uncertainty=f"95% t interval of each (n, d/n) cell's mean over {seeds} seeds; the largest upper end "
                    f"{by_cell[worst][3]:.3g} (n = {worst[0]}, d/n = {worst[1]:g}) against the flip rate {TAU}",
        region=region, quick=quick))

    # The trend over every d/n of an n, not its two ends only: the least-squares slope of the runs' errors on d/n.
    falls = {n: _fall_rate(group.ratio, group.error_first_fit) for n, group in inside.groupby("n")}
    verdicts.append(Verdict.decide(
        "test error at the first zero training error against d/n, least-squares slope per n (per unit of d/n): "
        + ", ".join(f"n = {n}: {-f:.3g}" for n, (f, _) in falls.items()),
        (min(f - h for f, h in falls.values()), min(f + h for f, h in falls.values())), (0.0, math.inf),
        seeds=seeds, uncertainty="95% t intervals of each n's slope (regression standard error, "
                                 f"{len(inside) // len(falls)} runs): " + ", ".join(f"{-f:.3g} ± {h:.3g}"
                                                                                  for f, h in falls.values()),
        region=region, quick=quick))

    mean, _, lo, hi = _mean_interval(harmful.error_first_fit)
    verdicts.append(Verdict.decide(
        f"test error at the first zero training error {mean:.3g} (least run {harmful.error_first_fit.min():.3g}; "
        f"at zero hinge loss {harmful.error_end.mean():.3g})", (lo, hi), (HARMFUL_ERROR, 1.0),
        seeds=harmful_seeds, uncertainty=f"95% t interval [{lo:.3g}, {hi:.3g}] over {len(harmful)} runs; "
                                         f"accepted ≥ 1/8",
        region=f"n = {', '.join(map(str, harmful_n))}, d = 2n, γ = α³/(2d) (α = {SLOPE}); up to {steps} steps",
        regime="inside" if harmful.inside.all() else "; ".join(
            sorted({context.regime(c, 3) for c in _configs(harmful, fixed, axis, steps)} - {"inside"})), quick=quick))
    return verdicts


def _fall_rate(x, y) -> tuple[float, float]:
    """−slope of the least-squares line of y on x, and the half-width of its 95 % t interval (NaN below 3 points)."""
    from scipy import stats

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = ~np.isnan(y)
    if keep.sum() < 3 or np.ptp(x[keep]) == 0:
        return math.nan, math.nan
    fit = stats.linregress(x[keep], y[keep])
    return -float(fit.slope), float(stats.t.ppf(0.975, keep.sum() - 2)) * float(fit.stderr)


def _configs(frame, fixed, axis, steps) -> list:
    """The distinct configurations (seed 0) of a design's table, for its regime."""
    return [SimulationConfig.from_params(**fixed, **dict(zip(axis, row)), steps=steps)
            for row in frame[list(axis)].drop_duplicates().itertuples(index=False)]


def _figure_designs(context, plt, heat, harmful, gamma, authors, heat_n, steps) -> None:
    """Left: the test error against d/n, per n; right: against γ at n = 50, d = 100, with Theorem 3.4's regime."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    ax = axes[0]
    for color, n in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], heat_n):
        group = heat[heat.n == n].groupby("ratio")
        for column, style, what in (("error_first_fit", "-", "first zero training error"),
                                    ("error_end", ":", "zero hinge loss")):
            stats = group[column].agg(["mean", "std", "count"])
            ax.plot(stats.index, stats["mean"], style, color=color, marker="o" if style == "-" else None,
                    label=f"n = {n}, {what}")
        mine = authors[authors.n == n]
        ax.plot(mine.ratio, mine.error, "x", color=color, ms=7, label=f"n = {n}, authors' data")
    ax.axhline(TAU, color="gray", ls="--", lw=1)
    ax.text(0.98, TAU, "flip rate", ha="right", va="bottom", color="gray", fontsize="small",
            transform=ax.get_yaxis_transform())
    ax.set_xticks(RATIOS)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("d / n")
    ax.set_ylabel("test error (true labels)")
    ax.set_title("γ = 5/n, mean over seeds", fontsize="medium")
    ax.legend(fontsize="x-small", ncol=1)

    ax = axes[1]
    for column, style, what in (("error_first_fit", "-o", "first zero training error"),
                                ("error_end", ":s", "zero hinge loss")):
        stats = gamma.groupby("gamma")[column].agg(["mean", "std"])
        ax.errorbar(stats.index, stats["mean"], yerr=stats["std"].fillna(0), fmt=style, capsize=3, label=what)
    weak = harmful[harmful.n == 50]
    if not weak.empty:
        ax.errorbar([weak.gamma.iloc[0]], [weak.error_first_fit.mean()], yerr=[weak.error_first_fit.std()],
                    fmt="D", color="black", capsize=3, label=f"γ = α³/(2d) = {weak.gamma.iloc[0]:.1e} (Theorem 3.4)")
    ax.axhline(HARMFUL_ERROR, color="black", ls="--", lw=1)
    ax.text(0.98, HARMFUL_ERROR, "1/8 (Theorem 3.4's bound)", ha="right", va="bottom", fontsize="small",
            transform=ax.get_yaxis_transform())
    ax.set_ylim(0, 0.55)
    ax.set_xlim(left=-0.002)
    ax.set_xlabel("γ")
    ax.set_ylabel("test error (true labels)")
    ax.set_title("n = 50, d = 100: mean ± sd over seeds", fontsize="medium")
    ax.legend(fontsize="small")
    fig.suptitle(f"leaky ReLU(0.1), hinge loss, 64 neurons, lr 1/(mn); runs of {steps} steps", fontsize="medium")
    context.figure(fig, "test_error")


#: The z axis of the comparison's figure: points beyond are drawn on its edge.
Z_SHOWN = 10


def _figure_authors(context, plt, cells, fit) -> None:
    """Top: the authors' heatmap data beside our two variants, per n; bottom: each variant's z per cell."""
    ns = sorted(cells.n.unique())
    fig, axes = plt.subplots(2, max(len(ns), 2), figsize=(4 * max(len(ns), 2), 7), layout="constrained",
                             squeeze=False)
    for ax, n in zip(axes[0], ns):
        mine = cells[cells.n == n]
        ax.plot(mine["d/n"], mine.authors, "kx", ms=8, label="authors' data")
        for column, style in zip(VARIANTS, ("-o", ":s")):
            half = 1.96 * mine[f"{column}_se"].fillna(0)
            # The interval's lower end stops at 0: an error is never negative.
            ax.errorbar(mine["d/n"], mine[column], yerr=[np.minimum(half, mine[column]), half], fmt=style, capsize=2,
                        label=VARIANTS[column])
        ax.set_ylim(bottom=0)
        ax.set_xticks(RATIOS)
        ax.set_xlabel("d / n")
        ax.set_ylabel("test error")
        ax.set_title(f"n = {n}, γ = 5/n", fontsize="medium")
    axes[0][0].legend(fontsize="x-small")
    for ax in axes[0][len(ns):]:
        ax.set_visible(False)
    for ax, column in zip(axes[1], VARIANTS):
        row = fit[fit.variant == VARIANTS[column]].iloc[0]
        for color, n in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], ns):
            mine = cells[cells.n == n]
            z = mine[f"z_{column}"]
            ax.plot(mine["d/n"], z.clip(-Z_SHOWN, Z_SHOWN), "o", color=color, label=f"n = {n}")
            # Beyond the axis: a triangle on its edge, pointing the way.
            for sign, marker in ((1, "^"), (-1, "v")):
                beyond = sign * z > Z_SHOWN
                ax.plot(mine["d/n"][beyond], np.full(beyond.sum(), sign * Z_SHOWN), marker, color=color, ms=9)
        ax.axhspan(-2, 2, color="0.9", zorder=0)
        ax.set_ylim(-Z_SHOWN * 1.08, Z_SHOWN * 1.08)
        ax.axhline(0, color="gray", lw=1)
        ax.set_xticks(RATIOS)
        ax.set_xlabel("d / n")
        ax.set_ylabel("z = (authors − ours) / spread")
        ax.set_title(f"{VARIANTS[column]}\n|z| ≤ 2: {100 * row['share with |z| ≤ 2']:.0f}% of cells; median z "
                     f"{row['median z']:.2f}; ours above: {row['cells with ours above theirs']}/{row['cells']}\n"
                     f"(▲▼: beyond ±{Z_SHOWN})", fontsize="small")
        ax.legend(fontsize="x-small")
    for ax in axes[1][len(VARIANTS):]:
        ax.set_visible(False)
    context.figure(fig, "authors")


PAPER = Paper(
    key="karhadkar2024",
    citation="K. Karhadkar, E. George, M. Murray, G. Montúfar, D. Needell, Benign Overfitting in Leaky ReLU "
             "Networks with Moderate Input Dimension, NeurIPS 2024",
    setup=(
        Setting("network", "f(x) = Σ_j a_j σ(⟨w_j, x⟩), leaky ReLU slope 0.1, a_j = ±1 fixed, m = 64 neurons",
                "activation=\"leaky_relu(0.1)\", output_scale=\"sum\", m = 32 per class (64 in total)",
                "the library's m counts filters per class; the authors' code (model.py) has 64 neurons, a_j "
                "alternating +1, −1. Their released heatmap data were made before that line was fixed: see the page"),
        Setting("data", "x = √γ y v + √(1−γ) n, ‖v‖ = 1, n ~ N(0, (I − vvᵀ)/d); y = ±1 with probability 1/2",
                "layout=\"additive\", noise=\"orthogonal\", ‖μ‖ = √γ, σ_ξ = √((1−γ)/d), sampling=\"gram\"",
                "the same law: the library's noise is σ_ξ² times the projection off μ; its Gram matrix is drawn "
                "directly (the same law as drawing the vectors)"),
        Setting("loss, learning rate", "hinge loss summed over samples, lr 1/(m n)",
                "hinge loss averaged over samples, η = 1/m = 1/64",
                "a sum with lr η equals a mean with lr n·η: the same iterates"),
        Setting("initialisation", "N(0, 1/(m√d)²), m = 64", "σ₀ = 1/(64√d)", "the same law, in the library's words"),
        Setting("labels", "each flipped with probability 0.1", "tau=0.1, flips=\"bernoulli\"",
                "the same draw, in the library's words: each label flipped independently"),
        Setting("stopping", "at the first step of zero training error",
                "the same step, found exactly (first_fit: a run recorded every 50 steps, then the last 50 steps "
                "recorded one by one); the run also goes on to 16,000 steps (quick: 8,000), where the hinge loss "
                "is 0 (the table says in how many runs)",
                "the authors check the training error after every step; we find the same step from records"),
        Setting("test error", "1000 fresh samples, against their true label",
                "exact law against the true label, estimated to 2 % (line sampling)",
                "no sampling noise of a test set (the comparison adds it back to the authors' side)"),
        Setting("grids", "heatmap: n = 50, 60, ..., 150, d/n = 1..10, γ = 5/n, 5 runs a cell; γ plot: d = 2n, "
                "n = 50, 100, 150, 200, γ = 0, 0.01, ..., 0.09, 10 runs a point",
                "heatmap: n = 50, 100, 150 (every d/n), 5 seeds; Theorem 3.4: n = 50, 100, d = 2n, γ = α³/(2d), "
                "10 seeds; γ: n = 50, γ = 0.01..0.09, 10 seeds (quick: n = 50, d/n = 1, 2, 5, 10, 2 seeds; 3 "
                "seeds; γ = 0.01, 0.05, 1 seed)",
                "a third of the heatmap's rows and one of the γ plot's curves, to keep the run to minutes; γ = 0 "
                "has no signal direction in the library"),
    ),
    claims=(
        "GD on the hinge loss reaches zero training error: every training label fitted, flipped ones included",
        "With d of order n (d = Ω(n log 1/ε)) the overfitting is benign: at the first zero training error the test "
        "error against the true label is small, below the flip rate",
        "The test error falls as d/n grows (error ε needs d of order n log 1/ε)",
        "With a weak signal, γ ≲ α³/d (Theorem 3.4), the overfitting is harmful: the test error is at least 1/8",
    ),
    run=run,
    runtime="about 4 min of CPU (235 s, its workers included; 17 min of wall-clock at load 17) on 2 shared cores "
            "(2026-12-07); --quick about 75 s of wall-clock at the same load",
    assumptions=ASSUMPTIONS,
)
