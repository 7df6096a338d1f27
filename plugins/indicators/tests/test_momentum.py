"""Momentum oscillators: TA-Lib on every data set, values worked out by hand, pure-Python references where
TA-Lib has no equivalent, warm-up lengths, flat markets, NaN and bad input."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
import starlark_go
import talib

from marketmaestro_indicators import momentum
from marketmaestro_indicators.momentum import (
    accelerator_oscillator,
    advanced_cci,
    aroon,
    awesome_oscillator,
    bop,
    cci,
    cmo,
    coppock_curve,
    elder_ray,
    kst,
    macd,
    mass_index,
    ppo,
    price_roc,
    roc,
    rsi,
    rvi,
    stc,
    stoch,
    stochastic_rsi,
    tsi,
    ultimate_oscillator,
    williams_r,
)

NAN = math.nan
SMA, EMA = talib.MA_Type.SMA, talib.MA_Type.EMA
Data = dict[str, list[float]]
Result = list[float] | dict[str, list[float]]
Call = Callable[[Data], Result]


def assert_series(
    actual: list[float], expected: Sequence[float], *, tol: float = 1e-9, abs_tol: float | None = None
) -> None:
    """``actual`` is a list of Python floats equal to ``expected`` within ``tol`` (relative, and absolute
    unless ``abs_tol`` is given), NaN exactly where ``expected`` is NaN."""
    assert isinstance(actual, list)
    assert [type(value) for value in actual] == [float] * len(actual)
    absolute = tol if abs_tol is None else abs_tol
    assert actual == pytest.approx(list(expected), rel=tol, abs=absolute, nan_ok=True)


def assert_result(actual: Result, expected: Any, *, tol: float = 1e-9, abs_tol: float | None = None) -> None:
    """Like ``assert_series``, for one series or a dict of them (with the same keys, in order)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict)
        assert list(actual) == list(expected)
        for key, series in expected.items():
            assert_series(actual[key], series, tol=tol, abs_tol=abs_tol)
    else:
        assert isinstance(actual, list)
        assert_series(actual, expected, tol=tol, abs_tol=abs_tol)


def candles(close: np.ndarray, rng: np.random.Generator) -> Data:
    """Open, high, low and close lists around ``close``, with high >= max(open, close) >= low."""
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.003, close.size)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.003, close.size)))
    return {"open": open_.tolist(), "high": high.tolist(), "low": low.tolist(), "close": close.tolist()}


def walk(seed: int, length: int, scale: float = 100.0) -> Data:
    rng = np.random.default_rng(seed)
    return candles(scale * np.exp(np.cumsum(rng.normal(0, 0.01, length))), rng)


def flat_then_moving(seed: int) -> Data:
    """80 bars where nothing trades (open = high = low = close), then a walk: every 0 / 0 case."""
    data = walk(seed, 220)
    for key in data:
        data[key][:80] = [100.0] * 80
    return data


def all_flat() -> Data:
    return {key: [42.0] * 120 for key in ("open", "high", "low", "close")}


def scaled(data: Data, factor: float) -> Data:
    return {key: [value * factor for value in values] for key, values in data.items()}


def arrays_of(data: Data) -> dict[str, np.ndarray]:
    return {key: np.asarray(values, dtype=np.float64) for key, values in data.items()}


def ta_dict(keys: str, outputs: tuple[np.ndarray, ...]) -> dict[str, np.ndarray]:
    """TA-Lib's outputs under our key names (``keys`` space-separated, in TA-Lib's output order)."""
    return dict(zip(keys.split(), outputs, strict=True))


