"""Karhadkar et al., NeurIPS 2024: benign overfitting in leaky ReLU networks with moderate input dimension.

A two-layer leaky ReLU network (slope 0.1, second layer ±1) trained by gradient
descent on the hinge loss, on one vector per sample x = √γ·y·v + √(1−γ)·n with
n ~ N(0, (1/d)(I − vvᵀ)) and 10% of the labels flipped. The entry sweeps d/n at
γ = 0.1 and γ at d = 400, n = 200, and reports the test error (against the true
label, exact law) and the step at which every training label was fitted.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Context, Paper, Setting, Verdict

N, D, M_TOTAL, GAMMA, TAU, SLOPE = 200, 400, 64, 0.1, 0.1, 0.1
M = M_TOTAL // 2  #: the library's m counts filters per class: 64 neurons in total = 32 of each sign
ETA = N / (M_TOTAL * N)  #: lr 1/(m n) on the summed loss = lr n/(m n) = 1/m on the library's mean loss
RATIOS = (0.5, 1.0, 2.0, 4.0, 8.0)
GAMMAS = (0.01, 0.03, 0.1, 0.3)


def _data(d: int, gamma: float) -> dict:
    """x = √γ y v + √(1−γ) n, n ~ N(0, (I − vvᵀ)/d): additive layout, ‖μ‖ = √γ, σ_ξ = √((1−γ)/d)."""
    return dict(d=d, mu_norm=math.sqrt(gamma), sigma_xi=math.sqrt((1 - gamma) / d), sigma0=1 / (M_TOTAL * math.sqrt(d)))


def run(context: Context) -> list:
    import matplotlib.pyplot as plt
    import pandas as pd

    seeds = context.repetitions(full=3, quick=1)
    steps = 4000 if context.quick else 10000
    ratios = (0.5, 2.0, 8.0) if context.quick else RATIOS
    gammas = (0.01, 0.1) if context.quick else GAMMAS
    fixed = dict(n=N, m=M, steps=steps, tau=TAU, flips="exact", eta=ETA, layout="additive", noise="orthogonal",
                 activation=f"leaky_relu({SLOPE})", loss="hinge", output_scale="sum", record=tuple(range(0, steps + 1, 200)))
    tables = {}
    grid = {("d", "mu_norm", "sigma_xi", "sigma0"): [tuple(_data(int(r * N), GAMMA).values()) for r in ratios],
            "seed": list(range(seeds))}
    tables["d/n"] = context.sweep("ratio", grid, fixed).table.assign(x=lambda t: t.d / N)
    grid = {("d", "mu_norm", "sigma_xi", "sigma0"): [tuple(_data(D, g).values()) for g in gammas],
            "seed": list(range(seeds))}
    tables["gamma"] = context.sweep("gamma", grid, fixed).table.assign(x=lambda t: np.round(t.mu_norm ** 2, 6))
    summaries = {}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for ax, (name, table) in zip(axes, tables.items()):
        cells = table.groupby("x", as_index=False).agg(
            error=("final_test_error", "mean"), spread=("final_test_error", "std"),
            fitted=("t2", lambda s: float(s.notna().mean())), t2=("t2", "max"))
        summaries[name] = cells
        ax.errorbar(cells.x, cells.error, yerr=cells.spread.fillna(0), marker="o", label="test error (true labels)")
        ax.axhline(TAU, color="gray", ls="--", label=f"flip rate {TAU}")
        ax.set_xscale("log")
        # The values run as ticks, written plainly: the log axis's own minor labels overlap.
        ax.set_xticks(cells.x, [f"{x:g}" for x in cells.x])
        ax.minorticks_off()
        ax.set_xlabel("d / n" if name == "d/n" else r"$\gamma$")
        ax.set_ylabel("test error")
        ax.set_title(f"n={N}, " + (f"γ={GAMMA}" if name == "d/n" else f"d={D}"), fontsize="medium")
        ax.legend(fontsize="small")
    fig.suptitle(f"leaky ReLU(0.1), hinge, m={M_TOTAL} (32 a sign), {steps} steps, {seeds} seed(s)", fontsize="medium")
    context.figure(fig, "test_error")
    rows = [{"sweep": name, "value": row.x, "test error": row.error, "share fitting every label": row.fitted,
             "last step to fit every label (max over seeds)": row.t2}
            for name, cells in summaries.items() for row in cells.itertuples()]
    context.table(pd.DataFrame(rows), "summary")

    ratio, gam = summaries["d/n"], summaries["gamma"]
    region = f"n={N}, d/n in {ratios[0]}..{ratios[-1]} (γ={GAMMA}), γ in {gammas[0]}..{gammas[-1]} (d={D}), {steps} steps"
    fitted = pd.concat([ratio.fitted, gam.fitted])
    big = ratio[ratio.x >= 2]
    small_gamma = gam[gam.x <= 0.01]
    return [
        Verdict.judge(f"every label fitted in {100 * fitted.mean():.0f}% of runs (by cell: "
                      + ", ".join(f"{v:.2g}" for v in fitted) + ")", fitted.min() >= 0.95, fitted.mean() >= 0.5, region),
        Verdict.judge("test error at d/n ≥ 2: " + ", ".join(f"{e:.3f}" for e in big.error),
                      bool((big.error <= TAU).all()), bool((big.error <= TAU).any()), region),
        Verdict.judge(f"test error at the smallest d/n {ratio.error.iloc[0]:.3f}, at the largest {ratio.error.iloc[-1]:.3f}",
                      bool(ratio.error.iloc[0] >= ratio.error.iloc[-1] + 0.05),
                      bool(ratio.error.iloc[0] > ratio.error.iloc[-1]), region),
        Verdict.judge("test error at γ ≤ 0.01: " + ", ".join(f"{e:.3f}" for e in small_gamma.error)
                      + f"; at γ = {gam.x.iloc[-1]:g}: {gam.error.iloc[-1]:.3f}",
                      len(small_gamma) > 0 and bool((small_gamma.error >= TAU).all()),
                      len(small_gamma) > 0 and bool((small_gamma.error > gam.error.iloc[-1]).all()), region),
    ]


PAPER = Paper(
    key="karhadkar2024",
    citation="K. Karhadkar, E. George, M. Murray, G. Montúfar, D. Needell, Benign Overfitting in Leaky ReLU "
             "Networks with Moderate Input Dimension, NeurIPS 2024",
    setup=(
        Setting("network", "f(x) = Σ_j a_j σ(⟨w_j, x⟩), leaky ReLU slope 0.1, a_j = ±1 fixed, m = 64 neurons",
                "activation=\"leaky_relu(0.1)\", output_scale=\"sum\", m = 32 per class (64 in total)",
                "the library's m counts filters per class; we read the authors' 64 as the total, half of each sign "
                "(not checked against their code)"),
        Setting("data", "x = √γ y v + √(1−γ) n, ‖v‖ = 1, n ~ N(0, (I − vvᵀ)/d)",
                "layout=\"additive\", noise=\"orthogonal\", ‖μ‖ = √γ, σ_ξ = √((1−γ)/d)",
                "the same law: the library's noise is σ_ξ² times the projection off μ"),
        Setting("loss, learning rate", "hinge loss summed over samples, lr 1/(m n)",
                "hinge loss averaged over samples, η = 1/m = 1/64",
                "a sum with lr η equals a mean with lr n·η: the same iterates"),
        Setting("initialisation", "std 1/(m√d)", "σ₀ = 1/(64√d)", "m = 64 read as the neurons in total (see network)"),
        Setting("labels", "10% flipped", "tau=0.1, flips=\"exact\" (exactly 10% of each class)",
                "whether the authors flip an exact count was not checked"),
        Setting("stopping", "until training error 0", "a fixed 10,000 steps (quick: 4,000), recorded every 200; the first "
                "recorded step at which every label is fitted (t2) is reported", "the library runs a fixed number of steps"),
        Setting("test error", "finite test set", "exact law against the true label, estimated to 2 % (line sampling)",
                "no sampling noise of a test set"),
        Setting("sweeps", "test error against d/n and γ", "d/n ∈ {0.5, 1, 2, 4, 8} at γ = 0.1; γ ∈ {0.01, 0.03, 0.1, "
                "0.3} at d = 400; n = 200; 3 seeds (quick: 3 and 2 values, 1 seed, 4,000 steps)",
                "the paper's exact grids were not recovered"),
    ),
    claims=(
        "GD on the hinge loss fits every training label, flipped ones included",
        "With d large enough relative to n (moderate dimension, d of order n), the overfitting is benign: "
        "the test error against the true label is small, below the flip rate",
        "The test error falls as d/n grows",
        "With a weak signal (small γ) the overfitting is not benign: the test error is at least the flip rate",
    ),
    run=run,
    runtime="about 1 min (57 s) on 2 shared cores (2026-11-26); --quick about 12 s",
)
