"""The example strategies in strategies/: each decides exactly as its comments say.

Each kline strategy runs through the real engine and sandbox (the replay behind ``mm strategy test``) and
its signals are compared with a plain-Python decision computed on the same windows with the indicator
plugin's own functions, so these tests check the strategies' logic, not the indicators'.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marketmaestro.model import Kline, OrderBook
from marketmaestro.plugins.manager import load_plugins
from marketmaestro.strategy.engine import CallContext, StrategyEngine, orderbook_dict
from marketmaestro.strategy.replay import Replay
from marketmaestro.strategy.signals import parse_signals
from tests.conftest import STRATEGIES

FUNCTIONS = {
    name: entry.function
    for name, entry in load_plugins(environ={"MM_LOAD_PLUGINS": "indicators"}).registry.functions.items()
}
F = FUNCTIONS


def walk(seed: int, length: int = 700) -> list[Kline]:
    rng = np.random.default_rng(seed)
    close = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.004, length)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.001, length)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.001, length)))
    return [
        Kline("BTCUSDT", "1m", 1_704_067_200_000 + i * 60_000, float(o), float(h), float(lo), float(c), 1.0)
        for i, (o, h, lo, c) in enumerate(zip(open_, high, low, close, strict=True))
    ]


def replay_actions(name: str, klines: list[Kline]) -> list[tuple[int, str]]:
    engine = StrategyEngine(STRATEGIES / f"{name}.star", FUNCTIONS)
    engine.load()
    records = list(Replay(engine, "BTCUSDT").run(klines))
    assert not [r for r in records if r["type"] == "error"], records
    return [(r["timestamp"], r["action"]) for r in records if r["type"] == "signal"]


Decide = Callable[[list[Kline]], str | None]
"""Given the klines so far (the window the strategy sees), 'buy'/'close' when the rule fires, else None."""


def expected_actions(klines: list[Kline], decide_entry: Decide, decide_exit: Decide) -> list[tuple[int, str]]:
    held, actions = False, []
    for i in range(len(klines)):
        seen = klines[: i + 1]
        if not held and decide_entry(seen):
            held = True
            actions.append((klines[i].timestamp, "buy"))
        elif held and decide_exit(seen):
            held = False
            actions.append((klines[i].timestamp, "close"))
    return actions


def closes(seen: list[Kline], n: int) -> list[float]:
    return [k.close for k in seen[-n:]]


def rsi_last(seen: list[Kline]) -> float:
    window = closes(seen, 100)
    return F["rsi"](window, 14)[-1] if len(window) > 14 else math.nan


def macd_cross(seen: list[Kline], up: bool) -> bool:
    window = closes(seen, 200)
    lines = F["macd"](window, 12, 26, 9)
    line, signal = lines["macd"], lines["signal"]
    if len(window) < 2 or math.isnan(signal[-2]):
        return False
    if up:
        return line[-2] <= signal[-2] and line[-1] > signal[-1]
    return line[-2] >= signal[-2] and line[-1] < signal[-1]


def bands(seen: list[Kline]) -> dict[str, list[float]] | None:
    window = closes(seen, 20)
    return F["bollinger_bands"](window, 20, 2.0) if len(window) == 20 else None


def trend_turn(seen: list[Kline], up: bool) -> bool:
    bars = seen[-150:]
    line = F["supertrend"]([k.high for k in bars], [k.low for k in bars], [k.close for k in bars], 10, 3.0)
    if len(line) < 2 or math.isnan(line[-2]):
        return False
    was_up, is_up = bars[-2].close > line[-2], bars[-1].close > line[-1]
    return (is_up and not was_up) if up else (was_up and not is_up)


RULES: dict[str, tuple[Decide, Decide]] = {
    "rsi_strategy": (
        lambda s: not math.isnan(rsi_last(s)) and rsi_last(s) < 30,
        lambda s: not math.isnan(rsi_last(s)) and rsi_last(s) > 70,
    ),
    "macd_crossover": (lambda s: macd_cross(s, up=True), lambda s: macd_cross(s, up=False)),
    "bollinger_breakout": (
        lambda s: (b := bands(s)) is not None and s[-1].close > b["upper"][-1],
        lambda s: (b := bands(s)) is not None and s[-1].close < b["middle"][-1],
    ),
    "supertrend_trend": (lambda s: trend_turn(s, up=True), lambda s: trend_turn(s, up=False)),
}


@pytest.mark.parametrize("name", sorted(RULES))
@pytest.mark.parametrize("seed", [11, 12])
def test_kline_strategies_decide_as_documented(name: str, seed: int) -> None:
    klines = walk(seed)
    expected = expected_actions(klines, *RULES[name])
    assert len(expected) >= 2, "the data must make the strategy trade at least once"
    assert replay_actions(name, klines) == expected


def book(bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> dict[str, Any]:
    return orderbook_dict(OrderBook("BTCUSDT", 1, tuple(bids), tuple(asks)))


@pytest.mark.parametrize(
    ("bids", "asks", "held", "expected"),
    [
        ([(100.0, 3.0)], [(101.0, 1.0)], 0.0, "buy"),  # imbalance 0.5 > 0.3
        ([(100.0, 3.0)], [(101.0, 1.0)], 0.01, None),  # already holding
        ([(100.0, 1.0)], [(101.0, 3.0)], 0.01, "close"),  # -0.5 < -0.3
        ([(100.0, 1.0)], [(101.0, 3.0)], 0.0, None),  # nothing to close
        ([(100.0, 1.2)], [(101.0, 1.0)], 0.0, None),  # 0.09: inside the threshold
        ([(100.0, 2.0)], [], 0.0, "buy"),  # a partial book: asks count as zero
        ([], [], 0.0, None),  # an empty book: no decision
        (
            [(100.0 - i, 1.0) for i in range(5)] + [(90.0, 50.0)],
            [(101.0 + i, 1.0) for i in range(5)],
            0.0,
            None,
        ),
    ],
)
def test_orderbook_imbalance_reads_the_best_levels(
    bids: list[tuple[float, float]], asks: list[tuple[float, float]], held: float, expected: str | None
) -> None:
    engine = StrategyEngine(STRATEGIES / "orderbook_imbalance.star", FUNCTIONS)
    engine.load()
    assert engine.data_callbacks == ["on_orderbook"]
    engine.context = CallContext({"quantity": held, "average_price": 0.0, "realized_pnl": 0.0})
    signals = parse_signals(engine.call("on_orderbook", book(bids, asks)), where="orderbook_imbalance")
    assert [s.action for s in signals] == ([expected] if expected else [])


def test_every_example_strategy_is_covered_here() -> None:
    files = {path.stem for path in Path(STRATEGIES).glob("*.star")}
    assert files == {*RULES, "orderbook_imbalance", "simple_sma"}
