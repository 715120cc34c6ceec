"""Kou, Chen, Chen, Gu, ICML 2023: benign overfitting in two-layer ReLU CNNs, with label flips.

The paper proves a sharp condition: trained by gradient descent on data
with a fraction p of flipped labels, the CNN fits every training label and
its test error (against the flipped test labels) is at most p + exp(-n‖μ‖⁴ /
(C σ_p⁴ d)) when n‖μ‖⁴ ≳ σ_p⁴ d, while it stays a constant above p when
n‖μ‖⁴ ≲ σ_p⁴ d. Its synthetic figure is a heatmap of the test error over
‖μ‖ × d, and the same map thresholded at 0.2.

The verdicts come from a design inside the theorem's conditions (the
paper's model, a small initialisation and step, d from 2,000 to 200,000 by
the dimension-free Gram sampling, ‖μ‖ placed by n‖μ‖⁴/d around the
boundary, 80 seeds a cell). The authors' code settings run as a labelled
extra, outside those conditions, in three variants beside the authors'
released heatmap (:data:`AUTHORS_DATA`): the script as published, the same
with the patches summed, and the paper's model at the script's settings.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ._base import (Assumption, Context, Paper, Setting, Verdict, bootstrap_slope, broken_assumptions,
                    regime_table, seed_share, wilson)

N, P_FLIP, M = 20, 0.1, 10
THRESHOLD = 0.2  #: the paper's threshold on the test error with flipped test labels
C_BOUNDARY = 1.0  #: the constant of the drawn curve n‖μ‖⁴ = C σ_p⁴ d, chosen before the run (not fitted)
#: The claims' bands, in r = n‖μ‖⁴ / (σ_p⁴ d), fixed before the run: benign where r >= 10 C, harmful where
#: r <= C / 10; per run, benign means error <= p + 0.05 and harmful error >= p + 0.1.
BENIGN_R, HARMFUL_R, BENIGN_MARGIN, HARMFUL_MARGIN = 10 * C_BOUNDARY, 0.1 * C_BOUNDARY, 0.05, 0.1
#: What each claim accepts, fixed before the run: a share of runs (95% Wilson interval) of at least 0.95 for
#: fitting and 0.9 for the two regimes; a slope of log ‖μ*‖ on log d (95% bootstrap interval) in [0.2, 0.3]
#: around the theorem's 1/4 (room for the logarithmic factors the conditions hide).
FIT_ACCEPTED, REGIME_ACCEPTED, SLOPE_ACCEPTED = (0.95, 1.0), (0.9, 1.0), (0.2, 0.3)
BOOTSTRAP = 1000  #: bootstrap resamples of the seeds for the slope's interval

#: The design inside the conditions: d (Gram sampling makes it free), r = n‖μ‖⁴/d on a grid of 10^(1/4),
#: σ₀ and η half their bounds (see ASSUMPTIONS), trained long enough to fit every label.
INSIDE_D, INSIDE_D_QUICK = (2000, 6000, 20000, 60000, 200000), (2000, 200000)
INSIDE_R = tuple(10 ** (k / 4) for k in range(-8, 9))
INSIDE_R_QUICK = (0.01, 0.1, 1.0, 10.0, 100.0)
INSIDE_STEPS = 4000

#: The authors' code settings, on a sub-grid of their heatmap: d = 100 + 10 t, ‖μ‖ = 0.1 s.
CODE_STEPS, CODE_ETA = 100, 0.1
CODE_D, CODE_D_QUICK = tuple(range(100, 1001, 100)), (100, 500, 1000)
CODE_MU = tuple(round(0.3 * k, 1) for k in range(1, 25))
CODE_MU_QUICK = (0.3, 1.5, 3.0, 4.5, 6.0, 7.2)

#: The authors' released heatmap (data_test100.csv of github.com/uclaml/Benign_ReLU_CNN, commit 20ca259),
#: stored verbatim beside the page with its source (authors_data_test100.SOURCE.txt).
AUTHORS_DATA = Path(__file__).resolve().parents[2] / "docs" / "papers" / "kou2023" / "authors_data_test100.csv"
AUTHORS_D = 100 + 10 * np.arange(100)  #: the rows of AUTHORS_DATA
AUTHORS_MU = 0.1 * np.arange(100)  #: its columns
AUTHORS_REPS, AUTHORS_TEST = 10, 1000  #: repetitions a cell and test samples a repetition in their script


def load_authors_data(path=AUTHORS_DATA):
    """The authors' heatmap: the test error against flipped labels, shape (100, 100), rows d, columns ‖μ‖.

    Row t is d = 100 + 10 t and column s is ‖μ‖ = 0.1 s (:data:`AUTHORS_D`, :data:`AUTHORS_MU`); each value is
    the mean over 10 repetitions of the error on 1,000 test samples.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"the authors' data {path} is missing: it is 'Source file/data_test100.csv' of "
                                "github.com/uclaml/Benign_ReLU_CNN (commit 20ca259), stored in docs/papers/kou2023")
    data = np.loadtxt(path)
    if data.shape != (len(AUTHORS_D), len(AUTHORS_MU)):
        raise ValueError(f"the authors' data must be a {len(AUTHORS_D)} x {len(AUTHORS_MU)} array; got shape "
                         f"{data.shape} in {path}")
    return data


