"""Statistics: TA-Lib where it has the indicator, hand-worked values, pure-Python references, bad input."""

from __future__ import annotations

import math
import statistics as stdlib_statistics
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
import talib

from marketmaestro_indicators.statistics import (
    correlation_coefficient,
    crossover,
    crossunder,
    detrended,
    highest,
    linear_regression,
    linear_regression_slope,
    lowest,
    standard_error,
    stddev,
)

NAN = math.nan
Indicator = Callable[..., list[float]]
WINDOW_INDICATORS = [
    stddev,
    linear_regression,
    linear_regression_slope,
    standard_error,
    detrended,
    highest,
    lowest,
]


def assert_series(actual: list[float], expected: Sequence[float], *, tol: float = 0.0) -> None:
    """``actual`` is a list of Python floats equal to ``expected``, NaN where ``expected`` is NaN."""
    assert isinstance(actual, list)
    assert [type(value) for value in actual] == [float] * len(actual)
    assert actual == pytest.approx(list(expected), rel=tol, abs=tol, nan_ok=True)


def nan_count(result: Sequence[float]) -> int:
    """The number of leading NaNs, after checking that no NaN follows the first value."""
    flags = [math.isnan(value) for value in result]
    count = flags.index(False) if False in flags else len(flags)
    assert not any(flags[count:]), "a NaN after the warm-up"
    return count


def random_walk(seed: int, length: int) -> list[float]:
    """A price-like series: 100 plus the running sum of standard normal steps."""
    return (100.0 + np.cumsum(np.random.default_rng(seed).standard_normal(length))).tolist()


# Against TA-Lib on every data set of the `ohlcv` fixture, warm-up positions included.

PERIODS = pytest.mark.parametrize("period", [2, 3, 5, 14, 30, 100])


@PERIODS
@pytest.mark.parametrize(
    ("indicator", "name"),
    [(linear_regression, "LINEARREG"), (highest, "MAX"), (lowest, "MIN")],
    ids=["linear_regression", "highest", "lowest"],
)
def test_matches_ta_lib(
    indicator: Indicator, name: str, period: int, ohlcv: dict[str, list[float]], arrays: Any
) -> None:
    expected = getattr(talib, name)(arrays(ohlcv)["close"], timeperiod=period)
    assert_series(indicator(ohlcv["close"], period), expected, tol=1e-9)


@PERIODS
def test_slope_matches_ta_lib(period: int, ohlcv: dict[str, list[float]], arrays: Any) -> None:
    closes = ohlcv["close"]
    expected = talib.LINEARREG_SLOPE(arrays(ohlcv)["close"], timeperiod=period)
    # A slope is a difference of prices: where it is near 0 on prices near 30,000, TA-Lib's
    # n * sum(x * y) - sum(x) * sum(y) is off by up to 1e-9 (3e-14 of the price) while ours is
    # exact (next test). So the absolute tolerance is relative to the price level: 1e-12 of it.
    tolerance = 1e-12 * max(closes)
    assert linear_regression_slope(closes, period) == pytest.approx(
        expected.tolist(), rel=1e-9, abs=tolerance, nan_ok=True
    )


@pytest.mark.parametrize("period", [2, 14])
def test_slope_is_the_exact_least_squares_slope(period: int, ohlcv: dict[str, list[float]]) -> None:
    closes = ohlcv["close"]
    time = [Fraction(2 * k - (period - 1), 2) for k in range(period)]
    expected = [NAN] * (period - 1) + [
        float(
            sum(t * Fraction(y) for t, y in zip(time, closes[i - period + 1 : i + 1], strict=True))
            / sum(t * t for t in time)
        )
        for i in range(period - 1, len(closes))
    ]
    assert_series(linear_regression_slope(closes, period), expected, tol=1e-12)


@PERIODS
@pytest.mark.parametrize("nbdev", [1, 2.5])
def test_stddev_matches_ta_lib(period: int, nbdev: float, ohlcv: dict[str, list[float]], arrays: Any) -> None:
    expected = talib.STDDEV(arrays(ohlcv)["close"], timeperiod=period, nbdev=nbdev)
    assert_series(stddev(ohlcv["close"], period, nbdev), expected, tol=1e-9)


