"""Han et al., ICML 2025: the two stages of learning with label noise (this library's paper).

The paper's synthetic figure is a 2 × 2 grid, label noise on the left and
none on the right: on top the largest signal coefficient max_{j,r} γ_{j,r}
and the largest noise coefficients max_{j,r} ρ_{j,r,i} of noisy and of clean
samples over the iterations; below, the training accuracy overall, on clean
and on noisy samples. Its numbers could not be recovered. The verdicts are
decided on one setting inside the assumptions below (d ≥ n², a small
initialisation and step, n·SNR² of order one: n = 40, d = 3200 by the
d-free Gram sampling); the library's defaults (the benign case), the same
with a small initialisation, and a harmful case with d/n = 2 are kept as
labelled extras outside them, where a user of the defaults meets them.

The assumptions: Condition 4.1 of the paper could not be read in full (only
its summaries and the first page of the arXiv HTML version were at hand; see
docs/papers/han2025.md). What was read: the flip rates τ₊, τ₋ lie in (0, 1/2),
n·SNR² = Θ(1), and Condition 4.1 bounds d from below. Its terms on d, σ₀ and
η are taken in the form the papers of this line state them (Kou et al. 2023,
Condition 4.1), as the readings say; each reading was fixed before any run.
"""

from __future__ import annotations

import numpy as np

from ._base import Assumption, Context, Paper, Setting, Verdict

#: The claims, in the paper's order; their indexes are those of the assumptions' ``claims``.
CLAIMS = (
    "Stage I (Theorem 4.1): at T₁ every clean sample is fitted and every noisy sample is classified by its true "
    "label",
    "Stage II (Theorem 4.2): training goes on until every sample is fitted, noisy ones by their noisy label, the "
    "noise of some noisy samples memorised beyond the signal",
    "Theorem 4.2's bound, read on the clean test error: once every sample is fitted it is at least "
    "0.5·min{τ₊, τ₋}",
    "Early stopping (Proposition 4.3): at T₁ the clean test error is small, at most exp(−d/(n C′))",
    "Sample selection (Proposition 4.3): at T₁ the log 2 loss threshold keeps only clean samples",
    "No label noise (Theorem 4.4): the clean test error stays small, at most exp(−n‖μ‖⁴/(C σ_ξ⁴ d)), to the end",
)
#: The claims stated with label noise (Theorems 4.1, 4.2, Proposition 4.3) and the one without (Theorem 4.4).
NOISY_CLAIMS, CLEAN_CLAIMS = (0, 1, 2, 3, 4), (5,)
#: Not read in the paper: stated in the form of Kou et al. 2023, Condition 4.1 (see the module's docstring).
_FAMILY = "Condition 4.1 (its exact terms not read; the form of Kou et al. 2023, Condition 4.1)"

#: The conditions of the claims, each read as a number before any run.
ASSUMPTIONS = (
    Assumption("label noise", "τ₊, τ₋ ∈ (0, 1/2)", "Section 3 (data model)",
               lambda c: min(c.tau_pos, c.tau_neg), 0.01, claims=NOISY_CLAIMS,
               reading="min(τ₊, τ₋) >= 0.01: below 1% a run of n <= 200 samples has fewer than two noisy samples "
                       "on average (τ < 1/2 the library enforces)"),
    Assumption("no label noise", "τ₊ = τ₋ = 0", "Theorem 4.4", lambda c: max(c.tau_pos, c.tau_neg), 0.0,
               kind="<=", claims=CLEAN_CLAIMS, reading="max(τ₊, τ₋) <= 0"),
    Assumption("signal and noise compete (from below)", "n·SNR² = Θ(1)", "Condition 4.1",
               lambda c: c.n_snr2, 1.0, reading="n·SNR² >= 1 (the constant of Θ(1) read as 1)"),
    Assumption("signal and noise compete (from above)", "n·SNR² = Θ(1)", "Condition 4.1",
               lambda c: c.n_snr2, 20.0, kind="<=", reading="n·SNR² <= 20 (the constant of Θ(1) read as 20)"),
    Assumption("large dimension", "d ≳ n²", _FAMILY, lambda c: c.d / c.n**2, 1.0,
               reading="d / n² >= 1: C = 1, logarithms dropped"),
    Assumption("small initialisation", "σ₀ ≲ min{√n/(σ_ξ d), 1/‖μ‖}", _FAMILY,
               lambda c: c.sigma0 * max(c.sigma_xi * c.d / np.sqrt(c.n), c.mu_norm), 1.0, kind="<=",
               reading="σ₀ max(σ_ξ d/√n, ‖μ‖) <= 1: C = 1, logarithms dropped"),
    Assumption("small step", "η ≲ min{1/(σ_ξ² d), 1/‖μ‖²}", _FAMILY,
               lambda c: c.eta * max(c.sigma_xi**2 * c.d, c.mu_norm**2), 1.0, kind="<=",
               reading="η max(σ_ξ² d, ‖μ‖²) <= 1: C = 1, logarithms dropped"),
)

