"""Volume indicators: against TA-Lib where it has them, hand-computed values, pure-Python references."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pytest
import talib

from marketmaestro_indicators import testing as checks
from marketmaestro_indicators.moving_averages import ema
from marketmaestro_indicators.testing import assert_series, by_key, joined
from marketmaestro_indicators.volume import (
    INDICATORS,
    accumulation_distribution,
    chaikin_money_flow,
    chaikin_oscillator,
    elder_force_index,
    emv,
    force_index,
    klinger_oscillator,
    mfi,
    money_flow_volume,
    obv,
    volume_oscillator,
    volume_profile,
    vwap,
    williams_ad,
)

NAN = math.nan
Data = dict[str, list[float]]
Result = Any  # what an indicator returns: a series, or a dict of them

SERIES = ("high", "low", "close", "volume")


def series_names(function: Callable[..., Result]) -> list[str]:
    return checks.series_names(function, SERIES)


def call(function: Callable[..., Result], data: Mapping[str, Sequence[float]], **params: Any) -> Result:
    """``function`` applied to the fixture's columns its signature names."""
    return checks.call(function, data, SERIES, **params)


# Leading NaNs with the default parameters, per output key ("" for a single series).
WARM_UP: dict[Callable[..., Result], dict[str, int]] = {
    obv: {"": 0},
    mfi: {"": 14},
    vwap: {"": 0},
    accumulation_distribution: {"": 0},
    chaikin_oscillator: {"": 9},
    chaikin_money_flow: {"": 19},
    emv: {"": 14},
    force_index: {"": 13},
    elder_force_index: {"": 1},
    klinger_oscillator: {"klinger": 55, "signal": 67},
    volume_oscillator: {"": 9},
    williams_ad: {"": 1},
    money_flow_volume: {"": 0},
}
SERIES_FUNCTIONS = list(WARM_UP)
FUNCTIONS = [*SERIES_FUNCTIONS, volume_profile]
EACH = pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__name__)
EACH_SERIES = pytest.mark.parametrize("function", SERIES_FUNCTIONS, ids=lambda f: f.__name__)


def columns(data: Mapping[str, Any]) -> tuple[Any, Any, Any, Any]:
    """High, low, close and volume, in the order the indicators take them."""
    return data["high"], data["low"], data["close"], data["volume"]


# Pure-Python references, written from the published definitions.


def reference_ema(values: Sequence[float], period: int, start: int = 0) -> list[float]:
    """The textbook EMA of ``values[start:]``, seeded with the mean of its first ``period`` values."""
    result = [NAN] * len(values)
    if len(values) >= start + period:
        alpha = 2 / (period + 1)
        result[start + period - 1] = sum(values[start : start + period]) / period
        for i in range(start + period, len(values)):
            result[i] = alpha * values[i] + (1 - alpha) * result[i - 1]
    return result


def typical(data: Data, i: int) -> float:
    return (data["high"][i] + data["low"][i] + data["close"][i]) / 3


def reference_money_flow_volume(data: Data, i: int) -> float:
    high, low, close, volume = (data[key][i] for key in SERIES)
    return 0.0 if high == low else ((close - low) - (high - close)) / (high - low) * volume


def reference_mfi(data: Data, period: int) -> list[float]:
    result = [NAN] * len(data["close"])
    for i in range(period, len(result)):
        positive = negative = 0.0
        for j in range(i - period + 1, i + 1):
            flow = typical(data, j) * data["volume"][j]
            if typical(data, j) > typical(data, j - 1):
                positive += flow
            elif typical(data, j) < typical(data, j - 1):
                negative += flow
        if positive + negative:
            result[i] = 100 * positive / (positive + negative)
    return result


def reference_vwap(data: Data) -> list[float]:
    result, traded, volume = [], 0.0, 0.0
    for i in range(len(data["close"])):
        traded += typical(data, i) * data["volume"][i]
        volume += data["volume"][i]
        result.append(traded / volume if volume else NAN)
    return result


