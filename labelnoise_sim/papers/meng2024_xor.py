"""Meng, Zou, Cao, ICML 2024: benign overfitting in two-layer ReLU CNNs for XOR data.

The paper trains a two-layer ReLU CNN by gradient descent on XOR-type data
with flipped labels: each sample has a signal patch, ±(a + b) for class +1
and ±(a − b) for class −1 (so no linear classifier does better than
chance), and a noise patch. It proves that the network fits every training
label and that this overfitting is benign (test error near the
Bayes-optimal rate, the flip rate p) when n‖μ‖⁴ ≳ σ_p⁴ d, and harmful (a
constant above it) when n‖μ‖⁴ ≲ σ_p⁴ d: the condition of the single-signal
case (Kou et al. 2023), now for a target that no linear model learns.

What could be read of the paper: its abstract, and the reviews of its
ICLR 2024 submission, which quote its data model, the benign and harmful
conditions and that its Condition 3.1 forces d ≳ n² and a small
initialisation. Its body, with Condition 3.1 in full and the experiments'
settings, could not be read where this entry was written. The entry
therefore runs its own design across the boundary (the model of this line,
``features="xor"`` in two patches, noise orthogonal to the XOR directions,
d from 50,000 to 5,000,000 by the dimension-free Gram sampling), and checks
it against stand-in assumptions: the conditions of Kou et al. 2023 in the
form the line states them, each labelled as a stand-in.

The bands of the benign and harmful claims need the constants C and C′,
which the paper states only as constants. The entry fixes them by a
calibration: a separate sweep (seeds that the verdicts never use) finds
the ratio r* = n‖μ‖⁴/(σ_p⁴ d) where the mean error crosses p + 0.1, and
the claims are judged a decade on either side of it. The boundary's law
(‖μ*‖ ∝ d^(1/4)) is judged without any constant.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import (Assumption, Context, Paper, Setting, Verdict, bootstrap_slope, broken_assumptions,
                    regime_table, seed_share)

N, M, P_FLIP, SIGMA_P = 40, 10, 0.1, 1.0
STEPS = 4000
#: The error (against flipped test labels) that separates the regimes: p + 0.1, the constant of the harmful
#: claim below; the calibration's r* and the boundary ‖μ*‖ are where the mean error crosses it.
THRESHOLD = P_FLIP + 0.1
#: Per run, benign means an error (flipped test labels) at most p + 0.05, harmful at least p + 0.1 (Kou et al.'s
#: constants for the same condition). The claims' bands: r >= BAND r* and r <= r* / BAND.
BENIGN_MARGIN, HARMFUL_MARGIN, BAND = 0.05, 0.1, 10.0
#: What each claim accepts (95% intervals), fixed before the run: a share of at least 0.95 of runs fitting every
#: label, 0.9 benign (harmful) in its band; a slope of log ‖μ*‖ on log d in [0.2, 0.3] around 1/4.
FIT_ACCEPTED, REGIME_ACCEPTED, SLOPE_ACCEPTED = (0.95, 1.0), (0.9, 1.0), (0.2, 0.3)
BOOTSTRAP = 1000

#: The design: d (free with Gram sampling), r = n‖μ‖⁴/(σ_p⁴ d) on a grid of 10^(1/3), σ₀ and η at half the
#: stand-in bounds. d >= 1250 n keeps d > n‖μ‖²/σ_p² up to r = 1000.
DS = (50_000, 500_000, 5_000_000)
RATIOS = tuple(10 ** (k / 3) for k in range(-3, 10))
RATIOS_QUICK = (0.1, 1.0, 10.0, 100.0, 1000.0)
SEEDS, SEEDS_QUICK = 80, 2
#: The calibration's seeds, apart from the verdicts' (0..SEEDS-1), at the smallest d.
CALIBRATION_SEEDS, CALIBRATION_SEEDS_QUICK = tuple(range(1000, 1010)), (1000, 1001)
#: The extra outside the stand-ins: isotropic noise (the paper's noise law could not be read), at one d.
ISOTROPIC_D, ISOTROPIC_SEEDS, ISOTROPIC_SEEDS_QUICK = 50_000, 20, 1


def signal_norm(config) -> float:
    """‖μ‖ of the paper: the norm of a signal patch, ‖a ± b‖ = √2·mu_norm for ``features="xor"``."""
    return math.sqrt(2) * config.mu_norm if config.features_kind[0] == "xor" else config.mu_norm


def ratio(config) -> float:
    """r = n‖μ‖⁴ / (σ_p⁴ d), ‖μ‖ the norm of a signal patch (:func:`signal_norm`)."""
    return config.n * signal_norm(config) ** 4 / (config.sigma_xi**4 * config.d)


def cell(d: int, r: float, n: int = N) -> dict:
    """The keywords of the design's cell (d, r): mu_norm from r, σ₀ and η at half their stand-in bounds."""
    mu = (r * d * SIGMA_P**4 / n) ** 0.25
    return dict(d=d, mu_norm=mu / math.sqrt(2), sigma0=0.5 / max(SIGMA_P * d / math.sqrt(n), mu),
                eta=0.5 / max(SIGMA_P**2 * d, mu**2))


