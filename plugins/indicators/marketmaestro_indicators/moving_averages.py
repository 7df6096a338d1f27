"""Moving averages: SMA and EMA.

Every indicator follows one convention, because its result goes straight back to a Starlark
strategy: a series in, a Python ``list[float]`` of the same length out, aligned bar for bar with the
input, with NaN in the warm-up positions where there is not enough data yet. ``result[-1]`` is
therefore always the value for the latest bar. An input shorter than the warm-up gives all NaN
rather than an error, so a strategy that has just started does not crash.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from marketmaestro_indicators._series import all_nan, as_series, check_period
from marketmaestro_indicators.indicator import Indicator


def sma(values: Sequence[float], period: int) -> list[float]:
    """Simple moving average: the mean of the last ``period`` values.

    ``result[i] = (values[i - period + 1] + ... + values[i]) / period`` for ``i >= period - 1``;
    the first ``period - 1`` positions are NaN. A NaN in the input makes NaN exactly the averages
    whose window contains it; later averages are unaffected.

    Raises ``TypeError`` when ``values`` is not a list or tuple of numbers or ``period`` is not an
    int, ``ValueError`` when ``period`` is less than 1.
    """
    series = as_series(values, indicator="sma")
    period = check_period(period, indicator="sma")
    if len(series) < period:
        return all_nan(len(series))
    # Each window is averaged on its own instead of differencing a running sum: the running sum
    # would let one NaN or infinity poison every later average, and it loses precision on long
    # series of large prices. The windows are strided views, so nothing is copied.
    means = sliding_window_view(series, period).mean(axis=1)
    return all_nan(period - 1) + means.tolist()


def ema(values: Sequence[float], period: int) -> list[float]:
    """Exponential moving average with ``alpha = 2 / (period + 1)``, seeded as TA-Lib does.

    The first value, at index ``period - 1``, is the simple average of the first ``period`` values;
    from there ``result[i] = result[i - 1] + alpha * (values[i] - result[i - 1])``. The first
    ``period - 1`` positions are NaN. Because every value depends on all earlier ones, a NaN in the
    input makes that position and every later one NaN.

    Raises ``TypeError`` when ``values`` is not a list or tuple of numbers or ``period`` is not an
    int, ``ValueError`` when ``period`` is less than 1.
    """
    series = as_series(values, indicator="ema")
    period = check_period(period, indicator="ema")
    if len(series) < period:
        return all_nan(len(series))
    alpha = 2.0 / (period + 1)
    result = all_nan(period - 1)
    previous = float(np.mean(series[:period]))
    result.append(previous)
    # The recursion is inherently sequential. A loop over Python floats takes ~0.1 ms for 1,000
    # bars; the closed-form vectorisation needs powers of (1 - alpha) that underflow to zero on long
    # series, and numpy scalars in the loop would be several times slower than plain floats.
    for value in series[period:].tolist():
        # TA-Lib's operation order, ((x - prev) * k) + prev, so rounding matches it step by step.
        previous = (value - previous) * alpha + previous
        result.append(previous)
    return result


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "sma",
        sma,
        "Simple moving average: the mean of the last `period` values.",
        signature="sma(values, period)",
        source="TA-Lib SMA",
    ),
    Indicator(
        "ema",
        ema,
        "Exponential moving average, alpha = 2 / (period + 1), seeded with the SMA of the first `period` "
        "values.",
        signature="ema(values, period)",
        source="TA-Lib EMA",
    ),
)
"""This family's indicators, in the order they are registered."""
