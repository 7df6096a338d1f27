"""Momentum oscillators: MACD, RSI, stochastics, rate of change and their relatives.

Every function follows the package's convention (see ``moving_averages``): lists of numbers in, a
``list[float]`` as long as the input out (or a dict of such lists), NaN in the warm-up positions. An
input shorter than the warm-up gives all NaN, not an error.

Where TA-Lib has the indicator, the definition is TA-Lib's (TA-Lib 0.8), down to the seeding of the
averages and the warm-up length, including TA-Lib's answer where a ratio would be 0 / 0 (a flat
market): each docstring says what that answer is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Literal, ParamSpec, TypeVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from marketmaestro_indicators._series import FloatArray, as_series, describe
from marketmaestro_indicators.indicator import Indicator

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _quietly(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """``function`` with numpy's floating-point warnings off: NaN and infinities in a strategy's data
    give NaN results by IEEE arithmetic, and must not also raise warnings (errors under pytest)."""

    @functools.wraps(function)
    def quiet(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with np.errstate(all="ignore"):
            return function(*args, **kwargs)

    return quiet


# Private helpers. Every helper returns an array as long as its input, NaN where it has no value yet,
# and accepts inputs shorter than its window (giving all NaN), so the indicators compose them freely.


def _period(value: object, *, indicator: str, argument: str, minimum: int = 1) -> int:
    """``value`` when it is an int >= ``minimum``; the error names the indicator and the argument."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{indicator}(): {argument} must be an int >= {minimum}, got {describe(value)}")
    if value < minimum:
        raise ValueError(f"{indicator}(): {argument} must be an int >= {minimum}, got {value}")
    return value


def _inputs(indicator: str, **named: object) -> list[FloatArray]:
    """Each named input as a float64 array, in order; all must have the same length."""
    arrays = [as_series(values, indicator=indicator, argument=name) for name, values in named.items()]
    (first_name, *names), first = list(named), arrays[0]
    for name, array in zip(names, arrays[1:], strict=True):
        if array.size != first.size:
            raise ValueError(
                f"{indicator}(): {name} has {array.size} values but {first_name} has {first.size}; "
                "they must have the same length"
            )
    return arrays


def _nans(length: int) -> FloatArray:
    return np.full(length, np.nan)


def _windows(x: FloatArray, period: int) -> FloatArray:
    """The ``len(x) - period + 1`` windows of ``period`` values, as strided views (nothing is copied)."""
    return sliding_window_view(x, period)


def _rolling(x: FloatArray, period: int, reduce: Literal["mean", "sum", "max", "min"]) -> FloatArray:
    """``reduce`` over the window of ``period`` values ending at each index."""
    out = _nans(x.size)
    if x.size >= period:
        out[period - 1 :] = getattr(_windows(x, period), reduce)(axis=1)
    return out


def _shifted(x: FloatArray, bars: int) -> FloatArray:
    """``x`` delayed by ``bars``: ``out[i] = x[i - bars]``, NaN for the first ``bars`` positions."""
    out = _nans(x.size)
    if bars < x.size:
        out[bars:] = x[: x.size - bars]
    return out


def _wma(x: FloatArray, period: int) -> FloatArray:
    """Weighted moving average, weights 1 (oldest) to ``period`` (newest), as TA-Lib's WMA."""
    out = _nans(x.size)
    if x.size >= period:
        weights = np.arange(1.0, period + 1)
        out[period - 1 :] = _windows(x, period) @ weights / weights.sum()
    return out


def _ema(x: FloatArray, period: int, first: int) -> FloatArray:
    """EMA (alpha = 2 / (period + 1)) whose first value, at index ``first``, is the mean of the
    ``period`` values ending there, as TA-Lib seeds it. ``x`` may be NaN before ``first - period + 1``."""
    out = _nans(x.size)
    if first >= x.size:
        return out
    alpha = 2.0 / (period + 1)
    previous = float(np.mean(x[first - period + 1 : first + 1]))
    smoothed = [previous]
    # The recursion is sequential; plain Python floats are several times faster than numpy scalars.
    for value in x[first + 1 :].tolist():
        previous = (value - previous) * alpha + previous
        smoothed.append(previous)
    out[first:] = smoothed
    return out


_ROUNDING = 1e-14
"""Relative size under which a difference of prices is rounding residue (TA-Lib's ``TA_EPSILON``)."""


def _ratio(
    numerator: FloatArray, denominator: FloatArray, *, if_zero: float, scale: FloatArray | None = None
) -> FloatArray:
    """``numerator / denominator``, and ``if_zero`` where the denominator is 0 (NaN stays NaN).

    With ``scale``, the denominator also counts as 0 when ``|denominator| <= 1e-14 * scale``: TA-Lib's
    test for a range that is flat up to rounding, so that the residue a flat window leaves in a
    computed range or mean is not divided into noise.
    """
    zero = denominator == 0 if scale is None else np.abs(denominator) <= _ROUNDING * scale
    out = np.full(numerator.size, if_zero)
    np.divide(numerator, denominator, out=out, where=~zero)
    return out


def _stochastic(close: FloatArray, high: FloatArray, low: FloatArray, period: int) -> FloatArray:
    """Raw %K: 100 * (close - lowest low) / (highest high - lowest low) over ``period`` bars; 0 where
    the range is flat up to rounding, as in TA-Lib."""
    lowest, highest = _rolling(low, period, "min"), _rolling(high, period, "max")
    return _ratio(
        100.0 * (close - lowest), highest - lowest, if_zero=0.0, scale=np.abs(highest) + np.abs(lowest)
    )


