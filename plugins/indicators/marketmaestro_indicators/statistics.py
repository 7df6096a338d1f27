"""Statistics of a series: deviation, regression, correlation, extremes and crossings.

The window statistics (everything but the crossings) look at the last ``period`` values, the current
one included, and return a series as long as the input with NaN in the warm-up positions. Each
window is computed on its own rather than from running sums, so a NaN in the input spoils only the
windows that contain it. Windows are measured from their first value (deviations and regressions do
not change when every value moves by the same amount), which keeps the arithmetic small on large
prices and makes flat stretches give exact zeros instead of rounding noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from marketmaestro_indicators._series import (
    FloatArray,
    all_nan,
    as_number,
    as_series,
    check_period,
    check_same_length,
    describe,
)
from marketmaestro_indicators.indicator import Indicator


def stddev(values: Sequence[float], period: int = 5, nbdev: float = 1.0) -> list[float]:
    """Population standard deviation of the last ``period`` values, times ``nbdev``.

    ``result[i] = nbdev * sqrt(sum((values[k] - mean) ** 2) / period)`` over the window ending at
    ``i`` (divided by ``period``, not ``period - 1``, as TA-Lib does). The first ``period - 1``
    positions are NaN; ``period`` must be at least 2. Flat windows give exactly 0.
    """
    series = as_series(values, indicator="stddev")
    period = check_period(period, indicator="stddev", minimum=2)
    factor = as_number(nbdev, indicator="stddev", argument="nbdev")
    if len(series) < period:
        return all_nan(len(series))
    windows = sliding_window_view(series, period)
    deviations = (windows - windows[:, :1]).std(axis=1) * factor
    return all_nan(period - 1) + deviations.tolist()


class _Fit(NamedTuple):
    """The least-squares line through each window, with the window's values less its first value."""

    length: int
    """The length of the input."""
    first: FloatArray
    """The first value of each window, which ``windows`` and ``mean`` are measured from."""
    windows: FloatArray
    """One row per complete window, less its first value."""
    mean: FloatArray
    """The mean of each row of ``windows``."""
    slope: FloatArray
    """The slope of each window's line, per bar."""
    time: FloatArray
    """The centred times of a window: ``0 .. period - 1`` less their mean."""


def _regression(values: object, period: object, indicator: str, minimum: int) -> _Fit:
    """Check the arguments and fit a line through each window of ``period`` values.

    Time runs 0, 1, ..., ``period - 1`` from the oldest value to the newest; centring it on its mean
    makes the slope a plain weighted sum of the window, ``sum(t * y) / sum(t * t)``.
    """
    series = as_series(values, indicator=indicator)
    checked = check_period(period, indicator=indicator, minimum=minimum)
    raw = sliding_window_view(series, checked) if len(series) >= checked else np.empty((0, checked))
    first: FloatArray = raw[:, 0]
    windows: FloatArray = raw - first[:, None]
    time: FloatArray = np.arange(checked, dtype=np.float64) - (checked - 1) / 2.0
    return _Fit(len(series), first, windows, windows.mean(axis=1), windows @ time / (time @ time), time)


def _pad(length: int, tail: FloatArray) -> list[float]:
    """``tail`` (one value per complete window) preceded by NaN up to ``length`` values."""
    return all_nan(length - len(tail)) + tail.tolist()


def linear_regression(values: Sequence[float], period: int = 14) -> list[float]:
    """The least-squares line through the last ``period`` values, evaluated at the latest bar.

    With time ``t = 0 .. period - 1`` over the window, fit ``y = a + b * t`` and return
    ``a + b * (period - 1)``: a moving average without the lag of a mean, since a steady trend is
    followed exactly. The first ``period - 1`` positions are NaN; ``period`` must be at least 2.
    """
    fit = _regression(values, period, "linear_regression", 2)
    return _pad(fit.length, fit.first + fit.mean + fit.slope * fit.time[-1])


def linear_regression_slope(values: Sequence[float], period: int = 14) -> list[float]:
    """The slope ``b`` of the least-squares line through the last ``period`` values, per bar.

    Positive when the values rise: ``b = sum((t - t_mean) * (y - y_mean)) / sum((t - t_mean) ** 2)``
    with time ``t = 0 .. period - 1`` from the oldest value to the newest. The first
    ``period - 1`` positions are NaN; ``period`` must be at least 2.
    """
    fit = _regression(values, period, "linear_regression_slope", 2)
    return _pad(fit.length, fit.slope)


