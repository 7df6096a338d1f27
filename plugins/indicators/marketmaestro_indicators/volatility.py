"""Volatility: bands, channels, true range and the stops built on them.

Bands and channels widen when prices swing and narrow when they settle; their width, an ATR or a
historical volatility measure how much a price moves per bar, which sizes stops and positions. A
window of bars that did not move at all gives a width of exactly 0, and the ratios built on that
width (``bollinger_percent_b``) are NaN there rather than infinite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from marketmaestro_indicators._series import FloatArray, as_number, as_series, check_period, check_same_length
from marketmaestro_indicators.indicator import Indicator

# Helpers shared with the trend and volume families: inputs checked and aligned, true range,
# Wilder and exponential smoothing, rolling windows, and division that gives NaN, never infinity.


def _aligned(indicator: str, **named: object) -> list[FloatArray]:
    """Each named input as a float64 array; ``ValueError`` naming every length if they differ."""
    arrays = {name: as_series(values, indicator=indicator, argument=name) for name, values in named.items()}
    check_same_length(indicator=indicator, **arrays)
    return list(arrays.values())


def _check_factor(value: object, *, indicator: str, argument: str, positive: bool = False) -> float:
    """``value`` as a float when it is a finite number >= 0 (> 0 when ``positive``): a multiplier."""
    number = as_number(value, indicator=indicator, argument=argument)
    if number < 0 or (positive and number == 0):
        raise ValueError(
            f"{indicator}(): {argument} must be a number {'>' if positive else '>='} 0, got {value!r}"
        )
    return number


def _nan(length: int) -> FloatArray:
    return np.full(length, np.nan)


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """``numerator / denominator``, NaN where the denominator is 0 (never infinity, never a warning)."""
    result = _nan(len(numerator))
    np.divide(numerator, denominator, out=result, where=denominator != 0)
    return result


def _rolling(values: FloatArray, period: int, reduce: Callable[..., FloatArray]) -> FloatArray:
    """``reduce`` (np.sum, np.mean...) of each window of ``period`` values, at the window's last index.

    Each window is reduced on its own rather than by a running update, so a NaN affects exactly the
    windows that contain it, and warm-up NaNs of ``values`` carry over into the result.
    """
    result = _nan(len(values))
    if len(values) >= period:
        result[period - 1 :] = reduce(sliding_window_view(values, period), axis=1)
    return result


def _extreme(values: FloatArray, period: int, pick: Callable[..., FloatArray]) -> FloatArray:
    """The highest (``pick=np.maximum``) or lowest (``np.minimum``) of each window of ``period`` values.

    Extremes of windows of 1, 2, 4, 8... values are built by doubling, and a window of ``period`` is
    the union of two overlapping power-of-two windows: about log2(period) array operations instead
    of one per window value, and exact, since maximum and minimum do not round. NaN propagates.
    """
    result = _nan(len(values))
    if len(values) < period:
        return result
    span, best = 1, values  # best[i] is the extreme of values[i : i + span]
    while span * 2 <= period:
        best = pick(best[:-span], best[span:])
        span *= 2
    rest = period - span
    result[period - 1 :] = pick(best[: len(best) - rest], best[rest:]) if rest else best
    return result


def _highest(values: FloatArray, period: int) -> FloatArray:
    """The highest of the last ``period`` values at each index; NaN before the first full window."""
    return _extreme(values, period, np.maximum)


def _lowest(values: FloatArray, period: int) -> FloatArray:
    """The lowest of the last ``period`` values at each index; NaN before the first full window."""
    return _extreme(values, period, np.minimum)


def _true_range(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """TA-Lib TRANGE: max(high - low, |high - previous close|, |low - previous close|); NaN at index 0."""
    result = _nan(len(high))
    previous = close[:-1]
    result[1:] = np.maximum(high[1:] - low[1:], np.abs(high[1:] - previous))
    result[1:] = np.maximum(result[1:], np.abs(low[1:] - previous))
    return result


def _wilder_average(values: FloatArray, period: int, start: int) -> FloatArray:
    """Wilder's smoothing of ``values[start:]`` as TA-Lib's ATR does it.

    The first value, at ``start + period - 1``, is the mean of ``values[start : start + period]``; then
    ``result[i] = (result[i - 1] * (period - 1) + values[i]) / period``.
    """
    result = _nan(len(values))
    seed_end = start + period
    if len(values) < seed_end:
        return result
    previous = float(np.mean(values[start:seed_end]))
    smoothed = [previous]
    # Recursive by definition; plain Python floats keep the loop at ~0.1 ms per 1,000 bars.
    for value in values[seed_end:].tolist():
        previous = (previous * (period - 1) + value) / period
        smoothed.append(previous)
    result[seed_end - 1 :] = smoothed
    return result


def _ema(values: FloatArray, period: int, start: int = 0) -> FloatArray:
    """The package's ``ema`` of ``values[start:]`` (SMA seed, alpha 2 / (period + 1)), as an array."""
    result = _nan(len(values))
    seed_end = start + period
    if len(values) < seed_end:
        return result
    alpha = 2.0 / (period + 1)
    previous = float(np.mean(values[start:seed_end]))
    smoothed = [previous]
    for value in values[seed_end:].tolist():
        previous = (value - previous) * alpha + previous
        smoothed.append(previous)
    result[seed_end - 1 :] = smoothed
    return result


