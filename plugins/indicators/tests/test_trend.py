"""Trend indicators: against TA-Lib where it has them, hand-computed values, pure-Python references."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pytest
import talib

from marketmaestro_indicators import testing as checks
from marketmaestro_indicators.testing import assert_series, by_key, joined
from marketmaestro_indicators.trend import INDICATORS, adx, ichimoku, parabolic_sar, supertrend, vortex

NAN = math.nan
Data = dict[str, list[float]]
Result = Any  # what an indicator returns: a series, or a dict of them

SERIES = ("high", "low", "close")


def series_names(function: Callable[..., Result]) -> list[str]:
    return checks.series_names(function, SERIES)


def call(function: Callable[..., Result], data: Mapping[str, Sequence[float]], **params: Any) -> Result:
    """``function`` applied to the fixture's columns its signature names."""
    return checks.call(function, data, SERIES, **params)


# Leading NaNs with the default parameters, per output key.
WARM_UP: dict[Callable[..., Result], dict[str, int]] = {
    adx: {"adx": 27, "plus_di": 14, "minus_di": 14},
    parabolic_sar: {"": 1},
    supertrend: {"": 10},
    vortex: {"vi_plus": 14, "vi_minus": 14},
    ichimoku: {"tenkan_sen": 8, "kijun_sen": 25, "senkou_span_a": 51, "senkou_span_b": 77, "chikou_span": 0},
}
FUNCTIONS = list(WARM_UP)
EACH = pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__name__)

# Five bars used by several hand computations: true ranges 1.5, 2, 2, 3 from bar 1.
HIGH, LOW, CLOSE = [10, 11, 12, 11, 13], [9, 10, 10, 9, 11], [9.5, 10.5, 11, 10, 12.5]