def standard_error(values: Sequence[float], period: int = 14) -> list[float]:
    """Standard error of the estimate of the least-squares line through the last ``period`` values.

    ``sqrt(sum((y - fitted) ** 2) / (period - 2))``, the scatter of the window around the line that
    ``linear_regression`` ends (Jon Andersen's "Standard Error Bands", Technical Analysis of Stocks &
    Commodities, 1996, uses it around that line). ``period - 2`` because the line's two parameters
    are fitted from the same data. 0 (up to rounding) for values on a straight line. The first ``period - 1``
    positions are NaN; ``period`` must be at least 3. TA-Lib has no equivalent.
    """
    fit = _regression(values, period, "standard_error", 3)
    # The residuals themselves, not sum(y^2)-style identities, which cancel catastrophically when the
    # fit is nearly perfect.
    residuals = fit.windows - fit.mean[:, None] - fit.slope[:, None] * fit.time
    errors = np.sqrt((residuals**2).sum(axis=1) / (len(fit.time) - 2))
    return _pad(fit.length, errors)


def _constant_windows(series: FloatArray, period: int) -> npt.NDArray[np.bool_]:
    """For each full window, whether all its values are equal: no change between neighbours, counted with
    an exact integer running sum (NaN and infinities count as changes, as a NaN range would)."""
    changes = np.concatenate(([0], np.cumsum(np.diff(series) != 0)))
    return np.asarray(changes[period - 1 :] - changes[: len(series) - period + 1] == 0)


def correlation_coefficient(a: Sequence[float], b: Sequence[float], period: int = 30) -> list[float]:
    """Pearson's correlation coefficient of ``a`` and ``b`` over the last ``period`` bars.

    ``sum(da * db) / sqrt(sum(da ** 2) * sum(db ** 2))`` with ``da = a - mean(a)`` and
    ``db = b - mean(b)`` over the window: 1 when they move together linearly, -1 when opposite, 0
    when unrelated. As in TA-Lib it is 0 where either window is constant, where the correlation is
    undefined. The first ``period - 1`` positions are NaN; ``period`` must be at least 2.
    """
    first = as_series(a, indicator="correlation_coefficient", argument="a")
    second = as_series(b, indicator="correlation_coefficient", argument="b")
    length = check_same_length(indicator="correlation_coefficient", a=first, b=second)
    period = check_period(period, indicator="correlation_coefficient", minimum=2)
    if length < period:
        return all_nan(length)
    windows_a, windows_b = sliding_window_view(first, period), sliding_window_view(second, period)
    da = windows_a - windows_a.mean(axis=1, keepdims=True)
    db = windows_b - windows_b.mean(axis=1, keepdims=True)
    # einsum multiplies and sums in one pass, without the window-sized temporaries of (da**2).sum(...).
    spread = np.sqrt(np.einsum("ij,ij->i", da, da)) * np.sqrt(np.einsum("ij,ij->i", db, db))
    # Constant windows are found by their range, which is exact; the deviations from a rounded mean
    # are not exactly zero and would give an arbitrary ratio.
    constant = _constant_windows(first, period) | _constant_windows(second, period)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.clip(np.einsum("ij,ij->i", da, db) / spread, -1.0, 1.0)
    return _pad(length, np.where(constant, 0.0, ratio))


def detrended(values: Sequence[float], period: int = 20) -> list[float]:
    """Detrended price oscillator: the value minus the ``period``-bar SMA of ``period // 2 + 1`` bars ago.

    ``result[i] = values[i] - sma(values, period)[i - (period // 2 + 1)]``. Comparing the price with
    an average centred in the past removes the trend and leaves the cycles shorter than ``period``.
    This is TradingView's default, which uses no future data. StockCharts defines the other
    alignment, ``values[i - (period // 2 + 1)] - sma[i]``, the same line drawn ``period // 2 + 1``
    bars earlier. The first ``period + period // 2`` positions are NaN.
    """
    series = as_series(values, indicator="detrended")
    period = check_period(period, indicator="detrended")
    back = period // 2 + 1
    if len(series) < period + back:
        return all_nan(len(series))
    means = sliding_window_view(series, period).mean(axis=1)
    # means[j] is the SMA at bar j + period - 1, so bar i needs means[i - back - period + 1].
    return _pad(len(series), series[period - 1 + back :] - means[: len(means) - back])


def highest(values: Sequence[float], period: int = 30) -> list[float]:
    """The highest of the last ``period`` values, the current one included.

    The first ``period - 1`` positions are NaN; a window containing a NaN gives NaN. TA-Lib's MAX
    requires ``period >= 2``; here ``period=1`` gives the values themselves.
    """
    series = as_series(values, indicator="highest")
    period = check_period(period, indicator="highest")
    if len(series) < period:
        return all_nan(len(series))
    return _pad(len(series), sliding_window_view(series, period).max(axis=1))


def lowest(values: Sequence[float], period: int = 30) -> list[float]:
    """The lowest of the last ``period`` values, the current one included.

    The first ``period - 1`` positions are NaN; a window containing a NaN gives NaN. TA-Lib's MIN
    requires ``period >= 2``; here ``period=1`` gives the values themselves.
    """
    series = as_series(values, indicator="lowest")
    period = check_period(period, indicator="lowest")
    if len(series) < period:
        return all_nan(len(series))
    return _pad(len(series), sliding_window_view(series, period).min(axis=1))


