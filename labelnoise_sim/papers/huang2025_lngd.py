"""Huang, Han et al., NeurIPS 2025: label-noise gradient descent in the low-SNR regime.

The paper trains a two-patch CNN with squared ReLU on clean labels, with the
noise orthogonal to μ, by plain gradient descent and by label-noise gradient
descent (each label in the loss flipped afresh with probability p at every
step). Figure (a): the ratio of noise memorisation to signal learning, the
training loss and the test accuracy over the steps, GD against label-noise GD.
Figure (b): test-accuracy heatmaps over SNR × n. σ₀ is not stated, so the
entry runs the library's default σ₀ = 0.01 and a small sweep over σ₀ beside it.

The ratio is defined here as max_{j,r,i} ρ̄_{j,r,i} / max_{j,r} γ_{j,r}
(ρ̄ = max(ρ, 0)). The paper's SNR ‖μ‖/(σ_p √d) is the library's ``snr``
(μ_norm / (σ_ξ √d)) with σ_ξ = σ_p, so the heatmap's SNR axis is passed as
``snr`` with σ_ξ = 0.5 and d = 2000, i.e. ‖μ‖ = SNR · 0.5 · √2000.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Assumption, Context, Paper, Setting, Verdict

#: Figure (a): the paper's stated setting (σ₀ our choice, swept below).
FIXED = dict(n=200, d=2000, m=20, eta=0.5, steps=2000, mu_norm=2.0, sigma_xi=0.5, tau=0.0,
             activation="relu^2", noise="orthogonal")
SIGMA0 = 0.01
SIGMA0_SWEEP = [0.001, 0.01, 0.05, 0.1]
LABEL_NOISE = 0.1
#: Figure (b): η = 1, 1000 steps; a coarse 8 × 7 grid over SNR ∈ [0.03, 0.10] × n ∈ [100, 700].
HEAT = dict(d=2000, m=20, eta=1.0, steps=1000, sigma_xi=0.5, sigma0=SIGMA0, tau=0.0,
            activation="relu^2", noise="orthogonal", record=(0, 1000))
SNRS = [0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10]
NS = [100, 200, 300, 400, 500, 600, 700]
QUICK_SNRS, QUICK_NS = [0.03, 0.10], [100, 700]
QUICK_STEPS = 400
CURVE_SEEDS, HEAT_SEEDS = 5, 3

# Readings of the claims' words, ours and fixed before any run (the paper gives no numbers for them):
# GD's test error "stays above a constant": >= 0.1; label-noise GD's ratio is "far smaller": at most half of GD's;
# a "small" test error: <= 0.05; "perfect" test accuracy: a test error <= 0.01.
GD_FLOOR, FAR_SMALLER, SMALL, PERFECT = 0.1, 0.5, 0.05, 0.01
BOOTSTRAP = 2000  #: resamples of the heatmap's seeds for the interval of claim 5


def _holds(test) -> callable:
    """An assumption's value for a yes-or-no condition of the model: 1 if it holds, 0 if not."""
    return lambda config: 1.0 if test(config) else 0.0


#: The model the paper's results are stated for (its Section 2). The paper's conditions on the scales (d, σ₀,
#: η and what "low SNR" means in numbers) could not be read here, so no scale condition is declared.
ASSUMPTIONS = (
    Assumption("squared ReLU", "σ(z) = max(0, z)²", "Section 2 (network)",
               _holds(lambda c: c.activation == "relu^2"), 1.0, reading="1 if activation='relu^2', else 0"),
    Assumption("noise orthogonal to μ", "ξ ~ N(0, σ_p² (I − μμᵀ/‖μ‖²))", "Definition 2.1",
               _holds(lambda c: c.noise == "orthogonal"), 1.0, reading="1 if noise='orthogonal', else 0"),
    Assumption("clean training labels", "y_i as drawn, no flips", "Definition 2.1",
               lambda c: max(c.tau_pos, c.tau_neg), 0.0, kind="<=", reading="max(tau_pos, tau_neg) = 0"),
    Assumption("two patches, logistic loss", "x = [yμ, ξ], ℓ(z) = log(1 + e^(−z))", "Section 2",
               _holds(lambda c: c.layout == "patches" and c.patches == 2 and c.loss == "logistic"), 1.0,
               reading="1 if layout='patches', patches=2 and loss='logistic', else 0"),
)


