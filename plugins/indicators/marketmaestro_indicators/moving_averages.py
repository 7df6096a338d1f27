"""Moving averages: SMA, EMA, WMA, TEMA, KAMA, Hull, ALMA and Williams' Alligator.

Every indicator follows one convention, because its result goes straight back to a Starlark
strategy: a series in, a Python ``list[float]`` of the same length out, aligned bar for bar with the
input, with NaN in the warm-up positions where there is not enough data yet. ``result[-1]`` is
therefore always the value for the latest bar. An input shorter than the warm-up gives all NaN
rather than an error, so a strategy that has just started does not crash. The Alligator, made of
three lines, returns a dict of three such series.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from marketmaestro_indicators._series import (
    FloatArray,
    all_nan,
    as_number,
    as_series,
    check_period,
    check_same_length,
)
from marketmaestro_indicators.indicator import Indicator


def sma(values: Sequence[float], period: int) -> list[float]:
    """Simple moving average: the mean of the last ``period`` values.

    ``result[i] = (values[i - period + 1] + ... + values[i]) / period`` for ``i >= period - 1``;
    the first ``period - 1`` positions are NaN. A NaN in the input makes NaN exactly the averages
    whose window contains it; later averages are unaffected.

    How the sums are formed (this fixes the last bits of the result): on a series of at most
    ``PREFIX_LIMIT`` finite values, as differences of running totals (``total[i] - total[i - period]``,
    one addition and one subtraction per value, which the Starlark version in ``fast.star`` repeats
    exactly); otherwise each window is summed on its own, oldest value first, so that a NaN or an
    infinity only reaches the windows holding it and long series of large prices lose no precision.
    The two agree to within rounding (about 1e-13 relative on prices).

    Raises ``TypeError`` when ``values`` is not a list or tuple of numbers or ``period`` is not an
    int, ``ValueError`` when ``period`` is less than 1.
    """
    series = as_series(values, indicator="sma")
    period = check_period(period, indicator="sma")
    if len(series) < period:
        return all_nan(len(series))
    if len(series) <= PREFIX_LIMIT and bool(np.isfinite(series).all()):
        totals = np.cumsum(series)  # sequential, left to right
        sums = totals[period - 1 :].copy()
        sums[1:] -= totals[:-period]
    else:
        sums = window_sums(series, period)
    return all_nan(period - 1) + (sums / period).tolist()


PREFIX_LIMIT = 4000
"""Longest series whose SMA is formed from running totals (the Starlark version's limit too)."""


def window_sums(series: FloatArray, period: int) -> FloatArray:
    """The sum of each window of ``period`` values, added oldest first: ``((v0 + v1) + v2) + ...``.

    Each window is summed on its own instead of differencing a running sum: the running sum would let
    one NaN or infinity poison every later window, and it loses precision on long series of large
    prices. The order of the additions is fixed (one vectorised pass per position in the window) so
    that the Starlark version in ``fast.star`` gets the very same bits; ``numpy.sum`` would pick its
    own (pairwise) order.
    """
    windows = sliding_window_view(series, period)
    sums = windows[:, 0].copy()
    for offset in range(1, period):
        sums += windows[:, offset]
    return sums


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
    return all_nan(period - 1) + _ema_tail(series, period)


def _ema_tail(series: FloatArray, period: int) -> list[float]:
    """The EMA of ``series`` from index ``period - 1`` on, seeded with the mean of the first ``period``.

    ``series`` must hold at least ``period`` values. TEMA chains it on its own output.
    """
    alpha = 2.0 / (period + 1)
    previous = float(window_sums(series[:period], period)[0]) / period
    result = [previous]
    # The recursion is inherently sequential. A loop over Python floats takes ~0.1 ms for 1,000
    # bars; the closed-form vectorisation needs powers of (1 - alpha) that underflow to zero on long
    # series, and numpy scalars in the loop would be several times slower than plain floats.
    for value in series[period:].tolist():
        # TA-Lib's operation order, ((x - prev) * k) + prev, so rounding matches it step by step.
        previous = (value - previous) * alpha + previous
        result.append(previous)
    return result


def wma(values: Sequence[float], period: int = 30) -> list[float]:
    """Weighted moving average: the last ``period`` values weighted 1, 2, ..., ``period``, newest heaviest.

    ``result[i] = (1 * values[i - period + 1] + 2 * values[i - period + 2] + ... + period * values[i])
    / (period * (period + 1) / 2)`` for ``i >= period - 1``; the first ``period - 1`` positions are
    NaN. A NaN in the input makes NaN exactly the averages whose window contains it.
    """
    series = as_series(values, indicator="wma")
    period = check_period(period, indicator="wma")
    return _wma(series, period).tolist()


def _wma(series: FloatArray, period: int) -> FloatArray:
    """``wma`` as an array, NaN-padded to the length of ``series``, for indicators built on it."""
    result = np.full(len(series), np.nan)
    if len(series) >= period:
        weights = np.arange(1, period + 1) / (period * (period + 1) / 2)
        result[period - 1 :] = sliding_window_view(series, period) @ weights
    return result


def tema(values: Sequence[float], period: int = 30) -> list[float]:
    """Triple exponential moving average (Patrick Mulloy, 1994): ``3 * e1 - 3 * e2 + e3``.

    ``e1`` is the EMA of the values, ``e2`` the EMA of ``e1`` and ``e3`` the EMA of ``e2``, all with
    ``alpha = 2 / (period + 1)``. As in TA-Lib, each EMA is seeded with the mean of the first
    ``period`` values of its own input, so ``e1`` starts at index ``period - 1``, ``e2`` at
    ``2 * (period - 1)`` and ``e3`` and the result at ``3 * (period - 1)``: that many leading
    positions are NaN. A NaN in the input makes that position and every later one NaN.
    """
    series = as_series(values, indicator="tema")
    period = check_period(period, indicator="tema")
    lag = period - 1
    if len(series) <= 3 * lag:
        return all_nan(len(series))
    first = np.array(_ema_tail(series, period))
    second = np.array(_ema_tail(first, period))
    third = np.array(_ema_tail(second, period))
    return all_nan(3 * lag) + (3.0 * first[2 * lag :] - 3.0 * second[lag:] + third).tolist()


def kama(values: Sequence[float], period: int = 30, fast: int = 2, slow: int = 30) -> list[float]:
    """Kaufman adaptive moving average (Perry Kaufman, *Smarter Trading*, 1995), as TA-Lib computes it.

    The efficiency ratio over the last ``period`` bars, ``er = |values[i] - values[i - period]| /
    (|values[i] - values[i - 1]| + ... + |values[i - period + 1] - values[i - period]|)``, is 1 in a
    straight move and near 0 in noise (1 when nothing moved at all). It sets the smoothing constant
    ``sc = (er * (2 / (fast + 1) - 2 / (slow + 1)) + 2 / (slow + 1)) ** 2``, and
    ``result[i] = result[i - 1] + sc * (values[i] - result[i - 1])``, starting from
    ``values[period - 1]`` as the previous value. The first ``period`` positions are NaN. A NaN in the
    input makes that position and every later one NaN.

    TA-Lib fixes ``fast`` at 2 and ``slow`` at 30, the defaults here. ``period`` must be at least 2
    (TA-Lib returns the input unchanged for 1), and ``fast`` at most ``slow``.
    """
    series = as_series(values, indicator="kama")
    period = check_period(period, indicator="kama", minimum=2)
    fast = check_period(fast, indicator="kama", argument="fast")
    slow = check_period(slow, indicator="kama", argument="slow")
    if fast > slow:
        raise ValueError(f"kama(): fast must be <= slow, got fast={fast} and slow={slow}")
    if len(series) <= period:
        return all_nan(len(series))
    change = np.abs(series[period:] - series[:-period])
    # Each window summed on its own, not a running sum, so a NaN only spoils the windows holding it.
    volatility = sliding_window_view(np.abs(np.diff(series)), period).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        # The minimum absorbs rounding that would put a straight move's ratio a hair above 1.
        efficiency = np.where(volatility == 0, 1.0, np.minimum(change / volatility, 1.0))
    fastest, slowest = 2.0 / (fast + 1), 2.0 / (slow + 1)
    smoothing = (efficiency * (fastest - slowest) + slowest) ** 2
    previous = float(series[period - 1])
    result = all_nan(period)
    # Recursive, so a loop over Python floats (see ema); the ratios above are vectorised.
    for value, constant in zip(series[period:].tolist(), smoothing.tolist(), strict=True):
        previous = (value - previous) * constant + previous
        result.append(previous)
    return result


def hull_ma(values: Sequence[float], period: int = 9) -> list[float]:
    """Hull moving average (Alan Hull, 2005): ``wma(2 * wma(values, n // 2) - wma(values, n), isqrt(n))``.

    ``n // 2`` and the square root are rounded down, as in the usual implementations (TradingView,
    pandas-ta). The inner difference starts at index ``n - 1`` and the outer WMA needs ``isqrt(n)``
    of them, so the first ``n + isqrt(n) - 2`` positions are NaN. ``period`` must be at least 2.
    A NaN in the input makes NaN the values whose windows (inner or outer) contain it.
    """
    series = as_series(values, indicator="hull_ma")
    period = check_period(period, indicator="hull_ma", minimum=2)
    raw = 2.0 * _wma(series, period // 2) - _wma(series, period)
    return _wma(raw, math.isqrt(period)).tolist()


def alma(values: Sequence[float], period: int = 9, offset: float = 0.85, sigma: float = 6) -> list[float]:
    """Arnaud Legoux moving average (Legoux and Kouzis-Loukas, 2009): a Gaussian-weighted window.

    Over the last ``period`` values, oldest first at ``k = 0``, the weights are
    ``w[k] = exp(-(k - m) ** 2 / (2 * s ** 2))`` with ``m = offset * (period - 1)`` and
    ``s = period / sigma``, and ``result[i] = sum(w[k] * values[i - period + 1 + k]) / sum(w)``.
    ``offset`` (0 to 1) places the peak of the weights from the oldest value to the newest: 0.85
    favours recent values while smoothing the rest; a larger ``sigma`` narrows the peak. The first
    ``period - 1`` positions are NaN. A NaN in the input makes NaN the values whose window contains it.
    """
    series = as_series(values, indicator="alma")
    period = check_period(period, indicator="alma")
    offset = as_number(offset, indicator="alma", argument="offset")
    sigma = as_number(sigma, indicator="alma", argument="sigma")
    if not 0.0 <= offset <= 1.0:
        raise ValueError(f"alma(): offset must be between 0 and 1, got {offset}")
    if sigma <= 0.0:
        raise ValueError(f"alma(): sigma must be > 0, got {sigma}")
    if len(series) < period:
        return all_nan(len(series))
    centre, width = offset * (period - 1), period / sigma
    exponents = -((np.arange(period) - centre) ** 2) / (2.0 * width**2)
    # Shifted so the largest weight is 1: a large sigma cannot underflow every weight to 0.
    weights = np.exp(exponents - exponents.max())
    weights /= weights.sum()
    return all_nan(period - 1) + (sliding_window_view(series, period) @ weights).tolist()


def williams_alligator(
    high: Sequence[float],
    low: Sequence[float],
    jaw_period: int = 13,
    jaw_shift: int = 8,
    teeth_period: int = 8,
    teeth_shift: int = 5,
    lips_period: int = 5,
    lips_shift: int = 3,
) -> dict[str, list[float]]:
    """Bill Williams' Alligator (*Trading Chaos*, 1995): three smoothed averages of the median price.

    The median price is ``(high + low) / 2``. Each line is its smoothed moving average (SMMA, the
    same as Wilder's smoothing): seeded with the mean of the first ``period`` values, then
    ``smma[i] = (smma[i - 1] * (period - 1) + median[i]) / period``. The jaw is the 13-bar SMMA, the
    teeth the 8-bar and the lips the 5-bar.

    Williams draws each line shifted forward, into the future, by 8, 5 and 3 bars. In a series of
    the same length as the input the shift means ``jaw[i] = smma13[i - 8]``: the value drawn at bar
    ``i`` on a chart, so ``jaw[-1]`` is what the chart shows at the latest bar. The last ``shift``
    values, drawn to the right of the latest bar, are not in the result; pass ``*_shift=0`` to get
    the unshifted lines, whose last value is the newest. The first ``period - 1 + shift`` positions
    of each line are NaN (20 for the jaw, 12 for the teeth, 7 for the lips). A NaN in the input
    makes that position and every later one of each line NaN.
    """
    name = "williams_alligator"
    highs = as_series(high, indicator=name, argument="high")
    lows = as_series(low, indicator=name, argument="low")
    length = check_same_length(indicator=name, high=highs, low=lows)
    lines = {
        "jaw": (jaw_period, jaw_shift),
        "teeth": (teeth_period, teeth_shift),
        "lips": (lips_period, lips_shift),
    }
    checked = {
        line: (
            check_period(period, indicator=name, argument=f"{line}_period"),
            check_period(shift, indicator=name, argument=f"{line}_shift", minimum=0),
        )
        for line, (period, shift) in lines.items()
    }
    median = (highs + lows) / 2.0
    return {
        line: (all_nan(shift) + _smma(median, period))[:length] for line, (period, shift) in checked.items()
    }


def _smma(series: FloatArray, period: int) -> list[float]:
    """Wilder's smoothed moving average, NaN-padded to the length of ``series``."""
    if len(series) < period:
        return all_nan(len(series))
    previous = float(window_sums(series[:period], period)[0]) / period
    result = [*all_nan(period - 1), previous]
    for value in series[period:].tolist():
        previous = (previous * (period - 1) + value) / period
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
    Indicator(
        "wma",
        wma,
        "Weighted moving average: the last `period` values weighted 1 to `period`, newest heaviest.",
        signature="wma(values, period=30)",
        source="TA-Lib WMA",
    ),
    Indicator(
        "tema",
        tema,
        "Triple exponential moving average, 3 * EMA - 3 * EMA(EMA) + EMA(EMA(EMA)): less lag than an EMA.",
        signature="tema(values, period=30)",
        source="TA-Lib TEMA",
    ),
    Indicator(
        "kama",
        kama,
        "Kaufman adaptive moving average: fast in a trend, slow in noise, by the efficiency ratio.",
        signature="kama(values, period=30, fast=2, slow=30)",
        source="TA-Lib KAMA (Kaufman, Smarter Trading, 1995)",
    ),
    Indicator(
        "hull_ma",
        hull_ma,
        "Hull moving average: WMA(2 * WMA(n / 2) - WMA(n), sqrt(n)), smooth with little lag.",
        aliases=("hma",),
        signature="hull_ma(values, period=9)",
        source="Alan Hull, 2005 (alanhull.com)",
    ),
    Indicator(
        "alma",
        alma,
        "Arnaud Legoux moving average: Gaussian weights peaking at `offset` of the window.",
        signature="alma(values, period=9, offset=0.85, sigma=6)",
        source="Arnaud Legoux and Dimitrios Kouzis-Loukas, 2009",
    ),
    Indicator(
        "williams_alligator",
        williams_alligator,
        "Williams' Alligator: SMMAs of the median price (13, 8, 5) drawn 8, 5 and 3 bars forward.",
        aliases=("alligator",),
        signature="williams_alligator(high, low, jaw_period=13, jaw_shift=8, teeth_period=8, teeth_shift=5, "
        "lips_period=5, lips_shift=3)",
        returns="dict: jaw, teeth, lips",
        source="Bill Williams, Trading Chaos, 1995",
    ),
)
"""This family's indicators, in the order they are registered."""
