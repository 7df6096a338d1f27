"""Levels: Heikin-Ashi, pivots, Fibonacci, price and Donchian channels; TA-Lib MAX/MIN for the channels."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
import talib

from marketmaestro_indicators.levels import donchian, fibonacci, heikin_ashi, pivot_points, price_channel

NAN = math.nan


def assert_series(actual: list[float], expected: Sequence[float], *, tol: float = 0.0) -> None:
    """``actual`` is a list of Python floats equal to ``expected``, NaN where ``expected`` is NaN."""
    assert isinstance(actual, list)
    assert [type(value) for value in actual] == [float] * len(actual)
    assert actual == pytest.approx(list(expected), rel=tol, abs=tol, nan_ok=True)


def shifted(values: Sequence[float]) -> list[float]:
    """``values`` one bar later: NaN, then all but the last."""
    return [NAN, *values[:-1]] if values else []


# Heikin-Ashi.


def test_heikin_ashi_of_a_small_series() -> None:
    candles = heikin_ashi([1, 2, 3], [2, 3, 4], [0.5, 1, 2], [1.5, 2.5, 3.5])
    assert list(candles) == ["open", "high", "low", "close"]
    # Closes: (1 + 2 + 0.5 + 1.5) / 4, (2 + 3 + 1 + 2.5) / 4, (3 + 4 + 2 + 3.5) / 4.
    assert_series(candles["close"], [1.25, 2.125, 3.125])
    # Opens: (1 + 1.5) / 2 on the first bar, then (1.25 + 1.25) / 2 and (1.25 + 2.125) / 2.
    assert_series(candles["open"], [1.25, 1.25, 1.6875])
    assert_series(candles["high"], [2.0, 3.0, 4.0])
    # The third bar's HA open, 1.6875, is below its low of 2.
    assert_series(candles["low"], [0.5, 1.0, 1.6875])


def reference_heikin_ashi(data: dict[str, list[float]]) -> dict[str, list[float]]:
    candles: dict[str, list[float]] = {"open": [], "high": [], "low": [], "close": []}
    bars = zip(data["open"], data["high"], data["low"], data["close"], strict=True)
    for i, (bar_open, bar_high, bar_low, bar_close) in enumerate(bars):
        close = (bar_open + bar_high + bar_low + bar_close) / 4
        open_ = (bar_open + bar_close) / 2 if i == 0 else (candles["open"][-1] + candles["close"][-1]) / 2
        candles["open"].append(open_)
        candles["close"].append(close)
        candles["high"].append(max(bar_high, open_, close))
        candles["low"].append(min(bar_low, open_, close))
    return candles


def test_heikin_ashi_matches_the_pure_python_reference(ohlcv: dict[str, list[float]]) -> None:
    candles = heikin_ashi(ohlcv["open"], ohlcv["high"], ohlcv["low"], ohlcv["close"])
    expected = reference_heikin_ashi(ohlcv)
    for key in ("open", "high", "low", "close"):
        assert_series(candles[key], expected[key], tol=1e-12)
        assert len(candles[key]) == len(ohlcv["close"])


def test_heikin_ashi_candles_contain_their_open_and_close(ohlcv: dict[str, list[float]]) -> None:
    candles = heikin_ashi(ohlcv["open"], ohlcv["high"], ohlcv["low"], ohlcv["close"])
    bars = zip(candles["open"], candles["high"], candles["low"], candles["close"], strict=True)
    for bar_open, bar_high, bar_low, bar_close in bars:
        assert bar_low <= min(bar_open, bar_close) <= max(bar_open, bar_close) <= bar_high


def test_heikin_ashi_nan_spoils_its_bar_and_every_later_open() -> None:
    bars = [[1.0, 2.0, 3.0, 4.0]] * 4
    bars[3] = [1.0, NAN, 3.0, 4.0]
    candles = heikin_ashi(*bars)
    assert [math.isnan(v) for v in candles["close"]] == [False, True, False, False]
    assert [math.isnan(v) for v in candles["open"]] == [False, False, True, True]
    assert [math.isnan(v) for v in candles["high"]] == [False, True, True, True]


def test_heikin_ashi_of_no_bars() -> None:
    assert heikin_ashi([], [], [], []) == {"open": [], "high": [], "low": [], "close": []}


@pytest.mark.parametrize(
    ("bars", "error", "message"),
    [
        (
            ([1.0], [1.0, 2.0], [1.0], [1.0]),
            ValueError,
            "open, high, low and close must have the same length, got 1, 2, 1 and 1",
        ),
        (
            (None, [1.0], [1.0], [1.0]),
            TypeError,
            "open must be a list or tuple of numbers, got NoneType None",
        ),
        (
            ([1.0], [1.0], [1.0], ["1"]),
            TypeError,
            r"close\[0\] must be a number \(int or float\), got str '1'",
        ),
    ],
)
def test_heikin_ashi_reports_bad_input(bars: tuple[Any, ...], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=rf"^heikin_ashi\(\): {message}$"):
        heikin_ashi(*bars)


# Pivot points.


def test_pivot_points_use_the_previous_bar() -> None:
    levels = pivot_points([10, 12, 11], [8, 9, 11], [9, 11, 11])
    assert list(levels) == ["pivot", "r1", "r2", "r3", "s1", "s2", "s3"]
    # Bar 1 from bar 0 (H 10, L 8, C 9): pivot 9, r1 18 - 8, s1 18 - 10, r2 9 + 2, s2 9 - 2,
    # r3 10 + 2 * (9 - 8), s3 8 - 2 * (10 - 9). Bar 2 from bar 1 (H 12, L 9, C 11): pivot 32/3.
    p = 32 / 3
    expected = {
        "pivot": [NAN, 9.0, p],
        "r1": [NAN, 10.0, 2 * p - 9],
        "r2": [NAN, 11.0, p + 3],
        "r3": [NAN, 12.0, 12 + 2 * (p - 9)],
        "s1": [NAN, 8.0, 2 * p - 12],
        "s2": [NAN, 7.0, p - 3],
        "s3": [NAN, 6.0, 9 - 2 * (12 - p)],
    }
    for key, values in expected.items():
        assert_series(levels[key], values, tol=1e-15)


def test_pivot_points_on_the_fixtures(ohlcv: dict[str, list[float]]) -> None:
    high, low, close = ohlcv["high"], ohlcv["low"], ohlcv["close"]
    levels = pivot_points(high, low, close)
    pivots = [(hi + lo + c) / 3 for hi, lo, c in zip(high, low, close, strict=True)]
    r1 = [2 * p - lo for p, lo in zip(pivots, low, strict=True)]
    s3 = [lo - 2 * (hi - p) for p, hi, lo in zip(pivots, high, low, strict=True)]
    assert_series(levels["pivot"], shifted(pivots), tol=1e-12)
    assert_series(levels["r1"], shifted(r1), tol=1e-12)
    assert_series(levels["s3"], shifted(s3), tol=1e-12)
    # The levels are in order whenever the previous bar had a range; a flat bar makes them equal.
    for i in range(1, len(close)):
        row = [levels[key][i] for key in ("s3", "s2", "s1", "pivot", "r1", "r2", "r3")]
        if high[i - 1] > low[i - 1]:
            assert row == sorted(row) and row[0] < row[-1]
        else:
            assert row == pytest.approx([close[i - 1]] * 7, rel=1e-12)


def test_pivot_points_of_short_input() -> None:
    assert all(values == [] for values in pivot_points([], [], []).values())
    assert all(
        len(values) == 1 and math.isnan(values[0]) for values in pivot_points([2], [1], [1.5]).values()
    )


def test_pivot_points_report_bad_input() -> None:
    with pytest.raises(
        ValueError, match=r"^pivot_points\(\): high, low and close must have the same length, got 2, 2 and 3$"
    ):
        pivot_points([1.0, 2.0], [1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(
        TypeError, match=r"^pivot_points\(\): low must be a list or tuple of numbers, got float 1.0$"
    ):
        pivot_points([1.0], 1.0, [1.0])  # type: ignore[arg-type]


# Fibonacci retracements.


def test_fibonacci_levels() -> None:
    levels = fibonacci(200, 100)
    assert list(levels) == ["0.0", "0.236", "0.382", "0.5", "0.618", "0.786", "1.0"]
    assert levels == pytest.approx(
        {
            "0.0": 200.0,
            "0.236": 176.4,
            "0.382": 161.8,
            "0.5": 150.0,
            "0.618": 138.2,
            "0.786": 121.4,
            "1.0": 100.0,
        },
        rel=1e-15,
    )
    assert all(type(value) is float for value in levels.values())


def test_fibonacci_ends_are_exactly_the_high_and_the_low() -> None:
    # high - 1.0 * (high - low) would give 0.09999999999999998 here.
    levels = fibonacci(0.7, 0.1)
    assert levels["0.0"] == 0.7 and levels["1.0"] == 0.1
    assert set(fibonacci(5, 5).values()) == {5.0}


@pytest.mark.parametrize(
    ("high", "low", "error", "message"),
    [
        (1, 2, ValueError, "high must be >= low, got high=1.0 and low=2.0"),
        ([2.0], 1, TypeError, r"high must be a number \(int or float\), got list \[2.0\]"),
        (2, None, TypeError, r"low must be a number \(int or float\), got NoneType None"),
        (math.inf, 1, ValueError, "high must be a finite number, got inf"),
        (2, True, TypeError, r"low must be a number \(int or float\), got bool True"),
    ],
)
def test_fibonacci_reports_bad_input(high: object, low: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=rf"^fibonacci\(\): {message}$"):
        fibonacci(high, low)  # type: ignore[arg-type]


# Price and Donchian channels.


def test_price_channel_of_a_small_series() -> None:
    channel = price_channel([1, 3, 2, 5, 4], [0, 1, 1, 2, 3], 2)
    assert list(channel) == ["upper", "lower"]
    # Bar 2 looks at bars 0 and 1, bar 4 at bars 2 and 3: the current bar is left out.
    assert_series(channel["upper"], [NAN, NAN, 3.0, 3.0, 5.0])
    assert_series(channel["lower"], [NAN, NAN, 0.0, 1.0, 1.0])


def test_donchian_of_a_small_series() -> None:
    channel = donchian([1, 3, 2, 5, 4], [0, 1, 1, 2, 3], 2)
    assert list(channel) == ["upper", "middle", "lower"]
    assert_series(channel["upper"], [NAN, 3.0, 3.0, 5.0, 5.0])
    assert_series(channel["lower"], [NAN, 0.0, 1.0, 1.0, 2.0])
    assert_series(channel["middle"], [NAN, 1.5, 2.0, 3.0, 3.5])


@pytest.mark.parametrize("period", [2, 5, 20, 55])
def test_channels_match_ta_lib(period: int, ohlcv: dict[str, list[float]], arrays: Any) -> None:
    data = arrays(ohlcv)
    upper, lower = talib.MAX(data["high"], period), talib.MIN(data["low"], period)
    channel = donchian(ohlcv["high"], ohlcv["low"], period)
    assert_series(channel["upper"], upper)
    assert_series(channel["lower"], lower)
    assert_series(channel["middle"], (upper + lower) / 2, tol=1e-15)
    previous = price_channel(ohlcv["high"], ohlcv["low"], period)
    assert_series(previous["upper"], shifted(upper.tolist()))
    assert_series(previous["lower"], shifted(lower.tolist()))


def test_defaults_are_20_bars(ohlcv: dict[str, list[float]]) -> None:
    high, low = ohlcv["high"], ohlcv["low"]
    assert_series(donchian(high, low)["upper"], donchian(high, low, 20)["upper"])
    assert_series(price_channel(high, low)["lower"], price_channel(high, low, 20)["lower"])
    assert sum(math.isnan(v) for v in donchian(high, low)["middle"]) == 19
    assert sum(math.isnan(v) for v in price_channel(high, low)["upper"]) == 20


@pytest.mark.parametrize("period", [1, 4])
def test_channel_warm_up(period: int) -> None:
    high = [float(i) for i in range(10)]
    low = [value - 1 for value in high]
    for key, values in donchian(high, low, period).items():
        assert [math.isnan(v) for v in values] == [True] * (period - 1) + [False] * (11 - period), key
    for key, values in price_channel(high, low, period).items():
        assert [math.isnan(v) for v in values] == [True] * period + [False] * (10 - period), key


@pytest.mark.parametrize("channel", [donchian, price_channel], ids=["donchian", "price_channel"])
def test_channels_of_short_input_are_all_nan(channel: Callable[..., dict[str, list[float]]]) -> None:
    for values in channel([1.0, 2.0], [0.5, 1.0], 5).values():
        assert_series(values, [NAN, NAN])
    assert all(values == [] for values in channel([], [], 5).values())


@pytest.mark.parametrize("channel", [donchian, price_channel], ids=["donchian", "price_channel"])
@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        (
            {"high": [1.0, 2.0], "low": [1.0]},
            ValueError,
            "high and low must have the same length, got 2 and 1",
        ),
        ({"period": 0}, ValueError, "period must be an int >= 1, got 0"),
        ({"period": 2.5}, TypeError, "period must be an int >= 1, got float 2.5"),
        ({"low": "12"}, TypeError, "low must be a list or tuple of numbers, got str '12'"),
    ],
)
def test_channels_report_bad_input(
    channel: Callable[..., dict[str, list[float]]],
    arguments: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    call = {"high": [2.0, 3.0], "low": [1.0, 2.0], "period": 2, **arguments}
    with pytest.raises(error, match=rf"^{channel.__name__}\(\): {message}$"):
        channel(**call)


def test_channel_nan_spoils_only_its_windows() -> None:
    high = np.arange(10.0).tolist()
    high[4] = NAN
    upper = donchian(high, high, 3)["upper"]
    assert [i for i, v in enumerate(upper) if math.isnan(v)] == [0, 1, 4, 5, 6]
