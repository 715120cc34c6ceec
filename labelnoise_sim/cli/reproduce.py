"""The ``labelnoise-sim reproduce`` subcommand: the paper gallery (:mod:`labelnoise_sim.papers`)."""

from __future__ import annotations

from ._checks import CommandError, prepare_sweep_output

__all__ = ["add_parser"]


def _reproduce(args) -> int:
    from .. import papers

    if args.list:
        for key, entry in papers.papers().items():
            print(f"{key}  {entry.citation}")
        return 0
    if args.key is None:
        raise CommandError("reproduce needs a KEY (see labelnoise-sim reproduce --list)")
    entry = papers.paper(args.key)  # an unknown key is a ValueError naming the keys
    out = args.out or f"reproduce_{entry.key}"
    prepare_sweep_output(out, "reproduce")
    outcome = papers.reproduce(entry.key, out, quick=args.quick, seeds=args.seeds)
    print(outcome.summary())
    return 0


def add_parser(subparsers) -> None:
    """Add ``reproduce`` to the subcommands."""
    p = subparsers.add_parser(
        "reproduce", help="run a paper's synthetic experiments (the gallery; --list shows them)",
        description="Run the synthetic experiments of a paper of this line on the simulator: figures (PNG and "
                    "PDF), tables (CSV and Markdown) and KEY_claims.md, each of the paper's claims beside what "
                    "was measured. Sweeps keep a store in OUT/store: an interrupted run resumes.",
    )
    p.add_argument("key", nargs="?", metavar="KEY", help="the entry (see --list)")
    p.add_argument("--list", action="store_true", help="list the entries, key first, then the citation")
    p.add_argument("--quick", action="store_true", help="small grids and few steps: a minute or two on 2 cores")
    p.add_argument("--out", default=None, help="output directory (default: reproduce_KEY)")
    p.add_argument("--seeds", type=int, default=None, help="repetitions per cell (default: the entry's own)")
    p.set_defaults(handler=_reproduce)
