"""Argument checks and conversions shared by every indicator.

Indicators are called from Starlark strategies, whose authors only see the error message, so each
check names the indicator, the argument, the value received and what was expected, e.g.
``sma(): period must be an int >= 1, got 0``.
"""

from __future__ import annotations

import reprlib
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
"""A one-dimensional series of float64 values."""

# Short reprs keep a message readable when the bad value is a 10,000-element list.
_short = reprlib.Repr()
_short.maxlist = _short.maxtuple = 6
_short.maxstring = _short.maxother = 40


def describe(value: object) -> str:
    """``<type> <short repr>``, the way error messages show the value that was received."""
    return f"{type(value).__name__} {_short.repr(value)}"


def _is_number_type(kind: type) -> bool:
    # bool is a subclass of int, but True in a price list is a bug in the strategy, not the number 1.
    # Subclasses of float are accepted so Python callers may pass numpy.float64 values.
    return issubclass(kind, int | float) and not issubclass(kind, bool)


def _overflows(number: float) -> bool:
    try:
        float(number)
    except OverflowError:
        return True
    return False


def as_series(values: object, *, indicator: str, argument: str = "values") -> FloatArray:
    """``values`` (a list or tuple of ints and floats) as a float64 array.

    Raises ``TypeError`` for anything else: strings, ``None``, bools, nested lists and containers
    other than list and tuple (which are all that Starlark passes). NaN and infinities are kept.
    """
    if not isinstance(values, list | tuple):
        raise TypeError(
            f"{indicator}(): {argument} must be a list or tuple of numbers, got {describe(values)}"
        )
    # Checking each distinct element type once (a series holds int and float at most) is several
    # times cheaper than a Python-level isinstance call per element; the scan runs only on error.
    if not all(_is_number_type(kind) for kind in set(map(type, values))):
        index, item = next((i, v) for i, v in enumerate(values) if not _is_number_type(type(v)))
        raise TypeError(
            f"{indicator}(): {argument}[{index}] must be a number (int or float), got {describe(item)}"
        )
    try:
        return np.asarray(values, dtype=np.float64)
    except OverflowError:
        # Only Python ints beyond float64's range get here; report the first of them.
        index, item = next((i, v) for i, v in enumerate(values) if _overflows(v))
        raise ValueError(
            f"{indicator}(): {argument}[{index}] is too large to be a float, got int {_short.repr(item)}"
        ) from None


def check_period(period: object, *, indicator: str, argument: str = "period") -> int:
    """``period`` itself when it is an int >= 1; ``TypeError`` or ``ValueError`` otherwise."""
    if not isinstance(period, int) or isinstance(period, bool):
        raise TypeError(f"{indicator}(): {argument} must be an int >= 1, got {describe(period)}")
    if period < 1:
        raise ValueError(f"{indicator}(): {argument} must be an int >= 1, got {period}")
    return period


def all_nan(length: int) -> list[float]:
    """A series of ``length`` NaNs: the answer when the input is shorter than the warm-up."""
    return [float("nan")] * length