@PERIODS
@pytest.mark.parametrize(("a", "b"), [("close", "volume"), ("high", "low"), ("close", "open")])
def test_correlation_matches_ta_lib(
    a: str, b: str, period: int, ohlcv: dict[str, list[float]], arrays: Any
) -> None:
    data = arrays(ohlcv)
    expected = talib.CORREL(data[a], data[b], timeperiod=period)
    assert_series(correlation_coefficient(ohlcv[a], ohlcv[b], period), expected, tol=1e-9)


@pytest.mark.parametrize(
    ("indicator", "name", "warm_up"),
    [
        (stddev, "STDDEV", 4),
        (linear_regression, "LINEARREG", 13),
        (linear_regression_slope, "LINEARREG_SLOPE", 13),
        (highest, "MAX", 29),
        (lowest, "MIN", 29),
    ],
)
def test_defaults_are_ta_libs(
    indicator: Indicator, name: str, warm_up: int, ohlcv: dict[str, list[float]], arrays: Any
) -> None:
    expected = getattr(talib, name)(arrays(ohlcv)["close"])
    result = indicator(ohlcv["close"])
    assert_series(result, expected, tol=1e-9)
    assert nan_count(result) == warm_up


def test_correlation_default_is_ta_libs(ohlcv: dict[str, list[float]], arrays: Any) -> None:
    data = arrays(ohlcv)
    result = correlation_coefficient(ohlcv["high"], ohlcv["low"])
    assert_series(result, talib.CORREL(data["high"], data["low"]), tol=1e-9)
    assert nan_count(result) == 29


# Values worked out by hand.


def test_stddev_of_small_series() -> None:
    # The textbook example: mean 5, squared deviations 9, 1, 1, 1, 0, 0, 4, 16 over 8 = 4.
    assert_series(stddev([2, 4, 4, 4, 5, 5, 7, 9], 8), [NAN] * 7 + [2.0], tol=1e-15)
    assert_series(stddev([1, 3, 3, 3], 2, nbdev=2), [NAN, 2.0, 0.0, 0.0], tol=1e-15)


def test_stddev_is_exact_for_assets_priced_in_millionths() -> None:
    # No absolute threshold below which a small deviation becomes 0.
    assert_series(stddev([1e-7, 1.2e-7, 1e-7, 1.2e-7], 2), [NAN, 1e-8, 1e-8, 1e-8], tol=1e-9)


def test_linear_regression_of_small_series() -> None:
    # Window 1, 3, 2: centred times -1, 0, 1, slope (-1 + 2) / 2 = 0.5, mean 2, so 2.5 at the end.
    assert_series(linear_regression([1, 3, 2], 3), [NAN, NAN, 2.5])
    assert_series(linear_regression_slope([1, 3, 2], 3), [NAN, NAN, 0.5])
    # A straight line is followed exactly, slope and all.
    line = [7.0 - 0.5 * i for i in range(10)]
    assert_series(linear_regression(line, 4), [NAN] * 3 + line[3:], tol=1e-12)
    assert_series(linear_regression_slope(line, 4), [NAN] * 3 + [-0.5] * 7, tol=1e-12)
    # Two points: the line through them.
    assert_series(linear_regression_slope([1, 4, 2], 2), [NAN, 3.0, -2.0])


def test_standard_error_of_small_series() -> None:
    # Window 1, 3, 2: fitted 1.5, 2, 2.5, residuals -0.5, 1, -0.5, sum of squares 1.5 over 3 - 2.
    assert_series(standard_error([1, 3, 2], 3), [NAN, NAN, math.sqrt(1.5)], tol=1e-15)
    # Window 1, 3, 2, 4 (times -1.5 .. 1.5): slope 0.8, mean 2.5, fitted 1.3, 2.1, 2.9, 3.7,
    # residuals -0.3, 0.9, -0.9, 0.3, sum of squares 1.8 over 4 - 2.
    assert_series(standard_error([1, 3, 2, 4], 4), [NAN, NAN, NAN, math.sqrt(0.9)], tol=1e-15)
    assert_series(standard_error([1, 2, 3, 4, 5], 3), [NAN, NAN, 0.0, 0.0, 0.0], tol=1e-15)


def test_correlation_of_small_series() -> None:
    assert_series(correlation_coefficient([1, 2, 3, 5], [2, 4, 6, 10], 3), [NAN, NAN, 1.0, 1.0], tol=1e-15)
    assert_series(correlation_coefficient([1, 2, 3], [3, 1, -1], 2), [NAN, -1.0, -1.0], tol=1e-15)
    # a = 1, 2, 3 against b = 1, 3, 2: covariance 1, deviations sqrt(2) and sqrt(2), so 0.5.
    assert_series(correlation_coefficient([1, 2, 3], [1, 3, 2], 3), [NAN, NAN, 0.5], tol=1e-15)