def reference_cmf(data: Data, period: int) -> list[float]:
    result = [NAN] * len(data["close"])
    for i in range(period - 1, len(result)):
        window = range(i - period + 1, i + 1)
        volume = sum(data["volume"][j] for j in window)
        if volume:
            result[i] = sum(reference_money_flow_volume(data, j) for j in window) / volume
    return result


def reference_emv(data: Data, period: int, divisor: float) -> list[float]:
    high, low, volume = data["high"], data["low"], data["volume"]
    ease = [NAN]
    for i in range(1, len(high)):
        distance = (high[i] + low[i]) / 2 - (high[i - 1] + low[i - 1]) / 2
        if high[i] == low[i]:
            ease.append(0.0)
        elif volume[i] == 0:
            ease.append(NAN)
        else:
            ease.append(distance / ((volume[i] / divisor) / (high[i] - low[i])))
    return [sum(ease[i - period + 1 : i + 1]) / period if i >= period else NAN for i in range(len(high))]


def reference_klinger(data: Data, fast: int, slow: int, signal: int) -> dict[str, list[float]]:
    force = [NAN] + [
        data["volume"][i] if typical(data, i) >= typical(data, i - 1) else -data["volume"][i]
        for i in range(1, len(data["close"]))
    ]
    fast_ema, slow_ema = reference_ema(force, fast, 1), reference_ema(force, slow, 1)
    line = [f - s for f, s in zip(fast_ema, slow_ema, strict=True)]
    return {"klinger": line, "signal": reference_ema(line, signal, max(fast, slow))}


def reference_williams_ad(data: Data) -> list[float]:
    high, low, close = data["high"], data["low"], data["close"]
    result, total = [NAN], 0.0
    for i in range(1, len(close)):
        if close[i] > close[i - 1]:
            total += close[i] - min(low[i], close[i - 1])
        elif close[i] < close[i - 1]:
            total += close[i] - max(high[i], close[i - 1])
        result.append(total)
    return result


# Hand-computed values.


def test_obv_of_a_small_series() -> None:
    assert_series(obv([10, 11, 11, 9, 12], [5, 3, 4, 2, 7]), [5, 8, 8, 6, 13])


def test_mfi_of_a_small_series() -> None:
    # Typical prices 10, 11, 10, 10, 12 (flat bars): flows +22, -30, none, +60.
    tp, volume = [10, 11, 10, 10, 12], [1, 2, 3, 4, 5]
    assert_series(mfi(tp, tp, tp, volume, period=2), [NAN, NAN, 2200 / 52, 0.0, 100.0])


def test_mfi_is_nan_where_no_money_flowed() -> None:
    assert_series(mfi([5] * 4, [5] * 4, [5] * 4, [1, 2, 3, 4], 2), [NAN] * 4)
    tp = [10, 11, 12, 13, 14]
    assert_series(mfi(tp, tp, tp, [1, 0, 0, 0, 1], 2), [NAN, NAN, NAN, NAN, 100.0])


def test_vwap_of_a_small_series() -> None:
    tp = [10, 12, 11]
    assert_series(vwap(tp, tp, tp, [0, 2, 2]), [NAN, 12.0, 11.5])
    assert_series(vwap([3, 4], [1, 2], [2, 3], [1, 3]), [2.0, (2 + 9) / 4])
    assert_series(vwap(tp, tp, tp, [0, 0, 0]), [NAN] * 3)


# Bars (high, low, close, volume): close near the top, a flat bar, close on the low, close on the high.
BARS = {"high": [12, 10, 11, 12], "low": [10, 10, 9, 10], "close": [11.5, 10, 9, 12], "volume": [4, 5, 2, 3]}


def test_money_flow_volume_and_accumulation_distribution_of_a_small_series() -> None:
    # (1.5 - 0.5) / 2 * 4; flat bar 0; (0 - 2) / 2 * 2; (2 - 0) / 2 * 3.
    assert_series(money_flow_volume(*columns(BARS)), [2, 0, -2, 3])
    assert_series(accumulation_distribution(*columns(BARS)), [2, 2, 0, 3])


