r"""The stage figure: a run with label noise beside the same run without it.

:func:`stage_figure` draws, per run (one column each):

(a) training accuracy on clean samples, on noisy samples by their noisy label
    and by their true label, and clean test accuracy, over log time, with t1,
    t2 and the oracle best step marked;
(b) the signal coefficient :math:`\gamma` and the memorisation :math:`\bar\rho` of clean and of noisy
    samples over time;
(c) the per-sample loss histogram at t1 and at the end, with the :math:`\log 2` line
    that the small-loss criterion thresholds at.

Matplotlib only, with the Agg backend: nothing needs a display.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._files import replacing
from .analysis import BOUNDARY_LOSS, analyze, class_signal, own_class_noise, record_index

__all__ = ["stage_figure", "save_figure", "twin_without_noise", "step_axis", "plain_log_ticks", "text_color_on"]

CLEAN, NOISY, TRUE, TEST = "tab:blue", "tab:red", "tab:orange", "black"


def _pyplot():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "cairo"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def twin_without_noise(result):
    r"""The run of ``result`` repeated with :math:`\tau_+ = \tau_- = 0` (same data draw, seed and signal norm).

    Parameters
    ----------
    result : SimulationResult
        A run.

    Returns
    -------
    SimulationResult
        Its twin without label noise.
    """
    from .dynamics import run

    # A twin of a simulate() result reports progress as that result was asked to (silent for other results).
    return run(result.config.replace(tau_pos=0.0, tau_neg=0.0), progress=result.__dict__.get("_progress", False))


def step_axis(axis) -> None:
    """Make ``axis`` a gradient-step axis, with step 0 drawn at 0.

    Logarithmic from step 1 and linear between 0 and 1 (symlog), so that
    step 0 is drawn where it is rather than moved onto a log axis; ticks in
    plain numbers, starting at 0.

    Parameters
    ----------
    axis : matplotlib.axis.XAxis
        The axis, ``ax.xaxis``.
    """
    from matplotlib.ticker import FuncFormatter, NullFormatter, SymmetricalLogLocator

    axis.axes.set_xscale("symlog", linthresh=1.0, linscale=0.25)
    axis.set_major_locator(SymmetricalLogLocator(base=10, linthresh=1.0))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    axis.set_minor_formatter(NullFormatter())
    axis.axes.set_xlim(left=0.0)


def plain_log_ticks(axis) -> None:
    """Label the ticks of a log axis in plain numbers (0.01, 1, 100).

    Not 10ᵏ, and no "2×10¹" on minor ticks: labels on the decades only,
    unless the axis spans less than two decades, where the minor ticks 2 and 5
    are labelled too. Call it once the axis has its limits.

    Parameters
    ----------
    axis : matplotlib.axis.Axis
        The log axis, ``ax.xaxis`` or ``ax.yaxis``.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    low, high = sorted(axis.get_view_interval())
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    axis.set_major_locator(LogLocator(base=10))
    axis.set_major_formatter(plain)
    if low > 0 and high / low < 100:
        axis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
        axis.set_minor_formatter(plain)
    else:
        axis.set_minor_formatter(NullFormatter())


def text_color_on(rgba) -> str:
    """Choose the text colour that reads on a coloured cell.

    Parameters
    ----------
    rgba : sequence of float
        The cell's colour, red, green and blue in [0, 1] (alpha ignored).

    Returns
    -------
    str
        "black" on a light cell, "white" on a dark one, by the colour's
        relative luminance (WCAG's definition, threshold 0.179).
    """
    def linear(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(float(c)) for c in rgba[:3])
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.179 else "white"