# Indicators.


def _mean_and_deviation(values: FloatArray, period: int) -> tuple[FloatArray, FloatArray]:
    """The rolling mean and population standard deviation over ``period`` values."""
    mean, deviation = _nan(len(values)), _nan(len(values))
    if len(values) >= period:
        windows = sliding_window_view(values, period)
        mean[period - 1 :] = windows.mean(axis=1)
        spread = np.sqrt(((windows - mean[period - 1 :, None]) ** 2).mean(axis=1))
        # A flat window's mean can be off by an ulp, which would give a tiny non-zero deviation;
        # flat windows get exactly 0, so "zero width" is a test a strategy can rely on.
        deviation[period - 1 :] = np.where(windows.max(axis=1) == windows.min(axis=1), 0.0, spread)
    return mean, deviation


def _bands(indicator: str, series: FloatArray, period: object, std_dev: object) -> dict[str, FloatArray]:
    period = check_period(period, indicator=indicator)
    width = _check_factor(std_dev, indicator=indicator, argument="std_dev")
    middle, deviation = _mean_and_deviation(series, period)
    return {"upper": middle + width * deviation, "middle": middle, "lower": middle - width * deviation}


def bollinger_bands(
    values: Sequence[float], period: int = 20, std_dev: float = 2.0
) -> dict[str, list[float]]:
    """Bollinger Bands: the SMA of ``period`` values plus and minus ``std_dev`` standard deviations.

    ``middle = sma(values, period)``, ``upper = middle + std_dev * sd``, ``lower = middle - std_dev * sd``,
    where ``sd`` is the population standard deviation (divisor ``period``) of the same window, as in
    TA-Lib's BBANDS with a simple moving average. A window of equal values has ``sd`` exactly 0. The
    first ``period - 1`` positions are NaN.

    Raises ``TypeError``/``ValueError`` for a bad series, a ``period`` that is not an int >= 1, or a
    ``std_dev`` that is not a finite number >= 0.
    """
    bands = _bands("bollinger_bands", as_series(values, indicator="bollinger_bands"), period, std_dev)
    return {key: band.tolist() for key, band in bands.items()}


def bollinger_percent_b(values: Sequence[float], period: int = 20, std_dev: float = 2.0) -> list[float]:
    """Where the value sits within its Bollinger Bands: ``(value - lower) / (upper - lower)``.

    0 at the lower band, 1 at the upper band, outside [0, 1] beyond them. NaN where the bands have
    zero width (the last ``period`` values all equal, or ``std_dev`` 0), and in the ``period - 1``
    warm-up positions.
    """
    series = as_series(values, indicator="bollinger_percent_b")
    bands = _bands("bollinger_percent_b", series, period, std_dev)
    return _ratio(series - bands["lower"], bands["upper"] - bands["lower"]).tolist()


