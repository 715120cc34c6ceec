"""What a command checks before it computes, and the error that reports a user's mistake.

A mistake in a command — an input file that cannot be read, a missing
optional extra — raises :class:`CommandError`, which
:func:`labelnoise_sim.cli.main` prints as one line ``labelnoise-sim: error: ...``
(exit status 2). The checks run before any simulation.
"""

from __future__ import annotations

import importlib
from pathlib import Path

__all__ = ["CommandError", "check_input", "require"]


class CommandError(Exception):
    """A mistake in the command line or in its files; reported in one line, without a traceback."""


def check_input(what: str, given) -> Path:
    """``given`` (named ``what`` in messages) as a path, if it is a file that can be read."""
    try:
        with open(given, "rb"):
            pass
    except OSError as exc:
        raise CommandError(f"{what} {given}: cannot read it ({exc.strerror})") from None
    return Path(given)


def require(module: str, command: str) -> None:
    """Refuse ``command`` if ``module``, of the optional extra ``sweep``, is not installed."""
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:  # the module is there but broken: that is no missing extra
            raise
        raise CommandError(f"labelnoise-sim {command} needs {module}, which is not installed: "
                           "pip install 'labelnoise-sim[sweep]'") from None