def _mark_steps(ax, stages, labels: bool):
    marks = {}
    for step, name, style in ((stages.t1, "t1", ":"), (stages.t2, "t2", "--"),
                              (stages.best_step, "best", "-.")):
        if step is None:
            continue
        ax.axvline(step, color="0.35", ls=style, lw=1)
        marks.setdefault(step, []).append(name)
    if labels:
        # Above the frame, where no curve runs; marks at the same step share one label.
        for step, names in marks.items():
            ax.annotate(" = ".join(names), (step, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontsize="small", color="0.25")


def _panel_accuracy(ax, result, stages):
    t = result.t
    ax.plot(t, result.train_acc_clean, color=CLEAN, label="clean samples fitted")
    if result.data.is_noisy.any():
        ax.plot(t, result.train_acc_noisy, color=NOISY, label="noisy samples fitted (noisy label)")
        ax.plot(t, result.train_acc_noisy_true, color=TRUE, label="noisy samples by true label")
    ax.plot(t, 1 - result.test_error, color=TEST, lw=1.2, label="clean test accuracy")
    _mark_steps(ax, stages, labels=True)
    step_axis(ax.xaxis)
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("(a) fit and test accuracy")
    # Test errors of 1e-4 and 1e-2 look alike on the accuracy axis: repeat the error on a log axis (the estimate
    # is precise down to 1e-12 and below; an error that underflows to 0 is left out).
    error = np.where(result.test_error > 0, result.test_error, np.nan)
    err_ax = ax.twinx()
    err_ax.plot(t, error, color=TEST, ls=(0, (1, 1)), lw=1.2)
    err_ax.set_yscale("log")
    if np.isfinite(error).any():
        err_ax.set_ylim(min(np.nanmin(error) / 2, 1e-3), 1.0)
    plain_log_ticks(err_ax.yaxis)
    err_ax.set_ylabel("clean test error (dotted, log)", fontsize="small")
    # Above the axes: inside, every corner holds some curve.
    handles, labels = ax.get_legend_handles_labels()
    handles.append(err_ax.lines[0])
    labels.append("clean test error (right axis)")
    ax.legend(handles, labels, loc="lower left", bbox_to_anchor=(0.0, 1.1), ncol=2, fontsize="x-small",
              frameon=False, borderaxespad=0.0)


def _panel_coefficients(ax, result, stages):
    t = result.t
    signal = class_signal(result)  # (K, G)
    if result.config.multiclass:
        styles = ["-", "--", ":", "-."]
        if signal.shape[1] <= len(styles):
            for c in range(signal.shape[1]):
                ax.plot(t, signal[:, c], color="tab:green", ls=styles[c], label=f"signal of class {c}")
        else:
            ax.plot(t, np.median(signal, axis=1), color="tab:green", label="signal, median over classes")
            ax.fill_between(t, signal.min(axis=1), signal.max(axis=1), color="tab:green", alpha=0.2, lw=0)
    elif result.config.signal_vectors > 1:
        ax.plot(t, signal[:, 0], color="tab:green", label="signal of class +1 (its patches, best filter)")
        ax.plot(t, signal[:, 1], color="tab:green", ls="--", label="signal of class -1 (its patches, best filter)")
    else:
        ax.plot(t, signal[:, 0], color="tab:green", label=r"signal $\max_r\gamma_{+1,r}$")
        ax.plot(t, signal[:, 1], color="tab:green", ls="--", label=r"signal $\max_r\gamma_{-1,r}$")
    own = own_class_noise(result)  # (K, n)
    noisy = result.data.is_noisy
    for mask, color, name in ((~noisy, CLEAN, "clean"), (noisy, NOISY, "noisy")):
        if not mask.any():
            continue
        lo, mid, hi = np.quantile(own[:, mask], [0.1, 0.5, 0.9], axis=1)
        ax.plot(t, mid, color=color, label=rf"$\max_r\bar\rho_{{\tilde y_i,r,i}}$, {name} (median)")
        ax.fill_between(t, lo, hi, color=color, alpha=0.2, lw=0)
    _mark_steps(ax, stages, labels=False)
    step_axis(ax.xaxis)
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_ylim(bottom=0.0)
    ax.set_ylabel("(b) signal and noise coefficients")
    ax.set_xlabel("gradient step")
    ax.legend(loc="upper left", fontsize="x-small", framealpha=0.8)


def _panel_losses(ax, result, step, title):
    k = record_index(result, step)
    loss = result.sample_loss[k]
    noisy = result.data.is_noisy
    floor = max(loss.min(), 1e-12)
    # The small-loss threshold ℓ(0) where the loss has one (analysis.small_loss_threshold).
    boundary = None if result.config.multiclass else BOUNDARY_LOSS.get(result.config.loss)
    scale = 1.0 if boundary is None else boundary
    bins = np.geomspace(min(floor, 0.1 * scale), max(loss.max(), 2 * scale), 30)
    data = [loss[~noisy]] + ([loss[noisy]] if noisy.any() else [])
    colors = [CLEAN] + ([NOISY] if noisy.any() else [])
    labels = ["clean"] + (["noisy"] if noisy.any() else [])
    ax.hist(data, bins=bins, stacked=True, color=colors, label=labels)
    if boundary is not None:
        ax.axvline(boundary, color="k", lw=1)
        ax.annotate("log 2" if result.config.loss == "logistic" else f"ℓ(0) = {boundary:g}", (boundary, 1.0),
                    xycoords=("data", "axes fraction"), xytext=(2, -10), textcoords="offset points",
                    fontsize="small")
    ax.set_xscale("log")
    plain_log_ticks(ax.xaxis)
    ax.set_title(title, fontsize="small")
    ax.set_xlabel("sample loss")
    ax.legend(loc="upper left", fontsize="x-small")


def _column(fig, result, title, stages=None):
    stages = analyze(result) if stages is None else stages
    axes = fig.subplot_mosaic([["a", "a"], ["b", "b"], ["c1", "c2"]], height_ratios=[1.1, 1.1, 0.9])
    c = result.config
    fig.suptitle(f"{title}\n" rf"n={c.n}, d={c.d}, m={c.m}, $\eta$={c.eta:g}, $n\,$SNR$^2$={c.n_snr2:.3g}, "
                 rf"$\tau_+$={c.tau_pos:g}, $\tau_-$={c.tau_neg:g}"
                 + (f"\nfeatures={c.features}, classes={c.classes}, loss={c.loss}, output layer {c.output_layer}"
                    if c.data_family else ""), fontsize="medium")
    # The panels' names are in their y labels: above panel (a) the stage marks take the room.
    _panel_accuracy(axes["a"], result, stages)
    _panel_coefficients(axes["b"], result, stages)
    t1 = stages.t1 if stages.t1 is not None else int(result.t[0])
    _panel_losses(axes["c1"], result, t1, f"(c) losses at t1 = {t1}")
    _panel_losses(axes["c2"], result, int(result.t[-1]), f"losses at the end (step {int(result.t[-1])})")
    axes["c2"].set_ylabel("")
    axes["c1"].set_ylabel("samples")
    return stages


def stage_figure(result, twin="auto", *, stages=None):
    """The stage figure of ``result``, with its noise-free twin beside it.

    Parameters
    ----------
    result : SimulationResult
        The run to draw (left column).
    twin : "auto", SimulationResult or None
        The right column: ``"auto"`` runs :func:`twin_without_noise` when
        ``result`` has label noise; a result draws that run; None draws only
        ``result``.
    stages : StageAnalysis, optional
        ``analyze(result)``, when the caller has it already; None to compute it.

    Returns
    -------
    matplotlib.figure.Figure
        The figure: one column per run.
    """
    plt = _pyplot()
    if isinstance(twin, str):
        if twin != "auto":
            raise ValueError(f"twin must be 'auto', a SimulationResult or None; got {twin!r}")
        has_noise = result.config.tau_pos > 0 or result.config.tau_neg > 0
        twin = twin_without_noise(result) if has_noise else None
    runs = [(result, "with label noise" if result.data.is_noisy.any() else "run", stages)]
    if twin is not None:
        runs.append((twin, "same run without label noise", None))
    fig = plt.figure(figsize=(6.2 * len(runs), 9.5), layout="constrained")
    subfigs = np.atleast_1d(fig.subfigures(1, len(runs)))
    for sub, (res, title, known) in zip(subfigs, runs):
        _column(sub, res, title, known)
    return fig


def save_figure(fig, stem, *, pdf: bool = True) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and, if ``pdf``, ``stem.pdf``, and close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    stem : str or os.PathLike
        The path of the files without their suffix (which is added, not swapped: a stem may hold a dot).
    pdf : bool, default True
        Whether to write the PDF too.

    Returns
    -------
    list of pathlib.Path
        The paths written, the PNG's first.
    """
    plt = _pyplot()
    stem = Path(stem)
    # The suffixes are added, not swapped: a stem may hold a dot (curves_sigma0_0.01).
    paths = [stem.with_name(stem.name + suffix) for suffix in (".png", ".pdf")[: 2 if pdf else 1]]
    # The figure is laid out once, while the PNG is written (so the PNG is the same
    # bytes as before), then frozen: a layout engine (constrained) would otherwise run
    # again for the PDF, and it is about half of what saving costs.
    # Each file is written beside its place and renamed into it: a full disk or an interruption leaves the
    # previous file or none, never half of one.
    try:
        for i, path in enumerate(paths):
            with replacing(path) as tmp:
                fig.savefig(tmp, dpi=130)
            if i == 0 and fig.get_layout_engine() is not None:
                fig.set_layout_engine("none")
    finally:
        plt.close(fig)
    return paths
