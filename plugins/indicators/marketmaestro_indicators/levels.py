"""Price levels and transformed candles: pivots, Fibonacci levels, channels, Heikin-Ashi.

All but ``fibonacci`` take bars as separate lists (``high``, ``low``, ...), which must all have the
same length, and return a dict of series as long as them, NaN in the warm-up positions.
``fibonacci`` works on one high and one low and returns a dict of numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from marketmaestro_indicators._series import (
    FloatArray,
    as_number,
    as_series,
    check_period,
    check_same_length,
)
from marketmaestro_indicators.indicator import Indicator

FIBONACCI_RATIOS = (0.0, 0.236, 0.382, 0.5, 0.618, 0.786, 1.0)
"""The retracement ratios ``fibonacci`` returns, from the high (0) to the low (1)."""


def _bars(indicator: str, **values: object) -> list[FloatArray]:
    """Each of ``values`` as a series, in order, checked to have one common length."""
    series = {name: as_series(value, indicator=indicator, argument=name) for name, value in values.items()}
    check_same_length(indicator=indicator, **series)
    return list(series.values())


def _previous(series: FloatArray) -> FloatArray:
    """``series`` one bar later: ``result[i] = series[i - 1]``, NaN at 0."""
    result = np.full(len(series), np.nan)
    result[1:] = series[:-1]
    return result


def _rolling(series: FloatArray, period: int, reduce: Callable[..., FloatArray]) -> FloatArray:
    """``reduce`` (``np.max`` or ``np.min``) of the ``period`` values ending at each bar, NaN before."""
    result = np.full(len(series), np.nan)
    if len(series) >= period:
        result[period - 1 :] = reduce(sliding_window_view(series, period), axis=1)
    return result


def heikin_ashi(
    open: Sequence[float], high: Sequence[float], low: Sequence[float], close: Sequence[float]
) -> dict[str, list[float]]:
    """Heikin-Ashi candles: each bar averaged with the trend so far, which hides the noise of single bars.

    ``close = (open + high + low + close) / 4``; ``open = (previous HA open + previous HA close) / 2``,
    and on the first bar ``(open + close) / 2`` of that bar (as TradingView seeds it);
    ``high = max(high, HA open, HA close)`` and ``low = min(low, HA open, HA close)``. There is no
    warm-up: every bar has a candle. Because the open is recursive, a NaN in the input makes that
    bar's candle and every later open NaN.
    """
    opens, highs, lows, closes = _bars("heikin_ashi", open=open, high=high, low=low, close=close)
    ha_close = (opens + highs + lows + closes) / 4.0
    ha_open: list[float] = []
    if len(opens):
        previous = (float(opens[0]) + float(closes[0])) / 2.0
        ha_open.append(previous)
        # Recursive, so a loop over Python floats: ~0.1 ms for 1,000 bars.
        for candle_close in ha_close[:-1].tolist():
            previous = (previous + candle_close) / 2.0
            ha_open.append(previous)
    ha_opens = np.asarray(ha_open, dtype=np.float64)
    return {
        "open": ha_open,
        "high": np.maximum(highs, np.maximum(ha_opens, ha_close)).tolist(),
        "low": np.minimum(lows, np.minimum(ha_opens, ha_close)).tolist(),
        "close": ha_close.tolist(),
    }


def pivot_points(
    high: Sequence[float], low: Sequence[float], close: Sequence[float]
) -> dict[str, list[float]]:
    """Classic floor-trader pivots for each bar, from the previous bar's high, low and close.

    With ``H``, ``L``, ``C`` the previous bar's: ``pivot = (H + L + C) / 3``, ``r1 = 2 * pivot - L``,
    ``s1 = 2 * pivot - H``, ``r2 = pivot + (H - L)``, ``s2 = pivot - (H - L)``,
    ``r3 = H + 2 * (pivot - L)``, ``s3 = L - 2 * (H - pivot)``. Bar ``i``'s levels use bar ``i - 1``
    only, so they are known when bar ``i`` opens; bar 0 has none (NaN). Pass daily bars for the
    usual daily pivots.
    """
    highs, lows, closes = (
        _previous(series) for series in _bars("pivot_points", high=high, low=low, close=close)
    )
    pivot = (highs + lows + closes) / 3.0
    spread = highs - lows
    levels = {
        "pivot": pivot,
        "r1": 2.0 * pivot - lows,
        "r2": pivot + spread,
        "r3": highs + 2.0 * (pivot - lows),
        "s1": 2.0 * pivot - highs,
        "s2": pivot - spread,
        "s3": lows - 2.0 * (highs - pivot),
    }
    return {name: values.tolist() for name, values in levels.items()}


def fibonacci(high: float, low: float) -> dict[str, float]:
    """Fibonacci retracement levels between one ``high`` and one ``low``: numbers, not series.

    The level of ratio ``r`` is ``high - r * (high - low)``, a retracement of the move up from
    ``low`` to ``high``: key ``"0.0"`` is the high, ``"1.0"`` the low, and ``"0.236"``, ``"0.382"``,
    ``"0.5"``, ``"0.618"``, ``"0.786"`` lie between. After a move down, the retracement ``r`` back up
    is ``high + low - levels[r]``. ``high`` must not be below ``low``.
    """
    top = as_number(high, indicator="fibonacci", argument="high")
    bottom = as_number(low, indicator="fibonacci", argument="low")
    if top < bottom:
        raise ValueError(f"fibonacci(): high must be >= low, got high={top!r} and low={bottom!r}")
    # Interpolated from both ends so that "0.0" is exactly the high and "1.0" exactly the low.
    return {str(ratio): top * (1.0 - ratio) + bottom * ratio for ratio in FIBONACCI_RATIOS}


def price_channel(high: Sequence[float], low: Sequence[float], period: int = 20) -> dict[str, list[float]]:
    """The highest high and lowest low of the ``period`` bars before the current one.

    ``upper[i] = max(high[i - period .. i - 1])`` and ``lower[i] = min(low[i - period .. i - 1])``.
    The current bar is left out so that a close above ``upper`` is a breakout (with it included,
    the close could never exceed it); ``donchian`` includes it. The first ``period`` positions are
    NaN.
    """
    highs, lows = _bars("price_channel", high=high, low=low)
    period = check_period(period, indicator="price_channel")
    return {
        "upper": _previous(_rolling(highs, period, np.max)).tolist(),
        "lower": _previous(_rolling(lows, period, np.min)).tolist(),
    }


def donchian(high: Sequence[float], low: Sequence[float], period: int = 20) -> dict[str, list[float]]:
    """Donchian channel: the highest high and lowest low of the last ``period`` bars, current included.

    ``upper[i] = max(high[i - period + 1 .. i])``, ``lower[i] = min(low[i - period + 1 .. i])`` and
    ``middle = (upper + lower) / 2``. The first ``period - 1`` positions are NaN. ``price_channel``
    is the same channel over the bars before the current one.
    """
    highs, lows = _bars("donchian", high=high, low=low)
    period = check_period(period, indicator="donchian")
    upper, lower = _rolling(highs, period, np.max), _rolling(lows, period, np.min)
    return {"upper": upper.tolist(), "middle": ((upper + lower) / 2.0).tolist(), "lower": lower.tolist()}


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "heikin_ashi",
        heikin_ashi,
        "Heikin-Ashi candles: each bar averaged with the one before, to show the trend without the noise.",
        signature="heikin_ashi(open, high, low, close)",
        returns="dict: open, high, low, close",
        source="Dan Valcu, Using the Heikin-Ashi Technique, Technical Analysis of Stocks & Commodities, 2004",
    ),
    Indicator(
        "pivot_points",
        pivot_points,
        "Classic floor pivots and three supports and resistances, from the previous bar.",
        aliases=("pivots",),
        signature="pivot_points(high, low, close)",
        returns="dict: pivot, r1, r2, r3, s1, s2, s3",
        source="Classic floor-trader pivots",
    ),
    Indicator(
        "fibonacci",
        fibonacci,
        "Fibonacci retracement levels between a high and a low.",
        signature="fibonacci(high, low)",
        returns='dict: "0.0", "0.236", "0.382", "0.5", "0.618", "0.786", "1.0" (one number each, not series)',
        source="Fibonacci retracement ratios",
    ),
    Indicator(
        "price_channel",
        price_channel,
        "Highest high and lowest low of the `period` bars before the current one.",
        signature="price_channel(high, low, period=20)",
        returns="dict: upper, lower",
        source="Richard Donchian's channel breakout rule",
    ),
    Indicator(
        "donchian",
        donchian,
        "Donchian channel: highest high, lowest low and their midpoint over the last `period` bars.",
        signature="donchian(high, low, period=20)",
        returns="dict: upper, middle, lower",
        source="Richard Donchian; TA-Lib MAX and MIN",
    ),
)
"""This family's indicators, in the order they are registered."""