def bollinger_band_width(values: Sequence[float], period: int = 20, std_dev: float = 2.0) -> list[float]:
    """Bollinger Band width relative to the middle band: ``(upper - lower) / middle``.

    A fraction, not a percentage (0.05 means the bands are 5 % of the price apart). NaN where the
    middle band is 0, and in the ``period - 1`` warm-up positions.
    """
    series = as_series(values, indicator="bollinger_band_width")
    bands = _bands("bollinger_band_width", series, period, std_dev)
    return _ratio(bands["upper"] - bands["lower"], bands["middle"]).tolist()


def atr(high: Sequence[float], low: Sequence[float], close: Sequence[float], period: int = 14) -> list[float]:
    """Average true range, Wilder's smoothing of the true range, as TA-Lib's ATR.

    ``tr[i] = max(high[i] - low[i], |high[i] - close[i-1]|, |low[i] - close[i-1]|)`` exists from index
    1. The first ATR, at index ``period``, is the mean of ``tr[1..period]``; then
    ``atr[i] = (atr[i-1] * (period - 1) + tr[i]) / period``. The first ``period`` positions are NaN.
    """
    high_, low_, close_ = _aligned("atr", high=high, low=low, close=close)
    period = check_period(period, indicator="atr")
    return _wilder_average(_true_range(high_, low_, close_), period, start=1).tolist()


def keltner_channels(
    high: Sequence[float],
    low: Sequence[float],
    close: Sequence[float],
    period: int = 20,
    multiplier: float = 2.0,
    atr_period: int = 10,
) -> dict[str, list[float]]:
    """Keltner Channels: an EMA of the close with bands ``multiplier`` ATRs above and below it.

    ``middle = ema(close, period)``, ``upper = middle + multiplier * atr(high, low, close, atr_period)``,
    ``lower = middle - multiplier * atr(...)`` (the modern, Linda Raschke form). Positions before both
    the EMA (index ``period - 1``) and the ATR (index ``atr_period``) exist are NaN.
    """
    name = "keltner_channels"
    high_, low_, close_ = _aligned(name, high=high, low=low, close=close)
    period = check_period(period, indicator=name)
    factor = _check_factor(multiplier, indicator=name, argument="multiplier")
    atr_period = check_period(atr_period, indicator=name, argument="atr_period")
    middle = _ema(close_, period)
    offset = factor * _wilder_average(_true_range(high_, low_, close_), atr_period, start=1)
    # The middle band also waits for the ATR, so all three keys share one warm-up.
    middle[np.isnan(offset)] = np.nan
    return {
        "upper": (middle + offset).tolist(),
        "middle": middle.tolist(),
        "lower": (middle - offset).tolist(),
    }


def volatility_index(values: Sequence[float], period: int = 20) -> list[float]:
    """Historical volatility: the sample standard deviation of the last ``period`` log returns.

    ``r[i] = ln(values[i] / values[i-1])``; ``result[i]`` is the standard deviation (divisor
    ``period - 1``) of ``r[i - period + 1 .. i]``. Not annualised: multiply by ``sqrt(bars per year)``
    for an annual figure. A fraction (0.01 is 1 % per bar). The first ``period`` positions are NaN, as
    is every window holding a return from or to a value that is 0, negative, NaN or infinite (it has
    no logarithm). ``period`` must be >= 2.
    """
    series = as_series(values, indicator="volatility_index")
    period = check_period(period, indicator="volatility_index", minimum=2)
    returns = _nan(len(series))
    if len(series) > 1:
        previous, current = series[:-1], series[1:]
        valid = np.isfinite(previous) & np.isfinite(current) & (previous > 0) & (current > 0)
        ratios = np.ones(len(current))
        np.divide(current, previous, out=ratios, where=valid)
        returns[1:] = np.where(valid, np.log(ratios), np.nan)
    result = _nan(len(series))
    if len(series) > period:
        result[period:] = sliding_window_view(returns[1:], period).std(axis=1, ddof=1)
    return result.tolist()