def test_chaikin_oscillator_of_a_small_series() -> None:
    # A/D 2, 2, 0, 3. EMA(2) from 2: 2, 2/3, 2 + 2/9; EMA(3) from 2: 2, 1, 2.
    result = chaikin_oscillator(*columns(BARS), fast=2, slow=3)
    assert_series(result, [NAN, NAN, 2 / 3 - 1, 2 / 9])


def test_chaikin_money_flow_of_a_small_series() -> None:
    assert_series(chaikin_money_flow(*columns(BARS), period=2), [NAN, 2 / 9, -2 / 7, 1 / 5])
    flat = [5.0] * 4
    assert_series(chaikin_money_flow(flat, flat, flat, [0, 0, 0, 1], 2), [NAN, NAN, NAN, 0.0])


def test_emv_of_a_small_series() -> None:
    # Bar 1: midpoint +2, box ratio (200 / 100) / 2 = 1, so 2. Bar 2: no range, 0 (even without
    # volume). Bar 3: a range but no volume, NaN.
    high, low, volume = [10, 12, 12, 13], [8, 10, 12, 11], [100, 200, 0, 0]
    assert_series(emv(high, low, volume, period=1, divisor=100), [NAN, 2.0, 0.0, NAN])
    assert_series(emv(high, low, volume, period=2, divisor=100), [NAN, NAN, 1.0, NAN])
    assert_series(emv(high, low, volume, period=1), [NAN, 2 / (200 / 1e8 / 2), 0.0, NAN])


def test_force_index_of_a_small_series() -> None:
    close, volume = [10, 11, 10.5, 12], [1, 2, 4, 2]
    assert_series(elder_force_index(close, volume), [NAN, 2.0, -2.0, 3.0])
    # EMA(2) of 2, -2, 3: seed 0, then 0 + 2/3 * 3.
    assert_series(force_index(close, volume, period=2), [NAN, NAN, 0.0, 2.0])
    assert_series(force_index(close, volume, period=1), elder_force_index(close, volume))


def test_klinger_oscillator_of_a_small_series() -> None:
    # Volume force +2, +3 (unchanged counts as up), -4, +5, +6. EMA(2) from bar 1: 5/2, -11/6, 49/18,
    # 265/54; EMA(3): 1/3, 8/3, 13/3. Signal EMA(2) of the difference from bar 3: -19/18, 5/162.
    tp, volume = [10, 11, 11, 10, 12, 13], [1, 2, 3, 4, 5, 6]
    result = klinger_oscillator(tp, tp, tp, volume, fast=2, slow=3, signal=2)
    assert list(result) == ["klinger", "signal"]
    assert_series(result["klinger"], [NAN, NAN, NAN, -13 / 6, 1 / 18, 31 / 54])
    assert_series(result["signal"], [NAN] * 4 + [-19 / 18, 5 / 162])


def test_volume_profile_of_a_small_series() -> None:
    # Closes 1..5 in two bins [1, 3) and [3, 5], centred on 2 and 4.
    assert volume_profile([1, 2, 3, 4, 5], [10, 20, 30, 40, 50], bins=2) == {
        "price": [2.0, 4.0],
        "volume": [30.0, 120.0],
    }
    assert volume_profile([1, NAN, 5, 3], [1, 100, 2, math.inf], bins=2) == {
        "price": [2.0, 4.0],
        "volume": [1.0, 2.0],
    }
    assert volume_profile([7, 7], [1, 2]) == {"price": [7.0], "volume": [3.0]}
    assert volume_profile([], []) == {"price": [], "volume": []}
    assert volume_profile([NAN], [1.0]) == {"price": [], "volume": []}


def test_volume_oscillator_of_a_small_series() -> None:
    # EMA(1) is the volume itself; EMA(2): 0, 8/3, 56/9. No slow average yet at bar 1 (it is 0).
    assert_series(volume_oscillator([0, 0, 4, 8], fast=1, slow=2), [NAN, NAN, 50.0, 200 / 7])


