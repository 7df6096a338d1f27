"""Volatility indicators: against TA-Lib where it has them, hand-computed values, pure-Python references."""

from __future__ import annotations

import inspect
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pytest
import talib

from marketmaestro_indicators import testing as checks
from marketmaestro_indicators.moving_averages import ema
from marketmaestro_indicators.testing import assert_series, joined
from marketmaestro_indicators.volatility import (
    INDICATORS,
    atr,
    bollinger_band_width,
    bollinger_bands,
    bollinger_percent_b,
    chande_kroll_stop,
    keltner_channels,
    volatility_index,
)

NAN = math.nan
Data = dict[str, list[float]]
Result = Any  # what an indicator returns: a series, or a dict of them

# Which fixture column each series argument takes (a single-series indicator gets the close).
SERIES = {"values": "close", "high": "high", "low": "low", "close": "close", "volume": "volume"}


def series_names(function: Callable[..., Result]) -> list[str]:
    return checks.series_names(function, SERIES)


def call(function: Callable[..., Result], data: Mapping[str, Sequence[float]], **params: Any) -> Result:
    """``function`` applied to the fixture's columns its signature names."""
    return checks.call(function, data, SERIES, **params)


# Leading NaNs with the default parameters.
WARM_UP: dict[Callable[..., Result], int] = {
    bollinger_bands: 19,
    bollinger_percent_b: 19,
    bollinger_band_width: 19,
    atr: 14,
    keltner_channels: 19,
    volatility_index: 20,
    chande_kroll_stop: 18,
}
FUNCTIONS = list(WARM_UP)
EACH = pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__name__)


def outputs(result: Result) -> list[list[float]]:
    return list(result.values()) if isinstance(result, dict) else [result]


# Pure-Python references, written from the published definitions.


def reference_ema(values: Sequence[float], period: int) -> list[float]:
    if len(values) < period:
        return [NAN] * len(values)
    alpha = 2 / (period + 1)
    result = [NAN] * (period - 1) + [sum(values[:period]) / period]
    for value in values[period:]:
        result.append(alpha * value + (1 - alpha) * result[-1])
    return result


def reference_true_range(high: Sequence[float], low: Sequence[float], close: Sequence[float]) -> list[float]:
    return [NAN] + [
        max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        for i in range(1, len(high))
    ]


def reference_atr(
    high: Sequence[float], low: Sequence[float], close: Sequence[float], period: int
) -> list[float]:
    ranges = reference_true_range(high, low, close)
    result = [NAN] * len(high)
    if len(high) > period:
        result[period] = sum(ranges[1 : period + 1]) / period
        for i in range(period + 1, len(high)):
            result[i] = (result[i - 1] * (period - 1) + ranges[i]) / period
    return result


def reference_volatility(values: Sequence[float], period: int) -> list[float]:
    returns = [NAN] + [math.log(values[i] / values[i - 1]) for i in range(1, len(values))]
    return [
        statistics.stdev(returns[i - period + 1 : i + 1]) if i >= period else NAN for i in range(len(values))
    ]


def reference_chande(data: Data, p: int, x: float, q: int) -> dict[str, list[float]]:
    high, low = data["high"], data["low"]
    average = reference_atr(high, low, data["close"], p)
    length = len(high)
    first_high = [max(high[i - p + 1 : i + 1]) - x * average[i] if i >= p else NAN for i in range(length)]
    first_low = [min(low[i - p + 1 : i + 1]) + x * average[i] if i >= p else NAN for i in range(length)]
    return {
        "stop_long": [min(first_low[i - q + 1 : i + 1]) if i >= p + q - 1 else NAN for i in range(length)],
        "stop_short": [max(first_high[i - q + 1 : i + 1]) if i >= p + q - 1 else NAN for i in range(length)],
    }


# Bollinger Bands.


