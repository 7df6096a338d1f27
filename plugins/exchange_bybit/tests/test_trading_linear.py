"""Linear perpetuals against the fake: positions, reduce-only, conditional orders with a direction.

The fake's linear BTCUSDT starts at 60000 with tick 0.10 and step 0.001: asks 60000.1, 60000.2, ...
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketmaestro.exchanges import OrderRejected
from marketmaestro.model import Order, OrderStatus, OrderType, Side
from marketmaestro_bybit import BybitExchange
from marketmaestro_bybit.testing import FakeBybit
from marketmaestro_bybit.testing.kit import TEST_KEY

D = Decimal


def order(client_id: str, side: Side, kind: OrderType, quantity: str, **fields: object) -> Order:
    return Order(client_id, "bybit", "BTCUSDT", side, kind, D(quantity), **fields)  # type: ignore[arg-type]


async def test_capabilities_of_linear(linear: BybitExchange, spot: BybitExchange) -> None:
    assert linear.capabilities["reduce_only"] and linear.capabilities["derivatives"]
    assert not spot.capabilities["reduce_only"] and not spot.capabilities["derivatives"]
    assert not linear.capabilities["native_trailing_stop"]
    assert linear.describe()["category"] == "linear"


async def test_a_buy_opens_a_position_and_a_reduce_only_sell_closes_it(
    linear: BybitExchange, fake: FakeBybit
) -> None:
    opened = await linear.place_order(order("mm-open", Side.BUY, OrderType.MARKET, "0.6"))
    assert opened.order.status is OrderStatus.FILLED and opened.fills[0].fee_currency == "USDT"
    [position] = await linear.positions()
    assert (position.symbol, position.quantity) == ("BTCUSDT", D("0.6"))
    assert position.average_price == (D("0.5") * D("60000.1") + D("0.1") * D("60000.2")) / D("0.6")
    fake.set_price("BTCUSDT", D("61000"), category="linear")
    closed = await linear.place_order(order("mm-close", Side.SELL, OrderType.MARKET, "5", reduce_only=True))
    assert closed.order.filled_quantity == D("0.6"), "Bybit trims a reduce-only order to the position"
    assert await linear.positions() == []
    body = fake.orders(TEST_KEY)[-1]
    assert body["reduceOnly"] is True and body["positionIdx"] == 0
    usdt = next(b for b in await linear.balances() if b.asset == "USDT")
    assert usdt.total > D(100_000), "the realised profit is in the wallet"


async def test_reduce_only_without_a_position_is_rejected(linear: BybitExchange) -> None:
    with pytest.raises(OrderRejected, match="110017"):
        await linear.place_order(order("mm-ro", Side.SELL, OrderType.MARKET, "0.1", reduce_only=True))


async def test_short_position_is_negative(linear: BybitExchange) -> None:
    await linear.place_order(order("mm-short", Side.SELL, OrderType.MARKET, "0.2"))
    [position] = await linear.positions()
    assert position.quantity == D("-0.2") and position.average_price == D("59999.9")


async def test_stop_market_carries_its_direction_and_fires(linear: BybitExchange, fake: FakeBybit) -> None:
    await linear.place_order(order("mm-long", Side.BUY, OrderType.MARKET, "0.1"))
    stop = await linear.place_order(
        order("mm-sl", Side.SELL, OrderType.STOP_MARKET, "0.1", stop_price=D("59000"), reduce_only=True)
    )
    body = fake.orders(TEST_KEY)[-1]
    assert (body["orderStatus"], body["triggerDirection"], body["triggerPrice"]) == (
        "Untriggered",
        2,
        "59000.00",
    )
    assert stop.order.status is OrderStatus.ACCEPTED
    fake.set_price("BTCUSDT", D("58900"), category="linear")
    fired = await linear.get_order(stop.order)
    assert fired is not None and fired.status is OrderStatus.FILLED
    assert await linear.positions() == []


async def test_take_profit_buy_fires_on_a_fall(linear: BybitExchange, fake: FakeBybit) -> None:
    await linear.place_order(order("mm-s", Side.SELL, OrderType.MARKET, "0.1"))
    tp = await linear.place_order(
        order("mm-tp", Side.BUY, OrderType.TAKE_PROFIT, "0.1", stop_price=D("58000"))
    )
    assert fake.orders(TEST_KEY)[-1]["triggerDirection"] == 2
    assert tp.order.type is OrderType.TAKE_PROFIT
    [listed] = await linear.open_orders()
    assert listed.type is OrderType.TAKE_PROFIT and listed.stop_price == D("58000.0")
    fake.set_price("BTCUSDT", D("57990"), category="linear")
    assert (await linear.get_order(tp.order)).status is OrderStatus.FILLED  # type: ignore[union-attr]


async def test_minimum_notional_of_linear(linear: BybitExchange, fake: FakeBybit) -> None:
    with pytest.raises(OrderRejected, match=r"notional 3\.00000 is under BTCUSDT's minimum 5"):
        await linear.place_order(order("mm-tiny", Side.BUY, OrderType.LIMIT, "0.001", price=D("3000")))
    assert fake.orders(TEST_KEY) == []


async def test_open_orders_without_a_symbol_use_the_settle_coin(linear: BybitExchange) -> None:
    for index, price in enumerate(("59000", "58000")):
        await linear.place_order(order(f"mm-lo{index}", Side.BUY, OrderType.LIMIT, "0.01", price=D(price)))
    listed = await linear.open_orders()
    assert sorted(o.client_order_id for o in listed) == ["mm-lo0", "mm-lo1"]
    assert {o.price for o in listed} == {D("59000.0"), D("58000.0")}