# Each case: our call on the data lists, and TA-Lib's on the same data as arrays, with our key names.
# TA-Lib's parameters are always spelt out, so a change of its defaults cannot change the comparison.
TA_LIB_CASES = [
    pytest.param(
        lambda d: macd(d["close"]),
        lambda a: ta_dict("macd signal histogram", talib.MACD(a["close"], 12, 26, 9)),
        id="macd",
    ),
    pytest.param(
        lambda d: macd(d["close"], fast=3, slow=40, signal=1),
        lambda a: ta_dict("macd signal histogram", talib.MACD(a["close"], 3, 40, 1)),
        id="macd-3-40-1",
    ),
    pytest.param(lambda d: ppo(d["close"]), lambda a: talib.PPO(a["close"], 12, 26, EMA), id="ppo"),
    pytest.param(
        lambda d: ppo(d["close"], 5, 9, ma="sma"), lambda a: talib.PPO(a["close"], 5, 9, SMA), id="ppo-sma"
    ),
    pytest.param(
        lambda d: awesome_oscillator(d["high"], d["low"]),
        lambda a: talib.AO(a["high"], a["low"], 5, 34),
        id="ao",
    ),
    pytest.param(
        lambda d: awesome_oscillator(d["high"], d["low"], 3, 10),
        lambda a: talib.AO(a["high"], a["low"], 3, 10),
        id="ao-3-10",
    ),
    pytest.param(
        lambda d: accelerator_oscillator(d["high"], d["low"]),
        lambda a: talib.AC(a["high"], a["low"], 5, 34, 5),
        id="ac",
    ),
    pytest.param(
        lambda d: accelerator_oscillator(d["high"], d["low"], 2, 8, 3),
        lambda a: talib.AC(a["high"], a["low"], 2, 8, 3),
        id="ac-2-8-3",
    ),
    pytest.param(lambda d: rsi(d["close"]), lambda a: talib.RSI(a["close"], 14), id="rsi"),
    pytest.param(lambda d: rsi(d["close"], 2), lambda a: talib.RSI(a["close"], 2), id="rsi-2"),
    pytest.param(lambda d: rsi(d["close"], 50), lambda a: talib.RSI(a["close"], 50), id="rsi-50"),
    pytest.param(lambda d: cmo(d["close"]), lambda a: talib.CMO(a["close"], 14), id="cmo"),
    pytest.param(lambda d: cmo(d["close"], 3), lambda a: talib.CMO(a["close"], 3), id="cmo-3"),
    pytest.param(
        lambda d: stochastic_rsi(d["close"]),
        lambda a: ta_dict("k d", talib.STOCHRSI(a["close"], 14, 5, 3, SMA)),
        id="stochastic_rsi",
    ),
    pytest.param(
        lambda d: stochastic_rsi(d["close"], 14, 14, 1),
        lambda a: ta_dict("k d", talib.STOCHRSI(a["close"], 14, 14, 1, SMA)),
        id="stochastic_rsi-14-14-1",
    ),
    pytest.param(
        lambda d: stoch(d["high"], d["low"], d["close"]),
        lambda a: ta_dict("k d", talib.STOCH(a["high"], a["low"], a["close"], 14, 3, SMA, 3, SMA)),
        id="stoch",
    ),
    pytest.param(
        lambda d: stoch(d["high"], d["low"], d["close"], 5, 1, 4),
        lambda a: ta_dict("k d", talib.STOCH(a["high"], a["low"], a["close"], 5, 1, SMA, 4, SMA)),
        id="stoch-5-1-4",
    ),
    pytest.param(
        lambda d: williams_r(d["high"], d["low"], d["close"]),
        lambda a: talib.WILLR(a["high"], a["low"], a["close"], 14),
        id="williams_r",
    ),
    pytest.param(
        lambda d: williams_r(d["high"], d["low"], d["close"], 3),
        lambda a: talib.WILLR(a["high"], a["low"], a["close"], 3),
        id="williams_r-3",
    ),
    pytest.param(
        lambda d: ultimate_oscillator(d["high"], d["low"], d["close"]),
        lambda a: talib.ULTOSC(a["high"], a["low"], a["close"], 7, 14, 28),
        id="ultimate_oscillator",
    ),
    pytest.param(
        lambda d: ultimate_oscillator(d["high"], d["low"], d["close"], 2, 2, 5),
        lambda a: talib.ULTOSC(a["high"], a["low"], a["close"], 2, 2, 5),
        id="ultimate_oscillator-2-2-5",
    ),
    pytest.param(
        lambda d: cci(d["high"], d["low"], d["close"]),
        lambda a: talib.CCI(a["high"], a["low"], a["close"], 14),
        id="cci",
    ),
    pytest.param(
        lambda d: cci(d["high"], d["low"], d["close"], 2),
        lambda a: talib.CCI(a["high"], a["low"], a["close"], 2),
        id="cci-2",
    ),
    pytest.param(lambda d: roc(d["close"]), lambda a: talib.ROC(a["close"], 10), id="roc"),
    pytest.param(lambda d: roc(d["close"], 1), lambda a: talib.ROC(a["close"], 1), id="roc-1"),
    pytest.param(lambda d: price_roc(d["close"]), lambda a: talib.ROCP(a["close"], 10), id="price_roc"),
    pytest.param(lambda d: price_roc(d["close"], 3), lambda a: talib.ROCP(a["close"], 3), id="price_roc-3"),
    pytest.param(lambda d: tsi(d["close"]), lambda a: talib.TSI(a["close"], 25, 13), id="tsi"),
    pytest.param(lambda d: tsi(d["close"], 4, 2), lambda a: talib.TSI(a["close"], 4, 2), id="tsi-4-2"),
    pytest.param(
        lambda d: coppock_curve(d["close"]), lambda a: talib.COPPOCK(a["close"], 10, 11, 14), id="coppock"
    ),
    pytest.param(
        lambda d: coppock_curve(d["close"], roc1=3, roc2=7, wma=4),
        lambda a: talib.COPPOCK(a["close"], 4, 3, 7),
        id="coppock-3-7-4",
    ),
    pytest.param(
        lambda d: bop(d["open"], d["high"], d["low"], d["close"]),
        lambda a: talib.BOP(a["open"], a["high"], a["low"], a["close"]),
        id="bop",
    ),
    pytest.param(
        lambda d: aroon(d["high"], d["low"]),
        lambda a: (
            ta_dict("down up", talib.AROON(a["high"], a["low"], 14))
            | {"oscillator": talib.AROONOSC(a["high"], a["low"], 14)}
        ),
        id="aroon",
    ),
    pytest.param(
        lambda d: aroon(d["high"], d["low"], 3),
        lambda a: (
            ta_dict("down up", talib.AROON(a["high"], a["low"], 3))
            | {"oscillator": talib.AROONOSC(a["high"], a["low"], 3)}
        ),
        id="aroon-3",
    ),
    pytest.param(
        lambda d: mass_index(d["high"], d["low"]),
        lambda a: talib.MASSI(a["high"], a["low"], 9, 25),
        id="mass_index",
    ),
    pytest.param(
        lambda d: mass_index(d["high"], d["low"], 6, 3),
        lambda a: talib.MASSI(a["high"], a["low"], 3, 6),
        id="mass_index-6-3",
    ),
]


def expected_in_our_order(result: Result, expected: Any) -> Any:
    """TA-Lib's dict reordered to our keys (AROON gives down before up), or the array as a list."""
    if isinstance(expected, dict):
        assert isinstance(result, dict) and set(result) == set(expected)
        return {key: expected[key].tolist() for key in result}
    return expected.tolist()


@pytest.mark.parametrize(("ours", "theirs"), TA_LIB_CASES)
def test_matches_ta_lib(ours: Call, theirs: Callable[[Any], Any], ohlcv: Data, arrays: Any) -> None:
    result = ours(ohlcv)
    assert_result(result, expected_in_our_order(result, theirs(arrays(ohlcv))))


@pytest.mark.parametrize(("ours", "theirs"), TA_LIB_CASES)
@pytest.mark.parametrize(
    "data",
    [flat_then_moving(5), all_flat(), scaled(walk(6, 300), 1e-6)],
    ids=["flat-then-moving", "all-flat", "tiny-prices"],
)
def test_matches_ta_lib_in_flat_markets_and_at_tiny_prices(
    ours: Call, theirs: Callable[[Any], Any], data: Data
) -> None:
    # Every 0 / 0 answer (a flat market) is TA-Lib's, and no absolute epsilon makes an instrument quoted
    # at 1e-6 look flat. Outputs in price units are tiny there: the absolute tolerance scales with them.
    result = ours(data)
    expected = expected_in_our_order(result, theirs(arrays_of(data)))
    series = list(expected.values()) if isinstance(expected, dict) else [expected]
    largest = float(np.nanmax(np.abs(np.concatenate(series)), initial=0.0))
    assert_result(result, expected, abs_tol=1e-9 * min(largest, 1.0))