FIXED = dict(n=N, m=M, steps=STEPS, tau=P_FLIP, sigma_xi=SIGMA_P, features="xor", layout="patches", patches=2,
             noise="orthogonal", output_scale="mean", bias=False, flips="bernoulli", sampling="gram",
             record=(STEPS,))


def _cos_theta(config) -> float:
    """cos θ between the two XOR directions a + b and a − b (0 for |a| = |b|); NaN for other features."""
    from ..data import signal_basis

    if config.features_kind[0] != "xor":
        return math.nan
    u, v = signal_basis(config)
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


_STAND_IN = "stand-in (Condition 3.1 unread): the form of Kou et al. 2023, Condition 4.1"
#: The conditions of the claims. The data model and the regime are read from the reviews; the conditions on d,
#: σ₀, η, n and m are stand-ins in the form the line of work states them, each fixed before any run.
ASSUMPTIONS = (
    Assumption("XOR data, two patches", "signal patch ±(a + b) (class +1) or ±(a − b) (class −1), one noise patch",
               "data model (as the reviews describe it)",
               lambda c: float(c.features == "xor" and c.layout == "patches" and c.patches == 2 and c.classes == 2),
               1.0, reading="1 for features='xor', layout='patches', patches=2"),
    Assumption("classic XOR regime", "a ⊥ b with the axes at θ = 90° (Section 3.1)", "Theorem 3.2",
               lambda c: abs(_cos_theta(c)), 0.0, kind="<=",
               reading="|cos θ| between a + b and a − b <= 0 (features='xor' has |a| = |b|)"),
    Assumption("noise orthogonal to the XOR directions", "covariance of the noise patch depends on a and b",
               "data model (stand-in: the covariance is not known; read as σ_p²(I − projection on a, b))",
               lambda c: float(c.noise == "orthogonal"), 1.0, reading="1 for noise='orthogonal'"),
    Assumption("the line's network", "F_j = (1/m) Σ_r Σ_p σ(⟨w_{j,r}, x_p⟩), ReLU, logistic loss, full-batch GD",
               "network (stand-in: the line's model, not read in the paper)",
               lambda c: float(c.activation == "relu" and not c.bias and c.output_scale == "mean"
                               and c.output_layer == "fixed" and c.loss == "logistic" and c.batch_size is None
                               and c.momentum == 0 and c.weight_decay == 0 and c.label_noise == 0 and c.sam == 0),
               1.0, reading="1 for the paper model of this line (ReLU, 1/m output, no bias, plain GD)"),
    Assumption("large dimension", "d ≳ max{n², n‖μ‖²/σ_p²}", _STAND_IN,
               lambda c: c.d / max(c.n**2, c.n * signal_norm(c) ** 2 / c.sigma_xi**2), 1.0,
               reading="d / max(n², n‖μ‖²/σ_p²) >= 1: C = 1 (the reviews: d = Ω(n²))"),
    Assumption("small initialisation", "σ₀ ≲ min{√n/(σ_p d), 1/‖μ‖}", _STAND_IN,
               lambda c: c.sigma0 * max(c.sigma_xi * c.d / math.sqrt(c.n), signal_norm(c)), 1.0, kind="<=",
               reading="σ₀ max(σ_p d/√n, ‖μ‖) <= 1: C = 1 (the reviews: σ₀ = d^(−3/4) at d = n²)"),
    Assumption("small step", "η ≲ min{1/(σ_p² d), 1/‖μ‖²}", _STAND_IN,
               lambda c: c.eta * max(c.sigma_xi**2 * c.d, signal_norm(c) ** 2), 1.0, kind="<=",
               reading="η max(σ_p² d, ‖μ‖²) <= 1: C = 1"),
    Assumption("n and m logarithmic", "n ≳ log(m/δ), m ≳ log(n/δ)", _STAND_IN,
               lambda c: min(c.n / math.log(c.m / 0.1), c.m / math.log(c.n / 0.1)), 1.0,
               reading="min(n/log(10 m), m/log(10 n)) >= 1: δ = 0.1, C = 1"),
    Assumption("small flip rate", "p < 1/C (a constant flip rate)", _STAND_IN,
               lambda c: max(c.tau_pos, c.tau_neg), P_FLIP, kind="<=", reading="p <= 0.1"),
)