def test_correlation_is_zero_where_a_window_is_constant() -> None:
    # Undefined there; 0 as in TA-Lib. The mean of three 0.1s is not exactly 0.1, so this also checks
    # that no rounding leaks into a constant window. The last window, 0.1, 0.1, 0.2 against 3, 4, 5,
    # has deviations -1/30, -1/30, 2/30 and -1, 0, 1: 0.1 / (sqrt(6) / 30 * sqrt(2)) = sqrt(3) / 2.
    assert_series(
        correlation_coefficient([0.1] * 4 + [0.2], [1, 2, 3, 4, 5], 3), [NAN, NAN, 0.0, 0.0, math.sqrt(3) / 2]
    )
    assert_series(correlation_coefficient([1, 2, 3], [5, 5, 5], 2), [NAN, 0.0, 0.0])


def test_detrended_of_a_small_series() -> None:
    # period 4: looks back 4 // 2 + 1 = 3 bars. For values i + 1 the SMA at bar j is j - 0.5, so
    # (i + 1) - (i - 3 - 0.5) = 4.5 from bar 4 + 2 = 6 on.
    assert_series(detrended([i + 1 for i in range(10)], 4), [NAN] * 6 + [4.5] * 4)
    # period 3 looks back 2: bar 4 is 16 - mean(1, 2, 4) = 16 - 7/3.
    assert_series(detrended([1, 2, 4, 8, 16], 3), [NAN] * 4 + [16 - 7 / 3], tol=1e-15)


def test_highest_and_lowest_of_small_series() -> None:
    values = [3, 1, 4, 1, 5, 9, 2, 6]
    assert_series(highest(values, 3), [NAN, NAN, 4.0, 4.0, 5.0, 9.0, 9.0, 9.0])
    assert_series(lowest(values, 3), [NAN, NAN, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0])
    assert_series(highest(values, 1), [float(value) for value in values])


# Against pure-Python references on the fixtures.


def reference_detrended(values: Sequence[float], period: int) -> list[float]:
    back = period // 2 + 1
    return [
        values[i] - sum(values[i - back - period + 1 : i - back + 1]) / period
        if i >= period - 1 + back
        else NAN
        for i in range(len(values))
    ]


def reference_standard_error(values: Sequence[float], period: int) -> list[float]:
    result = []
    for i in range(len(values)):
        if i < period - 1:
            result.append(NAN)
            continue
        window = values[i - period + 1 : i + 1]
        slope, intercept = stdlib_statistics.linear_regression(range(period), window)
        squares = sum((y - (intercept + slope * t)) ** 2 for t, y in enumerate(window))
        result.append(math.sqrt(squares / (period - 2)))
    return result


@pytest.mark.parametrize("period", [1, 2, 5, 20, 21, 100])
def test_detrended_matches_the_pure_python_reference(period: int, ohlcv: dict[str, list[float]]) -> None:
    result = detrended(ohlcv["close"], period)
    assert_series(result, reference_detrended(ohlcv["close"], period), tol=1e-9)
    assert nan_count(result) == period + period // 2


@pytest.mark.parametrize("period", [3, 5, 14, 50])
def test_standard_error_matches_the_pure_python_reference(period: int, ohlcv: dict[str, list[float]]) -> None:
    result = standard_error(ohlcv["close"], period)
    # Absolute tolerance relative to the prices: a fit that is nearly perfect has an error near 0.
    expected = reference_standard_error(ohlcv["close"], period)
    assert result == pytest.approx(expected, rel=1e-9, abs=1e-9 * max(ohlcv["close"]), nan_ok=True)
    assert nan_count(result) == period - 1


def test_flat_stretches_give_exact_zeros() -> None:
    # The mean of three 0.1s is not exactly 0.1 in floating point; measured from the window's first
    # value, the deviations are exactly 0.
    values = [0.1, 0.1, 0.1, 0.1, 0.2]
    assert stddev(values, 3)[2:4] == [0.0, 0.0]
    assert standard_error(values, 3)[2:4] == [0.0, 0.0]
    assert linear_regression_slope(values, 3)[2:4] == [0.0, 0.0]
    assert linear_regression(values, 3)[2:4] == [0.1, 0.1]


