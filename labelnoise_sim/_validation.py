"""Boundary checks for public parameters, with the constraints declared as data.

Every public function validates its arguments once, here, so that kernels can
trust their inputs. Each failure is a ``ValueError`` that names the parameter,
the allowed range and the value received: ``{name} must be {allowed}; got
{value!r}``.

A constraint (:class:`Integer`, :class:`Real`, :class:`Choice`) is a value
that checks, describes in words what it allows, and produces values it
refuses; the parameters of a run declare theirs once
(:mod:`labelnoise_sim.config`), and their checks, command-line options, docs
table and bad-input tests all follow from that declaration.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re

import numpy as np

__all__ = ["Integer", "Real", "Choice", "Boolean", "Activation", "Features", "check_int", "check_real",
           "check_choice", "parse_activation", "parse_features", "ACTIVATIONS", "FEATURES"]


def _fail(name: str, allowed: str, value) -> ValueError:
    return ValueError(f"{name} must be {allowed}; got {value!r}")


@dataclasses.dataclass(frozen=True)
class Integer:
    """An integer in ``[low, high]`` (a bound of None is absent); integral floats are accepted."""

    low: int | None = None
    high: int | None = None

    @property
    def allowed(self) -> str:
        """What the constraint allows, in the words of the error message."""
        return "an integer" + _range_text(self.low, self.high, True, True)

    def check(self, name: str, value) -> int:
        """Return ``value`` as ``int``, or raise ValueError naming ``name``."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise _fail(name, self.allowed, value)
        integral = isinstance(value, numbers.Integral)
        if not integral and not (math.isfinite(value) and float(value).is_integer()):
            raise _fail(name, self.allowed, value)
        number = int(value)
        if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
            # An integral float out of range is shown as given: 1e+300, not its 301 digits.
            raise _fail(name, self.allowed, number if integral else value)
        return number

    def invalid(self) -> tuple:
        """Values the constraint refuses: past each bound, fractional, infinite, text, bool."""
        out = []
        if self.low is not None:
            out.append(self.low - 1)
        if self.high is not None:
            out.append(self.high + 1)
        inside = 0 if self.low is None else self.low
        return (*out, inside + 0.5, math.inf, str(inside), True)


@dataclasses.dataclass(frozen=True)
class Real:
    """A finite real number in an interval whose ends may be open (a bound of None is absent)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    @property
    def allowed(self) -> str:
        """What the constraint allows, in the words of the error message."""
        return "a finite real number" + _range_text(self.low, self.high, not self.low_open, not self.high_open)

    def check(self, name: str, value) -> float:
        """Return ``value`` as ``float``, or raise ValueError naming ``name``."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise _fail(name, self.allowed, value)
        value = float(value)
        if not math.isfinite(value):
            raise _fail(name, self.allowed, value)
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            raise _fail(name, self.allowed, value)
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            raise _fail(name, self.allowed, value)
        return value

    def invalid(self) -> tuple:
        """Values the constraint refuses: past each bound, an open bound itself, non-finite, text, bool."""
        out = []
        if self.low is not None:
            out += [float(self.low) - 1] + ([float(self.low)] if self.low_open else [])
        if self.high is not None:
            out += [float(self.high) + 1] + ([float(self.high)] if self.high_open else [])
        return (*out, math.inf, math.nan, "1", True)


@dataclasses.dataclass(frozen=True)
class Choice:
    """One of a fixed tuple of values."""

    choices: tuple

    @property
    def allowed(self) -> str:
        """What the constraint allows, in the words of the error message."""
        return "one of " + ", ".join(repr(c) for c in self.choices)

    def check(self, name: str, value):
        """Return ``value`` if it is one of the choices, or raise ValueError naming ``name``."""
        if value not in self.choices:
            raise _fail(name, self.allowed, value)
        return value

    def invalid(self) -> tuple:
        """Values the constraint refuses: the first choice in capitals (a near miss), and None."""
        return tuple(v for v in (str(self.choices[0]).upper(), None) if v not in self.choices)


@dataclasses.dataclass(frozen=True)
class Boolean:
    """True or False (numpy booleans too; not 0 and 1, which are more often a slip than a choice)."""

    @property
    def allowed(self) -> str:
        """What the constraint allows, in the words of the error message."""
        return "True or False"

    def check(self, name: str, value) -> bool:
        """Return ``value`` as ``bool``, or raise ValueError naming ``name``."""
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise _fail(name, self.allowed, value)

    def invalid(self) -> tuple:
        """Values the constraint refuses: 1, text, None."""
        return (1, "True", None)


#: The activations, each with the names and the constraints of its parameters.
ACTIVATIONS = {
    "relu": (),
    "relu^q": (("q", Real(low=1, low_open=True)),),
    "leaky_relu": (("a", Real(low=0, high=1, low_open=True, high_open=True)),),
    "smoothed_relu": (("q", Real(low=1, low_open=True)), ("kappa", Real(low=0, low_open=True))),
}
_ACTIVATION_FORMS = {"relu": r"relu", "relu^q": r"relu\^(?P<q>[^()]+)",
                     "leaky_relu": r"leaky_relu\((?P<a>[^,]+)\)",
                     "smoothed_relu": r"smoothed_relu\((?P<q>[^,]+),(?P<kappa>[^,]+)\)"}
