"""The ``labelnoise-sim regime`` subcommand: is a run inside a paper's assumptions?"""

from __future__ import annotations

from ._options import add_simulation_options, simulation_kwargs

__all__ = ["add_parser"]


def _regime(args) -> int:
    from .. import papers
    from ..config import SimulationConfig

    entry = papers.paper(args.key)  # an unknown key is a ValueError naming the keys
    config = SimulationConfig.from_params(**simulation_kwargs(args))
    rows = entry.regime(config, args.claim)
    if not rows:
        print(f"{entry.key} declares no assumption{'' if args.claim is None else f' for claim {args.claim}'}")
        return 0
    table = [(row.name, row.condition, row.where, f"{row.value:.4g}", f"{row.kind} {row.bound:.4g}",
              "yes" if row.holds else "NO") for row in rows]
    print(papers.markdown_table(("assumption", "condition", "stated in", "value", "bound", "holds"), table))
    print(f"regime: {papers.regime_label(rows)}")
    return 0


def add_parser(subparsers) -> None:
    """Add ``regime`` to the subcommands."""
    p = subparsers.add_parser(
        "regime", help="whether a run is inside a paper's assumptions (one row per assumption)",
        description="Measure each assumption that the paper KEY states its claims under on the run the options "
                    "describe (the options of run; defaults as in simulate()), and print one row per assumption: "
                    "its value, its bound and whether it holds.",
    )
    p.add_argument("key", metavar="KEY", help="the gallery entry (see labelnoise-sim reproduce --list)")
    p.add_argument("--claim", type=int, default=None, metavar="I",
                   help="only the assumptions of the claim of index I (from 0) of the entry")
    add_simulation_options(p)
    p.set_defaults(handler=_regime)