def test_bollinger_bands_of_a_small_series() -> None:
    sd = math.sqrt(2 / 3)  # population deviation of any three consecutive integers
    bands = bollinger_bands([1, 2, 3, 4, 5], period=3, std_dev=2)
    assert list(bands) == ["upper", "middle", "lower"]
    assert_series(bands["middle"], [NAN, NAN, 2, 3, 4])
    assert_series(bands["upper"], [NAN, NAN, 2 + 2 * sd, 3 + 2 * sd, 4 + 2 * sd])
    assert_series(bands["lower"], [NAN, NAN, 2 - 2 * sd, 3 - 2 * sd, 4 - 2 * sd])
    # A window of one value has no deviation (TA-Lib refuses period 1).
    assert bollinger_bands([3, 1.5], period=1) == {
        "upper": [3.0, 1.5],
        "middle": [3.0, 1.5],
        "lower": [3.0, 1.5],
    }


def test_percent_b_and_band_width_of_a_small_series() -> None:
    sd = math.sqrt(2 / 3)
    # Each value is the last of its window, one above the mean: (1 + 2 sd) / (4 sd) of the band.
    assert_series(bollinger_percent_b([1, 2, 3, 4, 5], 3, 2.0), [NAN, NAN] + [(1 + 2 * sd) / (4 * sd)] * 3)
    assert_series(
        bollinger_band_width([1, 2, 3, 4, 5], 3, 2.0), [NAN, NAN, 4 * sd / 2, 4 * sd / 3, 4 * sd / 4]
    )
    # Window (5, 5, 6): mean 16/3, sd sqrt(2)/3.
    sd = math.sqrt(2) / 3
    assert_series(bollinger_percent_b([5, 5, 5, 6], 3), [NAN, NAN, NAN, (6 - (16 / 3 - 2 * sd)) / (4 * sd)])


def test_percent_b_is_nan_where_the_bands_have_no_width() -> None:
    assert_series(bollinger_percent_b([7.1] * 6, 3), [NAN] * 6)
    assert_series(bollinger_percent_b([1, 2, 3, 4], 2, std_dev=0), [NAN] * 4)
    assert_series(bollinger_band_width([7.1] * 4, 3), [NAN, NAN, 0.0, 0.0])
    assert_series(bollinger_band_width([0, 0, 0, 1], 3), [NAN, NAN, NAN, 4 * math.sqrt(2) / 3 / (1 / 3)])


@pytest.mark.parametrize(("period", "std_dev"), [(20, 2.0), (5, 1.5), (2, 3.0), (50, 2.0), (3, 0.0)])
def test_bollinger_bands_match_talib(ohlcv: Data, arrays: Any, period: int, std_dev: float) -> None:
    upper, middle, lower = talib.BBANDS(arrays(ohlcv)["close"], period, std_dev, std_dev, talib.MA_Type.SMA)
    bands = bollinger_bands(ohlcv["close"], period, std_dev)
    assert_series(bands["upper"], upper, tol=1e-9)
    assert_series(bands["middle"], middle, tol=1e-9)
    assert_series(bands["lower"], lower, tol=1e-9)


def test_percent_b_and_width_follow_from_the_bands(ohlcv: Data) -> None:
    bands = {key: np.asarray(band) for key, band in bollinger_bands(ohlcv["close"], 20, 2.0).items()}
    close, width = np.asarray(ohlcv["close"]), bands["upper"] - bands["lower"]
    with np.errstate(divide="ignore", invalid="ignore"):
        expected_b = np.where(width == 0, NAN, (close - bands["lower"]) / width)
    assert_series(bollinger_percent_b(ohlcv["close"]), expected_b.tolist())
    assert_series(bollinger_band_width(ohlcv["close"]), (width / bands["middle"]).tolist())


def test_flat_stretches_give_zero_width_and_nan_percent_b(ohlcv: Data) -> None:
    synthetic = [100.0] * 5 + [100.0 + (i % 3) for i in range(30)] + [101.5] * 25
    for close, flat_windows in ((synthetic, 6), (ohlcv["close"], None)):
        width, percent_b = bollinger_band_width(close), bollinger_percent_b(close)
        flat = [i for i in range(19, len(close)) if len(set(close[i - 19 : i + 1])) == 1]
        assert flat_windows is None or len(flat) == flat_windows
        assert [i for i in range(19, len(close)) if width[i] == 0.0] == flat
        assert [i for i in range(19, len(close)) if math.isnan(percent_b[i])] == flat