def test_williams_ad_of_a_small_series() -> None:
    # Up from 9.5 to 10.8: 10.8 - min(10, 9.5); down to 10: 10 - max(11, 10.8); unchanged: 0.
    result = williams_ad([10, 11, 11, 10.5], [9, 10, 9.5, 9], [9.5, 10.8, 10, 10])
    assert_series(result, [NAN, 1.3, 0.3, 0.3])


# Against TA-Lib.


def test_obv_and_ad_match_talib(ohlcv: Data, arrays: Any) -> None:
    data = arrays(ohlcv)
    assert_series(obv(ohlcv["close"], ohlcv["volume"]), talib.OBV(data["close"], data["volume"]), tol=1e-9)
    expected = talib.AD(*columns(data))
    assert_series(accumulation_distribution(*columns(ohlcv)), expected, tol=1e-9)


@pytest.mark.parametrize(("fast", "slow"), [(3, 10), (2, 5), (10, 3), (12, 26)])
def test_chaikin_oscillator_matches_talib(ohlcv: Data, arrays: Any, fast: int, slow: int) -> None:
    expected = talib.ADOSC(*columns(arrays(ohlcv)), fast, slow)
    assert_series(chaikin_oscillator(*columns(ohlcv), fast, slow), expected, tol=1e-9)


@pytest.mark.parametrize("period", [2, 14, 30])
def test_mfi_matches_talib_except_where_no_money_flowed(ohlcv: Data, arrays: Any, period: int) -> None:
    expected = talib.MFI(*columns(arrays(ohlcv)), period)
    result = mfi(*columns(ohlcv), period)
    reference = reference_mfi(ohlcv, period)
    # TA-Lib answers 0 for a window without money flow; NaN here, and nowhere else.
    empty = [i for i in range(len(result)) if math.isnan(reference[i]) and i >= period]
    assert all(expected[i] == 0.0 for i in empty)
    assert_series(result, [NAN if i in empty else value for i, value in enumerate(expected)], tol=1e-9)
    assert_series(result, reference, tol=1e-9)


def test_mfi_over_a_stretch_without_volume() -> None:
    # 25 bars without volume: the 14-bar windows inside the stretch have no money flow.
    tp = [100.0 + i % 5 for i in range(40)]
    volume = [10.0] * 10 + [0.0] * 25 + [10.0] * 5
    result = mfi(tp, tp, tp, volume)
    assert [i for i in range(14, 40) if math.isnan(result[i])] == list(range(23, 35))


# Against the references.


def test_vwap_matches_the_reference(ohlcv: Data) -> None:
    assert_series(vwap(*columns(ohlcv)), reference_vwap(ohlcv), tol=1e-9)


@pytest.mark.parametrize("period", [1, 5, 20, 50])
def test_chaikin_money_flow_matches_the_reference(ohlcv: Data, period: int) -> None:
    assert_series(chaikin_money_flow(*columns(ohlcv), period), reference_cmf(ohlcv, period), tol=1e-9)


def test_money_flow_volume_adds_up_to_the_ad_line(ohlcv: Data) -> None:
    steps = money_flow_volume(*columns(ohlcv))
    assert_series(steps, [reference_money_flow_volume(ohlcv, i) for i in range(len(steps))], tol=1e-12)
    assert_series(accumulation_distribution(*columns(ohlcv)), np.cumsum(steps).tolist())


@pytest.mark.parametrize(("period", "divisor"), [(14, 100_000_000), (1, 1), (30, 10_000)])
def test_emv_matches_the_reference(ohlcv: Data, period: int, divisor: float) -> None:
    result = emv(ohlcv["high"], ohlcv["low"], ohlcv["volume"], period, divisor)
    assert_series(result, reference_emv(ohlcv, period, divisor), tol=1e-9)