def _ratio(config) -> float:
    """r = n‖μ‖⁴ / (σ_p⁴ d), the quantity the paper's condition compares with a constant."""
    return config.n * config.mu_norm**4 / (config.sigma_xi**4 * config.d)


def _effective(config) -> tuple[float, float]:
    """(σ₀, η) of the paper's network (output (1/m) Σ_r) that trains exactly as ``config`` does.

    A ReLU network is 1-homogeneous in its weights: the sum over filters from W is the mean over filters from
    mW, and a step η on W is a step m²η on mW.
    """
    scale = config.m if config.output_scale == "sum" else 1
    return config.sigma0 * scale, config.eta * scale**2


#: The conditions of the theorem as the line of work states them (the paper's text could not be read from
#: the machine that wrote this entry: the conditions are restated from it as this page says, with C = 1 and the
#: logarithmic factors dropped, fixed before any run).
ASSUMPTIONS = (
    Assumption("noise orthogonal to μ", "ξ ~ N(0, σ_p² (I − μμᵀ/‖μ‖²))", "data model",
               lambda c: float(c.noise == "orthogonal"), 1.0,
               reading="1 for noise='orthogonal', 0 for isotropic noise (another law of the data)"),
    Assumption("no bias", "F_j = (1/m) Σ_r Σ_p σ(⟨w_{j,r}, x_p⟩)", "network",
               lambda c: float(c.bias), 0.0, kind="<=", reading="1 with a trained bias per filter, 0 without"),
    Assumption("large dimension", "d ≳ max{n², n‖μ‖²/σ_p²}", "condition on d (Condition 4.1)",
               lambda c: c.d / max(c.n**2, c.n * c.mu_norm**2 / c.sigma_xi**2), 1.0,
               reading="d / max(n², n‖μ‖²/σ_p²) >= 1: C = 1, logarithms dropped"),
    Assumption("small initialisation", "σ₀ ≲ min{√n/(σ_p d), 1/‖μ‖}", "condition on σ₀ (Condition 4.1)",
               lambda c: _effective(c)[0] * max(c.sigma_xi * c.d / math.sqrt(c.n), c.mu_norm), 1.0, kind="<=",
               reading="σ₀ max(σ_p d/√n, ‖μ‖) <= 1 (C = 1), σ₀ of the paper's 1/m output (m σ₀ for a sum)"),
    Assumption("small step", "η ≲ min{1/(σ_p² d), 1/‖μ‖²}", "condition on η (Condition 4.1)",
               lambda c: _effective(c)[1] * max(c.sigma_xi**2 * c.d, c.mu_norm**2), 1.0, kind="<=",
               reading="η max(σ_p² d, ‖μ‖²) <= 1 (C = 1), η of the paper's 1/m output (m² η for a sum)"),
    Assumption("n and m logarithmic", "n ≳ log(m/δ), m ≳ log(n/δ)", "condition on n, m (Condition 4.1)",
               lambda c: min(c.n / math.log(c.m / 0.1), c.m / math.log(c.n / 0.1)), 1.0,
               reading="min(n/log(10 m), m/log(10 n)) >= 1: δ = 0.1, C = 1"),
    Assumption("small flip rate", "p < 1/C", "data model", lambda c: max(c.tau_pos, c.tau_neg), P_FLIP,
               kind="<=", reading="p <= 0.1, the rate of the paper's own experiment"),
)


def flipped_error(clean: np.ndarray) -> np.ndarray:
    """The test error against labels flipped with probability p, from the error against the true labels."""
    return P_FLIP + (1 - 2 * P_FLIP) * clean


def crossing(mus: np.ndarray, errors: np.ndarray) -> float:
    """The smallest ‖μ‖ from which the error stays at or below the threshold, linearly interpolated (NaN if none)."""
    above = errors > THRESHOLD
    if above.all():
        return math.nan
    if not above.any():
        return float(mus[0])
    last = int(np.nonzero(above)[0][-1])
    if last == len(mus) - 1:
        return math.nan
    e0, e1 = errors[last], errors[last + 1]
    return float(mus[last] + (mus[last + 1] - mus[last]) * (e0 - THRESHOLD) / (e0 - e1))


