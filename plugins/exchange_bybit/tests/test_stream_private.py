"""The private WebSocket stream against the fake: auth, account events, catch-up after faults, no repeats."""

from __future__ import annotations

from collections.abc import Callable
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
    PositionUpdate,
)
from marketmaestro.model import Order, OrderStatus, OrderType, Side
from marketmaestro_bybit import BybitExchange
from marketmaestro_bybit.testing import FakeBybit
from marketmaestro_bybit.testing.kit import TEST_KEY, WAIT, drain, next_matching, wait_until

D = Decimal
BTC = "BTCUSDT"
SPOT_MARKET_BUY = {
    "category": "spot",
    "symbol": BTC,
    "side": "Buy",
    "orderType": "Market",
    "marketUnit": "baseCoin",
}


async def start_private(
    nursery: trio.Nursery, adapter: BybitExchange
) -> trio.MemoryReceiveChannel[AccountEvent]:
    send, receive = trio.open_memory_channel[AccountEvent](10_000)
    await nursery.start(adapter.private_stream, send)
    return receive


def of(kind: type, items: list[Any]) -> list[Any]:
    return [item for item in items if isinstance(item, kind)]


def buy(client_id: str, quantity: str = "0.6") -> Order:
    return Order(client_id, "bybit", BTC, Side.BUY, OrderType.MARKET, D(quantity))


async def test_account_events_after_auth(spot: BybitExchange, fake: FakeBybit, nursery: trio.Nursery) -> None:
    resting = await spot.place_order(
        Order("mm-before", "bybit", BTC, Side.BUY, OrderType.LIMIT, D("0.1"), price=D(50000))
    )
    receive = await start_private(nursery, spot)
    start = await drain(receive, quiet=0.2)
    # No snapshot on Bybit's side: the stream reads the state over REST once subscribed.
    assert [e.order.client_order_id for e in of(OrderUpdate, start)] == ["mm-before"]
    [balances] = of(BalanceUpdate, start)
    assert balances.complete and {b.asset for b in balances.balances} == {"BTC", "ETH", "USDT"}
    result = await spot.place_order(buy("mm-live"))
    events = await drain(receive)
    fills = of(FillUpdate, events)
    assert [f.fill.fill_id for f in fills] == [f.fill_id for f in result.fills]
    assert [(f.fill.quantity, f.fill.price, f.fill.fee_currency) for f in fills] == [
        (D("0.5"), D("60000.01"), "BTC"),
        (D("0.1"), D("60000.02"), "BTC"),
    ]
    orders = of(OrderUpdate, events)
    assert orders[-1].order.client_order_id == "mm-live" and orders[-1].order.status is OrderStatus.FILLED
    assert of(BalanceUpdate, events)[-1].balances[0].asset == "BTC"
    cancelled = await spot.cancel_order(resting.order)
    update = await next_matching(
        receive, lambda e: isinstance(e, OrderUpdate) and e.order.client_order_id == "mm-before"
    )
    assert update.order.status is OrderStatus.CANCELLED == cancelled.status


async def test_linear_positions_arrive(linear: BybitExchange, fake: FakeBybit, nursery: trio.Nursery) -> None:
    receive = await start_private(nursery, linear)
    await drain(receive, quiet=0.2)
    await linear.place_order(Order("mm-lin", "bybit", BTC, Side.SELL, OrderType.MARKET, D("0.25")))
    events = await drain(receive)
    position = of(PositionUpdate, events)[-1].positions[0]
    assert (position.symbol, position.quantity) == (BTC, D("-0.25"))


async def test_a_revoked_key_is_one_fatal_error_not_a_reconnect_loop(
    spot: BybitExchange, fake: FakeBybit
) -> None:
    fake.revoke_key(TEST_KEY)
    send, _ = trio.open_memory_channel[AccountEvent](10)
    with pytest.raises(FatalExchangeError, match="refused the private stream's API key") as caught:
        with trio.fail_after(WAIT):
            await spot.private_stream(send)
    assert TEST_KEY not in repr(caught.value)
    assert fake.hub.connections == 1


async def test_events_during_a_disconnect_are_caught_up_once(
    spot: BybitExchange, fake: FakeBybit, nursery: trio.Nursery
) -> None:
    receive = await start_private(nursery, spot)
    await drain(receive, quiet=0.2)
    account = fake.venue.accounts[TEST_KEY]
    placed = []
    for round_ in range(3):
        assert fake.drop_connections("private") == 1
        # Filled while nobody listens: only the catch-up after the reconnect can report these.
        placed.append(
            fake.venue.place(account, {**SPOT_MARKET_BUY, "qty": "0.4", "orderLinkId": f"mm-gap{round_}"})
        )
        wanted = round_ + 2
        await wait_until(lambda: fake.hub.connections >= wanted and bool(fake.hub.clients), "a reconnect")  # noqa: B023
    events = await drain(receive, quiet=0.5)
    fills = of(FillUpdate, events)
    executions = [e["execId"] for e in fake.executions(TEST_KEY)]
    assert sorted(f.fill.fill_id for f in fills) == sorted(executions), "every execution once"
    final = {e.order.client_order_id: e.order.status for e in of(OrderUpdate, events)}
    assert final == {f"mm-gap{i}": OrderStatus.FILLED for i in range(3)}
    assert len(of(OrderUpdate, events)) == 3, "each order's state once"


async def test_a_malformed_frame_loses_nothing(
    spot: BybitExchange, fake: FakeBybit, nursery: trio.Nursery
) -> None:
    receive = await start_private(nursery, spot)
    await drain(receive, quiet=0.2)
    fake.faults.malformed_next(2, kind="private")  # the first execution and the first order update
    result = await spot.place_order(buy("mm-garbled"))
    events = await drain(receive, quiet=0.5)
    assert sorted(f.fill.fill_id for f in of(FillUpdate, events)) == sorted(f.fill_id for f in result.fills)
    assert [e.order.status for e in of(OrderUpdate, events)] == [OrderStatus.FILLED]
    assert fake.hub.connections == 1


async def test_private_calls_in_paper_mode_are_refused(make_adapter: Callable[..., BybitExchange]) -> None:
    adapter = make_adapter(mode="paper")
    await adapter.connect()  # public data only: no key is read or sent
    assert adapter.is_connected() and "BTCUSDT" in await adapter.instruments()
    for call in (adapter.balances(), adapter.open_orders(), adapter.place_order(buy("mm-paper"))):
        with pytest.raises(FatalExchangeError, match="paper mode"):
            await call
