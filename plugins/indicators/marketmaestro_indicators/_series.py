"""Argument checks and conversions shared by every indicator.

Indicators are called from Starlark strategies, whose authors only see the error message, so each
check names the indicator, the argument, the value received and what was expected, e.g.
``sma(): period must be an int >= 1, got 0``.
"""

from __future__ import annotations

import math
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


def check_period(period: object, *, indicator: str, argument: str = "period", minimum: int = 1) -> int:
    """``period`` itself when it is an int >= ``minimum``; ``TypeError`` or ``ValueError`` otherwise.

    ``minimum`` is 2 for statistics that need two points (a regression slope), 0 for a shift.
    """
    if not isinstance(period, int) or isinstance(period, bool):
        raise TypeError(f"{indicator}(): {argument} must be an int >= {minimum}, got {describe(period)}")
    if period < minimum:
        raise ValueError(f"{indicator}(): {argument} must be an int >= {minimum}, got {period}")
    return period


def as_number(value: object, *, indicator: str, argument: str) -> float:
    """``value`` (an int or a float, not a bool) as a finite float.

    Raises ``TypeError`` for anything else and ``ValueError`` for NaN, infinities and ints beyond
    float64's range: a parameter such as a multiplier or a price level must be a real number.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{indicator}(): {argument} must be a number (int or float), got {describe(value)}")
    if _overflows(value) or not math.isfinite(value):
        raise ValueError(f"{indicator}(): {argument} must be a finite number, got {_short.repr(value)}")
    return float(value)


def check_same_length(*, indicator: str, **series: FloatArray) -> int:
    """The common length of ``series`` (keyword arguments named as the indicator's arguments).

    Raises ``ValueError`` naming every argument and its length when they differ, e.g.
    ``donchian(): high and low must have the same length, got 10 and 9``: bars of different
    lengths cannot be aligned, and guessing which end to trim would hide a bug in the strategy.
    """
    lengths = {name: len(values) for name, values in series.items()}
    if len(set(lengths.values())) > 1:
        names, counts = list(lengths), [str(count) for count in lengths.values()]
        raise ValueError(f"{indicator}(): {_and(names)} must have the same length, got {_and(counts)}")
    return next(iter(lengths.values()), 0)


def _and(words: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def all_nan(length: int) -> list[float]:
    """A series of ``length`` NaNs: the answer when the input is shorter than the warm-up."""
    return [float("nan")] * length