def goodness_of_fit(ours: np.ndarray, run_var: np.ndarray, seeds: int, theirs: np.ndarray,
                    reps: int = AUTHORS_REPS, test_samples: int = AUTHORS_TEST) -> dict:
    r"""How well cell means of ours fit the authors' cell means: reduced χ², RMSE and cells.

    Each cell c compares our mean :math:`\bar e_c` over ``seeds`` runs, of
    variance :math:`v_c/k`, with the authors' mean :math:`a_c` over ``reps``
    runs on ``test_samples`` test points, of variance
    :math:`(v_c + a_c(1 - a_c)/T)/R` (our run-to-run variance :math:`v_c` stands for theirs, plus the
    binomial noise of a finite test set):

    .. math:: \chi^2_\mathrm{red} = \frac{1}{C}\sum_c \frac{(\bar e_c - a_c)^2}{v_c/k + (v_c + a_c(1-a_c)/T)/R}.

    About 1 if the authors' data come from our variant's law; far above 1 if not.

    Parameters
    ----------
    ours, run_var, theirs : ndarray, shape (C,)
        Our cell means, our run-to-run variances (ddof = 1), the authors' cell means.
    seeds : int
        Our runs a cell (k).
    reps, test_samples : int
        The authors' repetitions a cell (R) and test samples a repetition (T).

    Returns
    -------
    dict
        ``chi2`` (reduced χ²), ``rmse`` (root mean square of the differences) and ``cells`` (C).
    """
    ours, run_var, theirs = (np.asarray(a, dtype=float) for a in (ours, run_var, theirs))
    variance = run_var / seeds + (run_var + theirs * (1 - theirs) / test_samples) / reps
    difference = ours - theirs
    return dict(chi2=float(np.mean(difference**2 / variance)), rmse=float(np.sqrt(np.mean(difference**2))),
                cells=int(difference.size))


class _Runs:
    """One design's runs as arrays: errors (flipped test labels) and fits over d × ‖μ‖ × seed."""

    def __init__(self, table, ds, mu_of_d):
        self.ds = list(ds)
        self.mus = {d: np.array(mu_of_d(d)) for d in self.ds}
        table = table.sort_values(["d", "mu_norm", "seed"])
        self.seeds = int(table.seed.nunique())
        shape = (len(self.ds), len(self.mus[self.ds[0]]), self.seeds)
        self.error = flipped_error(table.final_test_error.to_numpy()).reshape(shape)
        self.fitted = table.t2.notna().to_numpy().reshape(shape)
        self.ratio = np.array([[N * mu**4 / d for mu in self.mus[d]] for d in self.ds])  # σ_p = 1

    def crossings(self, seeds=None) -> np.ndarray:
        """‖μ*‖ at each d from the cell means over ``seeds`` (indexes; all if None)."""
        error = self.error if seeds is None else self.error[:, :, seeds]
        return np.array([crossing(self.mus[d], row) for d, row in zip(self.ds, error.mean(axis=2))])

    def slope(self, seed: int = 0) -> tuple[float, float, float, float]:
        """The slope of log ‖μ*‖ on log d, its 95% bootstrap interval resampling the seeds, and the share of
        resamples whose mean map crosses the threshold at fewer than 3 values of d (``bootstrap_slope``)."""
        return bootstrap_slope(self.ds, self.crossings, self.seeds, BOOTSTRAP, seed)

    def shares(self) -> dict:
        """Per claim, (successes, runs, interval): runs fitting every label, benign runs where r >= BENIGN_R,
        harmful runs where r <= HARMFUL_R.

        A seed is one training set, the same at every cell (its labels and flips do not depend on d or ‖μ‖),
        so runs of a seed are not independent: the 95% interval is the wider of a bootstrap resampling the seeds
        and the Wilson interval of the share counted in seeds; NaN under 2 seeds.
        """
        # r is recomputed from ‖μ‖ = (r d/n)^(1/4): a relative 1e-9 keeps the band's own ends inside it.
        above = np.broadcast_to((self.ratio >= BENIGN_R * (1 - 1e-9))[..., None], self.error.shape)
        below = np.broadcast_to((self.ratio <= HARMFUL_R * (1 + 1e-9))[..., None], self.error.shape)
        every = np.ones(self.error.shape, dtype=bool)
        rng = np.random.default_rng(0)
        resamples = rng.integers(0, self.seeds, (BOOTSTRAP, self.seeds))
        out = {}
        for key, success, where in (("fitted", self.fitted, every),
                                    ("benign", self.error <= P_FLIP + BENIGN_MARGIN, above),
                                    ("harmful", self.error >= P_FLIP + HARMFUL_MARGIN, below)):
            out[key] = seed_share(success, where, resamples)
        return out


