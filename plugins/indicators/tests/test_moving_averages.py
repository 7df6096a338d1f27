"""Moving averages: hand-computed values, warm-up, short and bad inputs, TA-Lib and pure-Python references."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
import talib

from marketmaestro_indicators.moving_averages import (
    alma,
    ema,
    hull_ma,
    kama,
    sma,
    tema,
    williams_alligator,
    wma,
)

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


# WMA, TEMA, KAMA, Hull, ALMA and the Alligator.

SERIES_INDICATORS = pytest.mark.parametrize(
    "indicator", [wma, tema, kama, hull_ma, alma], ids=["wma", "tema", "kama", "hull_ma", "alma"]
)


def nan_count(result: Sequence[float]) -> int:
    """The number of leading NaNs, after checking that no NaN follows the first value."""
    flags = [math.isnan(value) for value in result]
    count = flags.index(False) if False in flags else len(flags)
    assert not any(flags[count:]), "a NaN after the warm-up"
    return count


# Against TA-Lib on every data set of the `ohlcv` fixture, warm-up positions included.


@pytest.mark.parametrize("period", [2, 3, 5, 14, 30, 100])
@pytest.mark.parametrize(
    ("indicator", "name"),
    [(sma, "SMA"), (ema, "EMA"), (wma, "WMA"), (tema, "TEMA"), (kama, "KAMA")],
    ids=["sma", "ema", "wma", "tema", "kama"],
)
@pytest.mark.parametrize("column", ["close", "high"])
def test_matches_ta_lib(
    indicator: Indicator, name: str, period: int, column: str, ohlcv: dict[str, list[float]], arrays: Any
) -> None:
    expected = getattr(talib, name)(arrays(ohlcv)[column], timeperiod=period)
    assert_series(indicator(ohlcv[column], period), expected, tol=1e-9)


@pytest.mark.parametrize(("indicator", "name"), [(wma, "WMA"), (tema, "TEMA"), (kama, "KAMA")])
def test_defaults_are_ta_libs(
    indicator: Callable[..., list[float]], name: str, ohlcv: dict[str, list[float]], arrays: Any
) -> None:
    expected = getattr(talib, name)(arrays(ohlcv)["close"])
    assert_series(indicator(ohlcv["close"]), expected, tol=1e-9)
    assert nan_count(expected) == {"WMA": 29, "TEMA": 87, "KAMA": 30}[name]


# Values worked out by hand.


def test_wma_of_small_series() -> None:
    # Weights 1, 2, 3 over 6: (1 + 4 + 9) / 6, (2 + 6 + 12) / 6, (3 + 8 + 3) / 6.
    assert_series(wma([1, 2, 3, 4, 1], 3), [NAN, NAN, 14 / 6, 20 / 6, 14 / 6], tol=1e-15)
    assert_series(wma([2.0, 4.0], 2), [NAN, 10 / 3], tol=1e-15)


def test_tema_of_a_small_series() -> None:
    # alpha 2/3. e1: 3/2, 19/6, 115/18; e2 (of e1): 7/3, 136/27; e3 (of e2): 199/54.
    # 3 * 115/18 - 3 * 136/27 + 199/54 = 209/27.
    assert_series(tema([1, 2, 4, 8], 2), [NAN, NAN, NAN, 209 / 27], tol=1e-15)


def test_tema_follows_a_straight_line_without_lag() -> None:
    # An SMA-seeded EMA lags a line by exactly (period - 1) / 2; the three lags cancel in TEMA.
    line = [3.0 + 0.5 * i for i in range(40)]
    assert_series(tema(line, 5), [NAN] * 12 + line[12:], tol=1e-12)


def test_kama_of_a_small_series() -> None:
    # Bar 3: er = |2 - 1| / (1 + 1 + 1) = 1/3, sc = (1/3 * (2/3 - 2/31) + 2/31)^2 = (74/279)^2,
    # starting from values[2] = 3: 3 + sc * (2 - 3).
    sc = Fraction(74, 279) ** 2
    first = 3 - sc
    # Bar 4: er = |5 - 2| / (1 + 1 + 3) = 3/5.
    sc4 = (Fraction(3, 5) * Fraction(56, 93) + Fraction(2, 31)) ** 2
    second = first + sc4 * (5 - first)
    assert_series(kama([1, 2, 3, 2, 5], 3), [NAN, NAN, NAN, float(first), float(second)], tol=1e-15)


def test_kama_uses_the_fastest_constant_in_a_straight_move_and_when_nothing_moves() -> None:
    # er = 1, so sc = (2 / (fast + 1))^2: 1/4 with fast = 3.
    assert_series(kama([1, 2, 3, 4], 2, fast=3, slow=10), [NAN, NAN, 2.25, 2.6875], tol=1e-15)
    assert_series(kama([5, 5, 5, 5, 5], 3), [NAN, NAN, NAN, 5.0, 5.0])


def test_kama_fast_and_slow_change_the_smoothing(ohlcv: dict[str, list[float]]) -> None:
    closes = ohlcv["close"]
    assert_series(kama(closes, 10, fast=3, slow=20), reference_kama(closes, 10, 3, 20), tol=1e-9)
    assert kama(closes, 10, fast=3, slow=20)[-50:] != kama(closes, 10)[-50:]


def test_hull_ma_of_a_small_series() -> None:
    # n = 4: wma2 = 20/3, 40/3 and wma4 = 49/10, 98/10 at bars 3 and 4, so the raw series is
    # 253/30, 506/30, and its WMA over isqrt(4) = 2 bars is (253 + 2 * 506) / 90 = 253/18.
    assert_series(hull_ma([1, 2, 4, 8, 16], 4), [NAN] * 4 + [253 / 18], tol=1e-15)


def test_hull_ma_9_follows_a_straight_line_without_lag() -> None:
    # A WMA lags a line by (n - 1) / 3; for n = 9 the lags of 2 * WMA(4) - WMA(9) and WMA(3) cancel.
    line = [10.0 - 0.25 * i for i in range(30)]
    assert_series(hull_ma(line), [NAN] * 10 + line[10:], tol=1e-12)


def test_alma_of_small_series() -> None:
    # period 3, offset 0.5, sigma 3: centre 1, width 1, weights e^-0.5, 1, e^-0.5.
    edge = math.exp(-0.5)
    assert_series(
        alma([0, 0, 3, 0], 3, offset=0.5, sigma=3),
        [NAN, NAN, 3 * edge / (1 + 2 * edge), 3 / (1 + 2 * edge)],
        tol=1e-15,
    )
    # offset 1 with a narrow peak is (nearly) the latest value; offset 0 the oldest.
    assert alma([1, 2, 3], 3, offset=1, sigma=100)[-1] == pytest.approx(3.0, abs=1e-12)
    assert alma([1, 2, 3], 3, offset=0, sigma=100)[-1] == pytest.approx(1.0, abs=1e-12)


def test_alma_matches_the_pure_python_reference(ohlcv: dict[str, list[float]]) -> None:
    closes = ohlcv["close"]
    assert_series(alma(closes), reference_alma(closes, 9, 0.85, 6), tol=1e-9)
    assert_series(alma(closes, 20, offset=0.3, sigma=2.5), reference_alma(closes, 20, 0.3, 2.5), tol=1e-9)


def test_hull_ma_matches_the_pure_python_reference(ohlcv: dict[str, list[float]]) -> None:
    closes = ohlcv["close"]
    for period in (2, 3, 9, 16, 50):
        assert_series(hull_ma(closes, period), reference_hull(closes, period), tol=1e-9)


@pytest.mark.parametrize(
    ("indicator", "period", "warm_up"),
    [
        (wma, 7, 6),
        (tema, 7, 18),
        (kama, 7, 7),
        (hull_ma, 7, 7 + 2 - 2),
        (hull_ma, 16, 16 + 4 - 2),
        (alma, 7, 6),
    ],
)
def test_warm_up_length(indicator: Indicator, period: int, warm_up: int) -> None:
    result = indicator(random_walk(seed=5, length=60), period)
    assert len(result) == 60
    assert nan_count(result) == warm_up


@SERIES_INDICATORS
@pytest.mark.parametrize("values", [[], [1.0], (5.0, 6.0, 7.0, 8.0)])
def test_new_averages_give_all_nan_for_short_input(indicator: Indicator, values: Sequence[float]) -> None:
    assert_series(indicator(values, 5), [NAN] * len(values))


def test_nan_spoils_only_its_windows_in_wma_alma_and_hull() -> None:
    values = random_walk(seed=8, length=40)
    values[20] = NAN
    assert [i for i, v in enumerate(wma(values, 4)) if math.isnan(v)] == [0, 1, 2, 20, 21, 22, 23]
    assert [i for i, v in enumerate(alma(values, 4)) if math.isnan(v)] == [0, 1, 2, 20, 21, 22, 23]
    # Hull 4: the inner WMA(4) spoils bars 20 to 23, the outer WMA(2) one more.
    assert [i for i, v in enumerate(hull_ma(values, 4)) if math.isnan(v)] == [0, 1, 2, 3, 20, 21, 22, 23, 24]


def test_nan_propagates_to_every_later_value_in_tema_and_kama() -> None:
    values = random_walk(seed=8, length=40)
    values[20] = NAN
    for result in (tema(values, 3), kama(values, 3)):
        assert not any(math.isnan(v) for v in result[7:20])
        assert all(math.isnan(v) for v in result[20:])


@SERIES_INDICATORS
def test_new_averages_report_bad_values(indicator: Indicator) -> None:
    name = indicator.__name__
    with pytest.raises(
        TypeError, match=rf"^{name}\(\): values must be a list or tuple of numbers, got str 'abc'$"
    ):
        indicator("abc", 3)  # type: ignore[arg-type]
    with pytest.raises(
        TypeError, match=rf"^{name}\(\): values\[1\] must be a number \(int or float\), got NoneType"
    ):
        indicator([1.0, None], 3)  # type: ignore[list-item]
    with pytest.raises(TypeError, match=rf"^{name}\(\): period must be an int >= \d, got float 3.0$"):
        indicator([1.0, 2.0], 3.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(("indicator", "minimum"), [(wma, 1), (tema, 1), (kama, 2), (hull_ma, 2), (alma, 1)])
def test_period_below_the_minimum_is_a_value_error(indicator: Indicator, minimum: int) -> None:
    with pytest.raises(
        ValueError,
        match=rf"^{indicator.__name__}\(\): period must be an int >= {minimum}, got {minimum - 1}$",
    ):
        indicator([1.0, 2.0, 3.0], minimum - 1)
    assert len(indicator([1.0, 2.0, 3.0], minimum)) == 3


def test_period_one_is_the_identity_for_wma_and_tema() -> None:
    assert_series(wma([3, 1.5, -2], 1), [3.0, 1.5, -2.0])
    assert_series(tema([3, 1.5, -2], 1), [3.0, 1.5, -2.0])


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"fast": 0}, ValueError, "fast must be an int >= 1, got 0"),
        ({"slow": "30"}, TypeError, "slow must be an int >= 1, got str '30'"),
        ({"fast": 10, "slow": 5}, ValueError, "fast must be <= slow, got fast=10 and slow=5"),
    ],
)
def test_kama_reports_bad_fast_and_slow(
    arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=rf"^kama\(\): {message}$"):
        kama([1.0, 2.0, 3.0], 2, **arguments)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"offset": 1.5}, ValueError, "offset must be between 0 and 1, got 1.5"),
        ({"offset": -0.1}, ValueError, "offset must be between 0 and 1, got -0.1"),
        ({"offset": "0.85"}, TypeError, r"offset must be a number \(int or float\), got str '0.85'"),
        ({"sigma": 0}, ValueError, "sigma must be > 0, got 0.0"),
        ({"sigma": NAN}, ValueError, "sigma must be a finite number, got nan"),
        ({"sigma": True}, TypeError, r"sigma must be a number \(int or float\), got bool True"),
    ],
)
def test_alma_reports_bad_offset_and_sigma(
    arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=rf"^alma\(\): {message}$"):
        alma([1.0, 2.0, 3.0], 3, **arguments)


def test_alma_with_a_huge_sigma_keeps_its_weights() -> None:
    # Without rescaling, every weight would underflow to 0 and the average would be 0 / 0.
    assert alma([1.0, 2.0, 3.0, 4.0], 4, offset=0.9, sigma=1e6)[-1] == pytest.approx(4.0)


# The Alligator.


def test_alligator_of_a_small_series() -> None:
    # Median prices 2, 4, ..., 12. SMMA 3: 4, 16/3, 62/9, 232/27 from bar 2; SMMA 2: 3, 9/2, 25/4,
    # 65/8, 161/16 from bar 1.
    high, low = [3, 5, 7, 9, 11, 13], [1, 3, 5, 7, 9, 11]
    lines = williams_alligator(
        high, low, jaw_period=3, jaw_shift=2, teeth_period=2, teeth_shift=1, lips_period=1, lips_shift=0
    )
    assert list(lines) == ["jaw", "teeth", "lips"]
    assert_series(lines["jaw"], [NAN, NAN, NAN, NAN, 4.0, 16 / 3], tol=1e-15)
    assert_series(lines["teeth"], [NAN, NAN, 3.0, 4.5, 6.25, 8.125], tol=1e-15)
    assert_series(lines["lips"], [2.0, 4.0, 6.0, 8.0, 10.0, 12.0])


def test_alligator_lines_are_smmas_of_the_median_shifted_forward(ohlcv: dict[str, list[float]]) -> None:
    lines = williams_alligator(ohlcv["high"], ohlcv["low"])
    unshifted = williams_alligator(ohlcv["high"], ohlcv["low"], jaw_shift=0, teeth_shift=0, lips_shift=0)
    median = [(top + bottom) / 2 for top, bottom in zip(ohlcv["high"], ohlcv["low"], strict=True)]
    for line, period, shift in (("jaw", 13, 8), ("teeth", 8, 5), ("lips", 5, 3)):
        assert_series(unshifted[line], reference_smma(median, period), tol=1e-9)
        assert_series(lines[line], [NAN] * shift + unshifted[line][:-shift])
        assert nan_count(lines[line]) == period - 1 + shift


def test_alligator_shorter_than_a_shift_is_all_nan() -> None:
    lines = williams_alligator([2.0, 3.0], [1.0, 2.0], jaw_period=1, jaw_shift=5)
    assert_series(lines["jaw"], [NAN, NAN])
    assert {line: len(values) for line, values in lines.items()} == {"jaw": 2, "teeth": 2, "lips": 2}


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        (
            {"high": [1.0, 2.0], "low": [1.0]},
            ValueError,
            "high and low must have the same length, got 2 and 1",
        ),
        ({"high": "1", "low": [1.0]}, TypeError, "high must be a list or tuple of numbers, got str '1'"),
        (
            {"high": [1.0], "low": [None]},
            TypeError,
            r"low\[0\] must be a number \(int or float\), got NoneType None",
        ),
        ({"jaw_period": 0}, ValueError, "jaw_period must be an int >= 1, got 0"),
        ({"teeth_shift": -1}, ValueError, "teeth_shift must be an int >= 0, got -1"),
        ({"lips_shift": 1.0}, TypeError, "lips_shift must be an int >= 0, got float 1.0"),
    ],
)
def test_alligator_reports_bad_input(arguments: dict[str, Any], error: type[Exception], message: str) -> None:
    call = {"high": [2.0, 3.0], "low": [1.0, 2.0], **arguments}
    with pytest.raises(error, match=rf"^williams_alligator\(\): {message}$"):
        williams_alligator(**call)


# Pure-Python references, written from the published definitions.


def reference_wma(values: Sequence[float], period: int) -> list[float]:
    total = period * (period + 1) / 2
    return [
        sum((k + 1) * values[i - period + 1 + k] for k in range(period)) / total if i >= period - 1 else NAN
        for i in range(len(values))
    ]


def reference_hull(values: Sequence[float], period: int) -> list[float]:
    half, full = reference_wma(values, period // 2), reference_wma(values, period)
    raw = [2 * h - f for h, f in zip(half, full, strict=True)]
    return reference_wma(raw, math.isqrt(period))


def reference_alma(values: Sequence[float], period: int, offset: float, sigma: float) -> list[float]:
    m, s = offset * (period - 1), period / sigma
    weights = [math.exp(-((k - m) ** 2) / (2 * s * s)) for k in range(period)]
    return [
        sum(w * values[i - period + 1 + k] for k, w in enumerate(weights)) / sum(weights)
        if i >= period - 1
        else NAN
        for i in range(len(values))
    ]


def reference_kama(values: Sequence[float], period: int, fast: int, slow: int) -> list[float]:
    result = [NAN] * period
    previous = values[period - 1]
    for i in range(period, len(values)):
        direction = abs(values[i] - values[i - period])
        volatility = sum(abs(values[k] - values[k - 1]) for k in range(i - period + 1, i + 1))
        ratio = direction / volatility if volatility else 1.0
        constant = (ratio * (2 / (fast + 1) - 2 / (slow + 1)) + 2 / (slow + 1)) ** 2
        previous = previous + constant * (values[i] - previous)
        result.append(previous)
    return result


def reference_smma(values: Sequence[float], period: int) -> list[float]:
    result = [NAN] * (period - 1) + [sum(values[:period]) / period]
    for value in values[period:]:
        result.append((result[-1] * (period - 1) + value) / period)
    return result
