"""Command line: ``labelnoise-sim``.

One module per subcommand (``cli.run``, ``cli.figure``, ``cli.sweep``,
``cli.phase``, ``cli.reproduce``, ``cli.claims``, ``cli.regime``), each adding its parser; with no subcommand
the default run (``labelnoise-sim run``) is executed. The simulation options
are derived from the parameter declarations (:mod:`labelnoise_sim.config`,
through ``cli._options``), and their values are checked by
the library itself, so the command line reports exactly the library's errors.
Handlers import the library when they run, which keeps ``--help`` fast.

A user's mistake — a bad option or value, a file that cannot be read or
written, a store of another sweep or in use by one, a missing optional extra —
is one line on standard error, ``labelnoise-sim: error: ...``, and exit status
2, found before anything is computed wherever it can be; so is a full disk
(a sweep's table and a run's summary and result files are then not written
at all, never half-written). A run whose gradient descent diverges is one
line too, with exit status 1. Warnings are one line each
(``labelnoise-sim: warning: ...``). Any other exception is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import errno
import sys
import warnings

from ..dynamics import DivergenceError
from ..store import StoreLockedError, StoreWriteError
from . import claims, figure, phase, regime, reproduce, run, sweep
from ._checks import CommandError

__all__ = ["main", "build_parser"]

#: Subcommand modules, in the order of ``--help``; each has ``add_parser(subparsers)``.
COMMANDS = (run, figure, sweep, phase, reproduce, regime, claims)


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
    """The ``labelnoise-sim`` parser with every subcommand.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
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
    """Run ``labelnoise-sim`` with ``argv``.

    Parameters
    ----------
    argv : list of str or None, default None
        The arguments; None for the process's.

    Returns
    -------
    int
        The command's exit status, 0 when it succeeded.

    Raises
    ------
    SystemExit
        With status 2 for a mistake in the command, 1 when gradient descent diverged, 130 when
        interrupted (after one line on standard error).
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["run"] + argv
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return args.handler(args)
        # The library reports bad values with ValueError; StoreLockedError is an OSError (BlockingIOError),
        # and so is StoreWriteError (a full disk under the store), whose message says what is kept.
        except (CommandError, ValueError, StoreLockedError, StoreWriteError) as exc:
            parser.exit(2, f"labelnoise-sim: error: {exc}\n")
        except DivergenceError as exc:
            parser.exit(1, f"labelnoise-sim: error: {exc}\n")
        except OSError as exc:
            # A full disk under an output the command does not write itself (a figure) is no bug either.
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            parser.exit(2, f"labelnoise-sim: error: cannot write {exc.filename or 'an output'} ({exc.strerror})\n")
        except KeyboardInterrupt:
            # Ctrl-C is the user's choice, not a bug: no traceback. 130 is the shells' code for it.
            parser.exit(130, f"labelnoise-sim: interrupted{INTERRUPTED.get(args.command, '')}\n")


def _show_warning(message, category, filename, lineno, file=None, line=None):
    # The file and line of the library that warned say nothing to someone running a command.
    print(f"labelnoise-sim: warning: {message}", file=sys.stderr if file is None else file)