def _crossing_inputs(a: object, b: object, indicator: str) -> tuple[FloatArray, FloatArray]:
    """``a`` and ``b`` as series of one length; a number stands for a constant series."""
    checked: dict[str, FloatArray | float] = {}
    for argument, value in (("a", a), ("b", b)):
        if isinstance(value, list | tuple):
            checked[argument] = as_series(value, indicator=indicator, argument=argument)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            checked[argument] = as_number(value, indicator=indicator, argument=argument)
        else:
            raise TypeError(
                f"{indicator}(): {argument} must be a list or tuple of numbers, or a number, "
                f"got {describe(value)}"
            )
    series = {name: value for name, value in checked.items() if isinstance(value, np.ndarray)}
    if not series:
        raise TypeError(
            f"{indicator}(): a and b cannot both be numbers: at least one must be a list or tuple"
        )
    length = check_same_length(indicator=indicator, **series)
    first, second = (np.broadcast_to(checked[name], length) for name in ("a", "b"))
    return first, second


def crossover(a: Sequence[float] | float, b: Sequence[float] | float) -> list[bool]:
    """``True`` at the bars where ``a`` crosses above ``b``: ``a[i] > b[i]`` and ``a[i - 1] <= b[i - 1]``.

    Either may be a number, a constant level: ``crossover(rsi_values, 30)``. Bar 0, and any bar
    where ``a`` or ``b`` is NaN at ``i`` or ``i - 1``, is ``False``. Touching ``b`` and then
    rising above it counts as a cross, as in TradingView's ``ta.crossover``. Returns a list of
    booleans as long as the input.
    """
    first, second = _crossing_inputs(a, b, "crossover")
    # Comparisons with NaN are False, which is exactly the rule for missing values.
    crossed = np.zeros(len(first), dtype=bool)
    crossed[1:] = (first[1:] > second[1:]) & (first[:-1] <= second[:-1])
    return crossed.tolist()


def crossunder(a: Sequence[float] | float, b: Sequence[float] | float) -> list[bool]:
    """``True`` at the bars where ``a`` crosses below ``b``: ``a[i] < b[i]`` and ``a[i - 1] >= b[i - 1]``.

    The mirror of ``crossover``, with the same rules for numbers, bar 0 and NaN.
    """
    first, second = _crossing_inputs(a, b, "crossunder")
    crossed = np.zeros(len(first), dtype=bool)
    crossed[1:] = (first[1:] < second[1:]) & (first[:-1] >= second[:-1])
    return crossed.tolist()


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "stddev",
        stddev,
        "Population standard deviation of the last `period` values, times `nbdev`.",
        signature="stddev(values, period=5, nbdev=1)",
        source="TA-Lib STDDEV",
    ),
    Indicator(
        "linear_regression",
        linear_regression,
        "The least-squares line through the last `period` values, evaluated at the latest bar.",
        aliases=("linreg",),
        signature="linear_regression(values, period=14)",
        source="TA-Lib LINEARREG",
    ),
    Indicator(
        "linear_regression_slope",
        linear_regression_slope,
        "Slope per bar of the least-squares line through the last `period` values.",
        aliases=("linreg_slope",),
        signature="linear_regression_slope(values, period=14)",
        source="TA-Lib LINEARREG_SLOPE",
    ),
    Indicator(
        "standard_error",
        standard_error,
        "Standard error of the estimate: the scatter of the last `period` values around their regression "
        "line.",
        signature="standard_error(values, period=14)",
        source="Jon Andersen, Standard Error Bands, Technical Analysis of Stocks & Commodities, 1996",
    ),
    Indicator(
        "correlation_coefficient",
        correlation_coefficient,
        "Pearson's correlation of `a` and `b` over the last `period` bars, from -1 to 1.",
        aliases=("correl",),
        signature="correlation_coefficient(a, b, period=30)",
        source="TA-Lib CORREL",
    ),
    Indicator(
        "detrended",
        detrended,
        "Detrended price oscillator: the value minus the SMA of `period // 2 + 1` bars ago.",
        aliases=("dpo",),
        signature="detrended(values, period=20)",
        source="TradingView DPO (not centred)",
    ),
    Indicator(
        "highest",
        highest,
        "The highest of the last `period` values, the current one included.",
        signature="highest(values, period=30)",
        source="TA-Lib MAX",
    ),
    Indicator(
        "lowest",
        lowest,
        "The lowest of the last `period` values, the current one included.",
        signature="lowest(values, period=30)",
        source="TA-Lib MIN",
    ),
    Indicator(
        "crossover",
        crossover,
        "True at the bars where `a` crosses above `b` (either may be a number); a series of booleans.",
        signature="crossover(a, b)",
        source="TradingView ta.crossover",
    ),
    Indicator(
        "crossunder",
        crossunder,
        "True at the bars where `a` crosses below `b` (either may be a number); a series of booleans.",
        signature="crossunder(a, b)",
        source="TradingView ta.crossunder",
    ),
)
"""This family's indicators, in the order they are registered."""
