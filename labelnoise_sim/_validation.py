"""Boundary checks for public parameters.

Every public function validates its arguments once, here, so that kernels can
trust their inputs. Each failure is a ``ValueError`` that names the parameter,
the allowed range and the value received.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["check_int", "check_real", "check_choice"]


def _fail(name: str, allowed: str, value) -> ValueError:
    return ValueError(f"{name} must be {allowed}; got {value!r}")


def check_int(name: str, value, *, low: int = None, high: int = None) -> int:
    """Return ``value`` as ``int`` if it is an integer in ``[low, high]``."""
    allowed = "an integer" + _range_text(low, high, True, True)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            if math.isfinite(value) and float(value).is_integer():
                value = int(value)
            else:
                raise _fail(name, allowed, value)
        else:
            raise _fail(name, allowed, value)
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise _fail(name, allowed, value)
    return value


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
    allowed = "a finite real number" + _range_text(low, high, not low_open, not high_open)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(name, allowed, value)
    value = float(value)
    if not math.isfinite(value):
        raise _fail(name, allowed, value)
    if low is not None and (value < low or (low_open and value == low)):
        raise _fail(name, allowed, value)
    if high is not None and (value > high or (high_open and value == high)):
        raise _fail(name, allowed, value)
    return value


def check_choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``."""
    if value not in choices:
        allowed = "one of " + ", ".join(repr(c) for c in choices)
        raise _fail(name, allowed, value)
    return value


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