def _share_text(what, k, total, unit="runs", interval=None):
    low, high = wilson(k, total) if interval is None else interval
    return f"{what} in {k} of {total} {unit} ({k / total:.3f}, 95% [{low:.3f}, {high:.3f}])" if total else \
        f"no {unit} where {what}"


def _verdicts(runs: _Runs, *, region: str, regime: str, quick: bool) -> list:
    """The four claims' verdicts measured on ``runs``."""
    shares, seeds = runs.shares(), runs.seeds
    share_text = (f"95%: the wider of a bootstrap ({BOOTSTRAP} resamples of the {seeds} seeds, i.e. training sets) "
                  f"and a Wilson interval counting {seeds} trials")
    out = []
    for key, what, accepted in (("fitted", "every training label fitted", FIT_ACCEPTED),
                                ("benign", f"error ≤ p + {BENIGN_MARGIN:g} where n‖μ‖⁴ ≥ {BENIGN_R:g} d",
                                 REGIME_ACCEPTED),
                                ("harmful", f"error ≥ p + {HARMFUL_MARGIN:g} where n‖μ‖⁴ ≤ {HARMFUL_R:g} d",
                                 REGIME_ACCEPTED)):
        k, total, interval = shares[key]
        out.append(Verdict.decide(_share_text(what, k, total, interval=interval), interval, accepted,
                                  seeds=seeds, uncertainty=share_text, region=region, regime=regime, quick=quick))
    slope, low, high, missing = runs.slope()
    mu_star = runs.crossings()
    good = np.isfinite(mu_star)
    constant = float(np.median(N * mu_star[good] ** 4 / np.array(runs.ds)[good])) if good.any() else math.nan
    unsloped = f"; no slope in {100 * missing:.0f}% of the resamples" if missing > 0 else ""
    out.append(Verdict.decide(
        f"slope of log ‖μ*‖ on log d {slope:.3f} (95% [{low:.3f}, {high:.3f}]) over {int(good.sum())} values "
        f"of d{unsloped}; n‖μ*‖⁴/d ≈ {constant:.2g} (read after the run)", (low, high), SLOPE_ACCEPTED, seeds=seeds,
        uncertainty=f"95% bootstrap interval, {BOOTSTRAP} resamples of the {seeds} seeds", region=region,
        regime=regime, quick=quick))
    return out


#: The code settings' variants: name -> (simulate() keywords, whether σ₀ and η carry the script's mean over
#: the two patches). Halving a ReLU network's output (the mean over two patches) is training the summed
#: network from initial weights halved with η / 4: exact when the bias starts at 0, as here.
VARIANTS = {
    "code": (dict(noise="isotropic", output_scale="sum", bias=True), True),
    "code, patches summed": (dict(noise="isotropic", output_scale="sum", bias=True), False),
    "paper model, code settings": (dict(noise="orthogonal", output_scale="mean", bias=False), False),
}


def _code_sigma0(d: int, halve: bool) -> float:
    """The standard deviation of torch's default uniform initial weights, U(±1/√fan_in) with fan_in = d."""
    return 1 / math.sqrt(3 * d) / (2 if halve else 1)


def _edges(values):
    """Cell edges around sorted centres, the first one not below 0 (no axis running to negative values)."""
    values = np.asarray(values, dtype=float)
    middle = (values[1:] + values[:-1]) / 2
    edges = np.concatenate([[values[0] - (middle[0] - values[0])], middle, [values[-1] + (values[-1] - middle[-1])]])
    edges[0] = max(edges[0], 0.0)
    return edges