CLAIMS = (
    "Gradient descent fits every training label, the flipped ones included (Theorem 3.2, overfitting)",
    "When n‖μ‖⁴ ≥ C σ_p⁴ d the overfitting is benign: the test error is near the Bayes-optimal rate p "
    "(Theorem 3.2)",
    "When n‖μ‖⁴ ≤ C′ σ_p⁴ d the overfitting is harmful: the test error stays a constant above p (Theorem 3.2)",
    "The two conditions match (n‖μ‖⁴ ≍ σ_p⁴ d): the smallest benign ‖μ‖ grows as d^(1/4)",
)


def flipped_error(clean) -> np.ndarray:
    """The test error against labels flipped with probability p, from the clean test error."""
    return P_FLIP + (1 - 2 * P_FLIP) * np.asarray(clean, dtype=float)


def crossing(xs, errors, threshold: float = THRESHOLD, log: bool = True) -> float:
    """The smallest x from which ``errors`` stays at or below ``threshold``, interpolated (in log x if ``log``);
    NaN if the errors never get there or never start above it."""
    xs, errors = np.asarray(xs, dtype=float), np.asarray(errors, dtype=float)
    above = errors > threshold
    if above.all() or not above.any():
        return math.nan
    last = int(np.nonzero(above)[0][-1])
    if last == len(xs) - 1:
        return math.nan
    x0, x1 = (np.log(xs[last:last + 2]) if log else xs[last:last + 2])
    e0, e1 = errors[last], errors[last + 1]
    x = x0 + (x1 - x0) * (e0 - threshold) / (e0 - e1)
    return float(np.exp(x) if log else x)


class Runs:
    """One design's runs as arrays over d × r × seed: the error against flipped labels and whether every
    training label is fitted at the end.

    Parameters
    ----------
    table : pandas.DataFrame
        A sweep's table over ``(d, mu_norm, sigma0, eta)`` cells and seeds, in grid order.
    ds, ratios : sequence
        The values of d and of r of the grid.
    """

    def __init__(self, table, ds, ratios):
        self.ds, self.ratios = list(ds), np.asarray(ratios, dtype=float)
        shape = (len(self.ds), len(self.ratios), -1)
        self.error = flipped_error(table.final_test_error.to_numpy(float)).reshape(shape)
        self.fitted = table.t2.notna().to_numpy().reshape(shape)
        self.seeds = self.error.shape[2]

    def boundary(self, seeds=None) -> np.ndarray:
        """‖μ*‖ at each d: where the mean error over ``seeds`` (all by default) crosses THRESHOLD."""
        mean = self.error[:, :, slice(None) if seeds is None else seeds].mean(axis=2)
        return np.array([(crossing(self.ratios, row) * d / N) ** 0.25 * SIGMA_P for d, row in zip(self.ds, mean)])

    def slope(self) -> tuple[float, float, float, float]:
        """The slope of log ‖μ*‖ on log d, its 95% bootstrap interval over the seeds and the share of resamples
        without a slope (``bootstrap_slope``)."""
        return bootstrap_slope(self.ds, self.boundary, self.seeds, BOOTSTRAP)

    def share(self, success, where) -> tuple[int, int, tuple[float, float]]:
        """Successes among the runs in ``where`` (d × r), with the wider of a bootstrap over seeds (a seed is a
        training set, shared by every cell) and the Wilson interval of the share counted in seeds."""
        where = np.broadcast_to(np.asarray(where)[..., None], self.error.shape)
        resamples = np.random.default_rng(0).integers(0, self.seeds, (BOOTSTRAP, self.seeds))
        return seed_share(success, where, resamples)