def _roc_percent(x: FloatArray, period: int) -> FloatArray:
    """100 * (x[i] / x[i - period] - 1); 0 where x[i - period] is 0, as TA-Lib's ROC."""
    return 100.0 * (_ratio(x, _shifted(x, period), if_zero=1.0) - 1.0)


def _wilder_averages(x: FloatArray, period: int) -> tuple[FloatArray, FloatArray]:
    """Wilder's average gain and average loss of the changes of ``x``, as TA-Lib's RSI computes them.

    The first value, at index ``period``, is the plain mean of the first ``period`` gains (losses);
    then ``average = (previous * (period - 1) + today) / period``.
    """
    gains, losses = _nans(x.size), _nans(x.size)
    if x.size > period:
        changes = np.diff(x)
        for out, moves in ((gains, np.maximum(changes, 0.0)), (losses, np.maximum(-changes, 0.0))):
            average = float(moves[:period].mean())
            averages = [average]
            append = averages.append
            # Wilder's smoothing is recursive: a loop over Python floats (~0.1 ms for 1,000 bars).
            for today in moves[period:].tolist():
                average = (average * (period - 1) + today) / period
                append(average)
            out[period:] = averages
    return gains, losses


def _lists(**series: FloatArray) -> dict[str, list[float]]:
    return {name: values.tolist() for name, values in series.items()}


# MACD and its relatives: differences of moving averages.


@_quietly
def macd(values: Sequence[float], fast: int = 12, slow: int = 26, signal: int = 9) -> dict[str, list[float]]:
    """Moving average convergence/divergence, exactly as TA-Lib's MACD.

    ``macd = EMA(values, fast) - EMA(values, slow)``, ``signal = EMA(macd, signal)`` and
    ``histogram = macd - signal``, every EMA with ``alpha = 2 / (period + 1)``. As in TA-Lib, both
    EMAs of the values start at index ``slow - 1``: the slow one seeded with the mean of the first
    ``slow`` values, the fast one with the mean of the ``fast`` values ending there (so its first
    values differ a little from ``ema(values, fast)``, which starts at ``fast - 1``). The signal EMA is
    seeded with the mean of the first ``signal`` MACD values. All three outputs are NaN for the first
    ``slow + signal - 2`` positions, where TA-Lib gives no value.

    Raises ``ValueError`` unless ``fast < slow`` (TA-Lib would silently swap them).
    """
    series = as_series(values, indicator="macd")
    fast = _period(fast, indicator="macd", argument="fast")
    slow = _period(slow, indicator="macd", argument="slow")
    signal = _period(signal, indicator="macd", argument="signal")
    _check_fast_slow("macd", fast, slow)
    warm_up = slow + signal - 2
    line = _ema(series, fast, slow - 1) - _ema(series, slow, slow - 1)
    signal_line = _ema(line, signal, warm_up)
    line[:warm_up] = np.nan
    return _lists(macd=line, signal=signal_line, histogram=line - signal_line)


@_quietly
def ppo(values: Sequence[float], fast: int = 12, slow: int = 26, ma: str = "ema") -> list[float]:
    """Percentage price oscillator, as TA-Lib's PPO: ``100 * (MA(fast) - MA(slow)) / MA(slow)``.

    ``ma`` is ``"ema"`` (the usual definition, and TA-Lib 0.8's default) or ``"sma"`` (the default of
    TA-Lib before 0.8). Each EMA is seeded on its own with the mean of its first ``period`` values,
    as ``ema()`` does (unlike ``macd``). The first ``slow - 1`` positions are NaN; where ``MA(slow)``
    is 0 the result is 0, as in TA-Lib.

    Raises ``ValueError`` unless ``fast < slow`` or when ``ma`` is another string.
    """
    series = as_series(values, indicator="ppo")
    fast = _period(fast, indicator="ppo", argument="fast")
    slow = _period(slow, indicator="ppo", argument="slow")
    _check_fast_slow("ppo", fast, slow)
    if ma == "ema":
        fast_ma, slow_ma = _ema(series, fast, fast - 1), _ema(series, slow, slow - 1)
    elif ma == "sma":
        fast_ma, slow_ma = _rolling(series, fast, "mean"), _rolling(series, slow, "mean")
    else:
        raise ValueError(f'ppo(): ma must be "ema" or "sma", got {describe(ma)}')
    return _ratio(100.0 * (fast_ma - slow_ma), slow_ma, if_zero=0.0).tolist()


@_quietly
def awesome_oscillator(
    high: Sequence[float], low: Sequence[float], fast: int = 5, slow: int = 34
) -> list[float]:
    """Bill Williams' awesome oscillator, as TA-Lib's AO: ``SMA(median, fast) - SMA(median, slow)`` of
    the median price ``(high + low) / 2``. The first ``slow - 1`` positions are NaN.

    Raises ``ValueError`` unless ``fast < slow``.
    """
    return _awesome("awesome_oscillator", high, low, fast, slow).tolist()


@_quietly
def accelerator_oscillator(
    high: Sequence[float], low: Sequence[float], fast: int = 5, slow: int = 34, signal: int = 5
) -> list[float]:
    """Bill Williams' accelerator oscillator, as TA-Lib's AC: ``AO - SMA(AO, signal)``, where ``AO``
    is ``awesome_oscillator(high, low, fast, slow)``. The first ``slow + signal - 2`` positions are NaN.

    Raises ``ValueError`` unless ``fast < slow``.
    """
    awesome = _awesome("accelerator_oscillator", high, low, fast, slow)
    signal = _period(signal, indicator="accelerator_oscillator", argument="signal")
    return (awesome - _rolling(awesome, signal, "mean")).tolist()


