"""SMA and EMA: hand-computed values, warm-up, short and bad inputs, and a pure-Python reference."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from marketmaestro_indicators.moving_averages import ema, sma

NAN = math.nan
INF = math.inf
Indicator = Callable[[Sequence[float], int], list[float]]
BOTH = pytest.mark.parametrize("indicator", [sma, ema], ids=["sma", "ema"])


def assert_series(actual: list[float], expected: Sequence[float], *, tol: float = 0.0) -> None:
    """``actual`` is a list of Python floats equal to ``expected``, NaN where ``expected`` is NaN."""
    assert isinstance(actual, list)
    assert [type(value) for value in actual] == [float] * len(actual)
    assert actual == pytest.approx(list(expected), rel=tol, abs=tol, nan_ok=True)


def random_walk(seed: int, length: int) -> list[float]:
    """A price-like series: 100 plus the running sum of standard normal steps."""
    steps = np.random.default_rng(seed).standard_normal(length)
    return (100.0 + np.cumsum(steps)).tolist()


def reference_sma(values: Sequence[float], period: int) -> list[float]:
    """The textbook definition, one window at a time."""
    return [
        sum(values[i - period + 1 : i + 1]) / period if i >= period - 1 else NAN for i in range(len(values))
    ]


def reference_ema(values: Sequence[float], period: int) -> list[float]:
    """The textbook recursion, seeded with the mean of the first ``period`` values as TA-Lib does."""
    if len(values) < period:
        return [NAN] * len(values)
    alpha = 2 / (period + 1)
    result = [NAN] * (period - 1) + [sum(values[:period]) / period]
    for value in values[period:]:
        result.append(alpha * value + (1 - alpha) * result[-1])
    return result


WITH_REFERENCE = pytest.mark.parametrize(
    ("indicator", "reference"), [(sma, reference_sma), (ema, reference_ema)], ids=["sma", "ema"]
)


# Values worked out by hand.


def test_sma_of_small_series() -> None:
    assert_series(sma([1, 2, 3, 4, 5], 3), [NAN, NAN, 2.0, 3.0, 4.0])
    assert_series(sma([10, 20, 30, 50], 2), [NAN, 15.0, 25.0, 40.0])
    assert_series(sma([1.5, 2.5, 4.0], 2), [NAN, 2.0, 3.25])


def test_ema_of_small_series() -> None:
    # period 3: alpha 0.5, seed (2 + 4 + 6) / 3 = 4, then 4 + 0.5 * (8 - 4) = 6, 6 + 0.5 * (4 - 6) = 5.
    assert_series(ema([2, 4, 6, 8, 4], 3), [NAN, NAN, 4.0, 6.0, 5.0])
    # period 4: alpha 0.4, seed 2.5, then 2.5 + 0.4 * 7.5 = 5.5, 5.5 + 0.4 * (0 - 5.5) = 3.3.
    assert_series(ema([1, 2, 3, 4, 10, 0], 4), [NAN, NAN, NAN, 2.5, 5.5, 3.3], tol=1e-12)


def test_ema_is_seeded_with_the_sma_of_the_first_period_values() -> None:
    values = random_walk(seed=7, length=40)
    for period in (1, 3, 10, 40):
        assert ema(values, period)[period - 1] == pytest.approx(sma(values, period)[period - 1], rel=1e-12)


@BOTH
def test_period_one_returns_the_values_as_floats(indicator: Indicator) -> None:
    assert_series(indicator([3, 1.5, -2, 0], 1), [3.0, 1.5, -2.0, 0.0])


@BOTH
def test_period_equal_to_the_length_gives_one_value(indicator: Indicator) -> None:
    assert_series(indicator([1, 2, 6], 3), [NAN, NAN, 3.0])


@BOTH
def test_warm_up_is_exactly_period_minus_one_nans(indicator: Indicator) -> None:
    values = random_walk(seed=3, length=30)
    for period in (1, 2, 9, 30):
        result = indicator(values, period)
        assert [math.isnan(value) for value in result] == [True] * (period - 1) + [False] * (31 - period)


# Short inputs: all NaN of the same length, not an error.


@BOTH
@pytest.mark.parametrize("values", [[], [1.0], [1, 2], (5.0, 6.0, 7.0, 8.0)])
def test_input_shorter_than_the_period_gives_all_nan(indicator: Indicator, values: Sequence[float]) -> None:
    assert_series(indicator(values, 5), [NAN] * len(values))


# NaN and infinities in the input.


def test_sma_nan_only_affects_the_windows_that_contain_it() -> None:
    assert_series(sma([1, NAN, 3, 4, 5], 2), [NAN, NAN, NAN, 3.5, 4.5])
    assert_series(sma([1.0, INF, 3.0, 5.0], 2), [NAN, INF, INF, 4.0])


def test_ema_nan_propagates_to_every_later_value() -> None:
    assert_series(ema([1, 2, NAN, 4, 5], 2), [NAN, 1.5, NAN, NAN, NAN])
    assert_series(ema([NAN, 2, 3, 4], 2), [NAN] * 4)


# Inputs of either kind Starlark passes, left untouched.


@BOTH
def test_tuples_are_accepted_and_inputs_are_not_modified(indicator: Indicator) -> None:
    values = [4, 8.0, 6, 2.0]
    assert_series(indicator(tuple(values), 2), indicator(values, 2))
    assert values == [4, 8.0, 6, 2.0]


# Bad input: a clear error naming the indicator, the argument, the value and what was expected.


@BOTH
@pytest.mark.parametrize(
    ("values", "message"),
    [
        ("1,2,3", "values must be a list or tuple of numbers, got str '1,2,3'"),
        (None, "values must be a list or tuple of numbers, got NoneType None"),
        (5, "values must be a list or tuple of numbers, got int 5"),
        ({"close": [1.0]}, r"values must be a list or tuple of numbers, got dict \{'close': \[1.0\]\}"),
        ([1.0, "2"], r"values\[1\] must be a number \(int or float\), got str '2'"),
        ([1.0, 2.0, None], r"values\[2\] must be a number \(int or float\), got NoneType None"),
        ([True, 1.0], r"values\[0\] must be a number \(int or float\), got bool True"),
        ([[1.0, 2.0]], r"values\[0\] must be a number \(int or float\), got list \[1.0, 2.0\]"),
    ],
)
def test_values_that_are_not_a_list_of_numbers_are_a_type_error(
    indicator: Indicator, values: object, message: str
) -> None:
    with pytest.raises(TypeError, match=rf"^{indicator.__name__}\(\): {message}$"):
        indicator(values, 1)  # type: ignore[arg-type]


@BOTH
def test_an_int_too_large_for_a_float_is_a_value_error(indicator: Indicator) -> None:
    with pytest.raises(ValueError, match=r"\(\): values\[1\] is too large to be a float, got int 1000"):
        indicator([1, 10**400], 1)


@BOTH
@pytest.mark.parametrize(
    ("period", "error", "received"),
    [
        (0, ValueError, "0"),
        (-3, ValueError, "-3"),
        (2.0, TypeError, "float 2.0"),
        ("3", TypeError, "str '3'"),
        (None, TypeError, "NoneType None"),
        (True, TypeError, "bool True"),
    ],
)
def test_period_must_be_a_positive_int(
    indicator: Indicator, period: object, error: type[Exception], received: str
) -> None:
    expected = rf"^{indicator.__name__}\(\): period must be an int >= 1, got {received}$"
    with pytest.raises(error, match=expected):
        indicator([1.0, 2.0, 3.0], period)  # type: ignore[arg-type]


@BOTH
def test_bad_input_is_reported_even_when_the_input_is_short(indicator: Indicator) -> None:
    with pytest.raises(ValueError, match="period must be an int >= 1"):
        indicator([], 0)
    with pytest.raises(TypeError, match=r"values\[0\] must be a number"):
        indicator(["x"], 5)  # type: ignore[list-item]


# Against the pure-Python reference on random walks.


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("period", [1, 2, 5, 14, 50, 200, 500])
@WITH_REFERENCE
def test_matches_the_pure_python_reference(
    indicator: Indicator, reference: Indicator, period: int, seed: int
) -> None:
    values = random_walk(seed, length=500)
    result = indicator(values, period)
    assert len(result) == len(values)
    assert_series(result, reference(values, period), tol=1e-9)


@WITH_REFERENCE
def test_a_long_series_stays_finite_and_accurate(indicator: Indicator, reference: Indicator) -> None:
    values = random_walk(seed=11, length=100_000)
    result = indicator(values, 30)
    assert all(math.isfinite(value) for value in result[29:])
    assert_series(result, reference(values, 30), tol=1e-9)
