"""What a command checks before it computes, and the error that reports a user's mistake.

A mistake in a command — an output that could not be written, an input file
that cannot be read, options that contradict each other, a missing optional
extra — raises :class:`CommandError`, which :func:`labelnoise_sim.cli.main`
prints as one line ``labelnoise-sim: error: ...`` (exit status 2). The checks
run before any simulation, so that a long computation never ends on an
output it cannot write. They leave nothing behind: where an output will go,
:func:`check_output` tries the write itself with an entry it removes at once,
since permissions alone do not tell (root may write anywhere the bits say, yet
not in /proc or on a read-only file system).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import tempfile
from pathlib import Path

from .._files import replacing

__all__ = ["CommandError", "check_output", "check_input", "require", "prepare_sweep_output", "output_file"]


class CommandError(Exception):
    """A mistake in the command line or in its files; reported in one line, without a traceback."""


def check_output(given, where: str, *, directory: bool) -> Path:
    """``given`` as a path, if it is or can become a writable directory or file; ``where`` names it in messages.

    An existing path must be of the right kind and writable; a missing one
    needs its nearest existing ancestor to be a writable directory, since the
    command creates the directories in between.
    """
    path = Path(given)
    try:
        if path.is_dir() and not directory:
            raise CommandError(f"{where}: is a directory; give a file name")
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if existing == path and not directory:
            if not os.access(path, os.W_OK):
                raise CommandError(f"{where}: is not writable")
        elif not existing.is_dir():
            raise CommandError(f"{where}: {existing} is not a directory")
        elif not os.access(existing, os.W_OK | os.X_OK):
            raise CommandError(f"{where}: {existing} is not writable")
    except OSError as exc:  # e.g. a parent that may not be searched
        raise CommandError(f"{where}: {exc.strerror}") from None
    try:
        _try_writing(existing, is_target=existing == path)
    except OSError as exc:
        raise CommandError(f"{where}: cannot write in {existing} ({exc.strerror})") from None
    return path


def _try_writing(existing: Path, is_target: bool) -> None:
    """Write where the command will: open an existing file for appending (its bytes and time stay), or create and
    remove a temporary file in the directory ``existing`` (the output itself, or its nearest existing ancestor,
    where the command's first new directory will go)."""
    if existing.is_dir():
        handle, name = tempfile.mkstemp(prefix=".labelnoise-sim-check-", dir=existing)
        os.close(handle)
        os.unlink(name)
    elif is_target:
        with open(existing, "ab"):
            pass


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


def prepare_sweep_output(out, command: str) -> None:
    """Before a command that sweeps into the directory ``out`` and draws figures there: the sweep extra is
    installed, ``out`` can be written, and matplotlib draws off screen."""
    require("pandas", command)
    check_output(out, f"--out {out}", directory=True)
    import matplotlib

    matplotlib.use("Agg")


@contextlib.contextmanager
def output_file(path: Path, where: str, lost: str = ""):
    """A temporary name next to ``path`` to write an output to; once written it replaces ``path``
    (:func:`labelnoise_sim._files.replacing`).

    So ``path`` is never left half-written: a write that fails (a full disk)
    raises :class:`CommandError` naming ``where``, followed by ``lost`` (what
    the user still has).
    """
    try:
        with replacing(path) as tmp:
            yield tmp
    except OSError as exc:
        raise CommandError(f"{where}: cannot write it ({exc.strerror}){lost}") from None