def chande_kroll_stop(
    high: Sequence[float],
    low: Sequence[float],
    close: Sequence[float],
    p: int = 10,
    x: float = 1.0,
    q: int = 9,
) -> dict[str, list[float]]:
    """Chande Kroll Stop, in the form (and with the defaults) of TradingView's built-in.

    ``first_high = highest(high, p) - x * atr(p)``, ``first_low = lowest(low, p) + x * atr(p)``;
    ``stop_short = highest(first_high, q)``, ``stop_long = lowest(first_low, q)``. The ATR is this
    package's ``atr`` (TA-Lib seeding, where TradingView seeds its RMA differently). Chande and Kroll's
    book, with x = 3 and q = 20, names the two lines the other way round; the formulas are the same.
    The first ``p + q - 1`` positions are NaN.
    """
    name = "chande_kroll_stop"
    high_, low_, close_ = _aligned(name, high=high, low=low, close=close)
    p = check_period(p, indicator=name, argument="p")
    factor = _check_factor(x, indicator=name, argument="x")
    q = check_period(q, indicator=name, argument="q")
    offset = factor * _wilder_average(_true_range(high_, low_, close_), p, start=1)
    first_high = _highest(high_, p) - offset
    first_low = _lowest(low_, p) + offset
    return {
        "stop_long": _lowest(first_low, q).tolist(),
        "stop_short": _highest(first_high, q).tolist(),
    }


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "bollinger_bands",
        bollinger_bands,
        "Bollinger Bands: SMA of `period` values ± `std_dev` population standard deviations.",
        aliases=("bollinger",),
        signature="bollinger_bands(values, period=20, std_dev=2.0)",
        returns="dict: upper, middle, lower",
        source="TA-Lib BBANDS (SMA)",
    ),
    Indicator(
        "bollinger_percent_b",
        bollinger_percent_b,
        "Bollinger %B: (value - lower) / (upper - lower); NaN where the bands have zero width.",
        signature="bollinger_percent_b(values, period=20, std_dev=2.0)",
        source="John Bollinger, Bollinger on Bollinger Bands (2001)",
    ),
    Indicator(
        "bollinger_band_width",
        bollinger_band_width,
        "Bollinger BandWidth: (upper - lower) / middle, as a fraction; NaN where the middle is 0.",
        signature="bollinger_band_width(values, period=20, std_dev=2.0)",
        source="John Bollinger, Bollinger on Bollinger Bands (2001)",
    ),
    Indicator(
        "atr",
        atr,
        "Average true range with Wilder's smoothing, seeded with the mean of the first `period` ranges.",
        signature="atr(high, low, close, period=14)",
        source="TA-Lib ATR",
    ),
    Indicator(
        "keltner_channels",
        keltner_channels,
        "Keltner Channels: EMA of the close ± `multiplier` ATRs of `atr_period`.",
        aliases=("keltner",),
        signature="keltner_channels(high, low, close, period=20, multiplier=2.0, atr_period=10)",
        returns="dict: upper, middle, lower",
        source="Linda Raschke's Keltner Channels (EMA and ATR)",
    ),
    Indicator(
        "volatility_index",
        volatility_index,
        "Historical volatility: sample standard deviation of the last `period` log returns, per bar.",
        signature="volatility_index(values, period=20)",
        source="Historical (close-to-close) volatility, not annualised",
    ),
    Indicator(
        "chande_kroll_stop",
        chande_kroll_stop,
        "Chande Kroll Stop: highest/lowest of ATR-offset extremes, a stop line for longs and shorts.",
        signature="chande_kroll_stop(high, low, close, p=10, x=1.0, q=9)",
        returns="dict: stop_long, stop_short",
        source="Chande & Kroll, The New Technical Trader (1994); TradingView's defaults",
    ),
)
"""This family's indicators, in the order they are registered."""