def _awesome(indicator: str, high: object, low: object, fast: object, slow: object) -> FloatArray:
    highs, lows = _inputs(indicator, high=high, low=low)
    fast = _period(fast, indicator=indicator, argument="fast")
    slow = _period(slow, indicator=indicator, argument="slow")
    _check_fast_slow(indicator, fast, slow)
    median = (highs + lows) / 2.0
    return _rolling(median, fast, "mean") - _rolling(median, slow, "mean")


def _check_fast_slow(indicator: str, fast: int, slow: int) -> None:
    if fast >= slow:
        raise ValueError(f"{indicator}(): fast must be less than slow, got fast={fast}, slow={slow}")


# Wilder's RSI and the oscillators built like it.


@_quietly
def rsi(values: Sequence[float], period: int = 14) -> list[float]:
    """Relative strength index (Wilder, 1978), as TA-Lib's RSI.

    The average gain and average loss of the changes ``values[i] - values[i - 1]`` start, at index
    ``period``, as the plain means of the first ``period`` gains and losses, and are then smoothed
    Wilder's way: ``average = (previous * (period - 1) + today) / period``.
    ``RSI = 100 * average_gain / (average_gain + average_loss)``, the same as
    ``100 - 100 / (1 + RS)``. The first ``period`` positions are NaN; where both averages are 0 (the
    values have not moved at all), the RSI is 0, as in TA-Lib. ``period`` must be at least 2.
    """
    series = as_series(values, indicator="rsi")
    period = _period(period, indicator="rsi", argument="period", minimum=2)
    return _rsi(series, period).tolist()


def _rsi(series: FloatArray, period: int) -> FloatArray:
    gains, losses = _wilder_averages(series, period)
    return _ratio(100.0 * gains, gains + losses, if_zero=0.0)


@_quietly
def cmo(values: Sequence[float], period: int = 14) -> list[float]:
    """Chande momentum oscillator, as TA-Lib's CMO: ``100 * (gain - loss) / (gain + loss)``.

    Like TA-Lib, and unlike Chande's plain sums over the last ``period`` changes, ``gain`` and
    ``loss`` are Wilder's smoothed averages exactly as in ``rsi`` (so ``cmo = 2 * rsi - 100``). The
    first ``period`` positions are NaN; where both averages are 0 the result is 0, as in TA-Lib.
    ``period`` must be at least 2.
    """
    series = as_series(values, indicator="cmo")
    period = _period(period, indicator="cmo", argument="period", minimum=2)
    gains, losses = _wilder_averages(series, period)
    return _ratio(100.0 * (gains - losses), gains + losses, if_zero=0.0).tolist()


@_quietly
def stochastic_rsi(
    values: Sequence[float], period: int = 14, k_period: int = 5, d_period: int = 3
) -> dict[str, list[float]]:
    """Stochastic RSI, as TA-Lib's STOCHRSI (``timeperiod``, ``fastk_period``, ``fastd_period``).

    ``k`` is the fast stochastic of ``r = rsi(values, period)`` over ``k_period`` bars,
    ``100 * (r - lowest r) / (highest r - lowest r)``, 0 where the RSI did not move up to rounding
    (as in ``stoch``: in a flat market the RSI is constant but for rounding residue), and
    ``d = SMA(k, d_period)``. Both are NaN for the first ``period + k_period + d_period - 2``
    positions, as in TA-Lib (``k`` alone would be known ``d_period - 1`` bars earlier).
    """
    series = as_series(values, indicator="stochastic_rsi")
    period = _period(period, indicator="stochastic_rsi", argument="period", minimum=2)
    k_period = _period(k_period, indicator="stochastic_rsi", argument="k_period")
    d_period = _period(d_period, indicator="stochastic_rsi", argument="d_period")
    strength = _rsi(series, period)
    k = _stochastic(strength, strength, strength, k_period)
    d = _rolling(k, d_period, "mean")
    k[: period + k_period + d_period - 2] = np.nan
    return _lists(k=k, d=d)


# Stochastics and other position-in-range oscillators.


@_quietly
def stoch(
    high: Sequence[float],
    low: Sequence[float],
    close: Sequence[float],
    k_period: int = 14,
    k_smooth: int = 3,
    d_period: int = 3,
) -> dict[str, list[float]]:
    """Slow stochastic oscillator (Lane), as TA-Lib's STOCH with simple moving averages.

    The raw ``%K = 100 * (close - lowest low) / (highest high - lowest low)`` over ``k_period`` bars,
    0 where the range is 0 up to rounding (within ``1e-14 * (|highest| + |lowest|)``, TA-Lib's test);
    ``k = SMA(raw %K, k_smooth)`` and ``d = SMA(k, d_period)``.
    ``k_smooth=1`` gives the fast stochastic. Both are NaN for the first
    ``k_period + k_smooth + d_period - 3`` positions, as in TA-Lib (``k`` alone would be known
    ``d_period - 1`` bars earlier).
    """
    highs, lows, closes = _inputs("stoch", high=high, low=low, close=close)
    k_period = _period(k_period, indicator="stoch", argument="k_period")
    k_smooth = _period(k_smooth, indicator="stoch", argument="k_smooth")
    d_period = _period(d_period, indicator="stoch", argument="d_period")
    k = _rolling(_stochastic(closes, highs, lows, k_period), k_smooth, "mean")
    d = _rolling(k, d_period, "mean")
    k[: k_period + k_smooth + d_period - 3] = np.nan
    return _lists(k=k, d=d)