@pytest.mark.parametrize("period", [1, 2, 13, 50])
def test_force_index_is_the_ema_of_the_raw_force(ohlcv: Data, period: int) -> None:
    raw = elder_force_index(ohlcv["close"], ohlcv["volume"])
    close, volume = ohlcv["close"], ohlcv["volume"]
    assert_series(raw, [NAN] + [(close[i] - close[i - 1]) * volume[i] for i in range(1, len(close))])
    result = force_index(close, volume, period)
    assert_series(result, [NAN, *ema(raw[1:], period)], tol=1e-9)
    assert_series(result, reference_ema(raw, period, start=1), tol=1e-9)


@pytest.mark.parametrize(("fast", "slow", "signal"), [(34, 55, 13), (5, 10, 3), (10, 5, 1)])
def test_klinger_oscillator_matches_the_reference(ohlcv: Data, fast: int, slow: int, signal: int) -> None:
    result = klinger_oscillator(*columns(ohlcv), fast, slow, signal)
    expected = reference_klinger(ohlcv, fast, slow, signal)
    assert_series(result["klinger"], expected["klinger"], tol=1e-9)
    assert_series(result["signal"], expected["signal"], tol=1e-9)


@pytest.mark.parametrize("bins", [1, 3, 24, 100])
def test_volume_profile_matches_the_reference(ohlcv: Data, bins: int) -> None:
    close, volume = ohlcv["close"], ohlcv["volume"]
    profile = volume_profile(close, volume, bins)
    low, width = min(close), (max(close) - min(close)) / bins
    expected = [0.0] * bins
    for price, traded in zip(close, volume, strict=True):
        expected[min(int((price - low) / width), bins - 1)] += traded
    assert profile["volume"] == pytest.approx(expected, rel=1e-9)
    assert profile["price"] == pytest.approx([low + width * (i + 0.5) for i in range(bins)], rel=1e-12)
    assert sum(profile["volume"]) == pytest.approx(sum(volume), rel=1e-12)


@pytest.mark.parametrize(("fast", "slow"), [(5, 10), (12, 26), (10, 5)])
def test_volume_oscillator_matches_the_reference(ohlcv: Data, fast: int, slow: int) -> None:
    fast_ema, slow_ema = reference_ema(ohlcv["volume"], fast), reference_ema(ohlcv["volume"], slow)
    expected = [100 * (f - s) / s if s else NAN for f, s in zip(fast_ema, slow_ema, strict=True)]
    assert_series(volume_oscillator(ohlcv["volume"], fast, slow), expected, tol=1e-9)


def test_williams_ad_matches_the_reference(ohlcv: Data) -> None:
    result = williams_ad(ohlcv["high"], ohlcv["low"], ohlcv["close"])
    assert_series(result, reference_williams_ad(ohlcv), tol=1e-9)


# Conventions every indicator follows.


@EACH_SERIES
def test_warm_up_with_the_default_parameters(function: Callable[..., Result], ohlcv: Data) -> None:
    result = by_key(call(function, ohlcv))
    assert list(result) == list(WARM_UP[function])
    for key, output in result.items():
        assert len(output) == len(ohlcv["close"])
        nans = WARM_UP[function][key]
        assert [math.isnan(value) for value in output[: nans + 1]] == [True] * nans + [False]


@EACH
def test_no_infinity_on_real_shaped_data(function: Callable[..., Result], ohlcv: Data) -> None:
    for output in by_key(call(function, ohlcv)).values():
        assert not any(math.isinf(value) for value in output)
        assert all(type(value) is float for value in output)


@EACH_SERIES
def test_input_no_longer_than_the_warm_up_gives_all_nan(function: Callable[..., Result]) -> None:
    assert all(output == [] for output in by_key(call(function, {key: [] for key in SERIES})).values())
    for key, nans in WARM_UP[function].items():
        data = {name: [10.0 + i % 3 for i in range(nans)] for name in SERIES}
        assert_series(by_key(call(function, data))[key], [NAN] * nans)