def columns(data: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """High, low and close, in the order the indicators take them."""
    return data["high"], data["low"], data["close"]


# Pure-Python references, written from the published definitions.


def reference_atr(
    high: Sequence[float], low: Sequence[float], close: Sequence[float], period: int
) -> list[float]:
    ranges = [NAN] + [
        max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        for i in range(1, len(high))
    ]
    result = [NAN] * len(high)
    if len(high) > period:
        result[period] = sum(ranges[1 : period + 1]) / period
        for i in range(period + 1, len(high)):
            result[i] = (result[i - 1] * (period - 1) + ranges[i]) / period
    return result


def reference_supertrend(data: Data, period: int, multiplier: float) -> tuple[list[float], list[int]]:
    """TradingView's ta.supertrend with the package's ATR: the line, and 1 (up) or -1 (down) per bar."""
    high, low, close = data["high"], data["low"], data["close"]
    average = reference_atr(high, low, close, period)
    line, direction = [NAN] * len(close), [0] * len(close)
    upper = lower = NAN
    for i in range(period, len(close)):
        middle = (high[i] + low[i]) / 2
        basic_upper, basic_lower = middle + multiplier * average[i], middle - multiplier * average[i]
        if i == period:
            upper, lower, direction[i] = basic_upper, basic_lower, -1
        else:
            upper = basic_upper if basic_upper < upper or close[i - 1] > upper else upper
            lower = basic_lower if basic_lower > lower or close[i - 1] < lower else lower
            # TradingView asks whether the previous line equalled the upper band, which is ambiguous
            # when the bands coincide (a zero ATR over flat bars); the previous direction is not.
            if direction[i - 1] == -1:
                direction[i] = 1 if close[i] > upper else -1
            else:
                direction[i] = -1 if close[i] < lower else 1
        line[i] = lower if direction[i] == 1 else upper
    return line, direction


def reference_vortex(data: Data, period: int) -> dict[str, list[float]]:
    high, low, close = data["high"], data["low"], data["close"]
    result: dict[str, list[float]] = {"vi_plus": [NAN] * len(high), "vi_minus": [NAN] * len(high)}
    for i in range(period, len(high)):
        bars = range(i - period + 1, i + 1)
        ranges = sum(
            max(high[j] - low[j], abs(high[j] - close[j - 1]), abs(low[j] - close[j - 1])) for j in bars
        )
        if ranges:
            result["vi_plus"][i] = sum(abs(high[j] - low[j - 1]) for j in bars) / ranges
            result["vi_minus"][i] = sum(abs(low[j] - high[j - 1]) for j in bars) / ranges
    return result


def reference_ichimoku(
    data: Data, tenkan: int, kijun: int, senkou: int, shift: int
) -> dict[str, list[float]]:
    high, low, close = data["high"], data["low"], data["close"]
    length = len(high)

    def midpoint(i: int, period: int) -> float:
        if i < period - 1:
            return NAN
        return (max(high[i - period + 1 : i + 1]) + min(low[i - period + 1 : i + 1])) / 2

    def cloud_a(i: int) -> float:
        return (midpoint(i, tenkan) + midpoint(i, kijun)) / 2

    return {
        "tenkan_sen": [midpoint(i, tenkan) for i in range(length)],
        "kijun_sen": [midpoint(i, kijun) for i in range(length)],
        "senkou_span_a": [cloud_a(i - shift) if i >= shift else NAN for i in range(length)],
        "senkou_span_b": [midpoint(i - shift, senkou) if i >= shift else NAN for i in range(length)],
        "chikou_span": [close[i + shift] if i + shift < length else NAN for i in range(length)],
    }


# ADX, +DI, -DI.


def test_adx_of_a_small_series() -> None:
    # +DM 1, 1, 0, 2 and -DM 0, 0, 1, 0 from bar 1. Period 2: the sums start from bar 1's values,
    # then S = S - S/2 + x: +DM 1.5, 0.75, 2.375; -DM 0, 1, 0.5; TR 2.75, 3.375, 4.6875.
    result = adx(HIGH, LOW, CLOSE, period=2)
    assert list(result) == ["adx", "plus_di", "minus_di"]
    assert_series(result["plus_di"], [NAN, NAN, 150 / 2.75, 75 / 3.375, 237.5 / 4.6875])
    assert_series(result["minus_di"], [NAN, NAN, 0.0, 100 / 3.375, 50 / 4.6875])
    # DX 100, 100 * 25 / 175 and 100 * 187.5 / 287.5; the first ADX is the mean of the first two.
    first = (100 + 100 * 25 / 175) / 2
    assert_series(result["adx"], [NAN, NAN, NAN, first, (first + 100 * 187.5 / 287.5) / 2])


def test_adx_when_there_is_no_directional_movement(arrays: Any) -> None:
    # Inside bars only: +DI = -DI = 0, DX undefined, which counts as 0 in the first ADX and leaves
    # the ADX unchanged afterwards; the up move on bar 6 then gives DX 100.
    data = {"high": [11.0] * 6 + [12.0], "low": [9.0] * 6 + [10.0], "close": [10.0] * 6 + [11.5]}
    result = adx(data["high"], data["low"], data["close"], 2)
    assert_series(result["plus_di"][:6], [NAN, NAN, 0.0, 0.0, 0.0, 0.0])
    assert_series(result["adx"], [NAN, NAN, NAN, 0.0, 0.0, 0.0, 50.0])
    expected = talib.ADX(*columns(arrays(data)), 2)
    assert_series(result["adx"], expected)
    flat = adx([5.0] * 6, [5.0] * 6, [5.0] * 6, 2)
    assert_series(flat["adx"], [NAN, NAN, NAN, 0.0, 0.0, 0.0])
    assert_series(flat["minus_di"], [NAN, NAN, 0.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("period", [2, 5, 14, 30])
def test_adx_matches_talib(ohlcv: Data, arrays: Any, period: int) -> None:
    data = arrays(ohlcv)
    high, low, close = data["high"], data["low"], data["close"]
    result = adx(ohlcv["high"], ohlcv["low"], ohlcv["close"], period)
    assert_series(result["adx"], talib.ADX(high, low, close, period), tol=1e-9)
    assert_series(result["plus_di"], talib.PLUS_DI(high, low, close, period), tol=1e-9)
    assert_series(result["minus_di"], talib.MINUS_DI(high, low, close, period), tol=1e-9)


def test_adx_period_one_uses_the_same_formulas() -> None:
    result = adx(HIGH, LOW, CLOSE, period=1)
    assert_series(result["plus_di"], [NAN, 100 / 1.5, 100 / 2, 0.0, 200 / 3])
    assert_series(result["minus_di"], [NAN, 0.0, 0.0, 100 / 2, 0.0])
    assert_series(result["adx"], [NAN, 100.0, 100.0, 100.0, 100.0])


def test_adx_does_not_depend_on_the_price_scale(ohlcv: Data) -> None:
    # No absolute epsilon: a coin priced in millionths gets the same ADX as one priced in thousands.
    scaled = {key: [value * 1e-9 for value in ohlcv[key]] for key in SERIES}
    for key, values in adx(*columns(scaled)).items():
        assert_series(values, adx(*columns(ohlcv))[key], tol=1e-9)


# Parabolic SAR.


def test_parabolic_sar_of_a_small_series(arrays: Any) -> None:
    # Bar 1 moves up, so the trend starts long from bar 0's low, 9, with extreme point 11. Then
    # 9 + 0.02 * (11 - 9); a new high 12 raises af to 0.04: 9.04 + 0.04 * (12 - 9.04), and again
    # 9.1584 + 0.04 * (12 - 9.1584). Bar 4's low 8.5 crosses it: the SAR jumps to the extreme, 12.
    high, low = [10, 11, 12, 11.5, 10], [9, 10, 11, 10, 8.5]
    expected = [NAN, 9.0, 9.04, 9.1584, 12.0]
    assert_series(parabolic_sar(high, low), expected)
    assert_series(talib.SAR(np.asarray(high, dtype=float), np.asarray(low, dtype=float)).tolist(), expected)
    # Bar 1 moves down: the trend starts short from bar 0's high.
    assert_series(parabolic_sar([10, 9.5], [9, 8]), [NAN, 10.0])


@pytest.mark.parametrize(
    ("acceleration", "maximum"), [(0.02, 0.2), (0.01, 0.1), (0.05, 0.5), (0.2, 0.2), (0, 0.2)]
)
def test_parabolic_sar_matches_talib(ohlcv: Data, arrays: Any, acceleration: float, maximum: float) -> None:
    data = arrays(ohlcv)
    expected = talib.SAR(data["high"], data["low"], acceleration, maximum)
    assert_series(parabolic_sar(ohlcv["high"], ohlcv["low"], acceleration, maximum), expected, tol=1e-9)


def test_parabolic_sar_acceleration_may_not_exceed_the_maximum() -> None:
    expected = r"^parabolic_sar\(\): acceleration must be <= maximum, got acceleration 0.3 and maximum 0.2$"
    with pytest.raises(ValueError, match=expected):
        parabolic_sar([2.0, 3.0], [1.0, 2.0], acceleration=0.3)


# Supertrend.


def test_supertrend_of_a_small_series() -> None:
    # Period 1 (ATR = true range), multiplier 1. Bar 1 starts down on the upper band 10.5 + 1.5 = 12.
    # Bar 2: basic bands 12.75 / 10.25; the upper band cannot rise, stays 12; close 11.75 below it.
    # Bar 3: close 12.75 > 12 turns the trend up onto the lower band 12.5 - 1.25 = 11.25.
    # Bar 4: the close equals the lower band, which keeps the trend up (the band cannot fall).
    # Bar 5: close 11 < 11.25 turns it down onto the upper band, 11 + 1 = 12 by then.
    # Bar 6: the close equals the upper band, which keeps the trend down.
    high, low = [10, 11, 12, 13, 12.5, 11.5, 12], [9, 10, 11, 12, 11.25, 10.5, 11]
    close = [9.5, 10.75, 11.75, 12.75, 11.25, 11, 12]
    expected = [NAN, 12, 12, 11.25, 11.25, 12, 12]
    assert_series(supertrend(high, low, close, period=1, multiplier=1.0), expected, tol=0)


@pytest.mark.parametrize(("period", "multiplier"), [(10, 3.0), (7, 2.0), (1, 1.0), (20, 0.5)])
def test_supertrend_matches_the_reference(ohlcv: Data, period: int, multiplier: float) -> None:
    line, _ = reference_supertrend(ohlcv, period, multiplier)
    assert_series(supertrend(ohlcv["high"], ohlcv["low"], ohlcv["close"], period, multiplier), line, tol=1e-9)


def test_supertrend_direction_is_read_from_the_close(ohlcv: Data) -> None:
    line = supertrend(ohlcv["high"], ohlcv["low"], ohlcv["close"])
    _, direction = reference_supertrend(ohlcv, 10, 3.0)
    for i in range(10, len(line)):
        if ohlcv["close"][i] != line[i]:
            assert direction[i] == (1 if ohlcv["close"][i] > line[i] else -1)


# Vortex.


def test_vortex_of_a_small_series() -> None:
    # VM+ |11-9|, |12-10|, |11-10|; VM- |10-10|, |10-11|, |9-12|; TR 1.5, 2, 2.
    result = vortex(HIGH[:4], LOW[:4], CLOSE[:4], period=2)
    assert list(result) == ["vi_plus", "vi_minus"]
    assert_series(result["vi_plus"], [NAN, NAN, 4 / 3.5, 3 / 4])
    assert_series(result["vi_minus"], [NAN, NAN, 1 / 3.5, 4 / 4])


def test_vortex_is_nan_over_windows_without_range() -> None:
    # The last bar: VM+ |6 - 5| = 1, VM- |5.5 - 5| = 0.5, TR 1; the bar before it adds nothing.
    high, low, close = [5.0, 5.0, 5.0, 5.0, 6.0], [5.0, 5.0, 5.0, 5.0, 5.5], [5.0, 5.0, 5.0, 5.0, 6.0]
    result = vortex(high, low, close, period=2)
    assert_series(result["vi_plus"], [NAN, NAN, NAN, NAN, 1.0])
    assert_series(result["vi_minus"], [NAN, NAN, NAN, NAN, 0.5])


@pytest.mark.parametrize("period", [1, 2, 14, 50])
def test_vortex_matches_the_reference(ohlcv: Data, period: int) -> None:
    expected = reference_vortex(ohlcv, period)
    result = vortex(ohlcv["high"], ohlcv["low"], ohlcv["close"], period)
    assert_series(result["vi_plus"], expected["vi_plus"], tol=1e-9)
    assert_series(result["vi_minus"], expected["vi_minus"], tol=1e-9)


# Ichimoku.


def test_ichimoku_of_a_small_series() -> None:
    high, low = [10, 12, 11, 13, 14, 12], [8, 9, 10, 11, 12, 10]
    close = [9, 11, 10.5, 12, 13, 11]
    result = ichimoku(high, low, close, tenkan=2, kijun=3, senkou=4, displacement=2)
    assert list(result) == ["tenkan_sen", "kijun_sen", "senkou_span_a", "senkou_span_b", "chikou_span"]
    assert_series(result["tenkan_sen"], [NAN, 10, 10.5, 11.5, 12.5, 12])
    assert_series(result["kijun_sen"], [NAN, NAN, 10, 11, 12, 12])
    # (tenkan + kijun) / 2 is 10.25 at bar 2 and 11.25 at bar 3, drawn 2 bars later.
    assert_series(result["senkou_span_a"], [NAN, NAN, NAN, NAN, 10.25, 11.25])
    # The 4-bar midpoint is 10.5 at bar 3, drawn at bar 5.
    assert_series(result["senkou_span_b"], [NAN] * 5 + [10.5])
    assert_series(result["chikou_span"], [10.5, 12, 13, 11, NAN, NAN])


def test_ichimoku_without_displacement_is_the_lines_as_computed() -> None:
    high, low, close = [10, 12, 11, 13], [8, 9, 10, 11], [9, 11, 10.5, 12]
    result = ichimoku(high, low, close, tenkan=2, kijun=3, senkou=4, displacement=0)
    assert_series(result["senkou_span_a"], [NAN, NAN, 10.25, 11.25])
    assert_series(result["senkou_span_b"], [NAN, NAN, NAN, 10.5])
    assert_series(result["chikou_span"], [9, 11, 10.5, 12])
    longer = ichimoku(high, low, close, tenkan=2, kijun=3, senkou=4, displacement=10)
    assert_series(longer["chikou_span"], [NAN] * 4)


@pytest.mark.parametrize(
    ("tenkan", "kijun", "senkou", "shift"), [(9, 26, 52, 26), (20, 60, 120, 30), (1, 1, 1, 1)]
)
def test_ichimoku_matches_the_reference(
    ohlcv: Data, tenkan: int, kijun: int, senkou: int, shift: int
) -> None:
    result = ichimoku(ohlcv["high"], ohlcv["low"], ohlcv["close"], tenkan, kijun, senkou, shift)
    for key, values in reference_ichimoku(ohlcv, tenkan, kijun, senkou, shift).items():
        assert_series(result[key], values, tol=1e-12)


def test_ichimoku_chikou_holds_the_latest_close_displacement_bars_back(ohlcv: Data) -> None:
    chikou = ichimoku(ohlcv["high"], ohlcv["low"], ohlcv["close"])["chikou_span"]
    assert chikou[-27] == ohlcv["close"][-1]
    assert all(math.isnan(value) for value in chikou[-26:])


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (-1, ValueError, "displacement must be an int >= 0, got -1"),
        (2.0, TypeError, "displacement must be an int >= 0, got float 2.0"),
        (None, TypeError, "displacement must be an int >= 0, got NoneType None"),
    ],
)
def test_ichimoku_displacement_must_be_a_non_negative_int(
    value: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=rf"^ichimoku\(\): {message}$"):
        ichimoku([1.0], [1.0], [1.0], displacement=value)  # type: ignore[arg-type]


# Conventions every indicator follows.


@EACH
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


@EACH
@pytest.mark.parametrize("length", [0, 1])
def test_input_shorter_than_the_warm_up_gives_all_nan(function: Callable[..., Result], length: int) -> None:
    data = {key: [10.0 + i for i in range(length)] for key in SERIES}
    for output in by_key(call(function, data)).values():
        assert_series(output, [NAN] * length)


@EACH
def test_inputs_are_not_modified_and_tuples_are_accepted(function: Callable[..., Result]) -> None:
    data = {"high": [3, 4.5, 5, 6, 7] * 6, "low": [1, 2.5, 3, 4, 5] * 6, "close": [2, 3.5, 4, 5, 6] * 6}
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
        args[bad_index] = [1.0, 2.0, None]
        with pytest.raises(TypeError, match=rf"^{function.__name__}\(\): {name}\[2\] must be a number"):
            function(*args)
    with pytest.raises(TypeError, match=rf"^{function.__name__}\(\): {names[0]} must be a list or tuple"):
        function(*(["1,2"] * len(names)))


@EACH
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
    for name in ("period", "tenkan", "kijun", "senkou")
    if name in inspect.signature(f).parameters
]