@_quietly
def williams_r(
    high: Sequence[float], low: Sequence[float], close: Sequence[float], period: int = 14
) -> list[float]:
    """Williams' %R, as TA-Lib's WILLR: ``-100 * (highest high - close) / (highest high - lowest low)``
    over ``period`` bars, from -100 (close at the low) to 0 (close at the high). The first
    ``period - 1`` positions are NaN. Where the range is 0 up to rounding (within
    ``1e-14 * (|highest| + |lowest|)``, TA-Lib's test) the result is 0, as in TA-Lib.
    """
    highs, lows, closes = _inputs("williams_r", high=high, low=low, close=close)
    period = _period(period, indicator="williams_r", argument="period")
    highest, lowest = _rolling(highs, period, "max"), _rolling(lows, period, "min")
    scale = np.abs(highest) + np.abs(lowest)
    return _ratio(-100.0 * (highest - closes), highest - lowest, if_zero=0.0, scale=scale).tolist()


@_quietly
def ultimate_oscillator(
    high: Sequence[float],
    low: Sequence[float],
    close: Sequence[float],
    period1: int = 7,
    period2: int = 14,
    period3: int = 28,
) -> list[float]:
    """Ultimate oscillator (Williams, 1985), as TA-Lib's ULTOSC.

    With the previous close ``pc``, buying pressure ``bp = close - min(low, pc)`` and true range
    ``tr = max(high - low, |pc - high|, |pc - low|)``; ``a_n = sum(bp) / sum(tr)`` over the last
    ``n`` bars, and ``100 * (4 * a_period1 + 2 * a_period2 + a_period3) / 7``. An average whose true
    ranges sum to 0 counts as 0, as in TA-Lib. The first ``period3`` positions are NaN.

    Raises ``ValueError`` unless ``period1 <= period2 <= period3`` (TA-Lib would sort them).
    """
    highs, lows, closes = _inputs("ultimate_oscillator", high=high, low=low, close=close)
    periods = [
        _period(value, indicator="ultimate_oscillator", argument=name)
        for name, value in (("period1", period1), ("period2", period2), ("period3", period3))
    ]
    if periods != sorted(periods):
        raise ValueError(
            "ultimate_oscillator(): the periods must be in increasing order "
            f"(period1 <= period2 <= period3), got {', '.join(map(str, periods))}"
        )
    previous = _shifted(closes, 1)
    true_low = np.minimum(lows, previous)
    true_range = np.maximum.reduce([highs - lows, np.abs(previous - highs), np.abs(previous - lows)])
    averages = [
        _ratio(_rolling(closes - true_low, n, "sum"), _rolling(true_range, n, "sum"), if_zero=0.0)
        for n in periods
    ]
    return (100.0 * (4.0 * averages[0] + 2.0 * averages[1] + averages[2]) / 7.0).tolist()


@_quietly
def cci(high: Sequence[float], low: Sequence[float], close: Sequence[float], period: int = 14) -> list[float]:
    """Commodity channel index (Lambert, 1980), as TA-Lib's CCI.

    With the typical price ``tp = (high + low + close) / 3``, its mean ``m`` over the last ``period``
    bars and the mean absolute deviation ``md`` of those ``tp`` from ``m``:
    ``CCI = (tp - m) / (0.015 * md)``. The first ``period - 1`` positions are NaN. Where ``tp - m`` or
    ``md`` is 0 up to rounding (within ``1e-14 * |m|``, TA-Lib's test), the result is 0, so a flat
    market reads 0. ``period`` must be at least 2.
    """
    highs, lows, closes = _inputs("cci", high=high, low=low, close=close)
    period = _period(period, indicator="cci", argument="period", minimum=2)
    return _cci(highs, lows, closes, period).tolist()


@_quietly
def advanced_cci(
    high: Sequence[float], low: Sequence[float], close: Sequence[float], period: int = 14, smooth: int = 5
) -> list[float]:
    """The CCI smoothed by an EMA (no TA-Lib equivalent): ``EMA(cci(high, low, close, period), smooth)``.

    The EMA has ``alpha = 2 / (smooth + 1)`` and is seeded with the mean of the first ``smooth`` CCI
    values, as ``ema()`` is, so the first ``period + smooth - 2`` positions are NaN. The smoothing
    removes the CCI's bar-to-bar jitter around its ±100 levels at the cost of ``smooth / 2`` bars of
    lag. ``period`` must be at least 2.
    """
    highs, lows, closes = _inputs("advanced_cci", high=high, low=low, close=close)
    period = _period(period, indicator="advanced_cci", argument="period", minimum=2)
    smooth = _period(smooth, indicator="advanced_cci", argument="smooth")
    return _ema(_cci(highs, lows, closes, period), smooth, period + smooth - 2).tolist()