# ATR.


def test_atr_of_a_small_series() -> None:
    # True ranges 1.5, 2, 2; first ATR (1.5 + 2) / 2, then (1.75 * 1 + 2) / 2.
    high, low, close = [10, 11, 12, 11], [9, 10, 10, 9], [9.5, 10.5, 11, 10]
    assert_series(atr(high, low, close, 2), [NAN, NAN, 1.75, 1.875])
    assert_series(atr(high, low, close, 1), [NAN, 1.5, 2.0, 2.0])


@pytest.mark.parametrize("period", [1, 2, 5, 14, 50])
def test_atr_matches_talib(ohlcv: Data, arrays: Any, period: int) -> None:
    data = arrays(ohlcv)
    expected = talib.ATR(data["high"], data["low"], data["close"], period)
    assert_series(atr(ohlcv["high"], ohlcv["low"], ohlcv["close"], period), expected, tol=1e-9)


def test_atr_matches_the_reference(ohlcv: Data) -> None:
    expected = reference_atr(ohlcv["high"], ohlcv["low"], ohlcv["close"], 14)
    assert_series(atr(ohlcv["high"], ohlcv["low"], ohlcv["close"]), expected, tol=1e-9)


# Keltner Channels.


def test_keltner_channels_of_a_small_series() -> None:
    # EMA(2) of the close: seed 10, then 10 + 2/3 * (11 - 10), then 32/3 + 2/3 * (10 - 32/3).
    # ATR(2): 1.75, 1.875. The middle waits for the ATR, so index 1 is NaN in every key.
    high, low, close = [10, 11, 12, 11], [9, 10, 10, 9], [9.5, 10.5, 11, 10]
    channels = keltner_channels(high, low, close, period=2, multiplier=1.0, atr_period=2)
    assert list(channels) == ["upper", "middle", "lower"]
    assert_series(channels["middle"], [NAN, NAN, 32 / 3, 92 / 9])
    assert_series(channels["upper"], [NAN, NAN, 32 / 3 + 1.75, 92 / 9 + 1.875])
    assert_series(channels["lower"], [NAN, NAN, 32 / 3 - 1.75, 92 / 9 - 1.875])


@pytest.mark.parametrize(("period", "multiplier", "atr_period"), [(20, 2.0, 10), (10, 1.5, 20), (5, 0.0, 5)])
def test_keltner_channels_match_the_reference(
    ohlcv: Data, period: int, multiplier: float, atr_period: int
) -> None:
    middle = reference_ema(ohlcv["close"], period)
    average = reference_atr(ohlcv["high"], ohlcv["low"], ohlcv["close"], atr_period)
    middle = [NAN if math.isnan(a) else m for m, a in zip(middle, average, strict=True)]
    channels = keltner_channels(ohlcv["high"], ohlcv["low"], ohlcv["close"], period, multiplier, atr_period)
    assert_series(channels["middle"], middle, tol=1e-9)
    assert_series(
        channels["upper"], [m + multiplier * a for m, a in zip(middle, average, strict=True)], tol=1e-9
    )
    assert_series(
        channels["lower"], [m - multiplier * a for m, a in zip(middle, average, strict=True)], tol=1e-9
    )


def test_keltner_middle_is_the_packages_ema(ohlcv: Data) -> None:
    channels = keltner_channels(ohlcv["high"], ohlcv["low"], ohlcv["close"])
    assert_series(channels["middle"], ema(ohlcv["close"], 20), tol=1e-12)


# Historical volatility.


def test_volatility_index_of_a_small_series() -> None:
    up, down = math.log(1.1), math.log(0.9)
    result = volatility_index([100, 110, 99, 99, 108.9], period=2)
    assert_series(
        result, [NAN, NAN, abs(up - down) / math.sqrt(2), abs(down) / math.sqrt(2), up / math.sqrt(2)]
    )


