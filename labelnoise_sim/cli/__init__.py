"""Command line: ``labelnoise-sim``.

One module per subcommand (:mod:`~labelnoise_sim.cli.run`,
:mod:`~labelnoise_sim.cli.figure`, :mod:`~labelnoise_sim.cli.sweep`,
:mod:`~labelnoise_sim.cli.phase`, :mod:`~labelnoise_sim.cli.reproduce`,
:mod:`~labelnoise_sim.cli.claims`), each adding its parser; with no subcommand
the default run (``labelnoise-sim run``) is executed. The simulation options
are derived from the parameter declarations (:mod:`labelnoise_sim.config`,
through :mod:`~labelnoise_sim.cli._options`), and their values are checked by
the library itself, so the command line reports exactly the library's errors.
Handlers import the library when they run, which keeps ``--help`` fast.

A user's mistake — a bad option or value, a file that cannot be read or
written, a store of another sweep or in use by one, a missing optional extra —
is one line on standard error, ``labelnoise-sim: error: ...``, and exit status
2, found before anything is computed wherever it can be. A run whose gradient
descent diverges is one line too, with exit status 1. Warnings are one line
each (``labelnoise-sim: warning: ...``). Any other exception is a bug and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from ..dynamics import DivergenceError
from ..store import StoreLockedError
from . import claims, figure, phase, reproduce, run, sweep
from ._checks import CommandError

__all__ = ["main", "build_parser"]

#: Subcommand modules, in the order of ``--help``; each has ``add_parser(subparsers)``.
COMMANDS = (run, figure, sweep, phase, reproduce, claims)


#: What an interrupted command keeps, for the commands that keep something (the others write only at the end).
INTERRUPTED = {
    "sweep": " (cells already finished are in the --store, if any)",
    "reproduce": " (cells already finished are in OUT/store: the same command resumes)",
    "claims": " (cells already finished are in OUT/store: the same command resumes)",
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (subcommands inherit it)."""

    def error(self, message):
        # argparse would print the usage first, which runs to twenty lines for sweep; --help shows it.
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``labelnoise-sim`` parser with every subcommand."""
    parser = _Parser(
        prog="labelnoise-sim",
        description="Exact simulation of feature learning under label noise (two-layer ReLU CNN).",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``labelnoise-sim`` with ``argv`` (default: the process's arguments); return the exit code."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["run"] + argv
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return args.handler(args)
        # The library reports bad values with ValueError; StoreLockedError is an OSError (BlockingIOError).
        except (CommandError, ValueError, StoreLockedError) as exc:
            parser.exit(2, f"labelnoise-sim: error: {exc}\n")
        except DivergenceError as exc:
            parser.exit(1, f"labelnoise-sim: error: {exc}\n")
        except KeyboardInterrupt:
            # Ctrl-C is the user's choice, not a bug: no traceback. 130 is the shells' code for it.
            parser.exit(130, f"labelnoise-sim: interrupted{INTERRUPTED.get(args.command, '')}\n")


def _show_warning(message, category, filename, lineno, file=None, line=None):
    # The file and line of the library that warned say nothing to someone running a command.
    print(f"labelnoise-sim: warning: {message}", file=sys.stderr if file is None else file)