def _cci(highs: FloatArray, lows: FloatArray, closes: FloatArray, period: int) -> FloatArray:
    typical = (highs + lows + closes) / 3.0
    out = _nans(typical.size)
    if typical.size < period:
        return out
    windows = _windows(typical, period)
    mean = windows.mean(axis=1)
    deviation = np.abs(windows - mean[:, None]).mean(axis=1)
    # A flat window leaves rounding residues in the mean and the deviation, a price at its mean one in
    # the difference; divided, residues are noise (about ±67 in a flat window). TA-Lib's relative test
    # makes them 0.
    difference, scale = typical[period - 1 :] - mean, np.abs(mean)
    difference[np.abs(difference) <= _ROUNDING * scale] = 0.0
    out[period - 1 :] = _ratio(difference, 0.015 * deviation, if_zero=0.0, scale=0.015 * scale)
    return out


# Rates of change and the oscillators built on them.


@_quietly
def roc(values: Sequence[float], period: int = 10) -> list[float]:
    """Rate of change in percent, as TA-Lib's ROC: ``100 * (values[i] / values[i - period] - 1)``.

    A rise of 5% over ``period`` bars gives 5.0. The first ``period`` positions are NaN; where
    ``values[i - period]`` is 0 the result is 0, as in TA-Lib.
    """
    series = as_series(values, indicator="roc")
    period = _period(period, indicator="roc", argument="period")
    return _roc_percent(series, period).tolist()


@_quietly
def price_roc(values: Sequence[float], period: int = 10) -> list[float]:
    """Rate of change as a fraction, as TA-Lib's ROCP: ``(values[i] - earlier) / earlier`` with
    ``earlier = values[i - period]``.

    The same measure as ``roc`` divided by 100: a rise of 5% gives 0.05, ready to compare with
    returns or to multiply by a position's value. The first ``period`` positions are NaN; where
    ``values[i - period]`` is 0 the result is 0, as in TA-Lib.
    """
    series = as_series(values, indicator="price_roc")
    period = _period(period, indicator="price_roc", argument="period")
    earlier = _shifted(series, period)
    return _ratio(series - earlier, earlier, if_zero=0.0).tolist()


@_quietly
def tsi(values: Sequence[float], long: int = 25, short: int = 13) -> list[float]:
    """True strength index (Blau, 1991), as TA-Lib's TSI (``firstperiod=long``, ``secondperiod=short``).

    With the changes ``m[i] = values[i] - values[i - 1]``:
    ``TSI = 100 * EMA(EMA(m, long), short) / EMA(EMA(|m|, long), short)``, each EMA seeded with the
    mean of its first ``period`` inputs as ``ema()`` is. The first ``long + short - 1`` positions are
    NaN; where the values have not moved at all the result is 0, as in TA-Lib. The signal line is an
    EMA of the TSI, computed after the warm-up (an EMA over NaN is NaN): with the defaults,
    ``ema(t[37:], 13)`` for ``t = tsi(values)``.
    """
    series = as_series(values, indicator="tsi")
    long = _period(long, indicator="tsi", argument="long")
    short = _period(short, indicator="tsi", argument="short")
    momentum = series - _shifted(series, 1)
    first = long + short - 1

    def double_smoothed(x: FloatArray) -> FloatArray:
        return _ema(_ema(x, long, long), short, first)

    return _ratio(100.0 * double_smoothed(momentum), double_smoothed(np.abs(momentum)), if_zero=0.0).tolist()


@_quietly
def kst(
    values: Sequence[float],
    roc1: int = 10,
    roc2: int = 15,
    roc3: int = 20,
    roc4: int = 30,
    sma1: int = 10,
    sma2: int = 10,
    sma3: int = 10,
    sma4: int = 15,
    signal: int = 9,
) -> dict[str, list[float]]:
    """Know Sure Thing (Pring), with his standard (daily) periods; no TA-Lib equivalent.

    ``kst = 1 * SMA(ROC(roc1), sma1) + 2 * SMA(ROC(roc2), sma2) + 3 * SMA(ROC(roc3), sma3)
    + 4 * SMA(ROC(roc4), sma4)``, with ``ROC`` the percent rate of change of ``roc``, and
    ``signal = SMA(kst, signal)``. ``kst`` is NaN for the first ``max(roc_n + sma_n) - 1`` positions
    (44 with the defaults), ``signal`` for ``signal - 1`` more.
    """
    series = as_series(values, indicator="kst")
    arguments = {"roc1": roc1, "roc2": roc2, "roc3": roc3, "roc4": roc4}
    arguments |= {"sma1": sma1, "sma2": sma2, "sma3": sma3, "sma4": sma4, "signal": signal}
    periods = {name: _period(value, indicator="kst", argument=name) for name, value in arguments.items()}
    first, second, third, fourth = (
        _rolling(_roc_percent(series, periods[f"roc{n}"]), periods[f"sma{n}"], "mean") for n in (1, 2, 3, 4)
    )
    line = first + 2.0 * second + 3.0 * third + 4.0 * fourth
    return _lists(kst=line, signal=_rolling(line, periods["signal"], "mean"))


@_quietly
def coppock_curve(values: Sequence[float], roc1: int = 14, roc2: int = 11, wma: int = 10) -> list[float]:
    """Coppock curve (Coppock, 1962), as TA-Lib's COPPOCK: ``WMA(ROC(roc1) + ROC(roc2), wma)``, with
    ``ROC`` the percent rate of change and ``WMA`` weighting the newest value most (1 to ``wma``).
    The first ``max(roc1, roc2) + wma - 1`` positions are NaN.
    """
    series = as_series(values, indicator="coppock_curve")
    roc1 = _period(roc1, indicator="coppock_curve", argument="roc1")
    roc2 = _period(roc2, indicator="coppock_curve", argument="roc2")
    wma = _period(wma, indicator="coppock_curve", argument="wma")
    return _wma(_roc_percent(series, roc1) + _roc_percent(series, roc2), wma).tolist()


