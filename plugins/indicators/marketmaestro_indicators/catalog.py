"""The table of indicators this plugin registers: one row per indicator.

Adding an indicator means writing its function in the module of its family (``moving_averages``,
...) and adding a row here; ``register_indicators`` in ``__init__`` walks this table, so the
registration code never grows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from marketmaestro_indicators.moving_averages import ema, sma

IndicatorFunction: TypeAlias = Callable[..., list[float] | dict[str, list[float]]]
"""What an indicator returns: one series, or several named series (e.g. a band's upper and lower)."""


@dataclass(frozen=True)
class Indicator:
    """One indicator as strategies see it: the name they call, the function, and help text."""

    name: str
    function: IndicatorFunction
    description: str
    aliases: tuple[str, ...] = ()


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "sma",
        sma,
        "sma(values, period): simple moving average, the mean of the last `period` values.",
    ),
    Indicator(
        "ema",
        ema,
        "ema(values, period): exponential moving average, alpha = 2 / (period + 1), "
        "seeded with the SMA of the first `period` values (TA-Lib).",
    ),
)
"""Every indicator the plugin provides, in the order they are registered."""