def _heatmaps(maps, title):
    """The paper's layout, one column per map: the test error over ‖μ‖ × d, and the same above 0.2."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(maps), figsize=(4.2 * len(maps), 7.6), layout="constrained", squeeze=False)
    for column, (name, (mus, ds, grid)) in enumerate(maps.items()):
        top, bottom = axes[0, column], axes[1, column]
        xe, ye = _edges(mus), _edges(ds)
        image = top.pcolormesh(xe, ye, grid, vmin=P_FLIP, vmax=0.5, cmap="viridis")
        bottom.pcolormesh(xe, ye, grid > THRESHOLD, cmap="gray_r", vmin=0, vmax=1)
        curve_d = np.linspace(ye[0], ye[-1], 200)
        bottom.plot((C_BOUNDARY * curve_d / N) ** 0.25, curve_d, color="C3",
                    label=rf"$n\|\mu\|^4 = {C_BOUNDARY:g}\,\sigma_p^4 d$ (not fitted)")
        top.set_title(f"{name}: test error", fontsize="medium")
        bottom.set_title(f"{name}: error > {THRESHOLD:g} (black)", fontsize="medium")
        bottom.legend(fontsize="x-small", loc="lower right", framealpha=0.9)
        for ax in (top, bottom):
            ax.set_xlim(xe[0], xe[-1])
            ax.set_ylim(ye[0], ye[-1])
            ax.set_xlabel(r"$\|\mu\|$")
            ax.set_ylabel("d")
        fig.colorbar(image, ax=top, shrink=0.8)
    fig.suptitle(title, fontsize="medium")
    return fig


def _fit_figure(pairs, fits, boundaries, title):
    """Per variant, its cell means against the authors'; then every boundary ‖μ*‖(d)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(pairs) + 1, figsize=(4.0 * (len(pairs) + 1), 4.2), layout="constrained")
    for ax, (name, (theirs, ours)) in zip(axes, pairs.items()):
        ax.plot([0, 0.6], [0, 0.6], color="0.5", lw=1, label="equal")
        ax.scatter(theirs, ours, s=6, alpha=0.6, color="C0")
        ax.set_xlim(0, 0.6)
        ax.set_ylim(0, 0.6)
        ax.set_aspect("equal")
        ax.set_xlabel("authors' test error (cell mean)")
        ax.set_ylabel(f"ours: {name}")
        ax.set_title(f"{name}\nreduced χ² {fits[name]['chi2']:.3g}, RMSE {fits[name]['rmse']:.3f}",
                     fontsize="medium")
        ax.legend(fontsize="x-small", loc="upper left")
    ax = axes[-1]
    for i, (name, (ds, mu_star)) in enumerate(boundaries.items()):
        style = dict(color="k", lw=2) if i == 0 else dict(color=f"C{i}", marker="o", ms=4)
        ax.plot(mu_star, ds, label=name, **style)
    ax.set_xlabel(r"$\|\mu^*\|$ (error falls to 0.2)")
    ax.set_ylabel("d")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.set_title("boundaries", fontsize="medium")
    ax.legend(fontsize="x-small", loc="upper left")
    fig.suptitle(title, fontsize="medium")
    return fig


