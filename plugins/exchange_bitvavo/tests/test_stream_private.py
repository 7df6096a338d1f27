"""The private account stream against the fake: orders and fills as they happen, balances polled, wrong keys
refused once, a reconnect that neither loses nor repeats what happened while it was down, and the one
WebSocket connection it shares with the public stream."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
import trio

from marketmaestro.exchanges import (
    AccountEvent,
    BalanceUpdate,
    FatalExchangeError,
    FillUpdate,
    OrderUpdate,
    Subscription,
)
from marketmaestro.messages import MarketDataMsg, TradeDataMsg
from marketmaestro.model import Order, OrderStatus, OrderType, Side, Trade
from marketmaestro.testing import wait_until
from marketmaestro_bitvavo import BitvavoExchange
from marketmaestro_bitvavo.testing import API_SECRET, FakeServer


class Account:
    """Collects what ``private_stream`` sends."""

    def __init__(self) -> None:
        self.send, self.receive = trio.open_memory_channel[AccountEvent](10_000)
        self.events: list[AccountEvent] = []

    async def run(self) -> None:
        async for event in self.receive:
            self.events.append(event)

    def orders(self, client_order_id: str) -> list[OrderStatus]:
        return [
            e.order.status
            for e in self.events
            if isinstance(e, OrderUpdate) and e.order.client_order_id == client_order_id
        ]

    def fills(self) -> list[FillUpdate]:
        return [e for e in self.events if isinstance(e, FillUpdate)]

    def balances(self) -> list[BalanceUpdate]:
        return [e for e in self.events if isinstance(e, BalanceUpdate)]


async def start(nursery: trio.Nursery, exchange: BitvavoExchange) -> Account:
    account = Account()
    nursery.start_soon(account.run)
    await nursery.start(exchange.private_stream, account.send)
    return account


def limit(price: str, quantity: str = "0.1") -> Order:
    return Order(
        f"mm-{uuid.uuid4().hex}",
        "bitvavo",
        "BTCEUR",
        Side.BUY,
        OrderType.LIMIT,
        Decimal(quantity),
        price=Decimal(price),
        strategy="probe",
    )


async def test_orders_fills_and_balances_arrive_as_they_happen(
    server: FakeServer, make_exchange: Any, nursery: trio.Nursery
) -> None:
    exchange: BitvavoExchange = make_exchange(balance_poll_seconds=0.2)
    await exchange.connect()
    account = await start(nursery, exchange)
    first = account.balances()[0]
    assert first.complete and {b.asset: b.free for b in first.balances} == {"EUR": Decimal(10000)}

    placed = limit("29900")
    await exchange.place_order(placed)
    await wait_until(lambda: account.orders(placed.client_order_id), "the new order")
    server.fake.set_price("BTC-EUR", "29800")
    await wait_until(lambda: OrderStatus.FILLED in account.orders(placed.client_order_id), "the filled order")
    (fill,) = account.fills()
    assert fill.fill.client_order_id == placed.client_order_id and fill.fill.strategy == "probe"
    assert (fill.fill.quantity, fill.fill.price, fill.fill.fee) == (
        Decimal("0.1"),
        Decimal(29900),
        Decimal("4.485"),
    )
    update = [e for e in account.events if isinstance(e, OrderUpdate)][-1]
    assert update.order.strategy == "probe" and update.order.filled_quantity == Decimal("0.1")
    await wait_until(
        lambda: any(b.asset == "BTC" for b in account.balances()[-1].balances), "the polled balances"
    )


async def test_a_reconnect_catches_up_without_repeating(
    server: FakeServer, make_exchange: Any, nursery: trio.Nursery, log_messages: list[dict[str, Any]]
) -> None:
    exchange: BitvavoExchange = make_exchange(reconnect_initial=0.2)
    await exchange.connect()
    account = await start(nursery, exchange)
    early, late = limit("29950"), limit("29900")
    await exchange.place_order(early)
    await exchange.place_order(late)
    server.fake.set_price("BTC-EUR", "29940")  # fills the early order while connected
    await wait_until(lambda: len(account.fills()) == 1, "the first fill")
    server.fake.drop_connections()
    server.fake.set_price("BTC-EUR", "29850")  # fills the late one while the stream is down
    await wait_until(lambda: len(account.fills()) == 2, "the fill missed while disconnected")
    await trio.sleep(0.3)
    fills = account.fills()
    assert [f.fill.client_order_id for f in fills] == [early.client_order_id, late.client_order_id]
    assert len({f.fill.fill_id for f in fills}) == 2
    assert OrderStatus.FILLED in account.orders(late.client_order_id)
    assert [m for m in log_messages if m.get("message_type") == "bitvavo.reconnect"]
    assert API_SECRET not in json.dumps(log_messages, default=str)


async def test_a_wrong_key_stops_the_private_stream_with_one_error(
    server: FakeServer, make_exchange: Any, nursery: trio.Nursery
) -> None:
    good: BitvavoExchange = make_exchange()
    await good.connect()
    wrong: BitvavoExchange = make_exchange(secret="NOT-THE-SECRET-" + "x" * 40)
    wrong.markets, wrong.by_market = good.markets, good.by_market  # connect() would already refuse it
    wrong.live = True
    account = Account()
    with pytest.raises(FatalExchangeError) as caught:
        await wrong.private_stream(account.send)
    assert "309" in str(caught.value) and "NOT-THE-SECRET" not in str(caught.value)


async def test_one_connection_serves_the_public_and_the_private_stream(
    server: FakeServer, make_exchange: Any, nursery: trio.Nursery, log_messages: list[dict[str, Any]]
) -> None:
    fake = server.fake
    exchange: BitvavoExchange = make_exchange(reconnect_initial=0.05, balance_poll_seconds=0.2)
    await exchange.connect()
    market: list[MarketDataMsg] = []
    send, receive = trio.open_memory_channel[MarketDataMsg](10_000)

    async def collect() -> None:
        async for message in receive:
            market.append(message)

    def trades() -> list[Trade]:
        return [m.trade for m in market if isinstance(m, TradeDataMsg)]

    nursery.start_soon(collect)
    public = trio.CancelScope()

    async def run_public(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with public:
            subscription = Subscription(orderbooks=frozenset({"BTCEUR"}), trades=frozenset({"BTCEUR"}))
            await exchange.stream(subscription, send, task_status=task_status)

    await nursery.start(run_public)  # the public stream comes first: it owns the connection
    account = await start(nursery, exchange)
    assert fake.ws_connections == 1 and sorted(exchange.connection.streams) == ["private", "public"]
    health = exchange.describe()
    assert health["ws_connections"] == 1 and sorted(health["ws_streams"]) == ["private", "public"]

    # A resting buy filled by a seller: the account hears the fill, the tape the seller's trade.
    placed = limit("29900")
    await exchange.place_order(placed)
    fake.set_price("BTC-EUR", "29800")
    await wait_until(lambda: OrderStatus.FILLED in account.orders(placed.client_order_id), "the fill")
    taken = await wait_until(lambda: [t for t in trades() if t.price == Decimal(29900)], "the trade")
    assert [(t.symbol, t.side, t.quantity) for t in taken] == [("BTCEUR", Side.SELL, Decimal("0.1"))]
    assert fake.ws_connections == 1

    # A dropped connection is replaced by one connection that carries both streams again.
    fake.drop_connections()
    fake.set_price("BTC-EUR", "29850")
    await wait_until(
        lambda: fake.ws_connections == 2 and exchange.public.books["BTC-EUR"].synced, "reconnect"
    )
    again = limit("29840")
    await exchange.place_order(again)
    fake.set_price("BTC-EUR", "29830")
    await wait_until(lambda: OrderStatus.FILLED in account.orders(again.client_order_id), "the next fill")
    await wait_until(lambda: [t for t in trades() if t.price == Decimal(29840)], "the next trade")
    (reconnect,) = [m for m in log_messages if m.get("message_type") == "bitvavo.reconnect"]
    assert sorted(reconnect["streams"]) == ["private", "public"]
    assert fake.ws_connections == 2

    # The owner's caller stops the public stream: the private one takes the connection over and misses
    # nothing (what happened in between comes from its catch-up).
    public.cancel()
    fake.set_price("BTC-EUR", "29900")
    last = limit("29890")
    await exchange.place_order(last)
    fake.set_price("BTC-EUR", "29880")
    await wait_until(lambda: OrderStatus.FILLED in account.orders(last.client_order_id), "a fill after")
    assert exchange.connection.streams == ["private"] and fake.ws_connections == 3
    fills = [f.fill.client_order_id for f in account.fills()]
    assert fills == [placed.client_order_id, again.client_order_id, last.client_order_id]


async def test_a_refused_private_stream_leaves_the_shared_connection_to_the_public_one(
    server: FakeServer, make_exchange: Any, nursery: trio.Nursery
) -> None:
    good: BitvavoExchange = make_exchange()
    await good.connect()
    wrong: BitvavoExchange = make_exchange(secret="NOT-THE-SECRET-" + "x" * 40)
    wrong.markets, wrong.by_market = good.markets, good.by_market  # connect() would already refuse it
    wrong.live = True
    send, receive = trio.open_memory_channel[MarketDataMsg](10_000)
    await nursery.start(wrong.stream, Subscription(trades=frozenset({"BTCEUR"})), send)
    with pytest.raises(FatalExchangeError, match="309"):
        await wrong.private_stream(Account().send)
    server.fake.set_price("BTC-EUR", "30100")
    with trio.fail_after(5):
        message = await receive.receive()
    assert isinstance(message, TradeDataMsg) and message.trade.price == Decimal(30100)
    assert server.fake.ws_connections == 1 and wrong.connection.streams == ["public"]