def test_volatility_index_is_nan_around_prices_that_have_no_log() -> None:
    assert_series(volatility_index([100, 0, 100, 110, 121], 2), [NAN, NAN, NAN, NAN, 0.0])
    assert_series(volatility_index([100, -5, 100, 110], 2), [NAN] * 4)
    assert_series(volatility_index([50.0] * 5, 3), [NAN, NAN, NAN, 0.0, 0.0])


@pytest.mark.parametrize("period", [2, 5, 20, 100])
def test_volatility_index_matches_the_reference(ohlcv: Data, period: int) -> None:
    assert_series(
        volatility_index(ohlcv["close"], period), reference_volatility(ohlcv["close"], period), tol=1e-9
    )


def test_volatility_index_needs_two_returns() -> None:
    with pytest.raises(ValueError, match=r"^volatility_index\(\): period must be an int >= 2, got 1$"):
        volatility_index([1.0, 2.0, 3.0], 1)
    with pytest.raises(TypeError, match=r"^volatility_index\(\): period must be an int >= 2, got float 2.0$"):
        volatility_index([1.0, 2.0, 3.0], 2.0)  # type: ignore[arg-type]


# Chande Kroll Stop.


def test_chande_kroll_stop_of_a_small_series() -> None:
    # True ranges 1.5, 2, 2, 3; ATR(2) 1.75, 1.875, 2.4375. Highest highs (2) 12, 12, 13 and lowest
    # lows 10, 9, 9, so first stops 10.25, 10.125, 10.5625 (high) and 11.75, 10.875, 11.4375 (low).
    high, low, close = [10, 11, 12, 11, 13], [9, 10, 10, 9, 11], [9.5, 10.5, 11, 10, 12.5]
    stops = chande_kroll_stop(high, low, close, p=2, x=1.0, q=2)
    assert list(stops) == ["stop_long", "stop_short"]
    assert_series(stops["stop_short"], [NAN, NAN, NAN, 10.25, 10.5625])
    assert_series(stops["stop_long"], [NAN, NAN, NAN, 10.875, 10.875])


@pytest.mark.parametrize(("p", "x", "q"), [(10, 1.0, 9), (10, 3.0, 20), (1, 0.5, 1), (5, 2.0, 3)])
def test_chande_kroll_stop_matches_the_reference(ohlcv: Data, p: int, x: float, q: int) -> None:
    stops = chande_kroll_stop(ohlcv["high"], ohlcv["low"], ohlcv["close"], p, x, q)
    expected = reference_chande(ohlcv, p, x, q)
    assert_series(stops["stop_long"], expected["stop_long"], tol=1e-9)
    assert_series(stops["stop_short"], expected["stop_short"], tol=1e-9)


# Conventions every indicator follows.


@EACH
def test_warm_up_with_the_default_parameters(function: Callable[..., Result], ohlcv: Data) -> None:
    for output in outputs(call(function, ohlcv)):
        assert len(output) == len(ohlcv["close"])
        nans = WARM_UP[function]
        assert [math.isnan(value) for value in output[: nans + 1]] == [True] * nans + [False]


@EACH
def test_no_infinity_on_real_shaped_data(function: Callable[..., Result], ohlcv: Data) -> None:
    for output in outputs(call(function, ohlcv)):
        assert not any(math.isinf(value) for value in output)
        assert all(type(value) is float for value in output)


@EACH
@pytest.mark.parametrize("length", [0, 1, 5])
def test_input_shorter_than_the_warm_up_gives_all_nan(function: Callable[..., Result], length: int) -> None:
    data = {key: [10.0 + i for i in range(length)] for key in ("high", "low", "close")}
    for output in outputs(call(function, data)):
        assert_series(output, [NAN] * length)


@EACH
def test_inputs_are_not_modified_and_tuples_are_accepted(function: Callable[..., Result]) -> None:
    data = {"high": [3, 4.5, 5, 6, 7] * 6, "low": [1, 2.5, 3, 4, 5] * 6, "close": [2, 3.5, 4, 5, 6] * 6}
    copy = {key: list(values) for key, values in data.items()}
    from_lists = outputs(call(function, data))
    from_tuples = outputs(call(function, {key: tuple(values) for key, values in data.items()}))
    for from_tuple, from_list in zip(from_tuples, from_lists, strict=True):
        assert_series(from_tuple, from_list, tol=0.0)
    assert data == copy


