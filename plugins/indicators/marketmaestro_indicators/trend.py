"""Trend direction and strength: ADX, SAR, Supertrend, Vortex, Ichimoku.

ADX measures how strong a trend is, whatever its direction, and +DI / -DI which way it points;
the Parabolic SAR and the Supertrend are trailing lines that flip sides when the trend turns; the
Vortex lines cross when it does; Ichimoku draws support, resistance and momentum in one picture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from marketmaestro_indicators._series import FloatArray, check_period
from marketmaestro_indicators.indicator import Indicator
from marketmaestro_indicators.volatility import (
    _aligned,
    _check_factor,
    _highest,
    _lowest,
    _nan,
    _ratio,
    _rolling,
    _true_range,
    _wilder_average,
)


def _wilder_sums(values: FloatArray, period: int) -> FloatArray:
    """Wilder's running sum, as TA-Lib's DI computes it, from index ``period - 1`` of ``values`` on.

    It starts from the sum of the first ``period - 1`` values; each further value ``x`` then gives
    ``S = S - S / period + x``.
    """
    total = 0.0
    for value in values[: period - 1].tolist():  # sequential, in TA-Lib's order
        total += value
    sums = []
    for value in values[period - 1 :].tolist():
        total = total - total / period + value
        sums.append(total)
    return np.array(sums)


def adx(
    high: Sequence[float], low: Sequence[float], close: Sequence[float], period: int = 14
) -> dict[str, list[float]]:
    """Wilder's directional movement system: ADX with +DI and -DI, as TA-Lib's ADX, PLUS_DI, MINUS_DI.

    From bar 1: ``up = high[i] - high[i-1]``, ``down = low[i-1] - low[i]``; ``+DM = up`` when
    ``up > down`` and ``up > 0``, ``-DM = down`` when ``down > up`` and ``down > 0``, else 0; ``TR``
    the true range. Each is smoothed with Wilder's running sum: the sum of the first ``period - 1``
    values, then ``S = S - S / period + x``. ``+DI = 100 * S(+DM) / S(TR)`` (0 while ``S(TR)`` is 0, a
    range of flat bars), likewise ``-DI``; ``DX = 100 * |+DI - -DI| / (+DI + -DI)``. The first ADX is
    the mean of the first ``period`` DX values, then ``ADX = (ADX * (period - 1) + DX) / period``; on a
    bar where ``+DI + -DI`` is 0, DX is undefined and ADX keeps its previous value (as TA-Lib does).

    ``plus_di`` and ``minus_di`` start at index ``period``, ``adx`` at ``2 * period - 1``. For
    ``period`` 1, TA-Lib's PLUS_DI and MINUS_DI return the fraction without the factor 100 and its ADX
    refuses the period; here the same formulas simply apply.
    """
    high_, low_, close_ = _aligned("adx", high=high, low=low, close=close)
    period = check_period(period, indicator="adx")
    length = len(high_)
    plus_di, minus_di, average = _nan(length), _nan(length), _nan(length)
    if length <= period:
        return {"adx": average.tolist(), "plus_di": plus_di.tolist(), "minus_di": minus_di.tolist()}
    up, down = high_[1:] - high_[:-1], low_[:-1] - low_[1:]
    plus_sum = _wilder_sums(np.where((up > down) & (up > 0), up, 0.0), period)
    minus_sum = _wilder_sums(np.where((down > up) & (down > 0), down, 0.0), period)
    range_sum = _wilder_sums(_true_range(high_, low_, close_)[1:], period)
    with np.errstate(divide="ignore", invalid="ignore"):  # the zero cases are replaced just below
        plus_di[period:] = np.where(range_sum != 0, 100.0 * (plus_sum / range_sum), 0.0)
        minus_di[period:] = np.where(range_sum != 0, 100.0 * (minus_sum / range_sum), 0.0)
        total = plus_di[period:] + minus_di[period:]
        movement = (100.0 * (np.abs(minus_di[period:] - plus_di[period:]) / total)).tolist()
    # DX is undefined where +DI + -DI is 0 (no directional movement at all): as in TA-Lib it counts
    # as 0 in the first average and leaves the ADX unchanged afterwards. A NaN input still propagates.
    defined = (total != 0).tolist()
    if len(movement) >= period:
        previous = sum(dx for dx, ok in zip(movement[:period], defined[:period], strict=True) if ok) / period
        smoothed = [previous]
        for dx, ok in zip(movement[period:], defined[period:], strict=True):
            if ok:
                previous = (previous * (period - 1) + dx) / period
            smoothed.append(previous)
        average[2 * period - 1 :] = smoothed
    return {"adx": average.tolist(), "plus_di": plus_di.tolist(), "minus_di": minus_di.tolist()}


def parabolic_sar(
    high: Sequence[float], low: Sequence[float], acceleration: float = 0.02, maximum: float = 0.2
) -> list[float]:
    """Wilder's Parabolic SAR (stop and reverse), exactly as TA-Lib's SAR.

    The first trend is short when bar 1's down move ``low[0] - low[1]`` is positive and larger than its
    up move ``high[1] - high[0]``, long otherwise; it starts from bar 0's low (long) or high (short),
    with bar 1's extreme as the extreme point ``ep``. Each bar, ``sar += af * (ep - sar)``, kept
    outside the range of the current and previous bar; ``af`` starts at ``acceleration`` and grows by
    it (up to ``maximum``) each time a new extreme is made. When a bar's range touches the SAR the trend
    reverses and the SAR jumps to the previous ``ep``. Index 0 is NaN. Below the lows in an up-trend,
    above the highs in a down-trend. ``acceleration`` must not exceed ``maximum`` (TA-Lib silently
    lowers it instead).
    """
    high_, low_ = _aligned("parabolic_sar", high=high, low=low)
    step = _check_factor(acceleration, indicator="parabolic_sar", argument="acceleration")
    ceiling = _check_factor(maximum, indicator="parabolic_sar", argument="maximum")
    if step > ceiling:
        raise ValueError(
            f"parabolic_sar(): acceleration must be <= maximum, got acceleration {acceleration!r} "
            f"and maximum {maximum!r}"
        )
    length = len(high_)
    if length < 2:
        return [math.nan] * length
    highs, lows = high_.tolist(), low_.tolist()
    up, down = highs[1] - highs[0], lows[0] - lows[1]
    is_long = not (down > 0 and down > up)
    sar, extreme = (lows[0], highs[1]) if is_long else (highs[0], lows[1])
    factor = step
    # On the first bar, bar 1 stands in for its own previous bar, as in TA-Lib.
    previous_high, previous_low = highs[1], lows[1]
    result = [math.nan]
    for today_high, today_low in zip(highs[1:], lows[1:], strict=True):
        if is_long and today_low <= sar:
            is_long, factor = False, step
            sar = max(extreme, previous_high, today_high)
            result.append(sar)
            extreme = today_low
            sar = max(sar + factor * (extreme - sar), previous_high, today_high)
        elif is_long:
            result.append(sar)
            if today_high > extreme:
                extreme, factor = today_high, min(factor + step, ceiling)
            sar = min(sar + factor * (extreme - sar), previous_low, today_low)
        elif today_high >= sar:
            is_long, factor = True, step
            sar = min(extreme, previous_low, today_low)
            result.append(sar)
            extreme = today_high
            sar = min(sar + factor * (extreme - sar), previous_low, today_low)
        else:
            result.append(sar)
            if today_low < extreme:
                extreme, factor = today_low, min(factor + step, ceiling)
            sar = max(sar + factor * (extreme - sar), previous_high, today_high)
        previous_high, previous_low = today_high, today_low
    return result


def supertrend(
    high: Sequence[float],
    low: Sequence[float],
    close: Sequence[float],
    period: int = 10,
    multiplier: float = 3.0,
) -> list[float]:
    """Supertrend: a trailing line below the price in an up-trend and above it in a down-trend.

    Basic bands ``(high + low) / 2 ± multiplier * atr(period)``. The final lower band only rises (it
    takes the basic one when that is higher, or when the previous close fell below it) and the final
    upper band only falls, symmetrically. In an up-trend the line is the final lower band, and the
    trend turns down on a close below it; in a down-trend the line is the final upper band, and the
    trend turns up on a close above it. The first bar (index ``period``, when the ATR starts) is a
    down-trend, as in TradingView's ``ta.supertrend``; the first ``period`` positions are NaN.

    Reading the direction: ``close[i] > line[i]`` means up, ``close[i] < line[i]`` down (equality
    keeps the previous bar's direction).
    """
    name = "supertrend"
    high_, low_, close_ = _aligned(name, high=high, low=low, close=close)
    period = check_period(period, indicator=name)
    factor = _check_factor(multiplier, indicator=name, argument="multiplier")
    offset = factor * _wilder_average(_true_range(high_, low_, close_), period, start=1)
    middle = (high_ + low_) / 2
    result = _nan(len(close_))
    if len(close_) <= period:
        return result.tolist()
    basic_upper = (middle + offset)[period:].tolist()
    basic_lower = (middle - offset)[period:].tolist()
    closes = close_[period - 1 :].tolist()  # closes[k] is the close before basic_*[k]'s bar
    upper, lower, is_up = basic_upper[0], basic_lower[0], False
    line = [upper]
    for k in range(1, len(basic_upper)):
        previous_close, today_close = closes[k], closes[k + 1]
        if basic_upper[k] < upper or previous_close > upper:
            upper = basic_upper[k]
        if basic_lower[k] > lower or previous_close < lower:
            lower = basic_lower[k]
        is_up = not today_close < lower if is_up else today_close > upper
        line.append(lower if is_up else upper)
    result[period:] = line
    return result.tolist()


def vortex(
    high: Sequence[float], low: Sequence[float], close: Sequence[float], period: int = 14
) -> dict[str, list[float]]:
    """Vortex indicator: upward and downward movement, each over the true range of ``period`` bars.

    ``VM+ = |high[i] - low[i-1]|``, ``VM- = |low[i] - high[i-1]|``; ``vi_plus = sum(VM+) / sum(TR)``
    and ``vi_minus = sum(VM-) / sum(TR)`` over the last ``period`` bars. NaN where the true range sums
    to 0 over the window (only flat bars), and in the first ``period`` positions.
    """
    high_, low_, close_ = _aligned("vortex", high=high, low=low, close=close)
    period = check_period(period, indicator="vortex")
    plus, minus = _nan(len(high_)), _nan(len(high_))
    plus[1:], minus[1:] = np.abs(high_[1:] - low_[:-1]), np.abs(low_[1:] - high_[:-1])
    ranges = _rolling(_true_range(high_, low_, close_), period, np.sum)
    return {
        "vi_plus": _ratio(_rolling(plus, period, np.sum), ranges).tolist(),
        "vi_minus": _ratio(_rolling(minus, period, np.sum), ranges).tolist(),
    }


def _midpoint(high: FloatArray, low: FloatArray, period: int) -> FloatArray:
    return (_highest(high, period) + _lowest(low, period)) / 2


def _shifted(values: FloatArray, bars: int) -> FloatArray:
    """``values`` moved ``bars`` positions later (earlier when negative), NaN where nothing moved in."""
    result = _nan(len(values))
    if bars >= 0 and bars < len(values):
        result[bars:] = values[: len(values) - bars]
    elif bars < 0 and -bars < len(values):
        result[:bars] = values[-bars:]
    return result


def ichimoku(
    high: Sequence[float],
    low: Sequence[float],
    close: Sequence[float],
    tenkan: int = 9,
    kijun: int = 26,
    senkou: int = 52,
    displacement: int = 26,
) -> dict[str, list[float]]:
    """Ichimoku Kinko Hyo, every line aligned with the bar it is drawn at on a chart.

    ``tenkan_sen`` and ``kijun_sen`` are the midpoints ``(highest high + lowest low) / 2`` of the last
    ``tenkan`` and ``kijun`` bars. The cloud is drawn ``displacement`` bars ahead of where it is
    computed: ``senkou_span_a[i] = (tenkan_sen + kijun_sen)[i - displacement] / 2`` and
    ``senkou_span_b[i]`` is the midpoint of the ``senkou`` bars ending at ``i - displacement``. So
    ``senkou_span_a[-1]`` is the cloud under the latest bar; the part of the cloud drawn beyond the
    latest bar is not returned (compute ``(tenkan_sen[j] + kijun_sen[j]) / 2`` for it). The lagging
    line is drawn ``displacement`` bars back: ``chikou_span[i] = close[i + displacement]``, so its last
    ``displacement`` positions are NaN, and the latest close is ``chikou_span[-displacement - 1]``.

    Warm-up: ``tenkan - 1``, ``kijun - 1``, ``max(tenkan, kijun) - 1 + displacement`` and
    ``senkou - 1 + displacement`` leading NaNs.
    """
    name = "ichimoku"
    high_, low_, close_ = _aligned(name, high=high, low=low, close=close)
    tenkan = check_period(tenkan, indicator=name, argument="tenkan")
    kijun = check_period(kijun, indicator=name, argument="kijun")
    senkou = check_period(senkou, indicator=name, argument="senkou")
    # displacement 0 is allowed: the lines where they are computed rather than where they are drawn.
    shift = check_period(displacement, indicator=name, argument="displacement", minimum=0)
    conversion, base = _midpoint(high_, low_, tenkan), _midpoint(high_, low_, kijun)
    return {
        "tenkan_sen": conversion.tolist(),
        "kijun_sen": base.tolist(),
        "senkou_span_a": _shifted((conversion + base) / 2, shift).tolist(),
        "senkou_span_b": _shifted(_midpoint(high_, low_, senkou), shift).tolist(),
        "chikou_span": _shifted(close_, -shift).tolist(),
    }


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "adx",
        adx,
        "Average directional index with the +DI and -DI lines (Wilder smoothing).",
        signature="adx(high, low, close, period=14)",
        returns="dict: adx, plus_di, minus_di",
        source="TA-Lib ADX, PLUS_DI, MINUS_DI",
    ),
    Indicator(
        "parabolic_sar",
        parabolic_sar,
        "Parabolic stop and reverse: a trailing stop that accelerates with the trend.",
        signature="parabolic_sar(high, low, acceleration=0.02, maximum=0.2)",
        source="TA-Lib SAR",
    ),
    Indicator(
        "supertrend",
        supertrend,
        "Supertrend line: below the close in an up-trend, above it in a down-trend (ATR bands).",
        signature="supertrend(high, low, close, period=10, multiplier=3.0)",
        source="Olivier Seban's Supertrend, as TradingView's ta.supertrend",
    ),
    Indicator(
        "vortex",
        vortex,
        "Vortex indicator: VI+ and VI-, up and down movement over the true range of `period` bars.",
        signature="vortex(high, low, close, period=14)",
        returns="dict: vi_plus, vi_minus",
        source="Botes & Siepman, The Vortex Indicator, TASC January 2010",
    ),
    Indicator(
        "ichimoku",
        ichimoku,
        "Ichimoku cloud, each line aligned with the bar it is drawn at (spans shifted ahead, chikou back).",
        signature="ichimoku(high, low, close, tenkan=9, kijun=26, senkou=52, displacement=26)",
        returns="dict: tenkan_sen, kijun_sen, senkou_span_a, senkou_span_b, chikou_span",
        source="Goichi Hosoda, Ichimoku Kinko Hyo",
    ),
)
"""This family's indicators, in the order they are registered."""
