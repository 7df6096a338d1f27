"""strategies/simple_sma.star through the real runner, over a price series whose crossovers are known.

The paper exchange replays a CSV of the series (its first WARMUP rows are the warm-up history), its stream
goes through a router as in the exchange service, and the orders the strategy places are compared with
the crossovers computed here in plain Python from the same closes.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import trio

from marketmaestro.exchanges import Subscription
from marketmaestro.messages import KlineDataMsg, MarketDataMsg
from marketmaestro.model import OrderStatus, Side
from marketmaestro.storage import AsyncStore
from marketmaestro.supervision import HealthRegistry
from tests.conftest import STRATEGIES
from tests.exchanges.conftest import make_paper, rows_from_closes, write_klines_csv
from tests.strategy.conftest import SYMBOL, Harness, status
from tests.trading.conftest import trading_stack

COUNT = 160
WARMUP = 40
SHORT, LONG = 10, 20
SIZE = 0.02

# Two waves and a slow drift: several crossovers, none of them a near-tie. Rounded to the cent like
# real prices, and no close repeats, so an order's reason ("... at <close>") names its kline.
CLOSES = [
    round(20000 + 120 * math.sin(2 * math.pi * i / 37) + 45 * math.sin(2 * math.pi * i / 13) + 0.8 * i, 2)
    for i in range(COUNT)
]


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def fast_minus_slow(i: int) -> float:
    """SMA(SHORT) - SMA(LONG) at kline ``i``."""
    return mean(CLOSES[i - SHORT + 1 : i + 1]) - mean(CLOSES[i - LONG + 1 : i + 1])


def expected_actions() -> list[tuple[int, str]]:
    """(kline index, "buy" or "close") for each streamed kline where the strategy must trade."""
    actions: list[tuple[int, str]] = []
    holding = False
    for i in range(WARMUP, COUNT):
        before, now = fast_minus_slow(i - 1), fast_minus_slow(i)
        if before <= 0 < now and not holding:
            actions.append((i, "buy"))
            holding = True
        elif before >= 0 > now and holding:
            actions.append((i, "close"))
            holding = False
    return actions


def test_the_series_is_a_fair_test() -> None:
    """The premises of the test below, checked so a change to CLOSES cannot make it vacuous."""
    assert len(set(CLOSES)) == COUNT
    # Far from ties: float rounding in sma() cannot decide a crossover.
    assert min(abs(fast_minus_slow(i)) for i in range(WARMUP - 1, COUNT)) > 0.1
    actions = expected_actions()
    assert [a for _, a in actions].count("buy") >= 3
    assert [a for _, a in actions].count("close") >= 2
    # The first crossover after the warm-up is downwards while flat: it must be ignored.
    first_cross = next(i for i in range(WARMUP, COUNT) if fast_minus_slow(i - 1) * fast_minus_slow(i) < 0)
    assert fast_minus_slow(first_cross) < 0
    assert actions[0][0] > first_cross


async def test_simple_sma_buys_at_up_crosses_while_flat_and_closes_at_down_crosses(
    store: AsyncStore, tmp_path: Path
) -> None:
    klines = write_klines_csv(tmp_path / "btc.csv", rows_from_closes(CLOSES))
    exchange = make_paper(
        store,
        tmp_path,
        symbols={},
        csv={SYMBOL: "btc.csv"},
        warmup=WARMUP,
        kline_seconds=0.001,
        balances={"USDT": "100000"},
    )
    with trio.fail_after(20):
        async with trading_stack(store, exchange) as stack:
            harness = Harness(stack, klines[:WARMUP], HealthRegistry(), tmp_path)
            runner = await harness.start(
                STRATEGIES / "simple_sma.star", name="simple_sma", config={"position_size": SIZE}
            )
            assert runner.interval == "1m"
            assert len(runner.history) == WARMUP

            # The exchange service's router: every kline to the order manager (prices), then the runner.
            send, receive = trio.open_memory_channel[MarketDataMsg](0)
            await stack.nursery.start(exchange.stream, Subscription(klines=frozenset({(SYMBOL, "1m")})), send)
            streamed = []
            async for msg in receive:
                await stack.order_manager.mailbox.send(msg)
                await runner.mailbox.send(msg)
                streamed.append(msg)
                if len(streamed) == COUNT - WARMUP:
                    break
            final = await status(runner)
            position = await stack.position(strategy="simple_sma")

    assert [m.kline for m in streamed if isinstance(m, KlineDataMsg)] == klines[WARMUP:]
    expected = expected_actions()
    assert final["errors"] == 0
    assert final["signals"] == len(expected)

    orders = list(reversed(await store.list_orders(strategy="simple_sma", limit=1000)))
    index_of = {close: i for i, close in enumerate(CLOSES)}
    actual = [
        (index_of[float(order.reason.rsplit(" at ", 1)[1])], "buy" if order.side is Side.BUY else "close")
        for order in orders
    ]
    assert actual == expected
    for order, (_, action) in zip(orders, expected, strict=True):
        assert order.status is OrderStatus.FILLED, order.error
        assert order.quantity == Decimal(str(SIZE))
        assert order.side is (Side.BUY if action == "buy" else Side.SELL)
        direction = "above" if action == "buy" else "below"
        assert order.reason.startswith(f"SMA{SHORT} crossed {direction} SMA{LONG} at ")
    # The series ends with a buy that was not closed yet.
    holding = expected[-1][1] == "buy"
    assert position.quantity == (Decimal(str(SIZE)) if holding else 0)