# Values worked out by hand.


def test_macd_of_a_small_series() -> None:
    # fast 2 (alpha 2/3), slow 3 (alpha 1/2), signal 2. Both EMAs start at index 2: slow seeded with
    # mean(1, 2, 6) = 3, fast with mean(2, 6) = 4 (ema() would have 1.5 at index 1, then 4.5).
    # Index 3: slow 3 + (5 - 3) / 2 = 4, fast 4 + 2/3 * (5 - 4) = 14/3, macd 2/3.
    # Index 4: slow 4, fast 14/3 + 2/3 * (4 - 14/3) = 38/9, macd 2/9.
    # Signal: mean(macd[2] = 1, macd[3] = 2/3) = 5/6, then 5/6 + 2/3 * (2/9 - 5/6) = 23/54.
    result = macd([1, 2, 6, 5, 4], fast=2, slow=3, signal=2)
    assert_result(
        result,
        {
            "macd": [NAN, NAN, NAN, 2 / 3, 2 / 9],
            "signal": [NAN, NAN, NAN, 5 / 6, 23 / 54],
            "histogram": [NAN, NAN, NAN, 2 / 3 - 5 / 6, 2 / 9 - 23 / 54],
        },
        tol=1e-12,
    )


def test_ppo_of_a_small_series() -> None:
    # sma: SMA(2) = 3, 6 and SMA(1) = the values: 100 * (4 - 3) / 3, 100 * (8 - 6) / 6.
    assert_series(ppo([2, 4, 8], fast=1, slow=2, ma="sma"), [NAN, 100 / 3, 100 / 3], tol=1e-12)
    # ema: EMA(2) starts at mean(2, 4) = 3, then 3 + 2/3 * (8 - 3) = 19/3; 100 * (8 - 19/3) / (19/3).
    assert_series(ppo([2, 4, 8], fast=1, slow=2), [NAN, 100 / 3, 500 / 19], tol=1e-12)
    # A slow average of 0 gives 0, not a division error.
    assert_series(ppo([0, 0, 0], fast=1, slow=2, ma="sma"), [NAN, 0.0, 0.0])


def test_awesome_and_accelerator_oscillators_of_a_small_series() -> None:
    # Median prices 1, 3, 4: SMA(1) - SMA(2) = 3 - 2, 4 - 3.5; then AC = AO - SMA(AO, 2) = 0.5 - 0.75.
    assert_series(awesome_oscillator([2, 4, 6], [0, 2, 2], fast=1, slow=2), [NAN, 1.0, 0.5])
    assert_series(accelerator_oscillator([2, 4, 6], [0, 2, 2], 1, 2, 2), [NAN, NAN, -0.25])


def test_rsi_and_cmo_of_a_small_series() -> None:
    # Changes +1, +1, -1, +1, +1; period 2. Index 2: gain 1, loss 0. Index 3: gain (1 + 0) / 2 = 0.5,
    # loss (0 + 1) / 2 = 0.5. Index 4: gain 0.75, loss 0.25. Index 5: gain 0.875, loss 0.125.
    values = [1, 2, 3, 2, 3, 4]
    assert_series(rsi(values, 2), [NAN, NAN, 100.0, 50.0, 75.0, 87.5])
    assert_series(cmo(values, 2), [NAN, NAN, 100.0, 0.0, 50.0, 75.0])


def test_stochastic_rsi_of_a_small_series() -> None:
    # The RSI above is 100, 50, 75, 87.5; k over 2 RSI values: (50 - 50) / 50, (75 - 50) / 25, ...
    assert_result(
        stochastic_rsi([1, 2, 3, 2, 3, 4], period=2, k_period=2, d_period=1),
        {"k": [NAN, NAN, NAN, 0.0, 100.0, 100.0], "d": [NAN, NAN, NAN, 0.0, 100.0, 100.0]},
    )


def test_stoch_and_williams_r_of_a_small_series() -> None:
    high, low, close = [3, 4, 5, 4], [1, 2, 3, 2], [2, 4, 3, 2]
    # Raw %K over 2 bars: 100 * (4 - 1) / (4 - 1), 100 * (3 - 2) / (5 - 2), 100 * (2 - 2) / (5 - 2).
    assert_result(
        stoch(high, low, close, k_period=2, k_smooth=1, d_period=2),
        {"k": [NAN, NAN, 100 / 3, 0.0], "d": [NAN, NAN, (100 + 100 / 3) / 2, 50 / 3]},
    )
    # With k_smooth 2, k is the mean of two raw values: (100 + 100/3) / 2 and (100/3 + 0) / 2.
    assert_result(
        stoch(high, low, close, k_period=2, k_smooth=2, d_period=1),
        {"k": [NAN, NAN, 200 / 3, 50 / 3], "d": [NAN, NAN, 200 / 3, 50 / 3]},
    )
    # %R: -100 * (4 - 4) / 3, -100 * (5 - 3) / 3, -100 * (5 - 2) / 3.
    assert_series(williams_r(high, low, close, 2), [NAN, 0.0, -200 / 3, -100.0])


def test_ultimate_oscillator_of_a_small_series() -> None:
    # Bars 1 and 2 against the previous close: bar 1 true low min(1, 2) = 1, bp 3 - 1 = 2, tr 4 - 1 = 3;
    # bar 2 true low min(2, 3) = 2, bp 2 - 2 = 0, tr max(5, 3) - 2 = 3. Periods 1, 1, 2 at bar 2:
    # 100 * (4 * 0/3 + 2 * 0/3 + (2 + 0) / (3 + 3)) / 7.
    result = ultimate_oscillator([3, 4, 5], [1, 1, 2], [2, 3, 2], 1, 1, 2)
    assert_series(result, [NAN, NAN, 100 * (1 / 3) / 7], tol=1e-12)


def test_cci_of_a_small_series() -> None:
    # Typical prices 1, 2, 6: mean 3, mean deviation (2 + 1 + 3) / 3 = 2, CCI (6 - 3) / (0.015 * 2).
    assert_series(cci([1, 2, 6], [1, 2, 6], [1, 2, 6], 3), [NAN, NAN, 100.0], tol=1e-12)


