"""Command line: ``labelnoise-sim``.

One module per subcommand (:mod:`~labelnoise_sim.cli.run`,
:mod:`~labelnoise_sim.cli.figure`, :mod:`~labelnoise_sim.cli.sweep`,
:mod:`~labelnoise_sim.cli.phase`), each adding its parser; with no subcommand
the default run (``labelnoise-sim run``) is executed. The simulation options
are derived from the parameter declarations (:mod:`labelnoise_sim.config`,
through :mod:`~labelnoise_sim.cli._options`), and their values are checked by
the library itself, so the command line reports exactly the library's errors.
Handlers import the library when they run, which keeps ``--help`` fast.
"""

from __future__ import annotations

import argparse
import sys

from . import figure, phase, run, sweep

__all__ = ["main", "build_parser"]

#: Subcommand modules, in the order of ``--help``; each has ``add_parser(subparsers)``.
COMMANDS = (run, figure, sweep, phase)


def build_parser() -> argparse.ArgumentParser:
    """The ``labelnoise-sim`` parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="labelnoise-sim",
        description="Exact simulation of feature learning under label noise (two-layer ReLU CNN).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``labelnoise-sim`` with ``argv`` (default: the process's arguments); return the exit code."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["run"] + argv
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ValueError as exc:
        parser.exit(2, f"labelnoise-sim: error: {exc}\n")