@_quietly
def stc(values: Sequence[float], fast: int = 23, slow: int = 50, cycle: int = 10) -> list[float]:
    """Schaff trend cycle (Schaff, 1999), following his published code; no TA-Lib equivalent.

    1. ``macd = EMA(values, fast) - EMA(values, slow)``, each EMA seeded as ``ema()`` is.
    2. ``f1 = 100 * (macd - lowest macd) / (highest macd - lowest macd)`` over ``cycle`` bars; where
       that range is 0 (up to rounding, as in ``stoch``), ``f1`` keeps its previous value (0 if it
       has none), as in Schaff's code.
    3. ``p1`` smooths ``f1``: ``p1 = p1[-1] + 0.5 * (f1 - p1[-1])``, starting at the first ``f1``.
    4. ``f2`` is step 2 applied to ``p1``, and the STC is step 3 applied to ``f2``.

    The 0.5 smoothing is Schaff's "factor", an EMA of 3 bars. The result is between 0 and 100; the
    first ``slow + 2 * cycle - 3`` positions are NaN (67 with the defaults).

    Raises ``ValueError`` unless ``fast < slow``; ``cycle`` must be at least 2.
    """
    series = as_series(values, indicator="stc")
    fast = _period(fast, indicator="stc", argument="fast")
    slow = _period(slow, indicator="stc", argument="slow")
    cycle = _period(cycle, indicator="stc", argument="cycle", minimum=2)
    _check_fast_slow("stc", fast, slow)
    line = _ema(series, fast, fast - 1) - _ema(series, slow, slow - 1)
    first = slow + cycle - 2
    smoothed = _halving(_schaff_fraction(line, cycle, first), first)
    first += cycle - 1
    return _halving(_schaff_fraction(smoothed, cycle, first), first).tolist()


def _schaff_fraction(x: FloatArray, cycle: int, first: int) -> FloatArray:
    """Step 2 of ``stc``: the position of ``x`` in its ``cycle``-bar range, from index ``first``."""
    lowest, highest = _rolling(x, cycle, "min"), _rolling(x, cycle, "max")
    spread = highest - lowest
    fraction = 100.0 * (x - lowest) / spread
    flat = np.abs(spread) <= _ROUNDING * (np.abs(highest) + np.abs(lowest))
    # Where the range is flat, carry the last defined fraction forward: take the value at the index
    # of the latest bar at or before this one that had a range (-1, meaning 0, if there is none yet).
    index = np.arange(x.size)
    source = np.maximum.accumulate(np.where(flat | (index < first), -1, index))
    out = np.where(source >= 0, fraction[source], 0.0)
    out[:first] = np.nan
    return out


_HALVING_WEIGHTS = 0.5 ** np.arange(1.0, 66.0)
"""0.5, 0.25, ... 2**-65: how much each earlier bar weighs in ``_halving``."""


def _halving(x: FloatArray, first: int) -> FloatArray:
    """Step 3 of ``stc``: ``out = out[-1] + 0.5 * (x - out[-1])``, starting with ``x[first]``.

    Unrolled, the recursion is ``out[t] = sum(0.5 ** (t - j + 1) * x[j])`` over ``first <= j <= t``
    with ``x[first]`` counted twice: a convolution, computed without a Python loop. Weights older than
    65 bars add up to 2**-65 of the values (0 to 200), far below a float's resolution at 100, so
    cutting them off gives the recursion's values.
    """
    out = _nans(x.size)
    if first < x.size:
        terms = x[first:].copy()
        terms[0] *= 2.0
        out[first:] = np.convolve(terms, _HALVING_WEIGHTS)[: terms.size]
    return out


# Candle-based oscillators.


@_quietly
def bop(
    open: Sequence[float], high: Sequence[float], low: Sequence[float], close: Sequence[float]
) -> list[float]:
    """Balance of power (Livshin, 2001), as TA-Lib's BOP: ``(close - open) / (high - low)`` for each
    bar, from -1 to 1. There is no warm-up; a bar whose range is 0 (or negative) gives 0, as in TA-Lib.
    """
    opens, highs, lows, closes = _inputs("bop", open=open, high=high, low=low, close=close)
    spread = highs - lows
    out = _ratio(closes - opens, spread, if_zero=0.0)
    out[spread < 0] = 0.0
    return out.tolist()


@_quietly
def rvi(
    open: Sequence[float],
    high: Sequence[float],
    low: Sequence[float],
    close: Sequence[float],
    period: int = 10,
) -> dict[str, list[float]]:
    """Relative vigor index (Ehlers, 2002); not TA-Lib's RVI, which is the relative *volatility* index.

    Each bar's ``close - open`` and ``high - low`` are smoothed over 4 bars with weights 1, 2, 2, 1
    (``s(x) = (x[i] + 2 * x[i-1] + 2 * x[i-2] + x[i-3]) / 6``); ``rvi = sum(s(close - open)) /
    sum(s(high - low))`` over the last ``period`` bars, 0 where the ranges sum to 0 (no movement), and
    ``signal = s(rvi)``. ``rvi`` is NaN for the first ``period + 2`` positions, ``signal`` for 3 more.
    """
    opens, highs, lows, closes = _inputs("rvi", open=open, high=high, low=low, close=close)
    period = _period(period, indicator="rvi", argument="period")

    def symmetric(x: FloatArray) -> FloatArray:
        out = _nans(x.size)
        if x.size >= 4:
            out[3:] = _windows(x, 4) @ np.array([1.0, 2.0, 2.0, 1.0]) / 6.0
        return out

    vigor = _ratio(
        _rolling(symmetric(closes - opens), period, "sum"),
        _rolling(symmetric(highs - lows), period, "sum"),
        if_zero=0.0,
    )
    return _lists(rvi=vigor, signal=symmetric(vigor))