#: The settings, as simulate() keywords. "inside": the assumptions above hold (d = 2 n², η σ_ξ² d = 1/2,
#: σ₀ max(σ_ξ d/√n, ‖μ‖) = 0.05, n·SNR² = 12: Stage I at τ = 0.2 by the boundary that docs/claims measures),
#: run 50 times T₁'s scale n m/(η σ_ξ² d) = 800 steps; the verdicts are decided there. The extras, outside the
#: assumptions (d < n², a large step): the library's defaults; the same with σ₀ = 0.001; d/n = 2, where
#: memorising hurts.
SETTINGS = {
    "inside": dict(n=40, d=3200, m=10, eta=0.5 / 3200, steps=40000, n_snr2=12.0, sigma0=1e-4, sampling="gram"),
    "default": dict(n=200, d=2000, m=10, eta=0.1, steps=2000, n_snr2=6.0),
    "small init": dict(n=200, d=2000, m=10, eta=0.1, steps=2000, n_snr2=6.0, sigma0=1e-3),
    "harmful": dict(n=500, d=1000, m=10, eta=0.2, steps=20000, n_snr2=5.0),
}
QUICK_STEPS = {"inside": 30000, "default": 400, "small init": 400, "harmful": 2000}
#: Seeds per setting and flip rate, full and quick: 10 where the verdicts are decided.
SEEDS = {"inside": (10, 3), "default": (5, 1), "small init": (5, 1), "harmful": (5, 1)}
TAU = 0.2
#: What the verdicts accept, fixed before any run: a pooled share of noisy samples on their true side at T₁,
#: a share of runs that reach Stage II, and a clean test error that counts as small.
STAGE_ONE_ACCEPTED, STAGE_TWO_ACCEPTED, SMALL_ERROR = (0.95, 1.0), (0.7, 1.0), 0.01


def _settings(context: Context) -> dict:
    return {name: {**params, "steps": QUICK_STEPS[name]} if context.quick else params
            for name, params in SETTINGS.items()}


def _panel_figure(noisy, clean, title):
    """The paper's 2 × 2 grid for one setting: coefficients on top, training accuracy below."""
    import matplotlib.pyplot as plt

    from ..figures import step_axis

    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5), sharex=True, layout="constrained")
    for column, (result, label) in enumerate(((noisy, f"label noise tau = {TAU}"), (clean, "no label noise"))):
        t = result.t
        rho = result.rho.max(axis=(1, 2))  # (K, n): max_{j,r} rho_{j,r,i}
        is_noisy = result.data.is_noisy
        top, bottom = axes[0, column], axes[1, column]
        top.plot(t, result.gamma.max(axis=(1, 2)), color="k", label=r"$\max_{j,r}\gamma_{j,r}$")
        if is_noisy.any():
            top.plot(t, rho[:, is_noisy].max(axis=1), color="C3", label=r"$\max_{j,r}\rho_{j,r,i}$, noisy $i$")
        top.plot(t, rho[:, ~is_noisy].max(axis=1), color="C0", label=r"$\max_{j,r}\rho_{j,r,i}$, clean $i$")
        top.set_title(label, fontsize="medium")
        bottom.plot(t, result.fitted.mean(axis=1), color="k", label="all samples")
        bottom.plot(t, result.train_acc_clean, color="C0", label="clean samples")
        if is_noisy.any():
            bottom.plot(t, result.train_acc_noisy, color="C3", label="noisy samples (noisy label)")
        bottom.set_xlabel("iteration")
        for ax in (top, bottom):
            step_axis(ax.xaxis)
            ax.legend(fontsize="x-small", loc="upper left")
    axes[0, 0].set_ylabel("coefficient")
    axes[1, 0].set_ylabel("training accuracy")
    fig.suptitle(title, fontsize="medium")
    return fig


