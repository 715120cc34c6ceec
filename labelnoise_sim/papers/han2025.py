"""Han et al., ICML 2025: the two stages of learning with label noise (this library's paper).

The paper's synthetic figure is a 2 × 2 grid, label noise on the left and
none on the right: on top the largest signal coefficient max_{j,r} γ_{j,r}
and the largest noise coefficients max_{j,r} ρ_{j,r,i} of noisy and of clean
samples over the iterations; below, the training accuracy overall, on clean
and on noisy samples. Its numbers could not be recovered, so the entry runs
the library's defaults (the benign case: memorisation does not hurt), the
same with the small initialisation the theorems assume, and a harmful case
with d/n = 2, several seeds each.
"""

from __future__ import annotations

import numpy as np

from ._base import Context, Paper, Setting, Verdict

#: The settings, as simulate() keywords: the defaults; the same with the small initialisation the theorems
#: assume (σ₀ far below the scale the signal reaches in Stage I); and d/n = 2, where memorising hurts.
SETTINGS = {
    "default": dict(n=200, d=2000, m=10, eta=0.1, steps=2000, n_snr2=6.0),
    "small init": dict(n=200, d=2000, m=10, eta=0.1, steps=2000, n_snr2=6.0, sigma0=1e-3),
    "harmful": dict(n=500, d=1000, m=10, eta=0.2, steps=20000, n_snr2=5.0),
}
QUICK_STEPS = {"default": 400, "small init": 400, "harmful": 2000}
TAU = 0.2


def _settings(context: Context) -> dict:
    return {name: {**params, "steps": QUICK_STEPS[name]} if context.quick else params
            for name, params in SETTINGS.items()}