def _ratio(result) -> np.ndarray:
    """max_{j,r,i} ρ̄ / max_{j,r} γ over the records (γ floored at 1e-12)."""
    return result.rho_bar.max(axis=(1, 2, 3)) / np.maximum(result.gamma.max(axis=(1, 2)), 1e-12)


def _trained_loss(result) -> np.ndarray:
    """The loss each algorithm descends, per record: L_S for GD; for label-noise GD its expectation over the
    step's flips, (1/n) Σ_i [(1 − p) ℓ(y_i f_i) + p ℓ(−y_i f_i)]."""
    from ..result import loss_value

    p = result.config.label_noise
    if p == 0:
        return result.train_loss
    margins = result.margins
    loss = result.config.loss
    return ((1 - p) * loss_value(margins, loss) + p * loss_value(-margins, loss)).mean(axis=1)


def _curves_figure(gd, lngd, title):
    import matplotlib.pyplot as plt

    from ..figures import plain_log_ticks, step_axis

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), layout="constrained")
    for result, label, color in ((gd, "GD", "C0"), (lngd, f"label-noise GD (p = {LABEL_NOISE:g})", "C3")):
        axes[0].plot(result.t, _ratio(result), color=color, label=label)
        axes[1].plot(result.t, _trained_loss(result), color=color, label=label + ": the loss it descends")
        axes[2].plot(result.t, 1 - result.test_error, color=color, label=label)
    axes[1].plot(lngd.t, lngd.train_loss, color="C3", ls=":", label="label-noise GD on the clean labels")
    axes[0].set_ylabel(r"$\max_{j,r,i}\bar\rho_{j,r,i} / \max_{j,r}\gamma_{j,r}$")
    axes[0].set_yscale("log")
    axes[1].set_ylabel("training loss")
    axes[1].set_yscale("log")
    axes[2].set_ylabel("test accuracy (exact law, line sampling)")
    for ax in axes:
        step_axis(ax.xaxis)
        ax.set_xlabel("step")
        ax.legend(fontsize="x-small")
    for ax in axes[:2]:
        plain_log_ticks(ax.yaxis)
    fig.suptitle(title, fontsize="medium")
    return fig


def _heatmaps(table, snrs, ns, steps, seeds):
    import matplotlib.pyplot as plt

    from ..figures import text_color_on

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    for ax, ln, name in zip(axes, (0.0, LABEL_NOISE), ("GD", f"label-noise GD (p = {LABEL_NOISE:g})")):
        cells = table[table.label_noise == ln]
        acc = np.full((len(snrs), len(ns)), np.nan)
        div = np.zeros_like(acc, dtype=bool)
        for a, snr in enumerate(snrs):
            for b, n in enumerate(ns):
                here = cells[np.isclose(cells.snr, snr) & (cells.n == n)]
                ok = here[here.diverged_at.isna()]
                div[a, b] = len(ok) < len(here)
                if len(ok):
                    acc[a, b] = 1 - ok.final_test_error.mean()
        image = ax.imshow(acc, origin="lower", aspect="auto", vmin=0.5, vmax=1.0, cmap="viridis")
        for a in range(len(snrs)):
            for b in range(len(ns)):
                value = acc[a, b]
                text = "div" if np.isnan(value) else f"{value:.2f}" + ("*" if div[a, b] else "")
                colour = "black" if np.isnan(value) else text_color_on(image.cmap(image.norm(value)))
                ax.text(b, a, text, ha="center", va="center", fontsize=7, color=colour)
        ax.set_xticks(range(len(ns)), ns)
        ax.set_yticks(range(len(snrs)), [f"{s:g}" for s in snrs])
        ax.set_xlabel("n")
        ax.set_ylabel(r"SNR $=\|\mu\|/(\sigma_p\sqrt{d})$")
        ax.set_title(name, fontsize="medium")
    fig.colorbar(image, ax=axes, label="test accuracy")
    fig.suptitle(f"d=2000, m=20, eta=1.0, {steps} steps, sigma_p=0.5, sigma0={SIGMA0:g}, mean of {seeds} seed(s); "
                 "div = every seed diverged, * = some seeds diverged (mean of the others)", fontsize="small")
    return fig