# Warm-up, short input and NaN.


@pytest.mark.parametrize(
    ("indicator", "period", "warm_up"),
    [
        (stddev, 6, 5),
        (linear_regression, 6, 5),
        (linear_regression_slope, 6, 5),
        (standard_error, 6, 5),
        (detrended, 6, 9),
        (detrended, 7, 10),
        (highest, 6, 5),
        (lowest, 6, 5),
    ],
)
def test_warm_up_length(indicator: Indicator, period: int, warm_up: int) -> None:
    result = indicator(random_walk(seed=4, length=40), period)
    assert len(result) == 40
    assert nan_count(result) == warm_up


@pytest.mark.parametrize("indicator", WINDOW_INDICATORS)
@pytest.mark.parametrize("values", [[], [1.0], (5.0, 6.0, 7.0, 8.0)])
def test_input_shorter_than_the_warm_up_gives_all_nan(indicator: Indicator, values: Sequence[float]) -> None:
    assert_series(indicator(values, 5), [NAN] * len(values))


def test_correlation_of_short_input_is_all_nan() -> None:
    assert_series(correlation_coefficient([1.0, 2.0], [2.0, 1.0], 3), [NAN, NAN])
    assert_series(correlation_coefficient([], [], 3), [])


@pytest.mark.parametrize("indicator", [stddev, linear_regression, linear_regression_slope, standard_error])
def test_nan_spoils_only_the_windows_that_contain_it(indicator: Indicator) -> None:
    values = random_walk(seed=6, length=20)
    values[10] = NAN
    result = indicator(values, 3)
    assert [i for i, value in enumerate(result) if math.isnan(value)] == [0, 1, 10, 11, 12]


def test_nan_in_correlation_spoils_only_its_windows() -> None:
    a, b = random_walk(seed=6, length=12), random_walk(seed=7, length=12)
    b[5] = NAN
    result = correlation_coefficient(a, b, 3)
    assert [i for i, value in enumerate(result) if math.isnan(value)] == [0, 1, 5, 6, 7]


# Bad input.


@pytest.mark.parametrize("indicator", WINDOW_INDICATORS)
def test_bad_values_and_periods_are_reported(indicator: Indicator) -> None:
    name = indicator.__name__
    with pytest.raises(
        TypeError, match=rf"^{name}\(\): values must be a list or tuple of numbers, got NoneType None$"
    ):
        indicator(None, 3)
    with pytest.raises(
        TypeError, match=rf"^{name}\(\): values\[0\] must be a number \(int or float\), got str 'x'$"
    ):
        indicator(["x"], 3)
    with pytest.raises(TypeError, match=rf"^{name}\(\): period must be an int >= \d, got str '3'$"):
        indicator([1.0], "3")


@pytest.mark.parametrize(
    ("indicator", "minimum"),
    [
        (stddev, 2),
        (linear_regression, 2),
        (linear_regression_slope, 2),
        (standard_error, 3),
        (detrended, 1),
        (highest, 1),
        (lowest, 1),
    ],
)
def test_period_below_the_minimum_is_a_value_error(indicator: Indicator, minimum: int) -> None:
    message = rf"^{indicator.__name__}\(\): period must be an int >= {minimum}, got {minimum - 1}$"
    with pytest.raises(ValueError, match=message):
        indicator([1.0, 2.0, 3.0], minimum - 1)
    assert len(indicator([1.0, 2.0, 3.0], minimum)) == 3


@pytest.mark.parametrize(
    ("nbdev", "error", "message"),
    [
        ("2", TypeError, r"nbdev must be a number \(int or float\), got str '2'"),
        (NAN, ValueError, "nbdev must be a finite number, got nan"),
        (None, TypeError, r"nbdev must be a number \(int or float\), got NoneType None"),
    ],
)
def test_stddev_reports_a_bad_nbdev(nbdev: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=rf"^stddev\(\): {message}$"):
        stddev([1.0, 2.0], 2, nbdev)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("a", "b", "period", "error", "message"),
    [
        ([1.0, 2.0], [1.0], 2, ValueError, "a and b must have the same length, got 2 and 1"),
        ("ab", [1.0], 2, TypeError, "a must be a list or tuple of numbers, got str 'ab'"),
        ([1.0], [True], 2, TypeError, r"b\[0\] must be a number \(int or float\), got bool True"),
        ([1.0], [1.0], 1, ValueError, "period must be an int >= 2, got 1"),
    ],
)
def test_correlation_reports_bad_input(
    a: object, b: object, period: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=rf"^correlation_coefficient\(\): {message}$"):
        correlation_coefficient(a, b, period)  # type: ignore[arg-type]