def test_cci_is_0_where_the_price_is_at_its_mean_up_to_rounding() -> None:
    # The last price is about 20 ulps (3e-13) above the mean of the three: under TA-Lib's 1e-14 * 100,
    # so 0, while their mean deviation (107 ulps, 1.5e-12) is over it. Divided, they would give 12.6.
    ulp = float(np.spacing(100.0))
    prices = [100 - 150 * ulp, 100 + 150 * ulp, 100 + 30 * ulp]
    as_array = np.array(prices)
    expected = talib.CCI(as_array, as_array, as_array, 3).tolist()
    assert expected[-1] == 0.0
    assert_series(cci(prices, prices, prices, 3), expected, tol=0.0)


def test_advanced_cci_of_a_small_series() -> None:
    # A 2-bar CCI is +-(1 / 0.015) = +-200/3 by the sign of the change, 0 without one: u, u, -u, 0.
    # EMA(2), alpha 2/3: seed mean(u, u) = u, then u + 2/3 * (-u - u) = -u/3, -u/3 + 2/3 * u/3 = -u/9.
    u = 200 / 3
    closes = [1, 2, 3, 2, 2]
    assert_series(cci(closes, closes, closes, 2), [NAN, u, u, -u, 0.0], tol=1e-12)
    assert_series(advanced_cci(closes, closes, closes, 2, smooth=2), [NAN, NAN, u, -u / 3, -u / 9], tol=1e-12)


def test_rates_of_change_of_a_small_series() -> None:
    values = [10, 11, 12.1, 0, 5]
    # After a 0 the rate is 0, as in TA-Lib, not a division error.
    assert_series(roc(values, 1), [NAN, 10.0, 10.0, -100.0, 0.0], tol=1e-12)
    assert_series(price_roc(values, 1), [NAN, 0.1, 0.1, -1.0, 0.0], tol=1e-12)
    assert_series(roc(values, 2), [NAN, NAN, 21.0, -100.0, 100 * (5 / 12.1 - 1)], tol=1e-12)


def test_tsi_of_a_small_series() -> None:
    # Changes 2, -1, 2, 0 and their sizes 2, 1, 2, 0; long 2 and short 2 (alpha 2/3 both).
    # Changes: EMA 0.5, 1.5, 0.5, then EMA 1, 2/3. Sizes: EMA 1.5, 11/6, 11/18, then EMA 5/3, 26/27.
    assert_series(tsi([1, 3, 2, 4, 4], long=2, short=2), [NAN, NAN, NAN, 60.0, 900 / 13], tol=1e-12)


def test_kst_of_a_small_series() -> None:
    # ROC 1..4 bars with SMAs of 1, 1, 1, 2 bars. Bar 5: ROCs 100, 300, 700 and SMA(ROC4) of 1500, 1500;
    # 100 + 2 * 300 + 3 * 700 + 4 * 1500 = 8800. Bar 6: ROCs 0, 100, 300 and SMA(ROC4) of 1500 and 700:
    # 0 + 200 + 900 + 4 * 1100 = 5500.
    result = kst([1, 2, 4, 8, 16, 32, 32], 1, 2, 3, 4, 1, 1, 1, 2, signal=2)
    assert_result(result, {"kst": [NAN] * 5 + [8800.0, 5500.0], "signal": [NAN] * 6 + [7150.0]})


def test_coppock_curve_of_a_small_series() -> None:
    # ROC(1) 100, 100, 0 and ROC(2) 300, 100: sums 400, 100 at bars 2, 3; WMA(2) = (400 + 2 * 100) / 3.
    assert_series(coppock_curve([1, 2, 4, 4], roc1=1, roc2=2, wma=2), [NAN, NAN, NAN, 200.0])


def test_stc_of_a_small_series() -> None:
    # fast 1 (the values), slow 3 (alpha 1/2, seed mean(2, 1, 3) = 2): macd = [-, -, 1, 0, 1, -1, 0, 0].
    # f1 over 2 bars from bar 3: 0, 100, 0, 100, then a flat window that keeps 100 (Schaff's rule).
    # p1 = 0, 50, 25, 62.5, 81.25; f2 = 100, 0, 100, 100 from bar 4; STC = 100, 50, 75, 87.5.
    # Were the flat window 0 (as a stochastic would have it), the last value would be 37.5.
    result = stc([2, 1, 3, 2, 4, 1, 2, 2], fast=1, slow=3, cycle=2)
    assert_series(result, [NAN] * 4 + [100.0, 50.0, 75.0, 87.5])


def test_rvi_of_a_small_series() -> None:
    # close - open = 1, 0, -1, 2, 1, 0, 1, 3 and high - low = 2, 2, 2, 4, 2, 2, 2, 4. Smoothed 1-2-2-1
    # over 6 from bar 3: 1/6, 3/6, 5/6, 5/6, 6/6 and 14/6, 16/6, 16/6, 14/6, 14/6. Over 2 bars from
    # bar 4: 4/30, 8/32, 10/30, 11/28.
    moves, ranges = [1, 0, -1, 2, 1, 0, 1, 3], [2, 2, 2, 4, 2, 2, 2, 4]
    open_ = [10.0] * 8
    close = [10.0 + move for move in moves]
    low = [min(o, c) for o, c in zip(open_, close, strict=True)]
    high = [lo + size for lo, size in zip(low, ranges, strict=True)]
    vigor = [4 / 30, 8 / 32, 10 / 30, 11 / 28]
    signal = (vigor[3] + 2 * vigor[2] + 2 * vigor[1] + vigor[0]) / 6
    assert_result(
        rvi(open_, high, low, close, period=2),
        {"rvi": [NAN] * 4 + vigor, "signal": [NAN] * 7 + [signal]},
        tol=1e-12,
    )


def test_bop_of_a_small_series() -> None:
    # (2.5 - 1) / (3 - 0); a bar with no range gives 0, and so does one whose high is below its low.
    open_, high, low, close = [1.0, 2.0, 2.0], [3.0, 2.0, 1.0], [0.0, 2.0, 3.0], [2.5, 2.0, 1.5]
    assert_series(bop(open_, high, low, close), [0.5, 0.0, 0.0])
    as_arrays = [np.array(values) for values in (open_, high, low, close)]
    assert_series(bop(open_, high, low, close), talib.BOP(*as_arrays).tolist())


