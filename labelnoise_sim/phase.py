r"""Phase diagrams: heatmaps of sweep metrics over two swept parameters.

:func:`phase_maps` takes a sweep table (``SweepResult.table`` or the CSV that
``labelnoise-sim sweep`` writes), averages every metric over the cells that
share the two chosen parameters (seeds, typically), and draws one heatmap per
metric. :data:`PHASE_METRICS` are the quantities of the paper's claims:

- whether a Stage I was seen (share of seeds),
- the share of noisy samples still classified by their true label at t1,
- the best (oracle early-stopped) and the final clean test error,
- the F1 score of the :math:`\log 2` small-loss selection at t1.

On a map over :math:`(d/n, n \cdot \mathrm{SNR}^2)`, :func:`kou_boundary` marks the benign/harmful
overfitting boundary :math:`n \|\mu\|^4 = \sigma_\xi^4 d` of Kou et al. (2023), which in these
coordinates reads :math:`n \cdot \mathrm{SNR}^2 = (d/n)^{-1/2}`. On a map over
:math:`(n \cdot \mathrm{SNR}^2, \tau)`,
:func:`signal_race_boundary` marks the rough rule read off the update
equations of docs/model.md (docs/phase.md compares it with measured maps): the
signal outruns the memorisation of a noisy sample while
:math:`n \cdot \mathrm{SNR}^2 \cdot (1 - 2\tau)/2 > 1`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PHASE_METRICS", "DERIVED_AXES", "phase_table", "phase_maps", "kou_boundary", "signal_race_boundary"]

#: Metric column -> (title, colour map, fixed colour range or None).
PHASE_METRICS = {
    "stage_one": ("Stage I seen (share of seeds)", "viridis", (0.0, 1.0)),
    "noisy_true_share_at_t1": ("noisy samples on their true label at t1", "viridis", (0.0, 1.0)),
    "best_test_error": ("best (early-stopped) test error", "magma_r", None),
    "final_test_error": ("final test error", "magma_r", None),
    "select_f1_t1": ("log 2 selection F1 at t1", "viridis", (0.0, 1.0)),
}

#: Axes computed from the table's columns when they are not columns themselves.
DERIVED_AXES = {
    "d_over_n": ("d / n", lambda t: t["d"] / t["n"]),
    "benign_ratio": ("n ||mu||^4 / (sigma_xi^4 d)", lambda t: t["n_snr2"] ** 2 * t["d"] / t["n"]),
}

AXIS_LABELS = {"n_snr2": "n SNR^2", "tau": "flip rate tau", "d": "d", "n": "n", "eta": "eta"}


def phase_table(table, x: str, y: str, metrics=tuple(PHASE_METRICS)):
    """Mean of each metric over the cells sharing (x, y).

    Missing values (no t1, a diverged cell) are left out of a mean; a Stage I
    flag counts as 0 or 1.

    Parameters
    ----------
    table : pandas.DataFrame
        A sweep table, one row per cell.
    x, y : str
        The columns of the two axes.
    metrics : sequence of str, default PHASE_METRICS
        The columns to average.

    Returns
    -------
    pandas.DataFrame
        The means, indexed by (y, x), a column per metric.
    """
    table = table.copy()
    for axis in (x, y):
        if axis not in table.columns:
            if axis not in DERIVED_AXES:
                raise ValueError(f"axis {axis!r} is neither a column of the table nor one of "
                                 f"{', '.join(DERIVED_AXES)}; columns: {', '.join(map(str, table.columns))}")
            try:
                table[axis] = DERIVED_AXES[axis][1](table)
            except KeyError as exc:
                raise ValueError(f"axis {axis!r} ({DERIVED_AXES[axis][0]}) needs the column {exc.args[0]!r}, which "
                                 f"the table lacks; columns: {', '.join(map(str, table.columns))}") from None
    present = [m for m in metrics if m in table.columns]
    if not present:
        raise ValueError(f"the table has none of the metrics {', '.join(metrics)}")
    values = table[present].copy()
    for metric in present:
        try:
            values[metric] = values[metric].astype("float64")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"column {metric!r} must hold numbers; {exc}") from None
    values[x], values[y] = table[x], table[y]
    return values.groupby([y, x]).mean()


def kou_boundary(d_over_n):
    r""":math:`n \cdot \mathrm{SNR}^2` on the boundary :math:`n \|\mu\|^4 = \sigma_\xi^4 d`, as a function of :math:`d/n`.

    Parameters
    ----------
    d_over_n : array_like of float
        :math:`d/n`.

    Returns
    -------
    ndarray of float64
        :math:`(d/n)^{-1/2}`, the shape of ``d_over_n``.
    """
    return np.asarray(d_over_n, dtype=np.float64) ** -0.5


def signal_race_boundary(n_snr2):
    r""":math:`\tau` on the line :math:`n \cdot \mathrm{SNR}^2 \cdot (1 - 2\tau)/2 = 1`.

    Parameters
    ----------
    n_snr2 : array_like of float
        :math:`n \cdot \mathrm{SNR}^2`.

    Returns
    -------
    ndarray of float64
        :math:`\tau = (1 - 2 / (n \cdot \mathrm{SNR}^2)) / 2`, the shape of ``n_snr2``; NaN where
        :math:`n \cdot \mathrm{SNR}^2 \le 2` (no :math:`\tau \ge 0` lets the signal win).
    """
    n_snr2 = np.asarray(n_snr2, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = (1.0 - 2.0 / n_snr2) / 2.0
    return np.where(n_snr2 > 2.0, tau, np.nan)


def _position(values, points):
    """Where ``points`` fall on the cell-index axis of the sorted grid ``values`` (log scale if positive)."""
    values = np.asarray(values, dtype=np.float64)
    points = np.asarray(points, dtype=np.float64)
    if (values > 0).all():
        values, points = np.log(values), np.log(points)
    return np.interp(points, values, np.arange(len(values)), left=np.nan, right=np.nan)


def phase_maps(table, x: str, y: str, *, metrics=tuple(PHASE_METRICS), kou: bool | None = None,
               race: bool | None = None, title: str | None = None, annotate: bool = True):
    r"""Draw heatmaps of ``metrics`` over the (x, y) grid of a sweep table.

    Each cell shows the metric's mean over the rows with that (x, y) (:func:`phase_table`).

    Parameters
    ----------
    table : pandas.DataFrame
        A sweep table, one row per cell.
    x, y : str
        The columns of the two axes.
    metrics : sequence of str, default PHASE_METRICS
        The columns drawn, a heatmap each.
    kou : bool or None, default None
        Draw the Kou et al. (2023) boundary :math:`n \cdot \mathrm{SNR}^2 = (d/n)^{-1/2}` as a dashed line;
        None draws it when the axes are ``d_over_n`` and ``n_snr2``.
    race : bool or None, default None
        Draw the line :math:`n \cdot \mathrm{SNR}^2 (1 - 2\tau)/2 = 1`; None draws it on an n_snr2 × tau map.
    title : str or None, default None
        The figure's title.
    annotate : bool, default True
        Write each cell's value in it.

    Returns
    -------
    matplotlib.figure.Figure
        The heatmaps.
    """
    import matplotlib.pyplot as plt

    means = phase_table(table, x, y, metrics)
    xs = np.sort(means.index.get_level_values(x).unique().to_numpy())
    ys = np.sort(means.index.get_level_values(y).unique().to_numpy())
    present = [m for m in metrics if m in means.columns]
    if kou is None:
        kou = (x, y) == ("d_over_n", "n_snr2")
    if race is None:
        race = (x, y) == ("n_snr2", "tau")
    cols = min(3, len(present))
    rows = -(-len(present) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.9 * rows), squeeze=False, layout="constrained")
    for ax, metric in zip(axes.flat, present):
        grid = np.full((len(ys), len(xs)), np.nan)
        for (yv, xv), value in means[metric].items():
            grid[np.searchsorted(ys, yv), np.searchsorted(xs, xv)] = value
        label, cmap, vrange = PHASE_METRICS.get(metric, (metric, "viridis", None))
        vmin, vmax = vrange if vrange else (0.0, max(np.nanmax(grid), 1e-3) if np.isfinite(grid).any() else 1.0)
        image = ax.imshow(grid, origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax,
                          interpolation="nearest")
        fig.colorbar(image, ax=ax, shrink=0.9)
        if annotate and grid.size <= 120:
            for (i, j), value in np.ndenumerate(grid):
                if np.isfinite(value):
                    dark = (value - vmin) / (vmax - vmin or 1) < 0.5
                    if cmap.endswith("_r"):
                        dark = not dark
                    ax.text(j, i, f"{value:.2f}" if value < 9.995 else f"{value:.0f}", ha="center",
                            va="center", fontsize=6.5, color="white" if dark else "black")
        if kou:
            fine = np.geomspace(xs.min(), xs.max(), 200)
            bx, by = _position(xs, fine), _position(ys, kou_boundary(fine))
            ax.plot(bx, by, "--", color="cyan", lw=2, label="Kou et al. (2023): n ||mu||^4 = sigma_xi^4 d")
            ax.set_ylim(-0.5, len(ys) - 0.5)
        if race:
            fine = np.linspace(xs.min(), xs.max(), 400)
            bx = _position(xs, fine)
            by = np.interp(signal_race_boundary(fine), ys, np.arange(len(ys)), left=np.nan, right=np.nan)
            ax.plot(bx, by, "--", color="cyan", lw=2, label="signal outruns memorisation: n SNR^2 (1 - 2 tau) / 2 = 1")
            ax.set_ylim(-0.5, len(ys) - 0.5)
        ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs], rotation=45 if len(xs) > 6 else 0, fontsize=8)
        ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys], fontsize=8)
        ax.set_xlabel(DERIVED_AXES[x][0] if x in DERIVED_AXES else AXIS_LABELS.get(x, x))
        ax.set_ylabel(DERIVED_AXES[y][0] if y in DERIVED_AXES else AXIS_LABELS.get(y, y))
        ax.set_title(label, fontsize=10)
    spare = list(axes.flat)[len(present):]
    for ax in spare:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        if spare:
            spare[0].set_visible(True)
            spare[0].axis("off")
            spare[0].legend(handles, labels, loc="center", fontsize=9, title="dashed line")
        else:
            fig.legend(handles, labels, loc="outside lower center", fontsize=9)
    if title:
        fig.suptitle(title)
    return fig
