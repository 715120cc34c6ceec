"""The ``labelnoise-sim phase`` subcommand: phase diagrams from a sweep table.

Reads the CSV written by ``labelnoise-sim sweep`` and draws the heatmaps of
:func:`labelnoise_sim.phase.phase_maps`.
"""

from __future__ import annotations

from ._checks import CommandError, check_input, check_output, require

__all__ = ["add_parser"]


def _phase(args) -> int:
    require("pandas", "phase")
    check_input("table", args.table)
    out = check_output(args.out, f"--out {args.out}", directory=False)
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from ..phase import phase_maps

    try:
        table = pd.read_csv(args.table, index_col="cell")
    # pandas' parse errors and a missing "cell" column are ValueErrors; a header-only file with an odd first
    # line can be a TypeError, bytes that are no text a UnicodeDecodeError (a ValueError).
    except (ValueError, TypeError) as exc:
        raise CommandError(f"table {args.table}: not a table of `labelnoise-sim sweep` ({exc})") from None
    try:
        fig = phase_maps(table, args.x, args.y, kou=args.kou, title=args.title)
    except ValueError as exc:  # the columns it needs: the axes, the metrics, numbers in them
        raise CommandError(f"table {args.table}: {exc}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=args.dpi)
    print(f"phase diagram: {out}")
    return 0


def add_parser(subparsers) -> None:
    """Add ``phase`` to the subcommands."""
    p = subparsers.add_parser(
        "phase", help="heatmaps of sweep metrics over two swept parameters",
        description="Draw phase diagrams from a sweep table (the CSV of `labelnoise-sim sweep`): Stage I, noisy "
                    "share at t1, best and final test error, log 2 selection F1, averaged over the other "
                    "swept parameters (seeds).",
    )
    p.add_argument("table", help="CSV written by `labelnoise-sim sweep`")
    p.add_argument("--x", default="n_snr2", help="horizontal axis: a column, or d_over_n (default: %(default)s)")
    p.add_argument("--y", default="tau", help="vertical axis (default: %(default)s)")
    p.add_argument("--kou", action="store_true", default=None,
                   help="draw the Kou et al. boundary n SNR^2 = (d/n)^(-1/2) (default: on a d_over_n x n_snr2 map)")
    p.add_argument("--title", default=None, help="title above the maps (default: none)")
    p.add_argument("--dpi", type=int, default=110, help="resolution of the image in dots per inch (default: %(default)s)")
    p.add_argument("--out", default="phase.png", help="image file (default: %(default)s)")
    p.set_defaults(handler=_phase)