def test_aroon_of_a_small_series() -> None:
    # Period 2, windows of 3 bars. Bar 2: highest high 3 one bar ago -> up 50; lows 1, 1 tie and the
    # most recent counts -> down 100. Bar 3: highest 3 two bars ago -> 0; lowest 1 one bar ago -> 50.
    assert_result(
        aroon([1, 3, 2, 2], [2, 1, 1, 3], period=2),
        {
            "up": [NAN, NAN, 50.0, 0.0],
            "down": [NAN, NAN, 100.0, 50.0],
            "oscillator": [NAN, NAN, -50.0, -50.0],
        },
    )


def test_elder_ray_of_a_small_series() -> None:
    # EMA(2) of the close: seed mean(2, 4) = 3, then 3 + 2/3 * (3 - 3) = 3, 3 + 2/3 * (9 - 3) = 7.
    assert_result(
        elder_ray([3, 5, 4, 10], [1, 3, 2, 8], [2, 4, 3, 9], period=2),
        {"bull_power": [NAN, 2.0, 1.0, 3.0], "bear_power": [NAN, 0.0, -1.0, 1.0]},
        tol=1e-12,
    )


def test_mass_index_of_a_constant_range_is_the_period() -> None:
    # Every ratio EMA(range) / EMA(EMA(range)) is 1; a range of 0 (0 / 0) counts as 1 too, as in TA-Lib.
    for spread in (2.0, 0.0):
        highs = [100 + spread] * 8
        assert_series(mass_index(highs, [100.0] * 8, period=3, ema_period=2), [NAN] * 4 + [3.0] * 4)


# Pure-Python references from the published definitions, for the indicators TA-Lib does not have.


def reference_ema(values: Sequence[float], period: int, first: int) -> list[float]:
    """EMA whose first value, at ``first``, is the mean of the ``period`` values ending there."""
    out = [NAN] * len(values)
    if first < len(values):
        alpha = 2 / (period + 1)
        out[first] = sum(values[first - period + 1 : first + 1]) / period
        for i in range(first + 1, len(values)):
            out[i] = alpha * values[i] + (1 - alpha) * out[i - 1]
    return out


def reference_sma(values: Sequence[float], period: int) -> list[float]:
    return [
        sum(values[i - period + 1 : i + 1]) / period if i >= period - 1 else NAN for i in range(len(values))
    ]


def reference_roc(values: Sequence[float], period: int) -> list[float]:
    return [100 * (values[i] / values[i - period] - 1) if i >= period else NAN for i in range(len(values))]


def is_rounding(difference: float, scale: float) -> bool:
    """The documented test for 0 up to rounding: within 1e-14 of the magnitude of the operands."""
    return abs(difference) <= 1e-14 * scale


def reference_cci(
    high: Sequence[float], low: Sequence[float], close: Sequence[float], period: int
) -> list[float]:
    typical = [(h + lo + c) / 3 for h, lo, c in zip(high, low, close, strict=True)]
    out = [NAN] * len(typical)
    for i in range(period - 1, len(typical)):
        window = typical[i - period + 1 : i + 1]
        mean = sum(window) / period
        deviation = sum(abs(value - mean) for value in window) / period
        difference = typical[i] - mean
        flat = is_rounding(difference, abs(mean)) or is_rounding(deviation, abs(mean))
        out[i] = 0.0 if flat else difference / (0.015 * deviation)
    return out


def reference_stc(values: Sequence[float], fast: int, slow: int, cycle: int) -> list[float]:
    """Schaff's published steps, one bar at a time."""
    line = [
        f - s
        for f, s in zip(
            reference_ema(values, fast, fast - 1), reference_ema(values, slow, slow - 1), strict=True
        )
    ]

    def fraction(series: list[float], first: int) -> list[float]:
        out, last = [NAN] * len(series), 0.0
        for i in range(first, len(series)):
            window = series[i - cycle + 1 : i + 1]
            lowest, highest = min(window), max(window)
            if not is_rounding(highest - lowest, abs(highest) + abs(lowest)):
                last = 100 * (series[i] - lowest) / (highest - lowest)
            out[i] = last
        return out

    def halving(series: list[float], first: int) -> list[float]:
        out = [NAN] * len(series)
        if first < len(series):
            out[first] = series[first]
            for i in range(first + 1, len(series)):
                out[i] = out[i - 1] + 0.5 * (series[i] - out[i - 1])
        return out

    first = slow + cycle - 2
    smoothed = halving(fraction(line, first), first)
    return halving(fraction(smoothed, first + cycle - 1), first + cycle - 1)


def reference_rvi(data: Data, period: int) -> dict[str, list[float]]:
    def symmetric(x: Sequence[float]) -> list[float]:
        return [(x[i] + 2 * x[i - 1] + 2 * x[i - 2] + x[i - 3]) / 6 if i >= 3 else NAN for i in range(len(x))]

    moves = symmetric([c - o for o, c in zip(data["open"], data["close"], strict=True)])
    ranges = symmetric([h - lo for h, lo in zip(data["high"], data["low"], strict=True)])
    vigor = [NAN] * len(moves)
    for i in range(period + 2, len(moves)):
        total_range = sum(ranges[i - period + 1 : i + 1])
        vigor[i] = sum(moves[i - period + 1 : i + 1]) / total_range if total_range else 0.0
    return {"rvi": vigor, "signal": symmetric(vigor)}


def reference_kst(values: Sequence[float]) -> dict[str, list[float]]:
    """Pring's daily KST: ROC 10, 15, 20, 30 smoothed by SMA 10, 10, 10, 15, weights 1 to 4, signal SMA 9.
    (NaN in a window makes its sum NaN, so the warm-up comes out by itself.)"""
    parts = [reference_sma(reference_roc(values, n), s) for n, s in ((10, 10), (15, 10), (20, 10), (30, 15))]
    line = [sum(weight * part[i] for weight, part in enumerate(parts, start=1)) for i in range(len(values))]
    return {"kst": line, "signal": reference_sma(line, 9)}