def _panel_figure(noisy, clean, title):
    """The paper's 2 × 2 grid for one setting: coefficients on top, training accuracy below."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5), sharex=True, layout="constrained")
    for column, (result, label) in enumerate(((noisy, f"label noise tau = {TAU}"), (clean, "no label noise"))):
        t = np.maximum(result.t, 1)
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
            ax.set_xscale("log")
            ax.legend(fontsize="x-small", loc="upper left")
    axes[0, 0].set_ylabel("coefficient")
    axes[1, 0].set_ylabel("training accuracy")
    fig.suptitle(title, fontsize="medium")
    return fig


def run(context: Context) -> list:
    import pandas as pd

    seeds = context.repetitions(full=5, quick=1)
    rows, verdicts = [], []
    summary = {}
    for name, params in _settings(context).items():
        swept = context.sweep(name, {"tau": [TAU, 0.0], "seed": list(range(seeds))}, params, trajectories=True)
        table = swept.table
        first = {tau: swept.result(int(table.index[(table.tau == tau) & (table.seed == 0)][0])) for tau in (TAU, 0.0)}
        config = first[TAU].config
        title = (f"{name}: n={config.n}, d={config.d}, m={config.m}, eta={config.eta:g}, "
                 f"n SNR^2={config.n_snr2:g} (seed 0)")
        context.figure(_panel_figure(first[TAU], first[0.0], title), name.replace(" ", "_"))
        for tau, cells in table.groupby("tau", sort=False):
            rows.append({
                "setting": name, "tau": tau, "seeds": len(cells),
                "t1 (median)": float(cells.t1.median()), "t2 (median)": float(cells.t2.median()),
                "stage I seen": float(cells.stage_one.mean()),
                "noisy on true side at t1": float(cells.noisy_true_share_at_t1.mean()),
                "log 2 precision at t1": float(cells.select_precision_t1.mean()),
                "log 2 recall at t1": float(cells.select_recall_t1.mean()),
                "best test error": float(cells.best_test_error.mean()),
                "final test error": float(cells.final_test_error.mean()),
            })
        summary[name] = table
    frame = pd.DataFrame(rows)
    context.table(frame, "stages")

    noisy = {name: table[table.tau == TAU] for name, table in summary.items()}
    clean = {name: table[table.tau == 0.0] for name, table in summary.items()}
    region = "; ".join(f"{name}: n={p['n']}, d={p['d']}, sigma0={p.get('sigma0', 0.01):g}, tau={TAU}"
                       for name, p in _settings(context).items())
    stage_one = {name: (cells.stage_one.mean(), cells.noisy_true_share_at_t1.mean()) for name, cells in noisy.items()}
    verdicts.append(Verdict.judge(
        "; ".join(f"{name}: Stage I in {100 * seen:.0f}% of runs, {100 * share:.0f}% of noisy samples on their true "
                  f"side at t1" for name, (seen, share) in stage_one.items()),
        all(seen == 1 and share >= 0.9 for seen, share in stage_one.values()),
        any(seen > 0 for seen, _ in stage_one.values()), region))
    fitted = {name: (cells.t2.notna().mean(), cells.noise_beats_signal_end.mean()) for name, cells in noisy.items()}
    verdicts.append(Verdict.judge(
        "; ".join(f"{name}: every sample fitted in {100 * reached:.0f}% of runs, noise beats signal for {beats:.0f} "
                  f"noisy samples at the end" for name, (reached, beats) in fitted.items()),
        all(reached == 1 and beats > 0 for reached, beats in fitted.values()),
        any(reached > 0 for reached, _ in fitted.values()), region))
    gain = {name: (cells.best_test_error.mean(), cells.final_test_error.mean()) for name, cells in noisy.items()}
    verdicts.append(Verdict.judge(
        "; ".join(f"{name}: best {best:.4f} against final {final:.4f}" for name, (best, final) in gain.items()),
        gain["harmful"][1] > 2 * gain["harmful"][0], gain["harmful"][1] > gain["harmful"][0], region))
    selection = {name: (cells.select_precision_t1.mean(), cells.select_recall_t1.mean())
                 for name, cells in noisy.items()}
    verdicts.append(Verdict.judge(
        "; ".join(f"{name}: precision {p:.3f}, recall {r:.3f}" for name, (p, r) in selection.items()),
        all(p >= 0.95 and r >= 0.95 for p, r in selection.values()),
        all(p > 0.8 for p, _ in selection.values()), region))
    two_stage = {name: ((cells.t1 == cells.t2).mean(), cells.final_test_error.mean()) for name, cells in clean.items()}
    verdicts.append(Verdict.judge(
        "; ".join(f"{name}: t1 = t2 in {100 * same:.0f}% of runs, final test error {err:.4f}"
                  for name, (same, err) in two_stage.items()),
        all(same == 1 and err < 0.05 for same, err in two_stage.values()),
        any(same == 1 for same, _ in two_stage.values()), region.replace(f"tau={TAU}", "tau=0")))
    return verdicts


PAPER = Paper(
    key="han2025",
    citation="A. Han, W. Huang, Z. Zhou, G. Niu, W. Chen, J. Yan, A. Takeda, T. Suzuki, On the Role of Label Noise "
             "in the Feature Learning Process, ICML 2025",
    setup=(
        Setting("network", "two-layer CNN, ReLU, second layer ±1/m, two patches [yμ, ξ]", "the same"),
        Setting("loss and optimizer", "logistic loss, full-batch gradient descent", "the same"),
        Setting("noise", "ξ ~ N(0, σ_ξ² I)", "the same"),
        Setting("n, d, m, η, σ₀, σ_ξ, ‖μ‖, steps", "not recovered",
                "default: 200, 2000, 10, 0.1, 0.01, 1, n·SNR² = 6, 2000 steps; small init: the same with "
                "σ₀ = 0.001; harmful: 500, 1000, 10, 0.2, 0.01, 1, n·SNR² = 5, 20000 steps",
                "the library's defaults, the theorems' small initialisation, and d/n = 2 where memorising hurts"),
        Setting("label noise", "class-conditional flips", "τ₊ = τ₋ = 0.2, and τ = 0 beside it",
                "the paper's rates were not recovered"),
        Setting("repetitions", "not stated", "5 seeds per setting (1 in --quick)", "our choice"),
    ),
    claims=(
        "Stage I: every clean sample is fitted while the noisy ones are classified by their true label",
        "Stage II: training goes on to fit every sample, noisy ones by their noisy label, their noise memorised "
        "beyond the signal",
        "Stage II can hurt the test error; stopping early (near t1) avoids it",
        "At t1 the log 2 loss threshold separates clean from noisy samples",
        "Without label noise there is no second stage and the test error stays small",
    ),
    run=run,
    runtime="50 s on 2 shared cores (2026-11-26); --quick about 10 s",
)
