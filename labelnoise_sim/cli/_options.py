"""What the subcommands share: the simulation options and the parsing of numbers.

There is one ``--name`` option per parameter of :func:`labelnoise_sim.simulate`,
made from its declaration (:data:`labelnoise_sim.config.PARAMETERS`): help
text, default and the kind of value. ``--help`` shows the defaults, but the
options are not given them, so that only what the user typed reaches the
library (``--tau`` could not be combined with a default ``tau_pos``), and the
library checks the values.
"""

from __future__ import annotations

import argparse

from .._validation import Activation, Boolean, Choice
from ..config import PARAMETERS

__all__ = ["add_simulation_options", "add_progress_options", "simulation_kwargs", "parse_number", "parse_sequence",
           "parse_bool", "value_type"]


def parse_number(text: str):
    """Parse ints as int and everything else as float; the library validates ranges."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def parse_sequence(text: str):
    """A comma-separated list (``0,10,100``) as a tuple of numbers, a single value as :func:`parse_number` reads it."""
    if "," not in text:
        return parse_number(text)
    return tuple(parse_number(v.strip()) for v in text.split(","))


def parse_bool(text: str):
    """'true'/'false' (any case, or 1/0) as bool; anything else is passed on for the library to refuse."""
    return {"true": True, "1": True, "false": False, "0": False}.get(text.strip().lower(), text)


def value_type(constraint):
    """The parser of a command-line value of a parameter with this constraint."""
    if isinstance(constraint, (Choice, Activation)):
        return str
    return parse_bool if isinstance(constraint, Boolean) else parse_number


def add_simulation_options(parser: argparse.ArgumentParser) -> None:
    """Add one ``--name`` option per simulate() parameter (``--tau_pos`` also as ``--tau-pos``)."""
    group = parser.add_argument_group("simulation parameters (as in simulate())")
    for name, parameter in PARAMETERS.items():
        flags = [f"--{name}"] + ([f"--{name.replace('_', '-')}"] if "_" in name else [])
        # None means "not given": the description says what then applies (tau_pos and tau_neg for tau, ...).
        default = f" (default: {'not given' if parameter.default is None else parameter.default})"
        kind = value_type(parameter.constraint)
        description = parameter.description
        if "tuple[" in parameter.type:  # a parameter that also takes a sequence (record): comma-separated here
            kind, description = parse_sequence, description + " (a sequence comma-separated: 0,10,100)"
        group.add_argument(*flags, dest=name, type=kind, metavar=name.upper(),
                           help=(description + default).replace("%", "%%"))


def simulation_kwargs(args: argparse.Namespace) -> dict:
    """The simulate() keywords the user gave (others keep the library defaults)."""
    return {name: getattr(args, name) for name in PARAMETERS if getattr(args, name) is not None}


def add_progress_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--no-progress``: ``args.progress`` is False with it, None (automatic, as in simulate()) without."""
    parser.add_argument("--no-progress", dest="progress", action="store_const", const=False, default=None,
                        help="no progress bars and no compilation notice on standard error (default: a bar for "
                             "work that takes more than 2 s, on a terminal)")