def _stage_rows(context, name, table, configs):
    """The stages table's rows of one setting: per flip rate, medians and means over the seeds, and whether the
    setting is inside the assumptions of the claims measured at that rate (``configs``: the rate's config)."""
    rows = []
    for tau, cells in table.groupby("tau", sort=False):
        noisy = cells.noisy_count.sum()
        claim = NOISY_CLAIMS[0] if tau > 0 else CLEAN_CLAIMS[0]
        rows.append({
            "setting": name, "inside": context.regime(configs[tau], claim) == "inside", "tau": tau,
            "seeds": len(cells),
            "T1 (median)": float(cells.t1_margin.median()), "t2 (median)": float(cells.t2.median()),
            "every sample fitted": float(cells.t2.notna().mean()),
            "noisy on true side at T1": float(cells.true_side.sum() / noisy) if noisy else float("nan"),
            "log 2 precision at T1": float(cells.kept_clean_T1.sum() / cells.kept_T1.sum()) if noisy else float("nan"),
            "error at T1": float(cells.test_error_T1.mean()),
            "final error": float(cells.final_test_error.mean()),
            "final error, noisy labels": float((tau + (1 - 2 * tau) * cells.final_test_error).mean()),
        })
    return rows


def _verdicts(context: Context, noisy, clean, config_noisy, config_clean) -> list:
    """The six verdicts, from the inside setting's runs with label noise (``noisy``) and without (``clean``)."""
    from ..claims import PRECISION_ACCEPTED, bootstrap_interval, wilson_interval

    region = (f"n={config_noisy.n}, d={config_noisy.d}, m={config_noisy.m}, eta={config_noisy.eta:.3g}, "
              f"sigma0={config_noisy.sigma0:g}, n SNR^2={config_noisy.n_snr2:g}, tau={TAU}, "
              f"{config_noisy.steps} steps (gram sampling)")
    quick = context.quick

    def decide(claim, measured, interval, accepted, cells, uncertainty, config=config_noisy):
        return Verdict.decide(measured, interval, accepted, seeds=len(cells), uncertainty=uncertainty,
                              region=region if config is config_noisy else region.replace(f"tau={TAU}", "tau=0"),
                              regime=context.regime(config, claim), quick=quick)

    wilson, boot = "95% Wilson interval of the pooled share", "95% bootstrap interval of the mean over seeds"
    on_true, count = int(noisy.true_side.sum()), int(noisy.noisy_count.sum())
    at_margin_zero = float((noisy.noisy_true_share_at_t1 * noisy.n_noisy).sum() / noisy.n_noisy.sum())
    verdicts = [decide(0, f"{on_true} of {count} noisy samples on their true side at T₁ ({on_true / count:.3f}), "
                          f"over {len(noisy)} runs; T₁ (every clean margin ≥ 1) median {noisy.t1_margin.median():g} "
                          f"steps; at t1 (every clean sample fitted, median {noisy.t1.median():g} steps) "
                          f"{at_margin_zero:.3f}", wilson_interval(on_true, count), STAGE_ONE_ACCEPTED, noisy, wilson)]
    stage_two = (noisy.t2.notna() & (noisy.noise_beats_signal_end > 0)).to_numpy()
    verdicts.append(decide(1, f"every sample fitted with the noise of some noisy sample beyond the signal in "
                              f"{int(stage_two.sum())} of {len(noisy)} runs (t2 median {noisy.t2.median():g} steps; "
                              f"noise beats signal for {noisy.noise_beats_signal_end.mean():.1f} noisy samples on "
                              f"average at the end)", wilson_interval(int(stage_two.sum()), len(noisy)),
                           STAGE_TWO_ACCEPTED, noisy, "95% Wilson interval of the share of runs"))
    converged = noisy[noisy.t2.notna()]
    final = converged.final_test_error.to_numpy(float)
    errors = (f"their final clean error {final.mean():.3g} (largest {final.max():.3g})" if final.size
              else "no final error to judge")
    verdicts.append(decide(2, f"converged runs (every sample fitted): {len(converged)} of {len(noisy)}; {errors} "
                              f"against 0.5·min(τ₊, τ₋) = {0.5 * TAU:g}; the error against noisy labels, "
                              f"τ + (1 − 2τ)·clean ≥ τ, is above it for any classifier",
                           bootstrap_interval(final), (0.5 * TAU, 1.0), noisy, boot))
    at_t1 = noisy.test_error_T1.to_numpy(float)
    verdicts.append(decide(3, f"clean error at T₁ {at_t1.mean():.3g} (largest {at_t1.max():.3g}); at the end "
                              f"{noisy.final_test_error.mean():.3g}; accepted: below {SMALL_ERROR:g}",
                           bootstrap_interval(at_t1), (0.0, SMALL_ERROR), noisy, boot))
    kept, kept_clean = int(noisy.kept_T1.sum()), int(noisy.kept_clean_T1.sum())
    verdicts.append(decide(4, f"precision {kept_clean / kept:.4f}: {kept - kept_clean} noisy among {kept} samples "
                              "kept at T₁ (recall is 1 there by T₁'s definition)",
                           wilson_interval(kept_clean, kept), PRECISION_ACCEPTED, noisy, wilson))
    final_clean = clean.final_test_error.to_numpy(float)
    verdicts.append(decide(5, f"final clean error {final_clean.mean():.3g} (largest {final_clean.max():.3g}), at T₁ "
                              f"{clean.test_error_T1.mean():.3g}; accepted: below {SMALL_ERROR:g}",
                           bootstrap_interval(final_clean), (0.0, SMALL_ERROR), clean, boot, config=config_clean))
    return verdicts