# Crossings.


def assert_flags(actual: list[bool], expected: list[bool]) -> None:
    assert [type(flag) for flag in actual] == [bool] * len(actual)
    assert actual == expected


def test_crossover_and_crossunder_of_two_series() -> None:
    a = [1, 3, 2, 2, 4, 1, 1]
    b = [2, 2, 2, 3, 3, 3, 1]
    # Bar 1: 1 <= 2 then 3 > 2. Bar 4: 2 <= 3 then 4 > 3. Bar 2: 3 > 2 then 2 = 2, not below.
    assert_flags(crossover(a, b), [False, True, False, False, True, False, False])
    # Bar 3: 2 >= 2 then 2 < 3 (touching then falling is a cross). Bar 5: 4 >= 3 then 1 < 3.
    assert_flags(crossunder(a, b), [False, False, False, True, False, True, False])


def test_touching_and_then_rising_is_one_crossover() -> None:
    # Below, touching for two bars, then above: the cross is the bar that goes above.
    assert_flags(crossover([1, 2, 2, 3, 4], 2), [False, False, False, True, False])
    # Staying equal is never a cross.
    assert_flags(crossover([2, 2, 2], [2, 2, 2]), [False, False, False])
    assert_flags(crossunder([2, 2, 2], [2, 2, 2]), [False, False, False])


def test_either_side_may_be_a_number() -> None:
    rsi = [50, 75, 65, 80, 25, 35]
    assert_flags(crossover(rsi, 70), [False, True, False, True, False, False])
    assert_flags(crossunder(rsi, 30), [False, False, False, False, True, False])
    assert_flags(crossover(70, rsi), [False, False, True, False, True, False])
    assert_flags(crossunder(30.0, rsi), [False, False, False, False, False, True])


def test_nan_is_never_a_cross() -> None:
    a = [1, NAN, 3, 1, 3, NAN, 1]
    assert_flags(crossover(a, 2), [False, False, False, False, True, False, False])
    assert_flags(crossunder(a, 2), [False, False, False, True, False, False, False])
    assert_flags(crossover([1, 3], [NAN, 2]), [False, False])


def test_crossings_of_empty_and_single_bar_series() -> None:
    assert_flags(crossover([], 1), [])
    assert_flags(crossunder([5], 1), [False])


def test_crossings_match_a_pure_python_reference(ohlcv: dict[str, list[float]]) -> None:
    close, mean = ohlcv["close"], np.convolve(ohlcv["close"], np.ones(10) / 10, "full")[: len(ohlcv["close"])]
    level = mean.tolist()
    over = [i > 0 and close[i] > level[i] and close[i - 1] <= level[i - 1] for i in range(len(close))]
    under = [i > 0 and close[i] < level[i] and close[i - 1] >= level[i - 1] for i in range(len(close))]
    assert crossover(close, level) == over
    assert crossunder(close, level) == under
    assert any(over) and any(under)


@pytest.mark.parametrize("indicator", [crossover, crossunder], ids=["crossover", "crossunder"])
@pytest.mark.parametrize(
    ("a", "b", "error", "message"),
    [
        (1, 2.0, TypeError, "a and b cannot both be numbers: at least one must be a list or tuple"),
        ([1.0, 2.0], [1.0], ValueError, "a and b must have the same length, got 2 and 1"),
        ("12", 1, TypeError, "a must be a list or tuple of numbers, or a number, got str '12'"),
        ([1.0], None, TypeError, "b must be a list or tuple of numbers, or a number, got NoneType None"),
        ([1.0], True, TypeError, "b must be a list or tuple of numbers, or a number, got bool True"),
        ([1.0], NAN, ValueError, "b must be a finite number, got nan"),
        ([1.0, "2"], 1, TypeError, r"a\[1\] must be a number \(int or float\), got str '2'"),
    ],
)
def test_crossings_report_bad_input(
    indicator: Callable[..., list[bool]], a: object, b: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=rf"^{indicator.__name__}\(\): {message}$"):
        indicator(a, b)
