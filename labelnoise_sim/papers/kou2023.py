"""Kou, Chen, Chen, Gu, ICML 2023: benign overfitting in two-layer ReLU CNNs, with label flips.

The paper proves a sharp condition: trained by gradient descent on data
with a fraction p of flipped labels, the CNN fits every training label and
its test error (against the flipped test labels) is at most p + exp(-n‖μ‖⁴ /
(C σ_p⁴ d)) when n‖μ‖⁴ ≳ σ_p⁴ d, while it stays a constant above p when
n‖μ‖⁴ ≲ σ_p⁴ d. Its synthetic figure is a heatmap of the test error over
‖μ‖ × d, and the same map thresholded at 0.2 with the curve n‖μ‖⁴ ≍ σ_p⁴ d.

The entry runs a coarser grid than the paper's 100 × 100 × 10 cells, in
three variants: the paper's model, the authors' code's conventions, and the
code's conventions with the patches summed (the effect of the code's mean
over patches).
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Context, Paper, Setting, Verdict

N, P_FLIP, STEPS, ETA, M = 20, 0.1, 100, 0.1, 10
THRESHOLD = 0.2  #: the paper's threshold on the test error with flipped test labels
C_BOUNDARY = 1.0  #: the constant of the drawn curve n‖μ‖⁴ = C σ_p⁴ d, chosen before the run (not fitted)
#: The grid: ‖μ‖ from the smallest positive value in steps of 0.25 (the library refuses ‖μ‖ = 0), d in steps of 50.
MU_FULL = (0.1,) + tuple(np.round(np.arange(0.25, 10.0, 0.25), 2))
D_FULL = tuple(range(100, 1100, 50))
MU_QUICK, D_QUICK = (0.1, 1.0, 2.0, 3.0, 5.0, 9.5), (100, 500, 1000)


def _sigma0(d: int, halve: bool = False) -> float:
    """The standard deviation of torch's default uniform initial weights, U(±1/√fan_in) with fan_in = d: 1/√(3d)."""
    return 1 / math.sqrt(3 * d) / (2 if halve else 1)


#: name -> (fixed simulate() keywords, whether σ₀ and η carry the code's mean over the two patches).
#: A ReLU network is 1-homogeneous in its weights and bias, so halving its output (the mean over two
#: patches) is the same as training the summed network from initial weights halved with η / 4: exact
#: when the bias starts at 0, as here.
VARIANTS = {
    "paper": (dict(noise="orthogonal", output_scale="mean", bias=False, flips="bernoulli", eta=ETA), False),
    "code": (dict(noise="isotropic", output_scale="sum", bias=True, flips="exact", eta=ETA / 4), True),
    "code, patches summed": (dict(noise="isotropic", output_scale="sum", bias=True, flips="exact", eta=ETA), False),
}


def flipped_error(clean: np.ndarray) -> np.ndarray:
    """The test error against labels flipped with probability p, from the error against the true labels."""
    return P_FLIP + (1 - 2 * P_FLIP) * clean


def _crossing(mus: np.ndarray, errors: np.ndarray) -> float:
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


def _heatmaps(maps, mus, ds, title):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(maps), figsize=(4.6 * len(maps), 8), layout="constrained", squeeze=False)
    curve_d = np.linspace(ds[0], ds[-1], 200)
    curve_mu = (C_BOUNDARY * curve_d / N) ** 0.25
    for column, (name, grid) in enumerate(maps.items()):
        top, bottom = axes[0, column], axes[1, column]
        image = top.pcolormesh(mus, ds, grid, shading="nearest", vmin=P_FLIP, vmax=0.5, cmap="viridis")
        bottom.pcolormesh(mus, ds, grid > THRESHOLD, shading="nearest", cmap="gray_r", vmin=0, vmax=1)
        bottom.plot(curve_mu, curve_d, color="C3", label=rf"$n\|\mu\|^4 = {C_BOUNDARY:g}\,\sigma_p^4 d$ (not fitted)")
        top.set_title(f"{name}: test error", fontsize="medium")
        bottom.set_title(f"{name}: test error > {THRESHOLD:g} (black)", fontsize="medium")
        bottom.legend(fontsize="x-small", loc="lower right")
        for ax in (top, bottom):
            ax.set_xlabel(r"$\|\mu\|$")
            ax.set_ylabel("d")
        fig.colorbar(image, ax=top, shrink=0.8)
    fig.suptitle(title, fontsize="medium")
    return fig