REFERENCES = [
    pytest.param(
        lambda d: advanced_cci(d["high"], d["low"], d["close"]),
        lambda d: reference_ema(reference_cci(d["high"], d["low"], d["close"], 14), 5, 17),
        id="advanced_cci",
    ),
    pytest.param(
        lambda d: advanced_cci(d["high"], d["low"], d["close"], 3, smooth=9),
        lambda d: reference_ema(reference_cci(d["high"], d["low"], d["close"], 3), 9, 10),
        id="advanced_cci-3-9",
    ),
    pytest.param(lambda d: kst(d["close"]), lambda d: reference_kst(d["close"]), id="kst"),
    pytest.param(lambda d: stc(d["close"]), lambda d: reference_stc(d["close"], 23, 50, 10), id="stc"),
    pytest.param(
        lambda d: stc(d["close"], 5, 8, 3), lambda d: reference_stc(d["close"], 5, 8, 3), id="stc-5-8-3"
    ),
    pytest.param(
        lambda d: rvi(d["open"], d["high"], d["low"], d["close"]), lambda d: reference_rvi(d, 10), id="rvi"
    ),
    pytest.param(
        lambda d: rvi(d["open"], d["high"], d["low"], d["close"], 1),
        lambda d: reference_rvi(d, 1),
        id="rvi-1",
    ),
    pytest.param(
        lambda d: elder_ray(d["high"], d["low"], d["close"]),
        lambda d: {
            "bull_power": [h - e for h, e in zip(d["high"], reference_ema(d["close"], 13, 12), strict=True)],
            "bear_power": [lo - e for lo, e in zip(d["low"], reference_ema(d["close"], 13, 12), strict=True)],
        },
        id="elder_ray",
    ),
]


@pytest.mark.parametrize(("ours", "reference"), REFERENCES)
def test_matches_the_pure_python_reference(ours: Call, reference: Call, ohlcv: Data) -> None:
    assert_result(ours(ohlcv), reference(ohlcv))


@pytest.mark.parametrize(("ours", "reference"), REFERENCES)
def test_matches_the_pure_python_reference_in_flat_markets(ours: Call, reference: Call) -> None:
    for data in (flat_then_moving(7), all_flat()):
        assert_result(ours(data), reference(data))


def test_stc_stays_between_0_and_100(ohlcv: Data) -> None:
    values = np.array(stc(ohlcv["close"], 5, 8, 3)[17:])
    assert values.min() >= 0.0 and values.max() <= 100.0
    assert values.min() < 10.0 and values.max() > 90.0  # and it does swing through the whole range


# Warm-up, short inputs and what every indicator accepts, driven by one table: each indicator with its
# series arguments and its int arguments (with the least value each accepts).

SPECS: dict[str, tuple[Callable[..., Result], tuple[str, ...], dict[str, int]]] = {
    "macd": (macd, ("values",), {"fast": 1, "slow": 1, "signal": 1}),
    "ppo": (ppo, ("values",), {"fast": 1, "slow": 1}),
    "awesome_oscillator": (awesome_oscillator, ("high", "low"), {"fast": 1, "slow": 1}),
    "accelerator_oscillator": (accelerator_oscillator, ("high", "low"), {"fast": 1, "slow": 1, "signal": 1}),
    "rsi": (rsi, ("values",), {"period": 2}),
    "cmo": (cmo, ("values",), {"period": 2}),
    "stochastic_rsi": (stochastic_rsi, ("values",), {"period": 2, "k_period": 1, "d_period": 1}),
    "stoch": (stoch, ("high", "low", "close"), {"k_period": 1, "k_smooth": 1, "d_period": 1}),
    "williams_r": (williams_r, ("high", "low", "close"), {"period": 1}),
    "ultimate_oscillator": (
        ultimate_oscillator,
        ("high", "low", "close"),
        {"period1": 1, "period2": 1, "period3": 1},
    ),
    "cci": (cci, ("high", "low", "close"), {"period": 2}),
    "advanced_cci": (advanced_cci, ("high", "low", "close"), {"period": 2, "smooth": 1}),
    "roc": (roc, ("values",), {"period": 1}),
    "price_roc": (price_roc, ("values",), {"period": 1}),
    "tsi": (tsi, ("values",), {"long": 1, "short": 1}),
    "kst": (
        kst,
        ("values",),
        dict.fromkeys(("roc1", "roc2", "roc3", "roc4", "sma1", "sma2", "sma3", "sma4", "signal"), 1),
    ),
    "coppock_curve": (coppock_curve, ("values",), {"roc1": 1, "roc2": 1, "wma": 1}),
    "stc": (stc, ("values",), {"fast": 1, "slow": 1, "cycle": 2}),
    "bop": (bop, ("open", "high", "low", "close"), {}),
    "rvi": (rvi, ("open", "high", "low", "close"), {"period": 1}),
    "aroon": (aroon, ("high", "low"), {"period": 1}),
    "elder_ray": (elder_ray, ("high", "low", "close"), {"period": 1}),
    "mass_index": (mass_index, ("high", "low"), {"period": 1, "ema_period": 1}),
}


def call(name: str, data: Data, **arguments: Any) -> Result:
    """Indicator ``name`` on ``data``, its series passed by name (``values`` is the close)."""
    function, series, _ = SPECS[name]
    inputs = {argument: data["close" if argument == "values" else argument] for argument in series}
    return function(**inputs, **arguments)


def as_dict(result: Result) -> dict[str, list[float]]:
    return result if isinstance(result, dict) else {"": result}


def leading_nans(series: list[float]) -> int:
    return next((i for i, value in enumerate(series) if not math.isnan(value)), len(series))


