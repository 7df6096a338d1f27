"""Volume: flows of money and volume, and where volume traded.

Every indicator here but ``volume_profile`` returns one value per bar; ``volume_profile`` describes
the whole input at once (volume by price level). Bars without volume or without range are common
in crypto (quiet minutes on a thin pair), and none of these indicators returns an infinity for them:
each section says what it returns instead, either the formula's neutral value (a bar whose high
equals its low adds nothing to the A/D line) or NaN where the formula is 0 / 0 (an MFI window in
which no money flowed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from marketmaestro_indicators._series import FloatArray, as_series, check_period
from marketmaestro_indicators.indicator import Indicator
from marketmaestro_indicators.volatility import _aligned, _check_factor, _ema, _nan, _ratio, _rolling


def _typical(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    return (high + low + close) / 3.0


def _money_flow_volume(
    high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray
) -> FloatArray:
    """Per bar ``((close - low) - (high - close)) / (high - low) * volume``, 0 where high equals low."""
    result = np.zeros(len(close))
    # TA-Lib's AD and ADOSC evaluate the expression in this order; keeping it keeps the last bits.
    np.divide((close - low) - (high - close), high - low, out=result, where=high != low)
    return result * volume


def obv(close: Sequence[float], volume: Sequence[float]) -> list[float]:
    """On-balance volume, as TA-Lib's OBV: a running total of volume signed by the close's direction.

    ``obv[0] = volume[0]``; then ``obv[i] = obv[i-1] + volume[i]`` when the close rose, ``- volume[i]``
    when it fell, unchanged when it did not move. No warm-up.
    """
    close_, volume_ = _aligned("obv", close=close, volume=volume)
    flows = volume_.copy()
    flows[1:] *= np.sign(close_[1:] - close_[:-1])
    return np.cumsum(flows).tolist()


def mfi(
    high: Sequence[float],
    low: Sequence[float],
    close: Sequence[float],
    volume: Sequence[float],
    period: int = 14,
) -> list[float]:
    """Money flow index, as TA-Lib's MFI: a volume-weighted RSI of the typical price.

    Typical price ``tp = (high + low + close) / 3``, money flow ``tp * volume``, positive when ``tp``
    rose from the bar before and negative when it fell (neither when unchanged). Over the last
    ``period`` bars: ``mfi = 100 * positive / (positive + negative)``. The first ``period`` positions
    are NaN. Where no money flowed in the whole window (zero volume or an unchanged ``tp`` on every
    bar) the result is NaN, where TA-Lib returns 0.
    """
    high_, low_, close_, volume_ = _aligned("mfi", high=high, low=low, close=close, volume=volume)
    period = check_period(period, indicator="mfi")
    typical = _typical(high_, low_, close_)
    flow, change = typical * volume_, _nan(len(typical))
    change[1:] = typical[1:] - typical[:-1]
    # Bar 0 has no change, so its NaN makes the windows reaching back to it warm-up; a NaN in the
    # input likewise spoils exactly the windows that contain it.
    unknown = np.isnan(change) | np.isnan(flow)
    positive = _rolling(np.where(unknown, np.nan, np.where(change > 0, flow, 0.0)), period, np.sum)
    negative = _rolling(np.where(unknown, np.nan, np.where(change < 0, flow, 0.0)), period, np.sum)
    return (100.0 * _ratio(positive, positive + negative)).tolist()


def vwap(
    high: Sequence[float], low: Sequence[float], close: Sequence[float], volume: Sequence[float]
) -> list[float]:
    """Volume-weighted average price of the typical price, cumulative over the whole input.

    ``vwap[i] = sum(tp[0..i] * volume[0..i]) / sum(volume[0..i])`` with ``tp = (high + low + close) / 3``.
    It never resets (no daily session): pass the bars since the anchor you want, e.g. today's. NaN
    while the cumulative volume is still 0.
    """
    high_, low_, close_, volume_ = _aligned("vwap", high=high, low=low, close=close, volume=volume)
    traded = np.cumsum(_typical(high_, low_, close_) * volume_)
    return _ratio(traded, np.cumsum(volume_)).tolist()


def money_flow_volume(
    high: Sequence[float], low: Sequence[float], close: Sequence[float], volume: Sequence[float]
) -> list[float]:
    """Each bar's money-flow volume, the step of the accumulation/distribution line.

    ``((close - low) - (high - close)) / (high - low) * volume``: the volume weighted by where the close
    sits in the bar's range, from ``-volume`` at the low to ``+volume`` at the high. 0 for a bar whose
    high equals its low (no range to place the close in), as TA-Lib's AD. No warm-up.
    """
    arrays = _aligned("money_flow_volume", high=high, low=low, close=close, volume=volume)
    return _money_flow_volume(*arrays).tolist()


def accumulation_distribution(
    high: Sequence[float], low: Sequence[float], close: Sequence[float], volume: Sequence[float]
) -> list[float]:
    """Chaikin's accumulation/distribution line, as TA-Lib's AD: the running total of money-flow volume.

    ``ad[i] = ad[i-1] + money_flow_volume[i]``, from ``ad[0] = money_flow_volume[0]``: see
    ``money_flow_volume``. A bar whose high equals its low adds 0. No warm-up.
    """
    arrays = _aligned("accumulation_distribution", high=high, low=low, close=close, volume=volume)
    return np.cumsum(_money_flow_volume(*arrays)).tolist()


def chaikin_oscillator(
    high: Sequence[float],
    low: Sequence[float],
    close: Sequence[float],
    volume: Sequence[float],
    fast: int = 3,
    slow: int = 10,
) -> list[float]:
    """Chaikin A/D oscillator, as TA-Lib's ADOSC: ``ema(ad, fast) - ema(ad, slow)`` of the A/D line.

    Unlike ``ema``, both averages are seeded with the first A/D value (TA-Lib's and MetaStock's
    choice), ``e[0] = ad[0]``, ``e[i] = k * ad[i] + (1 - k) * e[i-1]`` with ``k = 2 / (period + 1)``.
    The first ``max(fast, slow) - 1`` positions are NaN.
    """
    name = "chaikin_oscillator"
    arrays = _aligned(name, high=high, low=low, close=close, volume=volume)
    fast = check_period(fast, indicator=name, argument="fast")
    slow = check_period(slow, indicator=name, argument="slow")
    line = np.cumsum(_money_flow_volume(*arrays)).tolist()
    warm_up = max(fast, slow) - 1
    if len(line) <= warm_up:
        return [math.nan] * len(line)
    fast_k, slow_k = 2.0 / (fast + 1.0), 2.0 / (slow + 1.0)
    fast_ema = slow_ema = line[0]
    result = [0.0]
    for value in line[1:]:
        fast_ema = fast_k * value + (1.0 - fast_k) * fast_ema
        slow_ema = slow_k * value + (1.0 - slow_k) * slow_ema
        result.append(fast_ema - slow_ema)
    return [math.nan] * warm_up + result[warm_up:]


def chaikin_money_flow(
    high: Sequence[float],
    low: Sequence[float],
    close: Sequence[float],
    volume: Sequence[float],
    period: int = 20,
) -> list[float]:
    """Chaikin money flow: ``sum(money_flow_volume) / sum(volume)`` over the last ``period`` bars.

    Between -1 and 1. The first ``period - 1`` positions are NaN, as is a window without volume.
    """
    name = "chaikin_money_flow"
    high_, low_, close_, volume_ = _aligned(name, high=high, low=low, close=close, volume=volume)
    period = check_period(period, indicator=name)
    flows = _rolling(_money_flow_volume(high_, low_, close_, volume_), period, np.sum)
    return _ratio(flows, _rolling(volume_, period, np.sum)).tolist()


def emv(
    high: Sequence[float],
    low: Sequence[float],
    volume: Sequence[float],
    period: int = 14,
    divisor: float = 100_000_000,
) -> list[float]:
    """Arms' ease of movement, smoothed with an SMA of ``period`` bars.

    Per bar from index 1: ``distance = (high + low) / 2 - (previous high + previous low) / 2``,
    ``box_ratio = (volume / divisor) / (high - low)``, ``emv = distance / box_ratio``. ``divisor``
    only scales the result (StockCharts uses 100,000,000; choose one that makes the numbers
    readable for the pair's volume). A bar with high equal to low moves with no ease at all: 0. A bar
    with a range but no volume is NaN (the ratio is infinite), which makes the ``period`` averages
    containing it NaN. The first ``period`` positions are NaN.
    """
    high_, low_, volume_ = _aligned("emv", high=high, low=low, volume=volume)
    period = check_period(period, indicator="emv")
    scale = _check_factor(divisor, indicator="emv", argument="divisor", positive=True)
    middle, spread = (high_ + low_) / 2, high_ - low_
    ease = _nan(len(high_))
    if len(high_) > 1:
        # distance * spread / (volume / scale), the same as distance / box_ratio without dividing by 0.
        moved = (middle[1:] - middle[:-1]) * spread[1:]
        ease[1:] = np.where(spread[1:] == 0, 0.0, _ratio(moved, volume_[1:] / scale))
    return _rolling(ease, period, np.mean).tolist()


def force_index(close: Sequence[float], volume: Sequence[float], period: int = 13) -> list[float]:
    """Elder's force index smoothed: the ``ema`` of ``(close[i] - close[i-1]) * volume[i]``.

    The raw force starts at index 1; its EMA is seeded, as ``ema`` is, with the mean of the first
    ``period`` raw values, so the first ``period`` positions are NaN. ``period`` 13 is Elder's
    intermediate-term setting, 2 his short-term one; ``elder_force_index`` is the unsmoothed value.
    """
    close_, volume_ = _aligned("force_index", close=close, volume=volume)
    period = check_period(period, indicator="force_index")
    return _ema(_raw_force(close_, volume_), period, start=1).tolist()


def _raw_force(close: FloatArray, volume: FloatArray) -> FloatArray:
    force = _nan(len(close))
    force[1:] = (close[1:] - close[:-1]) * volume[1:]
    return force


def elder_force_index(close: Sequence[float], volume: Sequence[float]) -> list[float]:
    """Elder's force index as he defines it, one bar at a time: ``(close[i] - close[i-1]) * volume[i]``.

    Index 0 is NaN. ``force_index`` is its EMA (13 bars by default); this raw value equals
    ``force_index(close, volume, 1)``.
    """
    close_, volume_ = _aligned("elder_force_index", close=close, volume=volume)
    return _raw_force(close_, volume_).tolist()


def klinger_oscillator(
    high: Sequence[float],
    low: Sequence[float],
    close: Sequence[float],
    volume: Sequence[float],
    fast: int = 34,
    slow: int = 55,
    signal: int = 13,
) -> dict[str, list[float]]:
    """Klinger volume oscillator in the volume-force form of TradingView's built-in and pandas-ta.

    From index 1, the volume force is ``+volume`` when the typical price ``(high + low + close) / 3``
    did not fall from the bar before and ``-volume`` when it fell; ``klinger = ema(vf, fast) -
    ema(vf, slow)`` and ``signal = ema(klinger, signal)``, each an ``ema`` seeded with an SMA.
    Klinger's original force also weighs the volume by a ratio of cumulative ranges, which published
    versions write in incompatible ways and which divides by zero on flat bars; it is left out.
    ``klinger`` starts at index ``max(fast, slow)``, ``signal`` ``signal - 1`` bars later.
    """
    name = "klinger_oscillator"
    high_, low_, close_, volume_ = _aligned(name, high=high, low=low, close=close, volume=volume)
    fast = check_period(fast, indicator=name, argument="fast")
    slow = check_period(slow, indicator=name, argument="slow")
    signal = check_period(signal, indicator=name, argument="signal")
    typical = _typical(high_, low_, close_)
    force = _nan(len(typical))
    change = typical[1:] - typical[:-1]
    force[1:] = np.where(change < 0, -volume_[1:], np.where(change >= 0, volume_[1:], np.nan))
    line = _ema(force, fast, start=1) - _ema(force, slow, start=1)
    return {"klinger": line.tolist(), "signal": _ema(line, signal, start=max(fast, slow)).tolist()}


def volume_profile(close: Sequence[float], volume: Sequence[float], bins: int = 24) -> dict[str, list[float]]:
    """Volume by price over the whole input: not a series but one profile of ``bins`` price levels.

    The range from the lowest to the highest close is cut into ``bins`` equal bins (the highest close
    falls in the last); each bar's volume goes to the bin of its close. ``price`` holds the bin
    centres in ascending order and ``volume`` the total volume of each bin, both ``bins`` long; the
    point of control is the price with the most volume. Bars whose close or volume is NaN or infinite
    are left out. When every close is the same, the profile is that one price with all the volume
    (lists of length 1); with no usable bar, both lists are empty.
    """
    close_, volume_ = _aligned("volume_profile", close=close, volume=volume)
    bins = check_period(bins, indicator="volume_profile", argument="bins")
    usable = np.isfinite(close_) & np.isfinite(volume_)
    prices, volumes = close_[usable], volume_[usable]
    if len(prices) == 0:
        return {"price": [], "volume": []}
    low, high = float(prices.min()), float(prices.max())
    if low == high:
        return {"price": [low], "volume": [float(volumes.sum())]}
    totals, edges = np.histogram(prices, bins=bins, range=(low, high), weights=volumes)
    return {"price": ((edges[:-1] + edges[1:]) / 2).tolist(), "volume": totals.astype(np.float64).tolist()}


def volume_oscillator(volume: Sequence[float], fast: int = 5, slow: int = 10) -> list[float]:
    """Volume oscillator: ``100 * (ema(volume, fast) - ema(volume, slow)) / ema(volume, slow)``.

    The percentage by which recent volume runs above (positive) or below its longer average. The
    first ``max(fast, slow) - 1`` positions are NaN, as is any position where the slow average is 0
    (no volume since the start).
    """
    name = "volume_oscillator"
    series = as_series(volume, indicator=name, argument="volume")
    fast = check_period(fast, indicator=name, argument="fast")
    slow = check_period(slow, indicator=name, argument="slow")
    fast_ema, slow_ema = _ema(series, fast), _ema(series, slow)
    return (100.0 * _ratio(fast_ema - slow_ema, slow_ema)).tolist()


def williams_ad(high: Sequence[float], low: Sequence[float], close: Sequence[float]) -> list[float]:
    """Williams accumulation/distribution (price only, no volume), the running total from index 1 of:

    ``close - min(low, previous close)`` when the close rose, ``close - max(high, previous close)``
    when it fell, 0 when it did not move. Index 0 is NaN (there is no previous close).
    """
    high_, low_, close_ = _aligned("williams_ad", high=high, low=low, close=close)
    result = _nan(len(close_))
    if len(close_) > 1:
        previous, today = close_[:-1], close_[1:]
        rising = today - np.minimum(low_[1:], previous)
        falling = today - np.maximum(high_[1:], previous)
        steps = np.where(today > previous, rising, np.where(today < previous, falling, 0.0))
        steps[np.isnan(today - previous)] = np.nan
        result[1:] = np.cumsum(steps)
    return result.tolist()


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "obv",
        obv,
        "On-balance volume: running total of volume, added on up closes and subtracted on down closes.",
        signature="obv(close, volume)",
        source="TA-Lib OBV",
    ),
    Indicator(
        "mfi",
        mfi,
        "Money flow index: 100 * positive / total money flow of the typical price over `period` bars.",
        signature="mfi(high, low, close, volume, period=14)",
        source="TA-Lib MFI (NaN instead of 0 where no money flowed)",
    ),
    Indicator(
        "vwap",
        vwap,
        "Volume-weighted average typical price, cumulative from the first bar given (no session reset).",
        signature="vwap(high, low, close, volume)",
        source="Cumulative VWAP of (high + low + close) / 3",
    ),
    Indicator(
        "accumulation_distribution",
        accumulation_distribution,
        "Chaikin accumulation/distribution line: running total of the money-flow volume.",
        signature="accumulation_distribution(high, low, close, volume)",
        source="TA-Lib AD",
    ),
    Indicator(
        "chaikin_oscillator",
        chaikin_oscillator,
        "Chaikin oscillator: fast minus slow EMA of the A/D line, EMAs seeded with its first value.",
        signature="chaikin_oscillator(high, low, close, volume, fast=3, slow=10)",
        source="TA-Lib ADOSC",
    ),
    Indicator(
        "chaikin_money_flow",
        chaikin_money_flow,
        "Chaikin money flow: money-flow volume over volume, summed over `period` bars.",
        signature="chaikin_money_flow(high, low, close, volume, period=20)",
        source="Marc Chaikin (StockCharts' definition)",
    ),
    Indicator(
        "emv",
        emv,
        "Ease of movement: midpoint move per unit of volume / range, SMA over `period` bars.",
        signature="emv(high, low, volume, period=14, divisor=100000000)",
        source="Richard Arms (StockCharts' definition, volume / 100,000,000)",
    ),
    Indicator(
        "force_index",
        force_index,
        "Force index: EMA of (close - previous close) * volume.",
        signature="force_index(close, volume, period=13)",
        source="Alexander Elder, Trading for a Living (1993)",
    ),
    Indicator(
        "elder_force_index",
        elder_force_index,
        "Elder's raw one-bar force index: (close - previous close) * volume, without smoothing.",
        signature="elder_force_index(close, volume)",
        source="Alexander Elder, Trading for a Living (1993)",
    ),
    Indicator(
        "klinger_oscillator",
        klinger_oscillator,
        "Klinger oscillator: fast minus slow EMA of volume signed by the typical price, and its signal.",
        signature="klinger_oscillator(high, low, close, volume, fast=34, slow=55, signal=13)",
        returns="dict: klinger, signal",
        source="Stephen Klinger; the volume-force form of TradingView's built-in",
    ),
    Indicator(
        "volume_profile",
        volume_profile,
        "Volume profile: total volume per price bin of the closes, over the whole input.",
        signature="volume_profile(close, volume, bins=24)",
        returns="dict: price, volume (not series: `bins` bin centres, ascending, and their volume)",
        source="Volume-at-price histogram of the closes",
    ),
    Indicator(
        "volume_oscillator",
        volume_oscillator,
        "Volume oscillator: percentage difference between a fast and a slow EMA of volume.",
        signature="volume_oscillator(volume, fast=5, slow=10)",
        source="Percentage volume oscillator (EMAs)",
    ),
    Indicator(
        "williams_ad",
        williams_ad,
        "Williams accumulation/distribution: running total of closes against the true range's far end.",
        signature="williams_ad(high, low, close)",
        source="Larry Williams (the price-only form MetaStock implements)",
    ),
    Indicator(
        "money_flow_volume",
        money_flow_volume,
        "Money-flow volume of each bar, the step of the A/D line: volume weighted by the close's place.",
        signature="money_flow_volume(high, low, close, volume)",
        source="Marc Chaikin, the A/D line's per-bar term",
    ),
)
"""This family's indicators, in the order they are registered."""