@pytest.mark.parametrize(("function", "argument"), PERIODS, ids=lambda v: getattr(v, "__name__", v))
def test_periods_must_be_positive_ints(function: Callable[..., Result], argument: str) -> None:
    data = {key: [1.0, 2.0, 3.0] for key in SERIES}
    with pytest.raises(
        ValueError, match=rf"^{function.__name__}\(\): {argument} must be an int >= 1, got 0$"
    ):
        call(function, data, **{argument: 0})
    with pytest.raises(TypeError, match=rf"{argument} must be an int >= 1, got float 14.0$"):
        call(function, data, **{argument: 14.0})


FACTORS = [
    (f, name)
    for f in FUNCTIONS
    for name in ("acceleration", "maximum", "multiplier")
    if name in inspect.signature(f).parameters
]


@pytest.mark.parametrize(("function", "argument"), FACTORS, ids=lambda v: getattr(v, "__name__", v))
@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (-0.02, ValueError, "must be a number >= 0, got -0.02"),
        (math.nan, ValueError, "must be a finite number, got nan"),
        ("0.02", TypeError, r"must be a number \(int or float\), got str '0.02'"),
    ],
)
def test_factors_must_be_finite_non_negative_numbers(
    function: Callable[..., Result], argument: str, value: object, error: type[Exception], message: str
) -> None:
    data = {key: [1.0, 2.0, 3.0] for key in SERIES}
    with pytest.raises(error, match=rf"^{function.__name__}\(\): {argument} {message}$"):
        call(function, data, **{argument: value})


def test_every_indicator_has_a_documented_row() -> None:
    assert [row.function for row in INDICATORS] == FUNCTIONS
    for row in INDICATORS:
        assert row.function.__name__ == row.name
        assert row.description and row.source and row.function.__doc__
        parameters = inspect.signature(row.function).parameters.values()
        defaults = [
            p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}" for p in parameters
        ]
        assert row.signature == f"{row.name}({', '.join(defaults)})"
        keys = list(WARM_UP[row.function])
        assert row.returns == ("series" if keys == [""] else f"dict: {', '.join(keys)}")