# name, non-default arguments, warm-up of each output ("" for a single series).
WARM_UPS: list[tuple[str, dict[str, Any], dict[str, int]]] = [
    ("macd", {}, {"macd": 33, "signal": 33, "histogram": 33}),
    ("macd", {"fast": 5, "slow": 8, "signal": 3}, {"macd": 9, "signal": 9, "histogram": 9}),
    ("ppo", {}, {"": 25}),
    ("ppo", {"fast": 2, "slow": 3, "ma": "sma"}, {"": 2}),
    ("awesome_oscillator", {}, {"": 33}),
    ("accelerator_oscillator", {}, {"": 37}),
    ("accelerator_oscillator", {"fast": 2, "slow": 8, "signal": 3}, {"": 9}),
    ("rsi", {}, {"": 14}),
    ("rsi", {"period": 2}, {"": 2}),
    ("cmo", {}, {"": 14}),
    ("stochastic_rsi", {}, {"k": 20, "d": 20}),
    ("stochastic_rsi", {"period": 3, "k_period": 2, "d_period": 2}, {"k": 5, "d": 5}),
    ("stoch", {}, {"k": 17, "d": 17}),
    ("stoch", {"k_period": 5, "k_smooth": 1, "d_period": 1}, {"k": 4, "d": 4}),
    ("williams_r", {}, {"": 13}),
    ("ultimate_oscillator", {}, {"": 28}),
    ("ultimate_oscillator", {"period1": 2, "period2": 3, "period3": 9}, {"": 9}),
    ("cci", {}, {"": 13}),
    ("advanced_cci", {}, {"": 17}),
    ("advanced_cci", {"period": 3, "smooth": 4}, {"": 5}),
    ("roc", {}, {"": 10}),
    ("price_roc", {"period": 1}, {"": 1}),
    ("tsi", {}, {"": 37}),
    ("tsi", {"long": 4, "short": 2}, {"": 5}),
    ("kst", {}, {"kst": 44, "signal": 52}),
    (
        "kst",
        dict(
            zip(
                ("roc1", "roc2", "roc3", "roc4", "sma1", "sma2", "sma3", "sma4"),
                (1, 2, 3, 5, 2, 2, 2, 2),
                strict=True,
            )
        )
        | {"signal": 3},
        {"kst": 6, "signal": 8},
    ),
    ("coppock_curve", {}, {"": 23}),
    ("stc", {}, {"": 67}),
    ("stc", {"fast": 5, "slow": 8, "cycle": 3}, {"": 11}),
    ("bop", {}, {"": 0}),
    ("rvi", {}, {"rvi": 12, "signal": 15}),
    ("rvi", {"period": 1}, {"rvi": 3, "signal": 6}),
    ("aroon", {}, {"up": 14, "down": 14, "oscillator": 14}),
    ("elder_ray", {}, {"bull_power": 12, "bear_power": 12}),
    ("mass_index", {}, {"": 40}),
    ("mass_index", {"period": 6, "ema_period": 3}, {"": 9}),
]
WARM_UP_IDS = [
    f"{name}-{'-'.join(map(str, arguments.values())) or 'defaults'}" for name, arguments, _ in WARM_UPS
]


@pytest.mark.parametrize(("name", "arguments", "warm_up"), WARM_UPS, ids=WARM_UP_IDS)
def test_warm_up_is_exactly_the_documented_number_of_nans(
    name: str, arguments: dict[str, Any], warm_up: dict[str, int]
) -> None:
    data = flat_then_moving(8)  # flat markets too must give a value (0 / 0 has a documented answer)
    result = as_dict(call(name, data, **arguments))
    assert {key: leading_nans(series) for key, series in result.items()} == warm_up
    assert not any(math.isnan(value) for key, series in result.items() for value in series[warm_up[key] :])


@pytest.mark.parametrize(("name", "arguments", "warm_up"), WARM_UPS, ids=WARM_UP_IDS)
def test_an_input_no_longer_than_the_warm_up_gives_all_nan(
    name: str, arguments: dict[str, Any], warm_up: dict[str, int]
) -> None:
    data = walk(9, 100)
    longest = max(warm_up.values())
    for length in sorted({0, 1, 2, longest, longest + 1}):
        result = as_dict(call(name, {key: values[:length] for key, values in data.items()}, **arguments))
        for key, series in result.items():
            assert len(series) == length and all(type(value) is float for value in series)
            assert leading_nans(series) == min(length, warm_up[key]), (length, key)


# Bad input: a clear error naming the indicator, the argument, the value and what was expected.

SERIES_ARGUMENTS = [(name, argument) for name, (_, series, _) in SPECS.items() for argument in series]
INT_ARGUMENTS = [
    (name, argument, minimum) for name, (_, _, ints) in SPECS.items() for argument, minimum in ints.items()
]


@pytest.mark.parametrize(("name", "argument"), SERIES_ARGUMENTS)
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1,2", r"{argument} must be a list or tuple of numbers, got str '1,2'"),
        (None, r"{argument} must be a list or tuple of numbers, got NoneType None"),
        ([1.0, None], r"{argument}\[1\] must be a number \(int or float\), got NoneType None"),
        ([1.0, True], r"{argument}\[1\] must be a number \(int or float\), got bool True"),
    ],
    ids=["str", "none", "none-element", "bool-element"],
)
def test_series_that_are_not_lists_of_numbers_are_a_type_error(
    name: str, argument: str, value: object, message: str
) -> None:
    function, series, _ = SPECS[name]
    inputs: dict[str, object] = {key: [1.0, 2.0] for key in series}
    inputs[argument] = value
    with pytest.raises(TypeError, match=rf"^{name}\(\): {message.format(argument=argument)}$"):
        function(**inputs)


@pytest.mark.parametrize(("name", "argument", "minimum"), INT_ARGUMENTS)
@pytest.mark.parametrize("length", [0, 40])
def test_int_arguments_must_be_ints_of_at_least_their_minimum(
    name: str, argument: str, minimum: int, length: int
) -> None:
    data = {key: values[:length] for key, values in walk(10, 40).items()}
    expected = rf"^{name}\(\): {argument} must be an int >= {minimum}, got "
    with pytest.raises(ValueError, match=rf"{expected}{minimum - 1}$"):
        call(name, data, **{argument: minimum - 1})
    for value, shown in ((2.5, "float 2.5"), ("3", "str '3'"), (True, "bool True"), (None, "NoneType None")):
        with pytest.raises(TypeError, match=rf"{expected}{shown}$"):
            call(name, data, **{argument: value})


