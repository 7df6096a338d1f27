"""Checks for indicator tests, this package's and any other indicator plugin's.

Indicators are called with their series arguments by name (``high``, ``low``, ``close``, ...); these helpers
pick those arguments from a data set by the function's signature and compare results the way the
conventions demand: a list of Python floats, NaN exactly where expected. ``assert_series`` needs pytest.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt


def joined(words: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``, as error messages list arguments."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def series_names(function: Callable[..., Any], series: Collection[str]) -> list[str]:
    """The parameters of ``function`` that are series (named in ``series``), in signature order."""
    return [name for name in inspect.signature(function).parameters if name in series]


def call(
    function: Callable[..., Any],
    data: Mapping[str, Sequence[float]],
    series: Collection[str] | Mapping[str, str],
    **params: Any,
) -> Any:
    """``function`` applied to the columns of ``data`` its signature names; ``series`` maps a parameter name
    to its column (``{"values": "close"}``), or lists names that are columns themselves."""
    column = series if isinstance(series, Mapping) else {name: name for name in series}
    return function(*(data[column[name]] for name in series_names(function, column)), **params)


def by_key(result: Any) -> dict[str, list[float]]:
    """A result as a dict of series: a plain series under the key ``""``."""
    return result if isinstance(result, dict) else {"": result}


def assert_series(
    actual: list[float], expected: Sequence[float] | npt.NDArray[np.float64], *, tol: float = 1e-12
) -> None:
    """A list of Python floats equal to ``expected``, NaN exactly where ``expected`` is NaN."""
    import pytest

    assert isinstance(actual, list)
    assert [type(value) for value in actual] == [float] * len(actual)
    assert actual == pytest.approx(list(expected), rel=tol, abs=tol, nan_ok=True)
