"""The paper venue's own records: order lookup, history, fills, the private stream, and one order per
``client_order_id``, across restarts (a new exchange on the same database)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import trio

from marketmaestro.exchanges import (
    AccountEvent,
    BalanceUpdate,
    FillUpdate,
    OrderRejected,
    OrderUpdate,
    RetryableError,
)
from marketmaestro.exchanges.paper import PaperExchange
from marketmaestro.model import Balance, Order, OrderStatus, OrderType, Side, now_ms
from marketmaestro.storage import AsyncStore
from tests.exchanges.conftest import BEST_ASK, BEST_BID, START_MS, known_book_paper

BOUND = 10.0


def market(side: Side, quantity: str, cid: str) -> Order:
    return Order(cid, "paper", "BTCUSDT", side, OrderType.MARKET, Decimal(quantity), strategy="s")


async def test_get_order_finds_a_filled_order_and_none_for_an_unknown_one(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        paper, _ = known_book_paper(store, tmp_path)
        await paper.connect()
        placed = await paper.place_order(market(Side.BUY, "0.1", "a"))
        found = await paper.get_order(market(Side.BUY, "0.1", "a"))
        assert found == placed.order
        assert found is not None and found.status is OrderStatus.FILLED and found.average_price == BEST_ASK
        assert await paper.get_order(market(Side.BUY, "0.1", "never-sent")) is None


async def test_the_same_client_order_id_twice_is_one_order_even_after_a_restart(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        paper, _ = known_book_paper(store, tmp_path)
        await paper.connect()
        first = await paper.place_order(market(Side.BUY, "0.2", "once"))
        after_first = await paper.balances()
        again = await paper.place_order(market(Side.BUY, "0.2", "once"))
        assert again == first  # the same order and fill: a retry, not a second order
        assert await paper.balances() == after_first

        restarted, _ = known_book_paper(store, tmp_path)
        await restarted.connect()
        assert await restarted.place_order(market(Side.BUY, "0.2", "once")) == first
        assert await restarted.balances() == after_first
        assert len(await restarted.fills()) == 1

        with pytest.raises(OrderRejected) as caught:
            await restarted.place_order(market(Side.SELL, "0.1", "once"))
        assert "already used" in caught.value.reason and "buy 0.2 BTCUSDT" in caught.value.reason


async def test_order_history_and_fills_survive_a_restart_and_filter_by_time_and_symbol(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        paper, _ = known_book_paper(store, tmp_path)
        await paper.connect()
        buy = await paper.place_order(market(Side.BUY, "0.3", "b1"))
        await trio.sleep(0.005)  # the next order is stamped at least a millisecond later
        middle = now_ms()
        sell = await paper.place_order(market(Side.SELL, "0.1", "s1"))

        restarted, _ = known_book_paper(store, tmp_path)
        await restarted.connect()
        assert await restarted.order_history() == [buy.order, sell.order]
        assert await restarted.order_history(since=middle) == [sell.order]
        assert await restarted.order_history(symbol="ETHUSDT") == []
        fills = await restarted.fills()
        assert fills == [*buy.fills, *sell.fills]
        assert [(f.side, f.price) for f in fills] == [(Side.BUY, BEST_ASK), (Side.SELL, BEST_BID)]
        assert await restarted.fills(since=middle) == list(sell.fills)
        assert await restarted.fills(symbol="ETHUSDT") == []


async def test_a_filled_order_cannot_be_cancelled(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        paper, _ = known_book_paper(store, tmp_path)
        await paper.connect()
        await paper.place_order(market(Side.BUY, "0.1", "f"))
        with pytest.raises(OrderRejected) as caught:
            await paper.cancel_order(market(Side.BUY, "0.1", "f"))
        assert "already filled" in caught.value.reason


async def test_an_order_under_the_minimum_notional_is_rejected_and_not_recorded(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        paper, _ = known_book_paper(store, tmp_path, min_notional="50")
        await paper.connect()
        with pytest.raises(OrderRejected) as caught:
            await paper.place_order(market(Side.BUY, "0.001", "tiny"))  # about 20 USDT
        assert "notional 20.0115 is under BTCUSDT's minimum 50" in caught.value.reason
        with pytest.raises(OrderRejected) as zero:
            await paper.place_order(market(Side.BUY, "0", "zero"))
        assert "rounds to zero" in zero.value.reason
        assert await paper.get_order(market(Side.BUY, "0.001", "tiny")) is None
        assert await paper.balances() == [Balance("USDT", Decimal("20000"))]


async def collect_events(paper: PaperExchange, orders: list[Order], count: int) -> list[AccountEvent]:
    send, receive = trio.open_memory_channel[AccountEvent](100)
    events: list[AccountEvent] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(paper.private_stream, send)
        for each in orders:
            await paper.place_order(each)
        async for event in receive:
            events.append(event)
            if len(events) == count:
                break
        nursery.cancel_scope.cancel()
    return events


async def test_the_private_stream_reports_the_order_its_fill_and_the_balances(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        paper, _ = known_book_paper(store, tmp_path)
        await paper.connect()
        events = await collect_events(paper, [market(Side.BUY, "0.1", "p")], 3)
        order, fill, balances = events
        assert isinstance(order, OrderUpdate) and order.order.status is OrderStatus.FILLED
        assert order.order.client_order_id == "p"
        assert isinstance(fill, FillUpdate) and fill.fill.client_order_id == "p"
        assert (fill.fill.quantity, fill.fill.price) == (Decimal("0.1"), BEST_ASK)
        assert isinstance(balances, BalanceUpdate) and balances.complete
        assert list(balances.balances) == await paper.balances()


async def test_a_private_stream_that_falls_behind_ends_with_a_retryable_error(
    store: AsyncStore, tmp_path: Path
) -> None:
    class SmallBuffer(PaperExchange):
        private_buffer = 4

    with trio.fail_after(BOUND):
        base, _ = known_book_paper(store, tmp_path)
        paper = SmallBuffer(base.context)
        await paper.connect()
        send, receive = trio.open_memory_channel[AccountEvent](0)
        received: list[AccountEvent] = []

        async def trade_then_read() -> None:
            for index in range(3):  # nine events, read by nobody meanwhile: more than the buffer holds
                await paper.place_order(market(Side.BUY, "0.01", f"o{index}"))
            async for event in receive:
                received.append(event)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(trade_then_read)
            with pytest.raises(RetryableError) as caught:
                await paper.private_stream(send)
            nursery.cancel_scope.cancel()
        assert "fell 4 events behind" in str(caught.value)
        # What was delivered came in order, and trading went on regardless: every order filled.
        assert isinstance(received[0], OrderUpdate) and received[0].order.client_order_id == "o0"
        assert 1 < len(received) < 9
        assert len(await paper.fills()) == 3


def test_several_settings_are_stored_together_or_not_at_all(store: AsyncStore) -> None:
    sync = store.store
    sync.set_settings([("c", "a", 1), ("c", "b", {"x": Decimal("1.5")})])
    assert sync.settings("c") == {"a": 1, "b": {"x": "1.5"}}
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        sync.set_settings([("c", "a", 2), ("c", "b", object())])
    assert sync.settings("c") == {"a": 1, "b": {"x": "1.5"}}


async def test_simulated_klines_serve_a_range_oldest_first(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        paper, history = known_book_paper(store, tmp_path, warmup_rows=25)
        minute = 60_000
        ranged = await paper.klines(
            "BTCUSDT", "1m", 100, start=START_MS + 5 * minute, end=START_MS + 9 * minute
        )
        assert ranged == history[5:10]
        assert await paper.klines("BTCUSDT", "1m", 2, start=START_MS + 5 * minute) == history[5:7]
        assert await paper.klines("BTCUSDT", "1m", 100, end=START_MS + minute) == history[:2]
