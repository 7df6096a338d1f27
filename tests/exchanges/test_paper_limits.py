"""Native limit orders on the paper exchange: resting, matching against the simulated market, time in force,
post-only, cancel, amend, the private stream and a restart, on a real store and real CSV replays."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio

from marketmaestro.exchanges import (
    AccountEvent,
    FillUpdate,
    OrderRejected,
    OrderUpdate,
    Subscription,
)
from marketmaestro.exchanges.paper import PaperExchange
from marketmaestro.model import Balance, Order, OrderStatus, OrderType, Side, TimeInForce
from marketmaestro.storage import AsyncStore
from tests.conftest import REPO
from tests.exchanges.conftest import BEST_ASK, BEST_BID, known_book_paper, make_paper, write_klines_csv
from tests.exchanges.test_paper_exchange import collect

BOUND = 10.0
PAPER_DOC = REPO / "docs" / "exchanges" / "paper.md"
KLINES = Subscription(klines=frozenset({("BTCUSDT", "1m")}))


def limit(side: Side, quantity: str, price: str | Decimal, name: str = "l", **changes: Any) -> Order:
    return Order(
        client_order_id=f"{name}-{side.value}-{quantity}-{price}",
        exchange="paper",
        symbol="BTCUSDT",
        side=side,
        type=OrderType.LIMIT,
        quantity=Decimal(quantity),
        price=Decimal(price),
        strategy="test",
        **changes,
    )


def replay_paper(store: AsyncStore, folder: Path) -> PaperExchange:
    """A paper exchange whose book is at 30000 (ask 30015, bid 29985) and whose replay then trades down to
    29850 in its first kline and opens at 30200 (a gap up) in its second."""
    rows = [
        (30000.0, 30000.25, 29999.75, 30000.0, 1.0),  # warm-up: the book at connect
        (30000.0, 30050.0, 29850.0, 29950.0, 1.0),
        (30200.0, 30250.0, 30150.0, 30200.0, 1.0),
    ]
    write_klines_csv(folder / "k.csv", rows)
    return make_paper(
        store,
        folder,
        symbols={},
        csv={"BTCUSDT": "k.csv"},
        warmup=1,
        kline_seconds=0.001,
        spread_bps=10.0,
        balances={"USDT": "100000", "BTC": "1"},
    )


async def test_a_limit_below_the_ask_rests_listed_and_holds_its_balance(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        exchange, _ = known_book_paper(store, tmp_path)
        await exchange.connect()
        result = await exchange.place_order(limit(Side.BUY, "0.1", "19000"))
        assert result.order.status is OrderStatus.ACCEPTED and result.fills == ()
        assert result.order.venue_order_id is not None
        assert await exchange.open_orders("BTCUSDT") == [result.order]
        # 0.1 x 19000 = 1900 plus the 0.1% fee of 1.9 is held.
        assert await exchange.balances() == [Balance("USDT", Decimal("18098.1"), Decimal("1901.9"))]
        with pytest.raises(OrderRejected, match="insufficient balance"):
            await exchange.place_order(limit(Side.BUY, "1", "19000", name="more"))


async def test_a_resting_order_survives_a_restart_and_is_cancelled_there(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        first, _ = known_book_paper(store, tmp_path)
        await first.connect()
        placed = (await first.place_order(limit(Side.BUY, "0.1", "19000"))).order
        await first.disconnect()
        second, _ = known_book_paper(store, tmp_path)
        await second.connect()
        assert await second.open_orders() == [placed]
        cancelled = await second.cancel_order(placed)
        assert cancelled.status is OrderStatus.CANCELLED
        assert await second.open_orders() == []
        assert await second.get_order(placed) == cancelled
        assert cancelled in await second.order_history("BTCUSDT")
        assert await second.balances() == [Balance("USDT", Decimal("20000"))]
        with pytest.raises(OrderRejected, match="already cancelled"):
            await second.cancel_order(placed)


async def test_a_marketable_limit_fills_at_once_at_the_book_not_worse(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        exchange, _ = known_book_paper(store, tmp_path, balances={"USDT": "20000", "BTC": "1"})
        await exchange.connect()
        bought = await exchange.place_order(limit(Side.BUY, "0.1", "20100"))
        sold = await exchange.place_order(limit(Side.SELL, "0.1", "19900"))
        assert bought.order.status is sold.order.status is OrderStatus.FILLED
        assert [f.price for f in bought.fills] == [BEST_ASK]
        assert [f.price for f in sold.fills] == [BEST_BID]
        assert bought.fills[0].fee == Decimal("2.00115")  # 0.1% of 2001.15, in USDT
        assert await exchange.open_orders() == []


async def test_post_only_is_refused_when_it_would_take_and_rests_when_not(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        exchange, _ = known_book_paper(store, tmp_path)
        await exchange.connect()
        with pytest.raises(OrderRejected) as caught:
            await exchange.place_order(limit(Side.BUY, "0.1", BEST_ASK, post_only=True))
        # Word for word as docs/exchanges/paper.md quotes it.
        assert (
            caught.value.reason
            == "post-only buy limit at 20011.5 would take liquidity (the market is at 20011.5)"
        )
        assert f"`{caught.value.reason}`" in PAPER_DOC.read_text()
        rested = await exchange.place_order(limit(Side.BUY, "0.1", "20000", post_only=True))
        assert rested.order.status is OrderStatus.ACCEPTED


@pytest.mark.parametrize("tif", [TimeInForce.IOC, TimeInForce.FOK])
async def test_ioc_and_fok_fill_what_crosses_now_and_never_rest(
    store: AsyncStore, tmp_path: Path, tif: TimeInForce
) -> None:
    with trio.fail_after(BOUND):
        exchange, _ = known_book_paper(store, tmp_path)
        await exchange.connect()
        missed = await exchange.place_order(limit(Side.BUY, "0.1", "19000", time_in_force=tif))
        assert missed.order.status is OrderStatus.EXPIRED and missed.fills == ()
        taken = await exchange.place_order(limit(Side.BUY, "0.1", "20100", name="t", time_in_force=tif))
        assert taken.order.status is OrderStatus.FILLED and [f.price for f in taken.fills] == [BEST_ASK]
        assert await exchange.open_orders() == []


async def test_resting_orders_fill_at_the_limit_or_at_a_gapped_open_as_klines_trade_through(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        exchange = replay_paper(store, tmp_path)
        await exchange.connect()
        buy = (await exchange.place_order(limit(Side.BUY, "0.1", "29900"))).order
        sell = (await exchange.place_order(limit(Side.SELL, "0.1", "30100"))).order
        untouched = (await exchange.place_order(limit(Side.BUY, "0.1", "29000", name="far"))).order
        events: list[AccountEvent] = []
        send, receive = trio.open_memory_channel[AccountEvent](100)
        async with trio.open_nursery() as nursery:
            await nursery.start(exchange.private_stream, send)
            await collect(exchange, KLINES, until=lambda ms: len(ms) == 2)
            async for event in receive:  # the private stream reports both fills
                events.append(event)
                if sum(isinstance(e, FillUpdate) for e in events) == 2:
                    break
            nursery.cancel_scope.cancel()
        fills = {e.fill.client_order_id: e.fill for e in events if isinstance(e, FillUpdate)}
        assert fills[buy.client_order_id].price == Decimal("29900")  # traded down through the limit
        assert fills[sell.client_order_id].price == Decimal("30200")  # opened above the limit: the open
        assert untouched.client_order_id not in fills
        statuses = [(e.order.client_order_id, e.order.status) for e in events if isinstance(e, OrderUpdate)]
        assert (buy.client_order_id, OrderStatus.FILLED) in statuses
        assert (sell.client_order_id, OrderStatus.FILLED) in statuses
        assert await exchange.open_orders() == [untouched]
        history = {o.client_order_id: o for o in await exchange.order_history("BTCUSDT")}
        assert history[buy.client_order_id].average_price == Decimal("29900")
        # 100000 - 2990 - 2.99 fee + 3020 - 3.02 fee; 2900 + 2.9 is held by the untouched buy.
        assert await exchange.balances() == [
            Balance("BTC", Decimal("1.0")),
            Balance("USDT", Decimal("97121.09"), Decimal("2902.9")),
        ]


async def test_amend_moves_a_resting_order_and_one_amended_across_the_book_fills(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        exchange, _ = known_book_paper(store, tmp_path)
        await exchange.connect()
        placed = (await exchange.place_order(limit(Side.BUY, "0.1", "19000"))).order
        amended = await exchange.amend_order(placed, price=Decimal("19500"), quantity=Decimal("0.2"))
        assert (amended.price, amended.quantity, amended.status) == (
            Decimal("19500"),
            Decimal("0.2"),
            OrderStatus.ACCEPTED,
        )
        assert await exchange.open_orders() == [amended]
        with pytest.raises(OrderRejected, match="tick"):
            await exchange.amend_order(amended, price=Decimal("19500.2"))
        crossed = await exchange.amend_order(amended, price=Decimal("20100"))
        assert crossed.status is OrderStatus.FILLED and crossed.average_price == BEST_ASK
        assert await exchange.open_orders() == []


async def test_a_limit_off_the_tick_is_rejected(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        exchange, _ = known_book_paper(store, tmp_path)
        await exchange.connect()
        with pytest.raises(OrderRejected, match="tick"):
            await exchange.place_order(limit(Side.BUY, "0.1", "19000.2"))
        assert await exchange.open_orders() == []


async def test_limit_orders_false_makes_a_market_only_venue(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        exchange, _ = known_book_paper(store, tmp_path, limit_orders=False)
        assert not any(
            exchange.capabilities[c] for c in ("limit_orders", "time_in_force", "post_only", "amend")
        )
        await exchange.connect()
        with pytest.raises(OrderRejected, match="fills market orders only"):
            await exchange.place_order(limit(Side.BUY, "0.1", "19000"))
        assert await exchange.open_orders() == []
