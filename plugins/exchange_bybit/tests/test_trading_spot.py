"""Spot order entry against the fake: every order type, the grid, local rejections, idempotency, records.

The fake's BTCUSDT book starts at 60000: bids 59999.99, 59999.98, ... and asks 60000.01, 60000.02, ...
holding 0.5, 0.75, 1.0, ... BTC (tick 0.01, step 0.000001, minimum 0.000048 BTC and 1 USDT).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketmaestro.exchanges import ExchangeError, OrderRejected
from marketmaestro.model import Order, OrderStatus, OrderType, Side, TimeInForce
from marketmaestro_bybit import BybitExchange
from marketmaestro_bybit.testing import FakeBybit
from marketmaestro_bybit.testing.kit import TEST_KEY

D = Decimal


def order(client_id: str, side: Side, kind: OrderType, quantity: str, **fields: object) -> Order:
    return Order(client_id, "bybit", "BTCUSDT", side, kind, D(quantity), **fields)  # type: ignore[arg-type]


def sent(fake: FakeBybit) -> list[str]:
    return [o["orderLinkId"] for o in fake.orders(TEST_KEY)]


async def test_market_buy_fills_at_the_asks_with_the_fee_in_base(
    spot: BybitExchange, fake: FakeBybit
) -> None:
    result = await spot.place_order(order("mm-m1", Side.BUY, OrderType.MARKET, "1.0"))
    assert result.order.status is OrderStatus.FILLED
    assert result.order.filled_quantity == D("1.0")
    assert result.order.average_price == D("60000.015")
    assert [(f.quantity, f.price) for f in result.fills] == [
        (D("0.5"), D("60000.01")),
        (D("0.5"), D("60000.02")),
    ]
    assert {f.fee_currency for f in result.fills} == {"BTC"} and sum(f.fee for f in result.fills) == D(
        "0.001"
    )
    assert {f.client_order_id for f in result.fills} == {"mm-m1"}
    balances = {b.asset: b for b in await spot.balances()}
    assert balances["BTC"].free == D("2.999")
    assert balances["USDT"].free == D(100_000) - D("60000.015")
    body = fake.orders(TEST_KEY)[0]
    assert body["orderType"] == "Market" and body["qty"] == "1.000000"  # marketUnit baseCoin: qty in BTC


async def test_quantity_and_price_are_put_on_the_grid(spot: BybitExchange, fake: FakeBybit) -> None:
    result = await spot.place_order(
        order("mm-grid", Side.BUY, OrderType.LIMIT, "0.0123456789", price=D("50000.004999"))
    )
    assert result.order.quantity == D("0.012345") and result.order.price == D("50000.00")
    placed = fake.orders(TEST_KEY)[0]
    assert (placed["qty"], placed["price"]) == ("0.012345", "50000.00")


@pytest.mark.parametrize(
    ("quantity", "price", "reason"),
    [
        ("0.0000001", "60000", "rounds to zero"),
        ("0.00004", "60000", "under BTCUSDT's minimum 0.000048"),
        ("0.0001", "5000", "notional 0.50000000 is under BTCUSDT's minimum 1"),
    ],
)
async def test_too_small_orders_are_refused_before_sending(
    spot: BybitExchange, fake: FakeBybit, quantity: str, price: str, reason: str
) -> None:
    with pytest.raises(OrderRejected, match=reason):
        await spot.place_order(order("mm-small", Side.BUY, OrderType.LIMIT, quantity, price=D(price)))
    assert sent(fake) == []


async def test_limit_order_rests_and_fills_when_the_market_comes(
    spot: BybitExchange, fake: FakeBybit
) -> None:
    placed = await spot.place_order(order("mm-l1", Side.BUY, OrderType.LIMIT, "0.1", price=D("59000")))
    assert placed.order.status is OrderStatus.ACCEPTED and placed.fills == ()
    assert [o.client_order_id for o in await spot.open_orders("BTCUSDT")] == ["mm-l1"]
    usdt = next(b for b in await spot.balances() if b.asset == "USDT")
    assert usdt.locked == D("5900.0") and usdt.free == D(100_000) - D(5900)
    fake.set_price("BTCUSDT", D("58950"))
    current = await spot.get_order(placed.order)
    assert (
        current is not None and current.status is OrderStatus.FILLED and current.average_price == D("59000")
    )
    fills = await spot.fills("BTCUSDT")
    assert [(f.client_order_id, f.price) for f in fills] == [("mm-l1", D("59000"))]
    assert await spot.open_orders() == []


async def test_ioc_fills_what_it_can_and_the_rest_is_cancelled(spot: BybitExchange) -> None:
    result = await spot.place_order(
        order("mm-ioc", Side.BUY, OrderType.LIMIT, "0.6", price=D("60000.01"), time_in_force=TimeInForce.IOC)
    )
    assert result.order.status is OrderStatus.CANCELLED
    assert result.order.filled_quantity == D("0.5") and len(result.fills) == 1


async def test_fok_that_cannot_fill_whole_fills_nothing(spot: BybitExchange) -> None:
    result = await spot.place_order(
        order("mm-fok", Side.BUY, OrderType.LIMIT, "1.5", price=D("60000.02"), time_in_force=TimeInForce.FOK)
    )
    assert result.order.status is OrderStatus.CANCELLED and result.fills == ()
    whole = await spot.place_order(
        order("mm-fok2", Side.BUY, OrderType.LIMIT, "1.2", price=D("60000.02"), time_in_force=TimeInForce.FOK)
    )
    assert whole.order.status is OrderStatus.FILLED and sum(f.quantity for f in whole.fills) == D("1.2")


async def test_post_only_that_would_take_is_rejected_with_the_reason(
    spot: BybitExchange, fake: FakeBybit
) -> None:
    with pytest.raises(OrderRejected, match="would take liquidity"):
        await spot.place_order(
            order("mm-po", Side.BUY, OrderType.LIMIT, "0.1", price=D("60001"), post_only=True)
        )
    assert fake.orders(TEST_KEY)[0]["timeInForce"] == "PostOnly"
    resting = await spot.place_order(
        order("mm-po2", Side.BUY, OrderType.LIMIT, "0.1", price=D("59990"), post_only=True)
    )
    assert resting.order.status is OrderStatus.ACCEPTED and resting.order.post_only


async def test_stop_market_sell_waits_for_its_trigger(spot: BybitExchange, fake: FakeBybit) -> None:
    placed = await spot.place_order(
        order("mm-stop", Side.SELL, OrderType.STOP_MARKET, "0.5", stop_price=D("59000"))
    )
    assert placed.order.status is OrderStatus.ACCEPTED and placed.order.stop_price == D("59000.00")
    body = fake.orders(TEST_KEY)[0]
    assert (body["orderStatus"], body["triggerPrice"]) == ("Untriggered", "59000.00")
    fake.set_price("BTCUSDT", D("59500"))
    assert (await spot.get_order(placed.order)).status is OrderStatus.ACCEPTED  # type: ignore[union-attr]
    fake.set_price("BTCUSDT", D("58990"))
    fired = await spot.get_order(placed.order)
    assert fired is not None and fired.status is OrderStatus.FILLED and fired.type is OrderType.STOP_MARKET
    assert fired.average_price == D("58989.99")


async def test_take_profit_limit_fires_on_a_rise(spot: BybitExchange, fake: FakeBybit) -> None:
    placed = await spot.place_order(
        order("mm-tp", Side.SELL, OrderType.TAKE_PROFIT_LIMIT, "0.2", stop_price=D("61000"), price=D("60990"))
    )
    assert placed.order.status is OrderStatus.ACCEPTED
    fake.set_price("BTCUSDT", D("61000"))
    fired = await spot.get_order(placed.order)
    assert fired is not None and fired.status is OrderStatus.FILLED and fired.average_price == D("60999.99")


async def test_a_stop_on_the_wrong_side_of_the_market_is_refused(
    spot: BybitExchange, fake: FakeBybit
) -> None:
    with pytest.raises(OrderRejected, match="must be below the market price"):
        await spot.place_order(
            order("mm-bad", Side.SELL, OrderType.STOP_MARKET, "0.1", stop_price=D("61000"))
        )
    assert sent(fake) == []


async def test_cancel_a_conditional_spot_order(spot: BybitExchange, fake: FakeBybit) -> None:
    placed = await spot.place_order(
        order("mm-cs", Side.SELL, OrderType.STOP_MARKET, "0.1", stop_price=D("50000"))
    )
    cancelled = await spot.cancel_order(placed.order)
    assert cancelled.status is OrderStatus.CANCELLED
    assert fake.orders(TEST_KEY)[0]["orderStatus"] == "Deactivated"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"type": OrderType.TRAILING_STOP, "trail_percent": D(1)}, "no trailing stop"),
        ({"type": OrderType.LIMIT, "price": D(59000), "reduce_only": True}, "linear perpetuals only"),
        (
            {"type": OrderType.LIMIT, "price": D(59000), "post_only": True, "time_in_force": TimeInForce.IOC},
            "gtc",
        ),
        ({"type": OrderType.MARKET, "time_in_force": TimeInForce.FOK}, "fill-or-kill needs a limit price"),
        ({"type": OrderType.STOP_LIMIT, "stop_price": D(59000)}, "needs a positive price"),
        (
            {"type": OrderType.LIMIT, "price": D(59000), "client_order_id": "x" * 37},
            "not a Bybit orderLinkId",
        ),
    ],
)
async def test_what_bybit_cannot_do_is_refused_with_the_reason(
    spot: BybitExchange, fake: FakeBybit, fields: dict[str, object], reason: str
) -> None:
    values: dict[str, object] = {"client_order_id": "mm-no", **fields}
    kind = values.pop("type")
    client_id = str(values.pop("client_order_id"))
    with pytest.raises(OrderRejected, match=reason):
        await spot.place_order(order(client_id, Side.SELL, kind, "0.1", **values))  # type: ignore[arg-type]
    assert sent(fake) == []


async def test_insufficient_balance_is_rejected_by_bybit(spot: BybitExchange) -> None:
    with pytest.raises(OrderRejected, match=r"Insufficient balance.*170131"):
        await spot.place_order(order("mm-poor", Side.SELL, OrderType.MARKET, "3"))


async def test_placing_the_same_order_again_does_not_place_it_twice(
    spot: BybitExchange, fake: FakeBybit
) -> None:
    first = await spot.place_order(order("mm-dup", Side.BUY, OrderType.LIMIT, "0.1", price=D("59000")))
    again = await spot.place_order(order("mm-dup", Side.BUY, OrderType.LIMIT, "0.1", price=D("59000")))
    assert again.order.venue_order_id == first.order.venue_order_id
    assert sent(fake) == ["mm-dup"]


async def test_amend_price_and_quantity(spot: BybitExchange, fake: FakeBybit) -> None:
    placed = await spot.place_order(order("mm-am", Side.BUY, OrderType.LIMIT, "0.1", price=D("59000")))
    amended = await spot.amend_order(placed.order, quantity=D("0.2000009"), price=D("59100.001"))
    assert (amended.quantity, amended.price, amended.status) == (
        D("0.200000"),
        D("59100.00"),
        OrderStatus.ACCEPTED,
    )
    assert (fake.orders(TEST_KEY)[0]["qty"], fake.orders(TEST_KEY)[0]["price"]) == ("0.200000", "59100.00")
    crossing = await spot.amend_order(amended, price=D("60000.01"))
    assert crossing.status is OrderStatus.FILLED
    with pytest.raises(OrderRejected, match="filled or canceled"):
        await spot.amend_order(crossing, price=D(59000))


async def test_cancel_unknown_and_twice(spot: BybitExchange) -> None:
    assert await spot.get_order(order("mm-ghost", Side.BUY, OrderType.LIMIT, "0.1", price=D(1))) is None
    with pytest.raises(OrderRejected, match="not on Bybit"):
        await spot.cancel_order(order("mm-ghost", Side.BUY, OrderType.LIMIT, "0.1", price=D(1)))
    placed = await spot.place_order(order("mm-c2", Side.BUY, OrderType.LIMIT, "0.1", price=D("59000")))
    assert (await spot.cancel_order(placed.order)).status is OrderStatus.CANCELLED
    assert (await spot.cancel_order(placed.order)).status is OrderStatus.CANCELLED


async def test_history_and_fills_follow_the_cursor_over_pages(spot: BybitExchange, fake: FakeBybit) -> None:
    account = fake.venue.accounts[TEST_KEY]
    base = {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "marketUnit": "baseCoin"}
    for index in range(55):  # straight into the venue: this test is about reading, not about rate limits
        fake.venue.place(
            account, {**base, "orderType": "Market", "qty": "0.001", "orderLinkId": f"mm-h{index}"}
        )
    for index in range(50):
        fake.venue.place(
            account,
            {**base, "orderType": "Limit", "qty": "0.001", "price": "1000", "orderLinkId": f"mm-o{index}"},
        )
    history = await spot.order_history("BTCUSDT")
    assert sorted(o.client_order_id for o in history) == sorted(f"mm-h{i}" for i in range(55))
    assert all(o.status is OrderStatus.FILLED for o in history)
    fills = await spot.fills()
    assert len(fills) == 55 and len({f.fill_id for f in fills}) == 55
    assert [f.timestamp for f in fills] == sorted(f.timestamp for f in fills)
    assert len(await spot.open_orders()) == 50
    since = fills[-1].timestamp
    assert {f.fill_id for f in await spot.fills(since=since)} <= {f.fill_id for f in fills}
    assert len(await spot.order_history(since=fake.venue.now() + 1000)) == 0


async def test_history_further_back_than_seven_days_is_asked_in_windows(
    spot: BybitExchange, fake: FakeBybit
) -> None:
    account = fake.venue.accounts[TEST_KEY]
    body = {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market", "qty": "0.001"}
    fake.venue.place(account, {**body, "marketUnit": "baseCoin", "orderLinkId": "mm-old"})
    twenty_days_ago = fake.venue.now() - 20 * 86_400_000
    with pytest.raises(ExchangeError, match="7 days"):  # Bybit refuses a longer span in one request
        await spot.rest.get(
            "/v5/order/history",
            {"category": "spot", "startTime": twenty_days_ago, "endTime": fake.venue.now()},
            signed=True,
        )
    assert [o.client_order_id for o in await spot.order_history(since=twenty_days_ago)] == ["mm-old"]
    assert [f.client_order_id for f in await spot.fills(since=twenty_days_ago)] == ["mm-old"]
