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

__all__ = ["Integer", "Real", "Choice", "check_int", "check_real", "check_choice"]


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