@pytest.mark.parametrize(
    ("name", "argument"),
    [(name, argument) for name, (_, series, _) in SPECS.items() for argument in series[1:]],
)
def test_series_of_different_lengths_are_a_value_error(name: str, argument: str) -> None:
    function, series, _ = SPECS[name]
    inputs = {name_: [1.0] * 30 for name_ in series}
    inputs[argument] = [1.0] * 29
    message = (
        rf"^{name}\(\): {argument} has 29 values but {series[0]} has 30; they must have the same length$"
    )
    with pytest.raises(ValueError, match=message):
        function(**inputs)


@pytest.mark.parametrize("name", ["macd", "ppo", "awesome_oscillator", "accelerator_oscillator", "stc"])
@pytest.mark.parametrize(("fast", "slow"), [(12, 12), (30, 10)])
def test_fast_must_be_less_than_slow(name: str, fast: int, slow: int) -> None:
    with pytest.raises(
        ValueError, match=rf"^{name}\(\): fast must be less than slow, got fast={fast}, slow={slow}$"
    ):
        call(name, walk(11, 50), fast=fast, slow=slow)


def test_ppo_knows_only_ema_and_sma() -> None:
    for ma, shown in (("wma", "str 'wma'"), ("EMA", "str 'EMA'"), (None, "NoneType None")):
        with pytest.raises(ValueError, match=rf'^ppo\(\): ma must be "ema" or "sma", got {shown}$'):
            ppo([1.0, 2.0, 3.0], 1, 2, ma)  # type: ignore[arg-type]


def test_ultimate_oscillator_periods_must_be_in_increasing_order() -> None:
    data = walk(12, 40)
    message = (
        r"^ultimate_oscillator\(\): the periods must be in increasing order "
        r"\(period1 <= period2 <= period3\), got"
    )
    with pytest.raises(ValueError, match=f"{message} 14, 7, 28$"):
        ultimate_oscillator(data["high"], data["low"], data["close"], 14, 7, 28)
    with pytest.raises(ValueError, match=f"{message} 7, 28, 14$"):
        ultimate_oscillator(data["high"], data["low"], data["close"], 7, 28, 14)


# NaN, infinities and the kinds of input Starlark passes.


@pytest.mark.parametrize("name", SPECS)
def test_nan_and_infinity_give_nan_without_warnings(name: str) -> None:
    # Warnings are errors in this test suite, so a numpy "invalid value" warning would fail here.
    data = walk(13, 150)
    data["close"][60], data["high"][70], data["low"][80], data["open"][90] = NAN, NAN, NAN, NAN
    data["high"][100], data["low"][110], data["close"][120] = math.inf, -math.inf, math.inf
    for series in as_dict(call(name, data)).values():
        assert len(series) == 150 and all(type(value) is float for value in series)
        assert any(math.isnan(value) for value in series[60:])


def test_a_nan_spoils_the_windows_that_contain_it_and_every_later_recursive_value() -> None:
    data = walk(14, 60)
    data["high"][30] = data["close"][30] = NAN
    # A window-based indicator recovers once the bad bar has left its window of 5 bars...
    percent_r = williams_r(data["high"], data["low"], data["close"], 5)
    assert [math.isnan(value) for value in percent_r[28:37]] == [False] * 2 + [True] * 5 + [False] * 2
    # ...a recursive one (Wilder's averages) never does, as in TA-Lib.
    strength = rsi(data["close"], 5)
    assert not any(math.isnan(value) for value in strength[5:30])
    assert all(math.isnan(value) for value in strength[30:])


@pytest.mark.parametrize("name", SPECS)
def test_tuples_are_accepted_and_inputs_are_not_modified(name: str) -> None:
    data = walk(15, 80)
    original = {key: list(values) for key, values in data.items()}
    as_tuples = {key: tuple(values) for key, values in data.items()}
    assert_result(call(name, as_tuples), call(name, data), tol=0.0)  # type: ignore[arg-type]
    assert data == original


# The registration table and Starlark.


def expected_signature(function: Callable[..., Result]) -> str:
    """``name(arg, arg=default, ...)`` from the function itself, strings in Starlark's double quotes."""
    parts = [
        parameter.name
        if parameter.default is inspect.Parameter.empty
        else f"{parameter.name}={parameter.default!r}".replace("'", '"')
        for parameter in inspect.signature(function).parameters.values()
    ]
    return f"{function.__name__}({', '.join(parts)})"


def test_every_indicator_of_the_family_is_in_the_table() -> None:
    rows = {row.name: row for row in momentum.INDICATORS}
    assert list(rows) == list(SPECS) and len(rows) == len(momentum.INDICATORS)
    assert all(row.function is SPECS[name][0] for name, row in rows.items())
    assert rows["stoch"].aliases == ("stochastic",)
    assert [row.name for row in momentum.INDICATORS if row.aliases] == ["stoch"]


@pytest.mark.parametrize("row", momentum.INDICATORS, ids=lambda row: row.name)
def test_the_table_row_documents_the_real_call_and_result(row: Any) -> None:
    assert row.signature == expected_signature(row.function)
    _, series, ints = SPECS[row.name]
    assert [*series, *ints] == [p for p in inspect.signature(row.function).parameters if p != "ma"]
    result = call(row.name, walk(16, 80))
    assert row.returns == (f"dict: {', '.join(result)}" if isinstance(result, dict) else "series")
    assert row.description and row.source and row.function.__doc__


def test_indicators_work_when_called_from_starlark() -> None:
    data = walk(17, 60)
    interpreter = starlark_go.Starlark()
    builtins = {"macd": macd, "stoch": stoch, "rsi": rsi}  # kept alive while the interpreter lives
    interpreter.set(**builtins, **data)
    interpreter.exec(
        "m = macd(close, fast=3, slow=6, signal=2)\ns = stoch(high, low, close, k_period=5)\n",
        filename="s.star",
    )
    assert interpreter.eval('m["histogram"][-1]') == macd(data["close"], 3, 6, 2)["histogram"][-1]
    assert interpreter.eval('s["d"][-1]') == stoch(data["high"], data["low"], data["close"], 5)["d"][-1]
    assert interpreter.eval('len(m["signal"])') == 60
    with pytest.raises(starlark_go.EvalError, match=r"rsi\(\): period must be an int >= 2, got 1"):
        interpreter.eval("rsi(close, 1)")