#: The signal vectors of the data, each with the names and the constraints of its parameters.
FEATURES = {"single": (), "xor": (), "common_rare": (("p", Real(low=0, high=1, low_open=True, high_open=True)),)}
_FEATURE_FORMS = {"single": r"single", "xor": r"xor", "common_rare": r"common_rare\((?P<p>[^,()]+)\)"}


def _number_text(x: float) -> str:
    """A float as it is written in an activation: ``2`` for 2.0, ``0.1``, ``1e-05``."""
    return str(int(x)) if x.is_integer() and abs(x) < 2**53 else repr(x)


class _Formula:
    """A choice written as text with numeric parameters, such as ``'leaky_relu(0.1)'``.

    :meth:`check` returns the text in a canonical form (numbers as Python
    writes them, no spaces: ``"leaky_relu( .10)"`` becomes
    ``"leaky_relu(0.1)"``), so that equal choices are equal strings;
    :meth:`parse` reads it back. A subclass names its kinds (``kinds``: the
    names and constraints of each kind's parameters), their spellings
    (``forms``: a regular expression per kind), ``allowed`` and ``invalid``.
    """

    kinds: dict = {}
    forms: dict = {}

    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(type(self))

    def check(self, name: str, value) -> str:
        """Return ``value`` in canonical form, or raise ValueError naming ``name``."""
        kind, values = self.parse(name, value)
        texts = [_number_text(v) for v in values]
        if kind == "relu^q":
            return "relu^" + texts[0]
        return kind + (f"({','.join(texts)})" if texts else "")

    def parse(self, name, value) -> tuple[str, tuple[float, ...]]:
        """The kind of ``value`` and its parameters, or ValueError naming ``name``."""
        if not isinstance(value, str):
            raise _fail(name, self.allowed, value)
        text = "".join(value.split())
        for kind, form in self.forms.items():
            match = re.fullmatch(form, text)
            if match is None:
                continue
            values = []
            for pname, constraint in self.kinds[kind]:
                try:
                    number = float(match[pname])
                    values.append(constraint.check(pname, number))
                except ValueError:
                    raise _fail(name, self.allowed, value) from None
            return kind, tuple(values)
        raise _fail(name, self.allowed, value)


class Activation(_Formula):
    """An activation written as text: 'relu', 'relu^q', 'leaky_relu(a)' or 'smoothed_relu(q,kappa)'."""

    kinds = ACTIVATIONS
    forms = _ACTIVATION_FORMS

    @property
    def allowed(self) -> str:
        """What the constraint allows, in the words of the error message."""
        return ("'relu', 'relu^q' with q > 1, 'leaky_relu(a)' with 0 < a < 1 or 'smoothed_relu(q,kappa)' "
                "with q > 1 and kappa > 0")

    def invalid(self) -> tuple:
        """Values the constraint refuses: each parameter at or past its bound, unknown names, None."""
        return ("relu^1", "relu^0.5", "leaky_relu(0)", "leaky_relu(1)", "smoothed_relu(1,1)",
                "smoothed_relu(2,0)", "tanh", "relu^", None)


class Features(_Formula):
    """The signal vectors of the data, written as text: 'single', 'xor' or 'common_rare(p)'."""

    kinds = FEATURES
    forms = _FEATURE_FORMS

    @property
    def allowed(self) -> str:
        """What the constraint allows, in the words of the error message."""
        return "'single', 'xor' or 'common_rare(p)' with 0 < p < 1"

    def invalid(self) -> tuple:
        """Values the constraint refuses: the parameter at its bounds, unknown names, None."""
        return ("common_rare(0)", "common_rare(1)", "common_rare", "XOR", "multi", None)


def parse_activation(text: str) -> tuple[str, tuple[float, ...]]:
    """The kind of an activation and its parameters: ``"relu^2"`` → ``("relu^q", (2.0,))``.

    Examples
    --------
    >>> parse_activation("smoothed_relu(3, 0.5)")
    ('smoothed_relu', (3.0, 0.5))
    """
    return Activation().parse("activation", text)


def parse_features(text: str) -> tuple[str, tuple[float, ...]]:
    """The kind of a features option and its parameters: ``"common_rare(0.1)"`` → ``("common_rare", (0.1,))``.

    Examples
    --------
    >>> parse_features("xor")
    ('xor', ())
    """
    return Features().parse("features", text)


def check_int(name: str, value, *, low: int = None, high: int = None) -> int:
    """Return ``value`` as ``int`` if it is an integer in ``[low, high]``."""
    return Integer(low, high).check(name, value)


def check_real(
    name: str,
    value,
    *,
    low: float = None,
    high: float = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as ``float`` if it is finite and inside the interval."""
    return Real(low, high, low_open, high_open).check(name, value)


def check_choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``."""
    return Choice(tuple(choices)).check(name, value)


def _range_text(low, high, low_closed: bool, high_closed: bool) -> str:
    if low is not None and high is not None:
        left = "[" if low_closed else "("
        right = "]" if high_closed else ")"
        return f" in {left}{low}, {high}{right}"
    if low is not None:
        return f" {'>=' if low_closed else '>'} {low}"
    if high is not None:
        return f" {'<=' if high_closed else '<'} {high}"
    return ""