def run(context: Context) -> list:
    import pandas as pd

    from ..claims import at_t1

    rows, inside, configs = [], {}, {}
    for name, params in _settings(context).items():
        seeds = context.repetitions(*SEEDS[name])
        swept = context.sweep(name, {"tau": [TAU, 0.0], "seed": list(range(seeds))}, params, trajectories=True)
        table = swept.table.copy()
        measured = pd.DataFrame([at_t1(swept.result(i)) for i in range(len(table))], index=table.index)
        table = table.join(measured)
        table["true_side"] = table.noisy_true_share_T1.fillna(0.0) * table.noisy_count
        first = {tau: swept.result(int(table.index[(table.tau == tau) & (table.seed == 0)][0])) for tau in (TAU, 0.0)}
        config = first[TAU].config
        title = (f"{name}: n={config.n}, d={config.d}, m={config.m}, eta={config.eta:.3g}, sigma0={config.sigma0:g}, "
                 f"n SNR^2={config.n_snr2:g} (seed 0)")
        context.figure(_panel_figure(first[TAU], first[0.0], title), name.replace(" ", "_"))
        configs[name] = (config, first[0.0].config)
        rows += _stage_rows(context, name, table, {TAU: config, 0.0: first[0.0].config})
        if name == "inside":
            inside = dict(noisy=table[table.tau == TAU], clean=table[table.tau == 0.0], config_noisy=config,
                          config_clean=first[0.0].config)
    context.table(pd.DataFrame(rows), "stages")
    context.table(_regime_frame(configs), "regime")
    return _verdicts(context, **inside)


def _regime_frame(configs):
    """The regime table: each assumption, its reading, and its value on each setting (with label noise; without
    it for the assumption of Theorem 4.4), "yes" or "NO" as it holds."""
    import pandas as pd

    rows = []
    for assumption in ASSUMPTIONS:
        row = {"assumption": assumption.name, "condition": assumption.condition, "stated in": assumption.where,
               "reading": assumption.reading}
        for name, (noisy, clean) in configs.items():
            check = assumption.check(clean if assumption.claims == CLEAN_CLAIMS else noisy)
            row[name] = f"{check.value:.3g} ({'yes' if check.holds else 'NO'})"
        rows.append(row)
    return pd.DataFrame(rows)


PAPER = Paper(
    key="han2025",
    citation="A. Han, W. Huang, Z. Zhou, G. Niu, W. Chen, J. Yan, A. Takeda, T. Suzuki, On the Role of Label Noise "
             "in the Feature Learning Process, ICML 2025",
    setup=(
        Setting("network", "two-layer CNN, ReLU, second layer ±1/m, two patches [yμ, ξ]", "the same"),
        Setting("loss and optimizer", "logistic loss, full-batch gradient descent", "the same"),
        Setting("noise", "ξ ~ N(0, σ_ξ² I)", "the same"),
        Setting("n, d, m, η, σ₀, σ_ξ, ‖μ‖, steps", "not recovered",
                "inside: 40, 3200, 10, 1/6400, 10⁻⁴, 1, n·SNR² = 12, 40000 steps (Gram sampling); extras: "
                "default: 200, 2000, 10, 0.1, 0.01, 1, n·SNR² = 6, 2000 steps; small init: the same with "
                "σ₀ = 0.001; harmful: 500, 1000, 10, 0.2, 0.01, 1, n·SNR² = 5, 20000 steps",
                "a setting inside the assumptions (the verdicts), and the library's defaults, the same with a "
                "small initialisation, and d/n = 2 where memorising hurts (outside them: d < n², a large step)"),
        Setting("label noise", "class-conditional flips", "τ₊ = τ₋ = 0.2, and τ = 0 beside it",
                "the paper's rates were not recovered"),
        Setting("repetitions", "not stated", "10 seeds for the inside setting, 5 for the extras (3 and 1 in "
                "--quick)", "our choice: enough for the intervals the verdicts read"),
    ),
    claims=CLAIMS,
    run=run,
    assumptions=ASSUMPTIONS,
    runtime="181 s of wall-clock time on 2 shared cores, other jobs running (2026-12-07); --quick 51 s",
)