@EACH
def test_a_series_that_is_not_a_list_of_numbers_is_a_type_error(function: Callable[..., Result]) -> None:
    names = series_names(function)
    for bad_index, name in enumerate(names):
        args: list[object] = [[1.0, 2.0, 3.0]] * len(names)
        args[bad_index] = [1.0, "2", 3.0]
        with pytest.raises(TypeError, match=rf"^{function.__name__}\(\): {name}\[1\] must be a number"):
            function(*args)
    with pytest.raises(TypeError, match=rf"^{function.__name__}\(\): {names[0]} must be a list or tuple"):
        function(*([None] * len(names)))


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
    for name in ("period", "atr_period", "p", "q")
    if name in inspect.signature(f).parameters
]


@pytest.mark.parametrize(("function", "argument"), PERIODS, ids=lambda v: getattr(v, "__name__", v))
def test_periods_must_be_positive_ints(function: Callable[..., Result], argument: str) -> None:
    data = {key: [1.0, 2.0, 3.0] for key in ("high", "low", "close")}
    minimum = 2 if function is volatility_index else 1
    with pytest.raises(
        ValueError, match=rf"^{function.__name__}\(\): {argument} must be an int >= {minimum}, got 0$"
    ):
        call(function, data, **{argument: 0})
    with pytest.raises(TypeError, match=rf"{argument} must be an int >= {minimum}, got str '3'$"):
        call(function, data, **{argument: "3"})
    with pytest.raises(TypeError, match=rf"{argument} must be an int >= {minimum}, got bool True$"):
        call(function, data, **{argument: True})


FACTORS = [
    (f, name)
    for f in FUNCTIONS
    for name in ("std_dev", "multiplier", "x")
    if name in inspect.signature(f).parameters
]


@pytest.mark.parametrize(("function", "argument"), FACTORS, ids=lambda v: getattr(v, "__name__", v))
@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (-1, ValueError, "must be a number >= 0, got -1$"),
        (-0.5, ValueError, "must be a number >= 0, got -0.5$"),
        (math.nan, ValueError, "must be a finite number, got nan$"),
        (math.inf, ValueError, "must be a finite number, got inf$"),
        (10**400, ValueError, "must be a finite number, got 1000"),
        ("2", TypeError, r"must be a number \(int or float\), got str '2'$"),
        (None, TypeError, r"must be a number \(int or float\), got NoneType None$"),
        (False, TypeError, r"must be a number \(int or float\), got bool False$"),
    ],
)
def test_multipliers_must_be_finite_non_negative_numbers(
    function: Callable[..., Result], argument: str, value: object, error: type[Exception], message: str
) -> None:
    data = {key: [1.0, 2.0, 3.0] for key in ("high", "low", "close")}
    with pytest.raises(error, match=rf"^{function.__name__}\(\): {argument} {message}"):
        call(function, data, **{argument: value})


def test_every_indicator_has_a_documented_row() -> None:
    rows = {row.name: row for row in INDICATORS}
    assert [row.function for row in INDICATORS] == FUNCTIONS
    assert rows["bollinger_bands"].aliases == ("bollinger",)
    assert rows["keltner_channels"].aliases == ("keltner",)
    for row in INDICATORS:
        assert row.function.__name__ == row.name
        assert row.signature.startswith(f"{row.name}(")
        assert row.description and row.source and row.function.__doc__
        parameters = inspect.signature(row.function).parameters
        for parameter in parameters.values():
            default = "" if parameter.default is inspect.Parameter.empty else f"={parameter.default!r}"
            assert f"{parameter.name}{default}" in row.signature
        returns_dict = isinstance(call(row.function, {k: [1.0] * 30 for k in ("high", "low", "close")}), dict)
        assert row.returns.startswith("dict: ") == returns_dict
