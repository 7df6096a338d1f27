"""The row type of the indicator tables: what strategies call, and what docs/indicators.md says of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

IndicatorFunction: TypeAlias = Callable[
    ..., list[float] | list[bool] | dict[str, list[float]] | dict[str, float]
]
"""What an indicator returns: one series, or several named series (e.g. a band's upper and lower).

Two shapes are rarer: a series of booleans for events (``crossover``), and named numbers for what
is not a series by nature (``fibonacci``'s levels between one high and one low).
"""


@dataclass(frozen=True)
class Indicator:
    """One indicator as strategies see it.

    ``signature`` is how a strategy calls it, with defaults (``"wma(values, period=14)"``); ``returns``
    the shape (``"series"`` or ``"dict: upper, middle, lower"``); ``source`` where the formula comes from
    (``"TA-Lib WMA"``, or a publication). The function's docstring explains the formula; all of it goes
    into docs/indicators.md.
    """

    name: str
    function: IndicatorFunction
    description: str
    aliases: tuple[str, ...] = ()
    signature: str = ""
    returns: str = "series"
    source: str = ""