@_quietly
def aroon(high: Sequence[float], low: Sequence[float], period: int = 14) -> dict[str, list[float]]:
    """Aroon (Chande, 1995), as TA-Lib's AROON and AROONOSC.

    Over the last ``period + 1`` bars (this one and the ``period`` before it),
    ``up = 100 * (period - bars since the highest high) / period``, ``down`` the same with the lowest
    low, and ``oscillator = up - down``. Among equal highs (lows) the most recent counts, as in TA-Lib,
    so a flat market gives ``up = down = 100``. The first ``period`` positions are NaN.
    """
    highs, lows = _inputs("aroon", high=high, low=low)
    period = _period(period, indicator="aroon", argument="period")
    up, down, oscillator = _nans(highs.size), _nans(highs.size), _nans(highs.size)
    if highs.size > period:
        # Reversed windows put the newest bar first, so argmax/argmin (which take the first of equal
        # values) give the bars since the most recent extreme.
        newest_first_high = _windows(highs, period + 1)[:, ::-1]
        newest_first_low = _windows(lows, period + 1)[:, ::-1]
        since_high = newest_first_high.argmax(axis=1).astype(np.float64)
        since_low = newest_first_low.argmin(axis=1).astype(np.float64)
        unknown = np.isnan(newest_first_high).any(axis=1) | np.isnan(newest_first_low).any(axis=1)
        since_high[unknown] = since_low[unknown] = np.nan
        # TA-Lib's formulas (the oscillator is not up - down), so the values match it bit for bit.
        factor = 100.0 / period
        up[period:] = factor * (period - since_high)
        down[period:] = factor * (period - since_low)
        oscillator[period:] = factor * (since_low - since_high)
    return _lists(up=up, down=down, oscillator=oscillator)


@_quietly
def elder_ray(
    high: Sequence[float], low: Sequence[float], close: Sequence[float], period: int = 13
) -> dict[str, list[float]]:
    """Elder ray (Elder, 'Trading for a Living', 1993); no TA-Lib equivalent.

    ``bull_power = high - EMA(close, period)`` and ``bear_power = low - EMA(close, period)``, the EMA
    seeded as ``ema()`` is. Both are NaN for the first ``period - 1`` positions.
    """
    highs, lows, closes = _inputs("elder_ray", high=high, low=low, close=close)
    period = _period(period, indicator="elder_ray", argument="period")
    average = _ema(closes, period, period - 1)
    return _lists(bull_power=highs - average, bear_power=lows - average)


