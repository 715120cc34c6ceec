"""The ``labelnoise-sim run`` subcommand, and its text report of one run.

Runs one simulation, prints a summary (parameters, a table over log time, the
stages) and writes it with the result and the stage figure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._checks import check_output, output_file
from ._options import add_simulation_options, simulation_kwargs

__all__ = ["add_parser", "run_summary", "run_report"]


def run_summary(result, stages=None) -> str:
    """A human-readable account of a run: parameters, a table over log time, the stages."""
    from ..analysis import analyze

    c = result.config
    stages = analyze(result) if stages is None else stages
    lines = [
        f"labelnoise-sim run: n={c.n} d={c.d} m={c.m} eta={c.eta} steps={c.steps} "
        f"tau_pos={c.tau_pos} tau_neg={c.tau_neg} n*SNR^2={c.n_snr2:.3g} noise={c.noise} seed={c.seed}",
        f"{'step':>8} {'train loss':>11} {'test loss':>10} {'clean fit':>10} {'noisy fit':>10} {'noisy->true':>12} "
        f"{'test err':>9}",
    ]
    picks = np.unique(np.searchsorted(result.t, np.r_[0, np.geomspace(1, max(c.steps, 1), 9)]))
    picks = np.unique(np.r_[picks[picks < len(result.t)], len(result.t) - 1])
    test_loss = result.test_loss_at(picks)
    for k, loss in zip(picks, test_loss):
        lines.append(
            f"{result.t[k]:>8d} {result.train_loss[k]:>11.4g} {loss:>10.4g} {result.train_acc_clean[k]:>10.3f} "
            f"{result.train_acc_noisy[k]:>10.3f} {result.train_acc_noisy_true[k]:>12.3f} "
            f"{result.test_error[k]:>9.4f}"
        )
    return "\n".join(lines + ["", stages.summary()])


def run_report(result, out: Path, twin="auto"):
    """Write result, summary and stage figure (PNG and PDF) to ``out`` (made if missing); yield the lines to print.

    ``twin`` is passed to :func:`~labelnoise_sim.figures.stage_figure`: by default
    the figure shows the same run without label noise beside it.
    """
    from ..figures import save_figure, stage_figure

    out = Path(out)
    # What can fail (the test error of a run that diverged, the twin run) comes before anything is written.
    summary = run_summary(result)
    fig = stage_figure(result, twin=twin)
    out.mkdir(parents=True, exist_ok=True)
    with output_file(out / "summary.txt", f"--out {out}: summary.txt") as tmp:
        tmp.write_text(summary + "\n")
    with output_file(out / "result.npz", f"--out {out}: result.npz") as tmp:
        result.save(tmp)
    figures = save_figure(fig, out / "stages")
    yield summary
    written = [out / "summary.txt", out / "result.npz", *figures]
    yield "wrote " + ", ".join(str(p) for p in written)


def _run(args) -> int:
    from ..dynamics import simulate

    out = check_output(args.out, f"--out {args.out}", directory=True)
    result = simulate(**simulation_kwargs(args))
    for line in run_report(result, out):
        print(line)
    return 0


def add_parser(subparsers) -> None:
    """Add ``run`` to the subcommands."""
    p = subparsers.add_parser("run", help="run one simulation; print a summary, write the result and figures")
    add_simulation_options(p)
    p.add_argument("--out", default="labelnoise_run", help="output directory (default: %(default)s)")
    p.set_defaults(handler=_run)