def _mean_interval(values) -> tuple[float, float, float]:
    """Mean and Student-t 95% interval of independent values (NaN ends with fewer than two)."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    return mean, mean - half, mean + half


def _fmt(mean, low, high) -> str:
    return f"{mean:.3g} [{low:.3g}, {high:.3g}]" if math.isfinite(low) else f"{mean:.3g}"


def _both(first: Verdict, second: Verdict, measured: str) -> Verdict:
    """A claim of two parts: "not confirmed" if either part is, "confirmed" if both are, else the other word."""
    words = {first.verdict, second.verdict}
    for word in ("outside assumptions", "not confirmed", "inconclusive"):
        if word in words:
            break
    else:
        word = "confirmed"
    return Verdict(measured, word, first.region, first.seeds, first.uncertainty, first.regime, first.quick)


def _perfect_gain(errors: dict, rng) -> tuple[int, float, float, int, int]:
    """Net cells of perfect accuracy label-noise GD gains over GD, with a bootstrap 95% interval over seeds.

    ``errors[(snr, n)] = (gd, ln)``, each an array of the seeds' final test errors (the same seeds, so the same
    data, for both). A cell is perfect for an algorithm when the mean over its seeds is <= PERFECT. Returns the
    gain (cells perfect for label-noise GD only, less cells perfect for GD only), its interval, and the two
    counts of cells perfect for one algorithm only.
    """
    def gain(gd_means, ln_means):
        gd_ok, ln_ok = gd_means <= PERFECT, ln_means <= PERFECT
        return int((ln_ok & ~gd_ok).sum()) - int((gd_ok & ~ln_ok).sum()), int((ln_ok & ~gd_ok).sum()), \
            int((gd_ok & ~ln_ok).sum())

    gd = [np.asarray(v[0]) for v in errors.values()]
    ln = [np.asarray(v[1]) for v in errors.values()]
    point, only_ln, only_gd = gain(np.array([g.mean() for g in gd]), np.array([x.mean() for x in ln]))
    seeds = len(gd[0]) if gd else 0
    if seeds < 2:
        return point, math.nan, math.nan, only_ln, only_gd
    draws = np.empty(BOOTSTRAP)
    for b in range(BOOTSTRAP):
        pick = [rng.integers(0, len(g), len(g)) for g in gd]
        draws[b] = gain(np.array([g[i].mean() for g, i in zip(gd, pick)]),
                        np.array([x[i].mean() for x, i in zip(ln, pick)]))[0]
    low, high = np.quantile(draws, [0.025, 0.975])
    return point, float(low), float(high), only_ln, only_gd


def run(context: Context) -> list:
    import pandas as pd

    seeds = context.repetitions(full=CURVE_SEEDS, quick=1)
    fixed = {**FIXED, "steps": QUICK_STEPS} if context.quick else FIXED
    sigma0s = [SIGMA0, 0.1] if context.quick else SIGMA0_SWEEP
    swept = context.sweep("curves", {"sigma0": sigma0s, "label_noise": [0.0, LABEL_NOISE],
                                     "seed": list(range(seeds))}, fixed, claims=(0, 1, 2, 3), trajectories=True)
    table = swept.table
    rows, per = [], {}
    for index in table.index:
        cell = table.loc[index]
        if cell.diverged_at is not None and not pd.isna(cell.diverged_at):
            rows.append({"sigma0": cell.sigma0, "label_noise": cell.label_noise, "seed": cell.seed,
                         "diverged at": cell.diverged_at})
            continue
        result = swept.result(int(index))
        ratio, gamma = _ratio(result), result.gamma.max(axis=(1, 2))
        half = int(np.searchsorted(result.t, result.t[-1] // 2))
        rows.append({"sigma0": cell.sigma0, "label_noise": cell.label_noise, "seed": cell.seed,
                     "diverged at": None, "final ratio": ratio[-1], "max ratio": ratio.max(),
                     "final gamma": gamma[-1], "gamma at half": gamma[half],
                     "final trained loss": _trained_loss(result)[-1],
                     "final clean-label loss": result.train_loss[-1], "final test error": result.test_error[-1],
                     "best test error": result.test_error.min()})
        if cell.seed == 0:
            per[(cell.sigma0, cell.label_noise)] = result
    runs = pd.DataFrame(rows)
    summary = runs.groupby(["sigma0", "label_noise"], sort=True).agg(
        seeds=("seed", "count"), diverged=("diverged at", lambda s: int(s.notna().sum())),
        final_ratio=("final ratio", "mean"), final_gamma=("final gamma", "mean"),
        gamma_at_half=("gamma at half", "mean"), final_trained_loss=("final trained loss", "mean"),
        final_clean_label_loss=("final clean-label loss", "mean"),
        final_test_error=("final test error", "mean"), best_test_error=("best test error", "mean")).reset_index()
    context.table(summary, "curves")
    for s0 in sigma0s:
        if (s0, 0.0) in per and (s0, LABEL_NOISE) in per:
            name = "curves" if s0 == SIGMA0 else "curves_sigma0_" + f"{s0:g}".replace(".", "p")
            title = (f"n=200, d=2000, m=20, eta=0.5, ||mu||=2, sigma_p=0.5, sigma0={s0:g}, {fixed['steps']} steps "
                     "(seed 0)")
            context.figure(_curves_figure(per[(s0, 0.0)], per[(s0, LABEL_NOISE)], title), name)

    snrs, ns = (QUICK_SNRS, QUICK_NS) if context.quick else (SNRS, NS)
    heat_fixed = {**HEAT, "steps": QUICK_STEPS, "record": (0, QUICK_STEPS)} if context.quick else HEAT
    heat_seeds = context.repetitions(full=HEAT_SEEDS, quick=1)
    heat = context.sweep("heatmap", {"snr": snrs, "n": ns, "label_noise": [0.0, LABEL_NOISE],
                                     "seed": list(range(heat_seeds))}, heat_fixed, claims=(4,))
    ht = heat.table
    context.figure(_heatmaps(ht, snrs, ns, heat_fixed["steps"], heat_seeds), "heatmap")
    cells = ht.assign(ok=ht.diverged_at.isna()).groupby(["snr", "n", "label_noise"]).agg(
        seeds=("seed", "count"), diverged=("ok", lambda s: int((~s).sum())),
        test_error=("final_test_error", lambda s: float(s[ht.loc[s.index, "diverged_at"].isna()].mean()))
    ).reset_index()
    context.table(cells, "heatmap")

    # Paired by seed: GD and label-noise GD of one seed train on the same data from the same initial filters.
    main = runs[(runs.sigma0 == SIGMA0) & runs["diverged at"].isna()]
    gd = main[main.label_noise == 0.0].set_index("seed").sort_index()
    ln = main[main.label_noise == LABEL_NOISE].set_index("seed").sort_index()
    both = gd.index.intersection(ln.index)
    gd, ln = gd.loc[both], ln.loc[both]
    count = len(both)
    config = swept.configs[0]
    regime = context.regime(config, 0)
    region = (f"n=200, d=2000, m=20, eta=0.5, ||mu||=2, sigma_p=0.5, sigma0={SIGMA0:g}, {fixed['steps']} steps")
    uncertainty = "95% Student-t interval over the seeds"
    common = dict(seeds=count, uncertainty=uncertainty, region=region, regime=regime, quick=context.quick)

    verdicts = []
    ratio_gd = _mean_interval(gd["final ratio"])
    error_gd = _mean_interval(gd["final test error"])
    verdicts.append(_both(
        Verdict.decide("", ratio_gd[1:], (1.0, math.inf), **common),
        Verdict.decide("", error_gd[1:], (GD_FLOOR, 1.0), **common),
        f"GD: final ratio ρ̄/γ {_fmt(*ratio_gd)} (memorises: > 1), final test error {_fmt(*error_gd)} "
        f"(a constant: ≥ {GD_FLOOR:g}, our reading); training loss {gd['final trained loss'].mean():.2g}"))
    shrink = _mean_interval(ln["final ratio"].to_numpy() / gd["final ratio"].to_numpy())
    verdicts.append(Verdict.decide(
        f"final ratio of label-noise GD over GD's, seed by seed: {_fmt(*shrink)} (far smaller: ≤ {FAR_SMALLER:g}, "
        f"our reading); label-noise GD {ln['final ratio'].mean():.3g}, GD {gd['final ratio'].mean():.3g}",
        shrink[1:], (0.0, FAR_SMALLER), **common))
    late = _mean_interval(ln["final gamma"].to_numpy() - ln["gamma at half"].to_numpy())
    above = _mean_interval(ln["final gamma"].to_numpy() - gd["final gamma"].to_numpy())
    verdicts.append(_both(
        Verdict.decide("", late[1:], (0.0, math.inf), **common),
        Verdict.decide("", above[1:], (0.0, math.inf), **common),
        f"max γ of label-noise GD: growth over the second half {_fmt(*late)}; final, less GD's {_fmt(*above)} "
        f"(label-noise GD {ln['final gamma'].mean():.3g}, GD {gd['final gamma'].mean():.3g})"))
    error_ln = _mean_interval(ln["final test error"])
    verdicts.append(Verdict.decide(
        f"final test error of label-noise GD {_fmt(*error_ln)} (GD {error_gd[0]:.3g}); \"small\" read as ≤ "
        f"{SMALL:g} by us: the paper states no number, and its bound could not be evaluated here (its text was "
        f"not readable from this workplace)", error_ln[1:], (0.0, SMALL), **common))

    errors = {}
    for (snr, n), group in ht[ht.diverged_at.isna()].groupby(["snr", "n"]):
        by = group.set_index(["label_noise", "seed"]).final_test_error
        if 0.0 in by.index.get_level_values(0) and LABEL_NOISE in by.index.get_level_values(0):
            paired = by.loc[0.0].index.intersection(by.loc[LABEL_NOISE].index)
            errors[(snr, n)] = (by.loc[0.0].loc[paired].to_numpy(), by.loc[LABEL_NOISE].loc[paired].to_numpy())
    gain, low, high, only_ln, only_gd = _perfect_gain(errors, np.random.default_rng(0))
    perfect_gd = sum(float(np.mean(v[0])) <= PERFECT for v in errors.values())
    perfect_ln = sum(float(np.mean(v[1])) <= PERFECT for v in errors.values())
    worse = sum(float(np.mean(v[1])) > float(np.mean(v[0])) + 0.01 for v in errors.values())
    heat_region = (f"SNR in [{snrs[0]:g}, {snrs[-1]:g}] x n in [{ns[0]}, {ns[-1]}], d=2000, m=20, eta=1.0, "
                   f"{heat_fixed['steps']} steps, sigma0={SIGMA0:g}")
    interval = f" [{low:.0f}, {high:.0f}]" if math.isfinite(low) else ""
    verdicts.append(Verdict.decide(
        f"perfect accuracy (test error ≤ {PERFECT:g}, our reading) in {perfect_ln} of {len(errors)} cells with "
        f"label-noise GD against {perfect_gd} with GD; net cells gained {gain}{interval} ({only_ln} perfect with "
        f"label-noise GD only, {only_gd} with GD only); label-noise GD worse than GD by more than 0.01 in "
        f"{worse} cells", (low, high) if math.isfinite(low) else (math.nan, math.nan), (0.5, math.inf),
        seeds=heat_seeds, uncertainty=f"95% bootstrap interval over the seeds of each cell ({BOOTSTRAP} resamples)",
        region=heat_region, regime=context.regime(heat.configs[0], 4), quick=context.quick))
    return verdicts


PAPER = Paper(
    key="huang2025-lngd",
    citation="W. Huang, A. Han et al., How does label noise gradient descent improve "
             "generalization in the low SNR regime?, NeurIPS 2025 (arXiv 2510.17526)",
    setup=(
        Setting("network", "two-layer CNN, squared ReLU, second layer ±1/m, two patches [yμ, ξ]",
                "activation=\"relu^2\", the same layout", "the same, in the library's parameters"),
        Setting("noise", "ξ ~ N(0, σ_p² (I − μμᵀ/‖μ‖²)), orthogonal to μ", "noise=\"orthogonal\"", "the same, in the library's parameters"),
        Setting("training labels", "clean", "tau = 0", "the same, in the library's parameters"),
        Setting("optimizer", "full-batch GD; label-noise GD flips each label in the loss with probability p = 0.1 "
                "at every step", "label_noise = 0 and 0.1", "GD beside label-noise GD, as the paper compares them"),
        Setting("n, d, m, η, steps", "200, 2000, 20, 0.5, 2000", "the same"),
        Setting("‖μ‖, σ_p", "2 (μ = 2e₁), σ_p² = 0.25", "mu_norm = 2, sigma_xi = 0.5",
                "μ's direction does not matter: the noise is orthogonal to it and the model is rotation invariant"),
        Setting("σ₀", "not stated", "0.01, with a sweep over 0.001, 0.01, 0.05, 0.1",
                "our choice; the sweep shows the dependence"),
        Setting("test set", "2,000 fresh samples", "the exact law of a fresh sample, estimated to 2 % (line sampling)",
                "a relative error of 2 % instead of a finite test set's sampling error of about 0.01"),
        Setting("ratio ρ/γ", "not defined precisely in what we recovered",
                "max_{j,r,i} ρ̄_{j,r,i} / max_{j,r} γ_{j,r}, ρ̄ = max(ρ, 0)", "our definition"),
        Setting("heatmap", "SNR ∈ [0.03, 0.10] × n ∈ [100, 700], η = 1.0, 1,000 steps",
                "8 × 7 grid (SNR step 0.01, n step 100), 2 seeds, σ₀ = 0.01; SNR = ‖μ‖/(σ_p√d) passed as snr "
                "(‖μ‖ = SNR·0.5·√2000)", "grid resolution and seeds our choice"),
        Setting("repetitions", "not stated",
                f"{CURVE_SEEDS} seeds for the curves, {HEAT_SEEDS} per heatmap cell (1 in --quick)", "our choice"),
        Setting("training loss shown", "the loss label-noise GD descends",
                "its expectation over the step's flips, (1 − p) ℓ(y f) + p ℓ(−y f), beside the clean-label loss",
                "the expectation rather than one step's draw: the same in mean, without the draw's jitter"),
    ),
    claims=(
        "With GD in this low-SNR regime the network memorises the noise (the ratio ρ/γ grows large) and its test "
        "error stays above a constant",
        "Label-noise GD keeps noise memorisation in check (a far smaller ratio ρ/γ)",
        "Label-noise GD keeps learning the signal (γ still grows late in training and ends above GD's)",
        "Label-noise GD reaches a small test error",
        "Label-noise GD reaches perfect test accuracy over a broader range of SNR than GD (SNR ∈ [0.03, 0.10] × "
        "n ∈ [100, 700])",
    ),
    run=run,
    assumptions=ASSUMPTIONS,
    runtime="3.2 min of CPU (16 min of wall-clock time under a load of 10 to 17) on 2 shared cores (2026-12-07); "
            "--quick about 40 s of CPU",
)