@EACH
def test_inputs_are_not_modified_and_tuples_are_accepted(function: Callable[..., Result]) -> None:
    data: Data = {
        "high": [3, 4.5, 5, 6, 7] * 16,
        "low": [1, 2.5, 3, 4, 5] * 16,
        "close": [2, 3.5, 4, 5, 6] * 16,
        "volume": [10, 0, 30, 25.5, 1] * 16,
    }
    copy = {key: list(values) for key, values in data.items()}
    from_lists = by_key(call(function, data))
    from_tuples = by_key(call(function, {key: tuple(values) for key, values in data.items()}))
    for key, output in from_tuples.items():
        assert_series(output, from_lists[key], tol=0.0)
    assert data == copy


@EACH
def test_a_series_that_is_not_a_list_of_numbers_is_a_type_error(function: Callable[..., Result]) -> None:
    names = series_names(function)
    for bad_index, name in enumerate(names):
        args: list[object] = [[1.0, 2.0, 3.0]] * len(names)
        args[bad_index] = [True, 2.0, 3.0]
        with pytest.raises(TypeError, match=rf"^{function.__name__}\(\): {name}\[0\] must be a number"):
            function(*args)
    with pytest.raises(TypeError, match=rf"^{function.__name__}\(\): {names[0]} must be a list or tuple"):
        function(*([{"close": 1.0}] * len(names)))


@pytest.mark.parametrize(
    "function", [f for f in FUNCTIONS if len(series_names(f)) > 1], ids=lambda f: f.__name__
)
def test_series_of_different_lengths_are_a_value_error(function: Callable[..., Result]) -> None:
    names = series_names(function)
    for name in names[1:]:
        args = [[1.0, 2.0, 3.0, 4.0] if other != name else [1.0, 2.0, 3.0] for other in names]
        lengths = joined(["3" if other == name else "4" for other in names])
        expected = rf"^{function.__name__}\(\): {joined(names)} must have the same length, got {lengths}$"
        with pytest.raises(ValueError, match=expected):
            function(*args)


PERIODS = [
    (f, name)
    for f in FUNCTIONS
    for name in ("period", "fast", "slow", "signal", "bins")
    if name in inspect.signature(f).parameters
]


@pytest.mark.parametrize(("function", "argument"), PERIODS, ids=lambda v: getattr(v, "__name__", v))
def test_periods_must_be_positive_ints(function: Callable[..., Result], argument: str) -> None:
    data = {key: [1.0, 2.0, 3.0] for key in SERIES}
    with pytest.raises(
        ValueError, match=rf"^{function.__name__}\(\): {argument} must be an int >= 1, got -2$"
    ):
        call(function, data, **{argument: -2})
    with pytest.raises(TypeError, match=rf"{argument} must be an int >= 1, got NoneType None$"):
        call(function, data, **{argument: None})


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (0, ValueError, "must be a number > 0, got 0"),
        (-1.0, ValueError, "must be a number > 0, got -1.0"),
        (math.inf, ValueError, "must be a finite number, got inf"),
        ("1e8", TypeError, r"must be a number \(int or float\), got str '1e8'"),
    ],
)
def test_emv_divisor_must_be_a_positive_number(value: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=rf"^emv\(\): divisor {message}$"):
        emv([2.0, 3.0], [1.0, 2.0], [1.0, 1.0], divisor=value)  # type: ignore[arg-type]


def test_every_indicator_has_a_documented_row() -> None:
    assert {row.function for row in INDICATORS} == set(FUNCTIONS)
    assert len(INDICATORS) == len(FUNCTIONS)
    for row in INDICATORS:
        assert row.function.__name__ == row.name
        assert row.description and row.source and row.function.__doc__
        parameters = inspect.signature(row.function).parameters.values()
        defaults = [
            p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}" for p in parameters
        ]
        assert row.signature == f"{row.name}({', '.join(defaults)})"
        if row.function is volume_profile:
            assert row.returns.startswith("dict: price, volume (not series")
        else:
            keys = list(WARM_UP[row.function])
            assert row.returns == ("series" if keys == [""] else f"dict: {', '.join(keys)}")