@_quietly
def mass_index(
    high: Sequence[float], low: Sequence[float], period: int = 25, ema_period: int = 9
) -> list[float]:
    """Mass index (Dorsey, 1992), as TA-Lib's MASSI (``slowperiod=period``, ``fastperiod=ema_period``).

    With the range ``r = high - low``, ``e1 = EMA(r, ema_period)`` and ``e2 = EMA(e1, ema_period)``
    (each seeded as ``ema()`` is), the sum of ``e1 / e2`` over the last ``period`` bars. A ratio of
    0 / 0 (no range at all so far) counts as 1, as in TA-Lib. The first
    ``period + 2 * ema_period - 3`` positions are NaN (40 with the defaults).
    """
    highs, lows = _inputs("mass_index", high=high, low=low)
    period = _period(period, indicator="mass_index", argument="period")
    ema_period = _period(ema_period, indicator="mass_index", argument="ema_period")
    single = _ema(highs - lows, ema_period, ema_period - 1)
    double = _ema(single, ema_period, 2 * ema_period - 2)
    return _rolling(_ratio(single, double, if_zero=1.0), period, "sum").tolist()


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "macd",
        macd,
        "Moving average convergence/divergence: EMA(fast) - EMA(slow), its EMA signal line and the "
        "histogram between them.",
        signature="macd(values, fast=12, slow=26, signal=9)",
        returns="dict: macd, signal, histogram",
        source="TA-Lib MACD",
    ),
    Indicator(
        "ppo",
        ppo,
        "Percentage price oscillator: (MA(fast) - MA(slow)) / MA(slow) in percent, EMA or SMA.",
        signature='ppo(values, fast=12, slow=26, ma="ema")',
        source="TA-Lib PPO",
    ),
    Indicator(
        "awesome_oscillator",
        awesome_oscillator,
        "Awesome oscillator: SMA(fast) - SMA(slow) of the median price (high + low) / 2.",
        signature="awesome_oscillator(high, low, fast=5, slow=34)",
        source="TA-Lib AO",
    ),
    Indicator(
        "accelerator_oscillator",
        accelerator_oscillator,
        "Accelerator oscillator: the awesome oscillator minus its SMA(signal).",
        signature="accelerator_oscillator(high, low, fast=5, slow=34, signal=5)",
        source="TA-Lib AC",
    ),
    Indicator(
        "rsi",
        rsi,
        "Relative strength index, 0 to 100, with Wilder's smoothing of gains and losses.",
        signature="rsi(values, period=14)",
        source="TA-Lib RSI",
    ),
    Indicator(
        "cmo",
        cmo,
        "Chande momentum oscillator, -100 to 100: (gain - loss) / (gain + loss), Wilder-smoothed.",
        signature="cmo(values, period=14)",
        source="TA-Lib CMO",
    ),
    Indicator(
        "stochastic_rsi",
        stochastic_rsi,
        "Stochastic RSI: where the RSI stands in its recent range (k), and the SMA of that (d).",
        signature="stochastic_rsi(values, period=14, k_period=5, d_period=3)",
        returns="dict: k, d",
        source="TA-Lib STOCHRSI",
    ),
    Indicator(
        "stoch",
        stoch,
        "Slow stochastic: where the close stands in the high-low range, smoothed (k), and its SMA (d).",
        aliases=("stochastic",),
        signature="stoch(high, low, close, k_period=14, k_smooth=3, d_period=3)",
        returns="dict: k, d",
        source="TA-Lib STOCH (SMA smoothing)",
    ),
    Indicator(
        "williams_r",
        williams_r,
        "Williams' %R, -100 to 0: where the close stands below the highest high of the range.",
        signature="williams_r(high, low, close, period=14)",
        source="TA-Lib WILLR",
    ),
    Indicator(
        "ultimate_oscillator",
        ultimate_oscillator,
        "Ultimate oscillator, 0 to 100: buying pressure over true range on three horizons, weighted 4:2:1.",
        signature="ultimate_oscillator(high, low, close, period1=7, period2=14, period3=28)",
        source="TA-Lib ULTOSC",
    ),
    Indicator(
        "cci",
        cci,
        "Commodity channel index: typical price minus its mean, over 0.015 times the mean deviation.",
        signature="cci(high, low, close, period=14)",
        source="TA-Lib CCI",
    ),
    Indicator(
        "advanced_cci",
        advanced_cci,
        "The commodity channel index smoothed by an EMA of `smooth` bars.",
        signature="advanced_cci(high, low, close, period=14, smooth=5)",
        source="TA-Lib CCI smoothed by an EMA (no standard definition)",
    ),
    Indicator(
        "roc",
        roc,
        "Rate of change in percent: 100 * (value / value `period` bars ago - 1).",
        signature="roc(values, period=10)",
        source="TA-Lib ROC",
    ),
    Indicator(
        "price_roc",
        price_roc,
        "Rate of change as a fraction: value / value `period` bars ago - 1 (0.05 for +5%).",
        signature="price_roc(values, period=10)",
        source="TA-Lib ROCP",
    ),
    Indicator(
        "tsi",
        tsi,
        "True strength index: the double-smoothed (EMA of EMA) change over the double-smoothed |change|.",
        signature="tsi(values, long=25, short=13)",
        source="TA-Lib TSI",
    ),
    Indicator(
        "kst",
        kst,
        "Know Sure Thing: weighted sum of four smoothed rates of change, and its SMA signal line.",
        signature="kst(values, roc1=10, roc2=15, roc3=20, roc4=30, sma1=10, sma2=10, sma3=10, sma4=15, "
        "signal=9)",
        returns="dict: kst, signal",
        source="Martin Pring, 'Summed Rate of Change (KST)', Technical Analysis of Stocks & Commodities, "
        "1992",
    ),
    Indicator(
        "coppock_curve",
        coppock_curve,
        "Coppock curve: WMA of the sum of two rates of change.",
        signature="coppock_curve(values, roc1=14, roc2=11, wma=10)",
        source="TA-Lib COPPOCK",
    ),
    Indicator(
        "stc",
        stc,
        "Schaff trend cycle, 0 to 100: a doubly stochastic, smoothed MACD.",
        signature="stc(values, fast=23, slow=50, cycle=10)",
        source="Doug Schaff, 'Schaff Trend Cycle' (1999), with his published 0.5 smoothing factor",
    ),
    Indicator(
        "bop",
        bop,
        "Balance of power, -1 to 1: (close - open) / (high - low) of each bar.",
        signature="bop(open, high, low, close)",
        source="TA-Lib BOP",
    ),
    Indicator(
        "rvi",
        rvi,
        "Relative vigor index: smoothed (close - open) over smoothed (high - low), and its signal line.",
        signature="rvi(open, high, low, close, period=10)",
        returns="dict: rvi, signal",
        source="John Ehlers, 'Using the Relative Vigor Index', Technical Analysis of Stocks & Commodities, "
        "January 2002",
    ),
    Indicator(
        "aroon",
        aroon,
        "Aroon: how recent the highest high (up) and lowest low (down) are, and up - down.",
        signature="aroon(high, low, period=14)",
        returns="dict: up, down, oscillator",
        source="TA-Lib AROON and AROONOSC",
    ),
    Indicator(
        "elder_ray",
        elder_ray,
        "Elder ray: high minus the EMA of the close (bull power), low minus it (bear power).",
        signature="elder_ray(high, low, close, period=13)",
        returns="dict: bull_power, bear_power",
        source="Alexander Elder, 'Trading for a Living' (1993)",
    ),
    Indicator(
        "mass_index",
        mass_index,
        "Mass index: the sum over `period` bars of EMA(range) / EMA(EMA(range)).",
        signature="mass_index(high, low, period=25, ema_period=9)",
        source="TA-Lib MASSI",
    ),
)
"""This family's indicators, in the order they are registered."""
