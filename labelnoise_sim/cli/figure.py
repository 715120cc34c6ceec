"""The ``labelnoise-sim figure`` subcommand: the stage figure of one run.

Draws :func:`labelnoise_sim.figures.stage_figure` for a run (by default the
library's default run) beside the same run without label noise, and writes it
as PNG (``--pdf``: and PDF), in the current directory unless ``--out`` says
where. ``docs/figures/stages.png`` is made by ``labelnoise-sim figure --out
docs/figures``.
"""

from __future__ import annotations

from pathlib import Path

from ._checks import CommandError, check_output
from ._options import add_progress_options, add_simulation_options, simulation_kwargs

__all__ = ["add_parser"]


def _figure(args) -> int:
    from ..analysis import analyze
    from ..config import SimulationConfig
    from ..dynamics import run
    from ..figures import save_figure, stage_figure
    from .run import run_header

    if args.name in ("", "..") or Path(args.name).name != args.name:
        raise CommandError(f"--name {args.name}: give a file name without directories (they go in --out)")
    out = check_output(args.out, f"--out {args.out}", directory=True)
    config = SimulationConfig.from_params(**simulation_kwargs(args))
    print(run_header(config), flush=True)
    result = run(config, progress=args.progress)
    print(analyze(result).summary())
    fig = stage_figure(result)
    # Made only now: a run that diverged (its test error overflowing in the analysis) leaves nothing.
    out.mkdir(parents=True, exist_ok=True)
    paths = save_figure(fig, out / args.name, pdf=args.pdf)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def add_parser(subparsers) -> None:
    """Add ``figure`` to the subcommands."""
    p = subparsers.add_parser(
        "figure",
        help="draw the stage figure of a run beside the same run without label noise (PNG; --pdf: and PDF)",
        description="Reproduce the paper-style synthetic figure: (a) accuracies over log time with t1, t2 and "
        "the best step, (b) signal and noise coefficients, (c) loss histograms at t1 and at the end, for "
        "a run with label noise and the same run without it.",
    )
    add_simulation_options(p)
    p.add_argument("--out", default=".", help="output directory (default: the current directory)")
    p.add_argument("--name", default="stages", help="file name without suffix (default: %(default)s)")
    p.add_argument("--pdf", action="store_true", help="also write the figure as PDF (default: PNG only)")
    add_progress_options(p)
    p.set_defaults(handler=_figure)
