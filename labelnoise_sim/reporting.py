"""Text summary and figure of one run, as written by ``labelnoise-sim run``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["run_summary", "plot_run", "run_report"]


def run_summary(result) -> str:
    """A short, human-readable account of a run."""
    c = result.config
    lines = [
        f"labelnoise-sim run: n={c.n} d={c.d} m={c.m} eta={c.eta} steps={c.steps} "
        f"tau_pos={c.tau_pos} tau_neg={c.tau_neg} n*SNR^2={c.n_snr2:.3g} noise={c.noise} seed={c.seed}",
        f"noisy training samples: {int(result.data.is_noisy.sum())} of {c.n}",
        f"{'step':>8} {'train loss':>11} {'clean fit':>10} {'noisy fit':>10} {'noisy->true':>12} {'test err':>9}",
    ]
    picks = np.unique(np.searchsorted(result.t, np.r_[0, np.geomspace(1, max(c.steps, 1), 9)]))
    picks = picks[picks < len(result.t)]
    for k in np.unique(np.r_[picks, len(result.t) - 1]):
        lines.append(
            f"{result.t[k]:>8d} {result.train_loss[k]:>11.4g} {result.train_acc_clean[k]:>10.3f} "
            f"{result.train_acc_noisy[k]:>10.3f} {result.train_acc_noisy_true[k]:>12.3f} "
            f"{result.test_error[k]:>9.4f}"
        )
    return "\n".join(lines)


def plot_run(result, path) -> Path:
    """Training accuracies and clean test error over (log) time, written to ``path``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    t = np.maximum(result.t, 0.5)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    ax.plot(t, result.train_acc_clean, label="clean samples fitted")
    ax.plot(t, result.train_acc_noisy, label="noisy samples fitted (noisy label)")
    ax.plot(t, result.train_acc_noisy_true, label="noisy samples by true label")
    ax.plot(t, 1 - result.test_error, label="clean test accuracy", color="k")
    ax.set_xscale("log")
    ax.set_xlabel("gradient step")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(loc="center left", fontsize="small")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def run_report(result, out: Path):
    """Write result, summary and figure to ``out``; yield the lines to print."""
    summary = run_summary(result)
    (out / "summary.txt").write_text(summary + "\n")
    result.save(out / "result.npz")
    plot_run(result, out / "run.png")
    yield summary
    yield f"wrote {out / 'summary.txt'}, {out / 'result.npz'}, {out / 'run.png'}"