def run(context: Context) -> list:
    import pandas as pd

    seeds = context.repetitions(full=5, quick=1)
    mus, ds = (MU_QUICK, D_QUICK) if context.quick else (MU_FULL, D_FULL)
    mus_arr = np.array(mus)
    maps, fits, rows, crossings = {}, {}, [], {}
    for name, (options, halve) in VARIANTS.items():
        fixed = dict(n=N, m=M, steps=STEPS, tau=P_FLIP, sigma_xi=1.0, record=(0, STEPS), **options)
        grid = {("d", "sigma0"): [(d, _sigma0(d, halve)) for d in ds], "mu_norm": list(mus),
                "seed": list(range(seeds))}
        table = context.sweep(name.replace(", ", "-").replace(" ", "-"), grid, fixed).table
        table = table.assign(error=flipped_error(table.final_test_error.to_numpy()), fitted=table.t2.notna())
        cells = table.groupby(["d", "mu_norm"], as_index=False).agg(error=("error", "mean"), fitted=("fitted", "mean"))
        grid_map = cells.pivot(index="d", columns="mu_norm", values="error").loc[list(ds), list(mus)].to_numpy()
        maps[name] = grid_map
        crossings[name] = np.array([_crossing(mus_arr, row) for row in grid_map])
        ratio = N * cells.mu_norm.to_numpy() ** 4 / cells.d.to_numpy()  # n‖μ‖⁴ / (σ_p⁴ d), σ_p = 1
        above, below = cells[ratio >= 10 * C_BOUNDARY], cells[ratio <= 0.1 * C_BOUNDARY]
        fits[name] = dict(
            benign=float((above.error <= P_FLIP + 0.05).mean()) if len(above) else math.nan,
            fitted_above=float(above.fitted.mean()) if len(above) else math.nan,
            harmful=float((below.error >= P_FLIP + 0.1).mean()) if len(below) else math.nan,
            fitted_all=float(cells.fitted.mean()), above=len(above), below=len(below))
        good = np.isfinite(crossings[name]) & (crossings[name] > mus_arr[0])
        slope = float(np.polyfit(np.log(np.array(ds)[good]), np.log(crossings[name][good]), 1)[0]) \
            if good.sum() >= 3 else math.nan
        constant = float(np.median(N * crossings[name][good] ** 4 / np.array(ds)[good])) if good.any() else math.nan
        fits[name].update(slope=slope, constant=constant, crossed=int(good.sum()))
        rows.append({"variant": name, "cells": len(cells), "seeds": seeds,
                     "share fitting every training label": fits[name]["fitted_all"],
                     "cells with n mu^4 >= 10 d": fits[name]["above"],
                     "of which error <= p + 0.05": fits[name]["benign"],
                     "cells with n mu^4 <= 0.1 d": fits[name]["below"],
                     "of which error >= p + 0.1": fits[name]["harmful"],
                     "d where the map crosses 0.2": fits[name]["crossed"],
                     "slope of log mu* on log d": slope,
                     "median n mu*^4 / d (fitted after the run)": constant})
    title = (f"n={N}, m={M} per class, p={P_FLIP}, sigma_p=1, {STEPS} steps of GD, {seeds} seed(s) a cell; "
             f"test error against flipped test labels (exact law)")
    context.figure(_heatmaps(maps, mus_arr, np.array(ds), title), "heatmaps")
    context.table(pd.DataFrame(rows), "summary")
    context.table(pd.DataFrame({"d": list(ds), **{f"mu* ({name})": crossings[name] for name in VARIANTS}}),
                  "boundary")

    region = (f"‖μ‖ in {mus[0]:g}..{mus[-1]:g}, d in {ds[0]}..{ds[-1]}, n={N}, p={P_FLIP}, {STEPS} steps, "
              f"{seeds} seed(s) a cell")
    verdicts = []
    measured = "; ".join(f"{name}: every label fitted in {100 * f['fitted_all']:.0f}% of cells "
                         f"({100 * f['fitted_above']:.0f}% where n‖μ‖⁴ ≥ 10 d)" for name, f in fits.items())
    verdicts.append(Verdict.judge(measured, all(f["fitted_all"] >= 0.95 for f in fits.values()),
                                  any(f["fitted_all"] >= 0.95 for f in fits.values()), region))
    measured = "; ".join(f"{name}: error ≤ p + 0.05 in {100 * f['benign']:.0f}% of {f['above']} cells with "
                         f"n‖μ‖⁴ ≥ 10 d" for name, f in fits.items())
    verdicts.append(Verdict.judge(measured, all(f["benign"] >= 0.9 for f in fits.values()),
                                  any(f["benign"] >= 0.9 for f in fits.values()), region))
    measured = "; ".join(f"{name}: error ≥ p + 0.1 in {100 * f['harmful']:.0f}% of {f['below']} cells with "
                         f"n‖μ‖⁴ ≤ 0.1 d" for name, f in fits.items())
    verdicts.append(Verdict.judge(measured, all(f["harmful"] >= 0.9 for f in fits.values()),
                                  any(f["harmful"] >= 0.9 for f in fits.values()), region))
    measured = "; ".join(f"{name}: slope {f['slope']:.2f} over {f['crossed']} values of d, n‖μ*‖⁴/d ≈ "
                         f"{f['constant']:.2g}" for name, f in fits.items())
    verdicts.append(Verdict.judge(measured, all(0.15 <= f["slope"] <= 0.35 for f in fits.values()),
                                  any(0.1 <= f["slope"] <= 0.4 for f in fits.values()), region))
    return verdicts