def _inside_figure(runs: _Runs, slope, title):
    """The inside design: mean error against r at each d, and ‖μ*‖ against d on log-log axes."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullLocator

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    for i, d in enumerate(runs.ds):
        mean = runs.error[i].mean(axis=1)
        se = runs.error[i].std(axis=1, ddof=1) / math.sqrt(runs.seeds) if runs.seeds > 1 else 0 * mean
        left.errorbar(runs.ratio[i], mean, yerr=1.96 * se, marker="o", ms=3, capsize=2, label=f"d = {d:,}")
    left.axhline(THRESHOLD, color="k", ls="--", lw=1, label=f"threshold {THRESHOLD:g}")
    left.axhline(P_FLIP, color="0.5", ls=":", lw=1, label=f"p = {P_FLIP:g}")
    left.set_xscale("log")
    left.set_xlabel(r"$r = n\|\mu\|^4 / (\sigma_p^4 d)$")
    left.set_ylabel("test error, flipped test labels (mean, 95% CI)")
    left.legend(fontsize="x-small", loc="upper right")
    mu_star = runs.crossings()
    ds = np.array(runs.ds, dtype=float)
    right.plot(ds, mu_star, "o", color="C0", label=r"$\|\mu^*\|$ (mean error falls to 0.2)")
    good = np.isfinite(mu_star)
    if good.sum() >= 2 and math.isfinite(slope):
        anchor = np.exp(np.mean(np.log(mu_star[good])) - slope * np.mean(np.log(ds[good])))
        right.plot(ds, anchor * ds**slope, color="C0", label=f"fit: slope {slope:.3f}")
        quarter = np.exp(np.mean(np.log(mu_star[good])) - 0.25 * np.mean(np.log(ds[good])))
        right.plot(ds, quarter * ds**0.25, color="C3", ls="--", label="slope 1/4 (theorem)")
    right.set_xscale("log")
    right.set_yscale("log")
    right.xaxis.set_major_locator(FixedLocator(ds))
    right.xaxis.set_minor_locator(NullLocator())
    right.set_xticklabels([f"{int(d):,}" for d in ds])
    ticks = [t for t in (1, 1.5, 2, 3, 4, 5, 6, 8, 10) if np.nanmin(mu_star) / 1.3 <= t <= np.nanmax(mu_star) * 1.3] \
        if good.any() else [1, 10]
    right.yaxis.set_major_locator(FixedLocator(ticks))
    right.yaxis.set_minor_locator(NullLocator())
    right.set_yticklabels([f"{t:g}" for t in ticks])
    right.set_xlabel("d")
    right.set_ylabel(r"$\|\mu^*\|$")
    right.legend(fontsize="x-small", loc="upper left")
    fig.suptitle(title, fontsize="medium")
    return fig


def run(context: Context) -> list:
    import pandas as pd

    authors = load_authors_data()  # before any run: a missing file is a clear error, not a late one
    quick = context.quick

    # The design inside the conditions, on which the claims are judged.
    inside_seeds = context.repetitions(full=80, quick=2)
    inside_ds = INSIDE_D_QUICK if quick else INSIDE_D
    ratios = INSIDE_R_QUICK if quick else INSIDE_R

    def inside_mus(d):
        return [(r * d / N) ** 0.25 for r in ratios]

    cells = [(d, mu, 0.5 / max(d / math.sqrt(N), mu), 0.5 / max(d, mu**2)) for d in inside_ds for mu in inside_mus(d)]
    fixed = dict(n=N, m=M, steps=INSIDE_STEPS, tau=P_FLIP, sigma_xi=1.0, noise="orthogonal", output_scale="mean",
                 bias=False, flips="bernoulli", sampling="gram", record=(INSIDE_STEPS,))
    swept = context.sweep("inside", {("d", "mu_norm", "sigma0", "eta"): cells, "seed": list(range(inside_seeds))},
                          fixed)
    inside = _Runs(swept.table, inside_ds, inside_mus)
    inside_regime = broken_assumptions(ASSUMPTIONS, swept.configs)
    designs = {"inside design": swept.configs}
    region = (f"paper model (orthogonal noise, 1/m output, no bias), n={N}, m={M}, p={P_FLIP}, d in "
              f"{inside_ds[0]:,}..{inside_ds[-1]:,} (Gram sampling), n‖μ‖⁴/d in {ratios[0]:g}..{ratios[-1]:g}, "
              f"σ₀ = 0.5/max(d/√n, ‖μ‖), η = 0.5/max(d, ‖μ‖²), {INSIDE_STEPS} steps")
    verdicts = _verdicts(inside, region=region, regime=inside_regime, quick=quick)
    slope_inside = inside.slope()
    context.figure(_inside_figure(inside, slope_inside[0],
                                  f"inside the conditions: n={N}, m={M}, p={P_FLIP}, {INSIDE_STEPS} steps, "
                                  f"{inside.seeds} seeds a cell"), "inside")
    mu_star = inside.crossings()
    context.table(pd.DataFrame({"d": inside.ds, "mu*": mu_star, "n mu*^4 / d": N * mu_star**4 / np.array(inside.ds)}),
                  "inside_boundary")

    # The authors' code settings beside their released heatmap: outside the conditions, a labelled extra.
    code_seeds = context.repetitions(full=10, quick=1)
    code_ds, code_mus = (CODE_D_QUICK, CODE_MU_QUICK) if quick else (CODE_D, CODE_MU)
    rows_d = [int(np.nonzero(AUTHORS_D == d)[0][0]) for d in code_ds]
    cols_mu = [int(np.nonzero(np.isclose(AUTHORS_MU, mu))[0][0]) for mu in code_mus]
    theirs = authors[np.ix_(rows_d, cols_mu)]
    maps = {"authors' data": (AUTHORS_MU, AUTHORS_D, authors)}
    outside_rows, fits, pairs, summary = [], {}, {}, []
    boundaries = {"authors' data": (AUTHORS_D, np.array([crossing(AUTHORS_MU, row) for row in authors]))}
    for name, (options, halve) in VARIANTS.items():
        fixed = dict(n=N, m=M, steps=CODE_STEPS, tau=P_FLIP, sigma_xi=1.0, flips="bernoulli", sampling="gram",
                     record=(CODE_STEPS,), **options)
        grid = {("d", "sigma0", "eta"): [(d, _code_sigma0(d, halve), CODE_ETA / (4 if halve else 1)) for d in code_ds],
                "mu_norm": list(code_mus), "seed": list(range(code_seeds))}
        swept = context.sweep(name.replace(", ", "-").replace(" ", "-"), grid, fixed)
        designs[name] = swept.configs
        runs = _Runs(swept.table, code_ds, lambda d: code_mus)
        maps[name] = (np.array(code_mus), np.array(code_ds), runs.error.mean(axis=2))
        regime = broken_assumptions(ASSUMPTIONS, swept.configs)
        variant_region = (f"{name}: n={N}, m={M}, p={P_FLIP}, d in {code_ds[0]}..{code_ds[-1]}, ‖μ‖ in "
                          f"{code_mus[0]:g}..{code_mus[-1]:g}, {CODE_STEPS} steps, σ₀ = 1/√(3d)"
                          f"{'/2, η = 0.025 (the mean over patches)' if halve else ', η = 0.1'}")
        for claim, verdict in zip(PAPER_CLAIMS, _verdicts(runs, region=variant_region, regime=regime, quick=quick)):
            outside_rows.append((claim, name, verdict))
        var = runs.error.var(axis=2, ddof=1) if runs.seeds > 1 else np.full(theirs.shape, math.nan)
        fits[name] = goodness_of_fit(runs.error.mean(axis=2).ravel(), var.ravel(), runs.seeds, theirs.ravel())
        pairs[name] = (theirs.ravel(), runs.error.mean(axis=2).ravel())
        mu_variant = runs.crossings()
        boundaries[name] = (np.array(code_ds), mu_variant)
        authors_mu = boundaries["authors' data"][1][rows_d]
        fits[name]["boundary"] = float(np.nanmean(np.abs(mu_variant - authors_mu)))
        slope, low, high, _ = runs.slope()
        summary.append({"design": name, "runs": runs.error.size, "seeds a cell": runs.seeds,
                        "slope of log mu* on log d": slope, "95% low": low, "95% high": high,
                        "reduced chi2 against the authors' data": fits[name]["chi2"],
                        "RMSE against the authors' data": fits[name]["rmse"],
                        "mean abs difference of mu* from the authors'": fits[name]["boundary"]})

    # The authors' own data, judged as their heatmap allows: cell means only, no runs.
    from scipy.stats import linregress

    authors_mu = boundaries["authors' data"][1]
    good = np.isfinite(authors_mu)
    fit = linregress(np.log(AUTHORS_D[good]), np.log(authors_mu[good]))
    half = 1.96 * fit.stderr
    ratio = N * AUTHORS_MU[None, 1:] ** 4 / AUTHORS_D[:, None]
    benign = authors[:, 1:][ratio >= BENIGN_R] <= P_FLIP + BENIGN_MARGIN
    harmful = authors[:, 1:][ratio <= HARMFUL_R] >= P_FLIP + HARMFUL_MARGIN
    authors_regime = ("outside the conditions as the code variant (their script: isotropic noise, a bias, "
                      "σ₀ = 1/√(3d), η = 0.1)")
    authors_region = "their grid: d = 100..1090 by 10, ‖μ‖ = 0.1..9.9 by 0.1, n=20, 100 steps, 10 repetitions a cell"
    for claim, (measured, interval, accepted, uncertainty) in zip(PAPER_CLAIMS, (
            ("not in the heatmap (the training losses are another file, not used here)", (math.nan, math.nan),
             FIT_ACCEPTED, "-"),
            (_share_text("cell mean ≤ p + 0.05 where n‖μ‖⁴ ≥ 10 d", int(benign.sum()), benign.size, "cells"),
             wilson(benign.sum(), benign.size), REGIME_ACCEPTED, "95% Wilson interval over cells (means of 10 runs)"),
            (_share_text("cell mean ≥ p + 0.1 where n‖μ‖⁴ ≤ 0.1 d", int(harmful.sum()), harmful.size, "cells"),
             wilson(harmful.sum(), harmful.size), REGIME_ACCEPTED, "95% Wilson interval over cells (means of 10 runs)"),
            (f"slope of log ‖μ*‖ on log d {fit.slope:.3f} (95% [{fit.slope - half:.3f}, {fit.slope + half:.3f}]) over "
             f"{int(good.sum())} values of d", (fit.slope - half, fit.slope + half), SLOPE_ACCEPTED,
             "95% regression interval (cell means only: no seeds to resample)"))):
        verdict = Verdict.decide(measured, interval, accepted, seeds=AUTHORS_REPS, uncertainty=uncertainty,
                                 region=authors_region, regime=authors_regime)
        outside_rows.append((claim, "authors' released data", verdict))
    summary.insert(0, {"design": "authors' released data", "runs": AUTHORS_REPS * authors.size,
                       "seeds a cell": AUTHORS_REPS, "slope of log mu* on log d": fit.slope,
                       "95% low": fit.slope - half, "95% high": fit.slope + half})
    slope, low, high, _ = slope_inside
    summary.insert(0, {"design": "inside design", "runs": inside.error.size, "seeds a cell": inside.seeds,
                       "slope of log mu* on log d": slope, "95% low": low, "95% high": high})

    best = min(fits, key=lambda name: fits[name]["chi2"]) if all(math.isfinite(f["chi2"]) for f in fits.values()) \
        else "-"
    context.figure(_heatmaps(maps, f"n={N}, m={M} per class, p={P_FLIP}, sigma_p=1, {CODE_STEPS} steps of GD; "
                             f"authors: 10 repetitions a cell; ours: {code_seeds} seed(s) a cell, exact test law"),
                   "heatmaps")
    context.figure(_fit_figure(pairs, fits, boundaries,
                               f"the authors' heatmap beside each variant ({len(code_ds)} x {len(code_mus)} cells); "
                               f"closest: {best}"), "fit")
    context.table(pd.DataFrame(summary), "summary")
    context.table(pd.DataFrame([{"variant": name, "cells": f["cells"], "reduced chi2": f["chi2"], "RMSE": f["rmse"],
                                 "mean abs difference of mu*": f["boundary"], "closest": name == best}
                                for name, f in fits.items()]), "fit")
    context.table(pd.DataFrame({"d": list(code_ds), "mu* (authors' data)": boundaries["authors' data"][1][rows_d],
                                **{f"mu* ({name})": boundaries[name][1] for name in VARIANTS}}), "boundary")
    context.table(regime_table(ASSUMPTIONS, designs), "regime")
    context.outside_verdicts(outside_rows)
    return verdicts


PAPER_CLAIMS = (
    "Gradient descent fits every training label, flipped ones included (overfitting)",
    "When n‖μ‖⁴ ≳ σ_p⁴ d the overfitting is benign: the test error is near the flip rate p",
    "When n‖μ‖⁴ ≲ σ_p⁴ d the test error stays a constant above p (harmful overfitting)",
    "The boundary between the two follows n‖μ‖⁴ ≍ σ_p⁴ d: the smallest benign ‖μ‖ grows as d^(1/4)",
)

PAPER = Paper(
    key="kou2023",
    citation="Y. Kou, Z. Chen, Y. Chen, Q. Gu, Benign Overfitting in Two-layer ReLU Convolutional Neural "
             "Networks, ICML 2023",
    setup=(
        Setting("network", "paper: two-layer ReLU CNN, two patches [yμ, ξ], F_j = (1/m) Σ_r Σ_p σ(⟨w_{j,r}, x_p⟩); "
                "code: a bias per filter, mean over the patches, sum over the filters",
                "inside design: the paper's; code: bias=True, output_scale=\"sum\", and the mean over patches as "
                "the sum with η/4 and σ₀/2",
                "the library sums over patches; ReLU is 1-homogeneous, so halving the output equals halving "
                "the initial weights and dividing η by 4 (exact, the bias starting at 0); a variant sums "
                "the patches to show the effect"),
        Setting("noise", "paper: ξ ~ N(0, σ_p² (I − μμᵀ/‖μ‖²)); code: N(0, σ_p² I)",
                "inside design and 'paper model': noise=\"orthogonal\"; code: noise=\"isotropic\"",
                "each variant as its source states"),
        Setting("initialisation and step", "paper: Gaussian, σ₀ and η small (stated up to constants); code: "
                "PyTorch default, uniform U(±1/√d) weights and bias, η = 0.1",
                "inside design: σ₀ = 0.5/max(σ_p d/√n, ‖μ‖), η = 0.5/max(σ_p² d, ‖μ‖²), half the bounds read "
                "from the conditions; code settings: Gaussian σ₀ = 1/√(3d) (the uniform law's variance), "
                "bias starting at 0, η = 0.1",
                "the library draws Gaussian filters and a zero bias: same variance, another law"),
        Setting("n, d, m, σ_p, steps", "20, 100..1090, 10 per class, 1, 100 (full-batch GD, logistic loss)",
                "inside design: d = 2,000..200,000 (Gram sampling) and 4,000 steps, until every label is fitted; "
                "code settings: the same as the script",
                "the conditions ask d ≳ n² and a small step, so the inside design needs larger d and more steps"),
        Setting("label flips", "rate p = 0.1; the script flips each label with probability 0.1 "
                "(np.random.choice with p = [0.1, 0.9]), training and test labels alike",
                "flips=\"bernoulli\" in every design", "the same as the script"),
        Setting("test set", "1,000 samples with flipped labels",
                "the exact law of a fresh sample (estimated to 2 % by line sampling), "
                "against the true label, turned into p + (1 − 2p)·error for flipped test labels",
                "no finite test set: no sampling noise of 1,000 samples (the goodness of fit adds it to the "
                "authors' side)"),
        Setting("grid", "‖μ‖ ∈ {0, 0.1, …, 9.9} × d ∈ {100, 110, …, 1090}, 10 repetitions (100,000 runs)",
                "inside: 5 values of d × 17 of n‖μ‖⁴/d (0.01..100), 80 seeds; code settings: ‖μ‖ ∈ {0.3, 0.6, …, "
                "7.2} × d ∈ {100, 200, …, 1000}, 10 seeds, 3 variants (on the authors' grid); quick: smaller",
                "the authors' full grid is their released data, compared cell by cell; ‖μ‖ = 0 is not allowed "
                "by the library"),
        Setting("boundary drawn", "n‖μ‖⁴ ≍ σ_p⁴ d", "n‖μ‖⁴ = σ_p⁴ d (C = 1, fixed before the run); the constant "
                "read off the maps after the run is in the claims", "the paper states no constant"),
    ),
    claims=PAPER_CLAIMS,
    run=run,
    runtime="about 11 min (635 s) on 2 shared cores at a load average of 6-9, 7.7 min of CPU (2026-12-07); "
            "--quick about 20 s",
    assumptions=ASSUMPTIONS,
)