def bands(r_star: float) -> tuple[float, float]:
    """The benign band's lower end and the harmful band's upper end around the calibrated r*."""
    return BAND * r_star, r_star / BAND


def _verdicts(runs: Runs, r_star: float, *, region: str, regime: str, quick: bool) -> list:
    benign_from, harmful_to = bands(r_star)
    # r is recomputed from ‖μ‖: a relative 1e-9 keeps a grid value at a band's end inside the band.
    r = np.broadcast_to(runs.ratios[None, :], runs.error.shape[:2])
    every = np.ones(r.shape, dtype=bool)
    uncertainty = (f"95%: the wider of a bootstrap ({BOOTSTRAP} resamples of the {runs.seeds} seeds, i.e. training "
                   f"sets) and a Wilson interval counting {runs.seeds} trials")
    out = []
    for what, success, where, accepted in (
            ("every training label fitted", runs.fitted, every, FIT_ACCEPTED),
            (f"error ≤ p + {BENIGN_MARGIN:g} where r ≥ {benign_from:.3g}", runs.error <= P_FLIP + BENIGN_MARGIN,
             r >= benign_from * (1 - 1e-9), REGIME_ACCEPTED),
            (f"error ≥ p + {HARMFUL_MARGIN:g} where r ≤ {harmful_to:.3g}", runs.error >= P_FLIP + HARMFUL_MARGIN,
             r <= harmful_to * (1 + 1e-9), REGIME_ACCEPTED)):
        k, total, (low, high) = runs.share(success, where)
        text = (f"{what} in {k} of {total} runs ({k / total:.3f}, 95% [{low:.3f}, {high:.3f}])" if total
                else f"no runs where {what}")
        out.append(Verdict.decide(text, (low, high), accepted, seeds=runs.seeds, uncertainty=uncertainty,
                                  region=region, regime=regime, quick=quick))
    slope, low, high, missing = runs.slope()
    mu_star = runs.boundary()
    good = np.isfinite(mu_star)
    constant = float(np.median(N * mu_star[good] ** 4 / np.array(runs.ds)[good])) if good.any() else math.nan
    unsloped = f"; no slope in {100 * missing:.0f}% of the resamples" if missing > 0 else ""
    out.append(Verdict.decide(
        f"slope of log ‖μ*‖ on log d {slope:.3f} (95% [{low:.3f}, {high:.3f}]) over {int(good.sum())} values of d"
        f"{unsloped}; n‖μ*‖⁴/d ≈ {constant:.3g}", (low, high), SLOPE_ACCEPTED, seeds=runs.seeds,
        uncertainty=f"95% bootstrap interval, {BOOTSTRAP} resamples of the {runs.seeds} seeds", region=region,
        regime=regime, quick=quick))
    return out


