"""The adapter's REST side against the fake Bitvavo: connect, instruments, every order type, queries."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from marketmaestro.model import Order, OrderStatus, OrderType, Side, TimeInForce
from marketmaestro_bitvavo import BitvavoExchange
from marketmaestro_bitvavo.testing import FakeServer


def order(
    side: str = "buy", kind: OrderType = OrderType.MARKET, quantity: str = "0.01", **fields: Any
) -> Order:
    return Order(
        client_order_id=f"mm-{uuid.uuid4().hex}",
        exchange="bitvavo",
        symbol=fields.pop("symbol", "BTCEUR"),
        side=Side(side),
        type=kind,
        quantity=Decimal(quantity),
        strategy="probe",
        **fields,
    )


async def test_connect_measures_the_server_clock_and_loads_markets(
    server: FakeServer, make_exchange: Any
) -> None:
    server.fake.exchange.clock_offset_ms = 5_000
    exchange: BitvavoExchange = make_exchange()
    await exchange.connect()
    assert exchange.is_connected()
    assert 4_000 <= exchange.rest.time_offset_ms <= 6_000
    assert abs(await exchange.server_time() - server.fake.exchange.now_ms()) < 1_000
    instruments = await exchange.instruments()
    btc = instruments["BTCEUR"]
    assert (btc.base, btc.quote, btc.tick_size, btc.step_size) == ("BTC", "EUR", Decimal(1), Decimal("1E-8"))
    assert (btc.min_quantity, btc.min_notional) == (Decimal("0.00006"), Decimal(5))
    # SHIB-EUR has tickSize null: five significant digits at its last price 0.000012345.
    assert instruments["SHIBEUR"].tick_size == Decimal("1E-9")
    # Signed requests still pass the fake's window check with the shifted clock.
    assert await exchange.balances()
    await exchange.disconnect()
    assert not exchange.is_connected()


async def test_a_market_buy_fills_at_the_book_with_its_fill(
    server: FakeServer, live: BitvavoExchange
) -> None:
    placed = order()
    result = await live.place_order(placed)
    assert result.order.status is OrderStatus.FILLED
    assert result.order.client_order_id == placed.client_order_id and result.order.strategy == "probe"
    assert result.order.filled_quantity == Decimal("0.01") and result.order.average_price == Decimal(30001)
    (fill,) = result.fills
    assert (fill.quantity, fill.price, fill.fee_currency) == (Decimal("0.01"), Decimal(30001), "EUR")
    assert fill.fee == Decimal("0.750025") and fill.client_order_id == placed.client_order_id
    venue = next(iter(server.fake.exchange.orders.values()))
    assert venue.client_order_id == str(uuid.UUID(hex=placed.client_order_id[3:]))
    assert venue.operator_id == 1
    balances = {b.asset: b for b in await live.balances()}
    assert balances["BTC"].free == Decimal("0.01")
    assert balances["EUR"].free == Decimal(10000) - Decimal("300.01") - Decimal("0.750025")


async def test_a_resting_limit_order_fills_when_the_price_moves(
    server: FakeServer, live: BitvavoExchange
) -> None:
    placed = order(kind=OrderType.LIMIT, price=Decimal(29900), quantity="0.1")
    result = await live.place_order(placed)
    assert result.order.status is OrderStatus.ACCEPTED and not result.fills
    (open_order,) = await live.open_orders("BTCEUR")
    assert open_order.client_order_id == placed.client_order_id and open_order.price == Decimal(29900)
    assert open_order.strategy == "probe"
    locked = {b.asset: b.locked for b in await live.balances()}
    assert locked["EUR"] > Decimal(2990)
    server.fake.set_price("BTC-EUR", "29800")
    seen = await live.get_order(placed)
    assert seen is not None and seen.status is OrderStatus.FILLED and seen.average_price == Decimal(29900)
    assert await live.open_orders() == []
    (fill,) = await live.fills("BTCEUR")
    assert fill.client_order_id == placed.client_order_id and fill.fee == Decimal("4.485")  # maker 0.15 %


@pytest.mark.parametrize(
    ("tif", "price", "status", "filled"),
    [
        (TimeInForce.IOC, "30002", OrderStatus.CANCELLED, "2"),  # two levels of 1 BTC up to 30002
        (TimeInForce.FOK, "30002", OrderStatus.CANCELLED, "0"),
        (TimeInForce.FOK, "30003", OrderStatus.FILLED, "2.5"),
        (TimeInForce.GTC, "30002", OrderStatus.PARTIALLY_FILLED, "2"),
    ],
)
async def test_time_in_force(
    server: FakeServer, live: BitvavoExchange, tif: TimeInForce, price: str, status: OrderStatus, filled: str
) -> None:
    server.fake.set_balance("EUR", "100000")
    placed = order(kind=OrderType.LIMIT, price=Decimal(price), quantity="2.5", time_in_force=tif)
    result = await live.place_order(placed)
    assert result.order.status is status
    assert result.order.filled_quantity == Decimal(filled)
    assert sum(f.quantity for f in result.fills) == Decimal(filled)


async def test_post_only_that_would_take_is_rejected(server: FakeServer, live: BitvavoExchange) -> None:
    with pytest.raises(Exception) as caught:
        await live.place_order(order(kind=OrderType.LIMIT, price=Decimal(30005), post_only=True))
    assert "post-only" in str(caught.value)
    resting = await live.place_order(order(kind=OrderType.LIMIT, price=Decimal(29990), post_only=True))
    assert resting.order.status is OrderStatus.ACCEPTED and resting.order.post_only


@pytest.mark.parametrize(
    ("kind", "side", "stop", "price", "move_to", "fills_at"),
    [
        (OrderType.STOP_MARKET, "sell", "29500", None, "29400", "29399"),
        (OrderType.STOP_LIMIT, "sell", "29500", "29350", "29400", "29399"),
        (OrderType.TAKE_PROFIT, "sell", "31000", None, "31100", "31099"),
        (OrderType.TAKE_PROFIT_LIMIT, "sell", "31000", "31050", "31100", "31099"),
    ],
)
async def test_stop_and_take_profit_orders_trigger_on_the_last_price(
    server: FakeServer,
    live: BitvavoExchange,
    kind: OrderType,
    side: str,
    stop: str,
    price: str | None,
    move_to: str,
    fills_at: str,
) -> None:
    server.fake.set_balance("BTC", "1")
    placed = order(side, kind, "0.5", stop_price=Decimal(stop), price=Decimal(price) if price else None)
    result = await live.place_order(placed)
    assert result.order.status is OrderStatus.ACCEPTED and result.order.stop_price == Decimal(stop)
    venue = next(iter(server.fake.exchange.orders.values()))
    assert venue.status == "awaitingTrigger"
    server.fake.set_price("BTC-EUR", move_to)
    seen = await live.get_order(placed)
    assert seen is not None and seen.status is OrderStatus.FILLED, seen
    (fill,) = await live.fills("BTCEUR")
    assert fill.price == Decimal(fills_at)


async def test_amend_changes_price_and_quantity(server: FakeServer, live: BitvavoExchange) -> None:
    placed = order(kind=OrderType.LIMIT, price=Decimal(29000), quantity="0.1")
    result = await live.place_order(placed)
    amended = await live.amend_order(result.order, quantity=Decimal("0.2"), price=Decimal(29100))
    assert (amended.quantity, amended.price, amended.status) == (
        Decimal("0.2"),
        Decimal(29100),
        OrderStatus.ACCEPTED,
    )
    assert amended.client_order_id == placed.client_order_id and amended.strategy == "probe"
    bids = server.fake.exchange.book_json("BTC-EUR")["bids"]
    assert ["29100", "0.2"] in bids and not any(level[0] == "29000" for level in bids)


async def test_cancel_and_cancelling_what_already_filled(server: FakeServer, live: BitvavoExchange) -> None:
    resting = await live.place_order(order(kind=OrderType.LIMIT, price=Decimal(29000)))
    cancelled = await live.cancel_order(resting.order)
    assert cancelled.status is OrderStatus.CANCELLED
    assert server.fake.exchange.orders[resting.order.venue_order_id or ""].status == "canceled"
    filled = await live.place_order(order())
    again = await live.cancel_order(filled.order)
    assert again.status is OrderStatus.FILLED  # Bitvavo says 240; the adapter looked the order up
    history = await live.order_history("BTCEUR")
    assert [o.status for o in history] == [OrderStatus.CANCELLED, OrderStatus.FILLED]


async def test_order_history_and_fills_page_through_everything(
    server: FakeServer, live: BitvavoExchange
) -> None:
    live.page_size = 3
    placed = [order(quantity="0.001") for _ in range(8)]
    for item in placed:
        await live.place_order(item)
    fills = await live.fills("BTCEUR")
    assert [f.client_order_id for f in fills] == [p.client_order_id for p in placed]
    assert len({f.fill_id for f in fills}) == 8
    history = await live.order_history("BTCEUR", since=0)
    assert {o.client_order_id for o in history} == {p.client_order_id for p in placed}
    pages = [r for r in server.fake.requests if r[1] in ("/trades", "/orders")]
    assert len(pages) >= 6, "both endpoints took more than one page"
    later = await live.fills("BTCEUR", since=fills[-1].timestamp + 1)
    assert later == []


async def test_ids_not_in_the_core_format_map_to_a_stable_uuid(
    server: FakeServer, live: BitvavoExchange
) -> None:
    custom = order()
    custom = Order(
        **{**{f: getattr(custom, f) for f in custom.__slots__}, "client_order_id": "conformance-1"}
    )
    result = await live.place_order(custom)
    assert result.order.client_order_id == "conformance-1"
    venue = next(iter(server.fake.exchange.orders.values()))
    assert venue.client_order_id == str(
        uuid.uuid5(uuid.UUID("5b0f5a8e-2d4c-4c8e-9b0e-6d1f0a3c7e21"), "conformance-1")
    )
    (fill,) = await live.fills("BTCEUR")
    assert fill.client_order_id == "conformance-1"
