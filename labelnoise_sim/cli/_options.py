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

__all__ = ["add_simulation_options", "simulation_kwargs", "parse_number", "parse_bool", "value_type"]


def parse_number(text: str):
    """Parse ints as int and everything else as float; the library validates ranges."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


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
        group.add_argument(*flags, dest=name, type=value_type(parameter.constraint),
                           metavar=name.upper(), help=(parameter.description + default).replace("%", "%%"))


def simulation_kwargs(args: argparse.Namespace) -> dict:
    """The simulate() keywords the user gave (others keep the library defaults)."""
    return {name: getattr(args, name) for name in PARAMETERS if getattr(args, name) is not None}