def _figure(runs: Runs, r_star: float, title: str):
    """Left: the mean error against r at each d, the bands shaded; right: ‖μ*‖ against d, log-log."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    benign_from, harmful_to = bands(r_star)
    left.axvspan(runs.ratios[0] / 1.5, harmful_to, color="C3", alpha=0.08, label="harmful band")
    left.axvspan(benign_from, runs.ratios[-1] * 1.5, color="C2", alpha=0.08, label="benign band")
    for i, d in enumerate(runs.ds):  # the curves lie on each other: markers and dashes tell them apart
        mean = runs.error[i].mean(axis=1)
        se = runs.error[i].std(axis=1, ddof=1) / math.sqrt(runs.seeds) if runs.seeds > 1 else 0 * mean
        left.errorbar(runs.ratios, mean, yerr=1.96 * se, marker="os^v"[i % 4], ms=7 - 2 * i, capsize=2,
                      ls=("-", "--", ":", "-.")[i % 4], mfc="none" if i else None, label=f"d = {d:,}")
    left.axhline(THRESHOLD, color="k", ls="--", lw=1, label=f"p + 0.1 = {THRESHOLD:g}")
    left.axhline(P_FLIP, color="0.5", ls=":", lw=1, label=f"p = {P_FLIP:g} (Bayes)")
    left.axvline(r_star, color="0.3", lw=1, label=f"calibrated r* = {r_star:.3g}")
    left.set_xscale("log")
    left.set_xlim(runs.ratios[0] / 1.5, runs.ratios[-1] * 1.5)
    left.set_xlabel(r"$r = n\|\mu\|^4 / (\sigma_p^4 d)$")
    left.set_ylabel("test error, flipped test labels (mean, 95% CI)")
    left.legend(fontsize="x-small", loc="upper right")
    ds = np.array(runs.ds, dtype=float)
    mu_star = runs.boundary()
    good = np.isfinite(mu_star)
    right.plot(ds, mu_star, "o", color="C0", label=r"$\|\mu^*\|$ (mean error falls to p + 0.1)")
    if good.sum() >= 2:
        slope, anchor = np.polyfit(np.log(ds[good]), np.log(mu_star[good]), 1)
        right.plot(ds, np.exp(anchor) * ds**slope, color="C0", label=f"fit: slope {slope:.3f}")
        quarter = np.exp(np.mean(np.log(mu_star[good])) - 0.25 * np.mean(np.log(ds[good])))
        right.plot(ds, quarter * ds**0.25, color="C3", ls="--", label="slope 1/4 (theorem)")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xticks(ds, [f"{int(d):,}" for d in ds])
    ticks = mu_star[good] if good.any() else []
    right.set_yticks(ticks, [f"{t:.3g}" for t in ticks])
    right.minorticks_off()
    right.set_xlabel("d")
    right.set_ylabel(r"$\|\mu^*\|$")
    right.legend(fontsize="x-small", loc="upper left")
    fig.suptitle(title, fontsize="medium")
    return fig


def _grid(d_values, ratios) -> list:
    return [tuple(cell(d, r).values()) for d in d_values for r in ratios]


def run(context: Context) -> list:
    import pandas as pd

    quick = context.quick
    ds, ratios = DS, (RATIOS_QUICK if quick else RATIOS)
    keys = tuple(cell(1, 1.0))

    # The calibration: r* from seeds the verdicts never use, at the smallest d.
    calibration_seeds = CALIBRATION_SEEDS_QUICK if quick else CALIBRATION_SEEDS
    swept = context.sweep("calibration", {keys: _grid(ds[:1], ratios), "seed": list(calibration_seeds)}, FIXED)
    calibration = Runs(swept.table, ds[:1], ratios)
    mean = calibration.error[0].mean(axis=1)
    r_star = crossing(ratios, mean)
    context.table(pd.DataFrame({"r": ratios, "mean error (flipped test labels)": mean,
                                "runs": calibration.seeds}), "calibration")

    # The design, on which the claims are judged.
    seeds = context.repetitions(SEEDS, SEEDS_QUICK)
    swept = context.sweep("design", {keys: _grid(ds, ratios), "seed": list(range(seeds))}, FIXED)
    runs = Runs(swept.table, ds, ratios)
    designs = {"design": swept.configs}
    regime = broken_assumptions(ASSUMPTIONS, swept.configs)
    region = (f"n={N}, m={M}, p={P_FLIP}, σ_p={SIGMA_P:g}, two patches, noise orthogonal to a and b, d in "
              f"{ds[0]:,}..{ds[-1]:,} (Gram sampling), r in {ratios[0]:g}..{ratios[-1]:g}, σ₀ = 0.5/max(σ_p d/√n, "
              f"‖μ‖), η = 0.5/max(σ_p² d, ‖μ‖²), {STEPS} steps; calibrated r* = {r_star:.3g} (seeds "
              f"{calibration_seeds[0]}..{calibration_seeds[-1]})")
    verdicts = _verdicts(runs, r_star, region=region, regime=regime, quick=quick)
    context.figure(_figure(runs, r_star, f"n={N}, m={M}, p={P_FLIP}, {STEPS} steps, {runs.seeds} seeds a cell"),
                   "design")
    mu_star = runs.boundary()
    context.table(pd.DataFrame({"d": runs.ds, "mu*": mu_star, "n mu*^4 / d": N * mu_star**4 / np.array(runs.ds)}),
                  "boundary")
    errors = pd.DataFrame({"r": ratios, **{f"d={d:,}": runs.error[i].mean(axis=1) for i, d in enumerate(ds)},
                           **{f"fitted, d={d:,}": runs.fitted[i].mean(axis=1) for i, d in enumerate(ds)}})
    context.table(errors, "errors")

    # The extra outside the stand-ins: isotropic noise, at one d.
    iso_seeds = context.repetitions(ISOTROPIC_SEEDS, ISOTROPIC_SEEDS_QUICK)
    swept = context.sweep("isotropic", {keys: _grid((ISOTROPIC_D,), ratios), "seed": list(range(iso_seeds))},
                          dict(FIXED, noise="isotropic"))
    iso = Runs(swept.table, (ISOTROPIC_D,), ratios)
    designs["isotropic noise"] = swept.configs
    iso_regime = broken_assumptions(ASSUMPTIONS, swept.configs)
    iso_region = region.replace("noise orthogonal to a and b", "isotropic noise").replace(
        f"d in {ds[0]:,}..{ds[-1]:,}", f"d = {ISOTROPIC_D:,}")
    outside = _verdicts(iso, r_star, region=iso_region, regime=iso_regime, quick=quick)[:3]
    comparison = pd.DataFrame({"r": ratios, "orthogonal noise": runs.error[0].mean(axis=1),
                               "isotropic noise": iso.error[0].mean(axis=1)})
    context.table(comparison, "isotropic")
    context.table(regime_table(ASSUMPTIONS, designs), "regime")
    context.outside_verdicts((claim, "isotropic noise", v) for claim, v in zip(CLAIMS, outside))
    return verdicts


PAPER = Paper(
    key="meng2024-xor",
    citation="X. Meng, D. Zou, Y. Cao, Benign Overfitting in Two-Layer ReLU Convolutional Neural Networks for XOR "
             "Data, ICML 2024",
    setup=(
        Setting("data", "XOR-type: the signal patch is ±(a + b) for class +1 and ±(a − b) for class −1, a "
                "noise patch beside it; labels flipped with a constant probability p",
                "features=\"xor\", layout=\"patches\", patches=2; tau=0.1, flips=\"bernoulli\"",
                "the paper's exact definitions (how the signs are drawn, whether p is a flip rate) could not be "
                "read; this is the model the reviews describe"),
        Setting("‖μ‖", "the norm of a signal patch", "‖a ± b‖ = √2·mu_norm",
                "features=\"xor\" sets |a| = |b| = mu_norm: the classic regime, θ = 90°"),
        Setting("noise patch", "Gaussian, σ_p, with a covariance that depends on the XOR directions",
                "noise=\"orthogonal\": σ_p²(I − projection on a and b), σ_p = 1",
                "the covariance could not be read; an extra runs isotropic noise beside it"),
        Setting("network and training", "two-layer ReLU CNN, gradient descent on the training loss (details not "
                "read)", "the line's model: F_j = (1/m) Σ_r Σ_p ReLU(⟨w_{j,r}, x_p⟩), fixed ±1/m, logistic loss, "
                "full-batch GD", "the network's details could not be read; the same group's papers use this one"),
        Setting("n, d, m, σ₀, η, steps", "not recovered",
                "n = 40, m = 10 a class, d = 50,000..5,000,000 (Gram sampling), σ₀ = 0.5/max(σ_p d/√n, ‖μ‖), "
                "η = 0.5/max(σ_p² d, ‖μ‖²), 4,000 steps",
                "our own design: half the stand-in bounds on σ₀ and η, d ≥ 1250 n so that d > n‖μ‖² up to r = 1000"),
        Setting("grid", "not recovered (the paper's figure could not be read)",
                "r = n‖μ‖⁴/(σ_p⁴ d) from 0.1 to 1000 in 13 steps of 10^(1/3), at 3 values of d; 80 seeds a cell; "
                "calibration: 10 seeds at d = 50,000; isotropic extra: 20 seeds at d = 50,000",
                "a sweep across the boundary n‖μ‖⁴ ≍ σ_p⁴ d that the abstract states"),
        Setting("constants C, C′", "not stated", "r* calibrated on seeds 1000-1009; benign band r ≥ 10 r*, "
                "harmful band r ≤ r*/10", "the claims need numbers; the calibration never sees the verdicts' seeds"),
        Setting("test error", "against flipped labels (Bayes-optimal: p)",
                "the exact law of a fresh sample (to 2 % at 95 %), clean, turned into p + (1 − 2p)·error",
                "no finite test set; the flips are independent of x"),
    ),
    claims=CLAIMS,
    run=run,
    assumptions=ASSUMPTIONS,
    runtime="7.2 min (431 s) on 2 shared cores at a load average of 4.5-5, 5.4 min of CPU (2026-12-07); "
            "--quick about 25 s",
)