PAPER = Paper(
    key="kou2023",
    citation="Y. Kou, Z. Chen, Y. Chen, Q. Gu, Benign Overfitting in Two-layer ReLU Convolutional Neural "
             "Networks, ICML 2023",
    setup=(
        Setting("network", "paper: two-layer ReLU CNN, two patches [yμ, ξ], F_j = (1/m) Σ_r Σ_p σ(⟨w_{j,r}, x_p⟩); "
                "code: a bias per filter, mean over the patches, sum over the filters",
                "paper: the same; code: bias=True, output_scale=\"sum\", and the mean over patches as the sum "
                "with η/4 and σ₀/2",
                "the library sums over patches; ReLU is 1-homogeneous, so halving the output equals halving "
                "the initial weights and dividing η by 4 (exact, the bias starting at 0); a third variant sums "
                "the patches to show the effect"),
        Setting("noise", "paper: ξ ~ N(0, σ_p² (I − μμᵀ/‖μ‖²)); code: N(0, σ_p² I)",
                "paper: noise=\"orthogonal\"; code: noise=\"isotropic\"", "each variant as its source states"),
        Setting("initialisation", "paper: Gaussian, σ₀ small; code: PyTorch default, uniform U(±1/√d) "
                "weights and bias", "Gaussian with σ₀ = 1/√(3d) (the uniform law's variance) in both variants; "
                "bias starting at 0", "the library draws Gaussian filters and a zero bias: same variance, "
                "another law; the paper's σ₀ is not stated as a number"),
        Setting("n, d, m, σ_p, η, steps", "20, 100, 10 per class, 1, 0.1, 100 (full-batch GD, logistic loss)",
                "the same (η/4 in the code variant, see network)",
                "the code variant's η/4 and σ₀/2 are its mean over the patches, not another learning rate"),
        Setting("label flips", "rate p = 0.1", "paper: each label flipped with probability 0.1; code: "
                "flips=\"exact\", round(0.1 n₊) and round(0.1 n₋) labels flipped",
                "whether the code flips a fixed number was not checked against its source: our assumption"),
        Setting("test set", "1,000 samples",
                "the exact law of a fresh sample (estimated to 2 % by line sampling), "
                "against the true label, turned into p + (1 − 2p)·error for flipped test labels",
                "no finite test set: no sampling noise of 1,000 samples; the paper's test error is against flipped "
                "labels (its bound is p + ε); whether the code flips its test labels was not checked"),
        Setting("grid", "‖μ‖ ∈ {0, 0.1, …, 9.9} × d ∈ {100, 110, …, 1090}, 10 repetitions (100,000 runs)",
                "‖μ‖ ∈ {0.1, 0.25, 0.5, …, 9.75} × d ∈ {100, 150, …, 1050}, 5 seeds (4,000 runs a variant); "
                "quick: 6 × 3 cells, 1 seed",
                "the full grid would take about 25 min a variant here (about 15 ms a run on 2 cores); ‖μ‖ = 0 is not "
                "allowed by the library, so the grid starts at 0.1; only steps 0 and 100 are recorded"),
        Setting("boundary drawn", "n‖μ‖⁴ ≍ σ_p⁴ d", "n‖μ‖⁴ = σ_p⁴ d (C = 1, fixed before the run); the constant "
                "read off the map after the run is in the summary table", "the paper states no constant"),
    ),
    claims=(
        "Gradient descent fits every training label, flipped ones included (overfitting)",
        "When n‖μ‖⁴ ≳ σ_p⁴ d the overfitting is benign: the test error is near the flip rate p",
        "When n‖μ‖⁴ ≲ σ_p⁴ d the test error stays a constant above p (harmful overfitting)",
        "The boundary between the two follows n‖μ‖⁴ ≍ σ_p⁴ d: the smallest benign ‖μ‖ grows as d^(1/4)",
    ),
    run=run,
    runtime="about 3 min (184 s) on 2 shared cores (2026-11-26); --quick about 30 s",
)
