"""The ``labelnoise-sim figure`` subcommand: the stage figure of one run.

Draws :func:`labelnoise_sim.figures.stage_figure` for a run (by default the
library's default run) beside the same run without label noise, and writes it
as PNG and PDF. ``docs/figures/stages.png`` is made by ``labelnoise-sim figure``
with no options.
"""

from __future__ import annotations

from pathlib import Path

from ._checks import CommandError, check_output
from ._options import add_simulation_options, simulation_kwargs

__all__ = ["add_parser"]


def _figure(args) -> int:
    from ..analysis import analyze
    from ..dynamics import simulate
    from ..figures import save_figure, stage_figure

    if args.name in ("", "..") or Path(args.name).name != args.name:
        raise CommandError(f"--name {args.name}: give a file name without directories (they go in --out)")
    out = check_output(args.out, f"--out {args.out}", directory=True)
    result = simulate(**simulation_kwargs(args))
    print(analyze(result).summary())
    fig = stage_figure(result)
    # Made only now: a run that diverged (its test error overflowing in the analysis) leaves nothing.
    out.mkdir(parents=True, exist_ok=True)
    paths = save_figure(fig, out / args.name)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def add_parser(subparsers) -> None:
    """Add ``figure`` to the subcommands."""
    p = subparsers.add_parser(
        "figure",
        help="draw the stage figure of a run beside the same run without label noise (PNG and PDF)",
        description="Reproduce the paper-style synthetic figure: (a) accuracies over log time with t1, t2 and "
        "the best step, (b) signal and noise coefficients, (c) loss histograms at t1 and at the end, for "
        "a run with label noise and the same run without it.",
    )
    add_simulation_options(p)
    p.add_argument("--out", default="docs/figures", help="output directory (default: %(default)s)")
    p.add_argument("--name", default="stages", help="file name without suffix (default: %(default)s)")
    p.set_defaults(handler=_figure)
