"""Errors and limits: local rejections, Bitvavo's error codes on the core's error tree, uncertain outcomes
without duplicate orders, credentials checked once, and the weight budget kept and honoured."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from marketmaestro.exchanges import FatalExchangeError, OrderRejected, RetryableError
from marketmaestro.model import Order, OrderStatus, OrderType, Side
from marketmaestro_bitvavo import BitvavoExchange
from marketmaestro_bitvavo.errors import RetryLater, classify
from marketmaestro_bitvavo.testing import API_SECRET, FakeServer


def order(kind: OrderType = OrderType.MARKET, quantity: str = "0.01", **fields: Any) -> Order:
    return Order(
        f"mm-{uuid.uuid4().hex}",
        "bitvavo",
        fields.pop("symbol", "BTCEUR"),
        Side.BUY,
        kind,
        Decimal(quantity),
        **fields,
    )


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, 216, OrderRejected),
        (400, 205, OrderRejected),
        (400, 422, OrderRejected),
        (400, 217, OrderRejected),
        (404, 240, OrderRejected),
        (403, 309, FatalExchangeError),
        (403, 304, FatalExchangeError),
        (403, 310, FatalExchangeError),
        (500, 101, RetryableError),
        (503, 109, RetryableError),
        (503, 107, RetryLater),
        (429, 105, RetryLater),
        (429, 112, RetryLater),
        (502, None, RetryableError),
    ],
)
def test_error_codes_land_on_their_branch(status: int, code: int | None, kind: type[Exception]) -> None:
    payload = {"errorCode": code, "error": "message"} if code is not None else None
    error = classify(status, payload, what="POST /order")
    assert isinstance(error, kind)
    assert "POST /order" in str(error)


def test_a_ban_says_when_it_ends() -> None:
    error = classify(429, {"errorCode": 105, "error": "Banned. The ban expires at 9999999999999."}, what="x")
    assert isinstance(error, RetryLater) and error.retry_after > 1e6


@pytest.mark.parametrize(
    ("placed", "reason"),
    [
        (order(OrderType.LIMIT, price=Decimal("29000.5")), "tick size 1"),
        (order(quantity="0.000000001"), "8 decimals"),
        (order(OrderType.LIMIT, quantity="0.00001", price=Decimal(30000)), "minimum 0.00006"),
        (order(OrderType.LIMIT, quantity="0.0001", price=Decimal(30000)), "minimum 5"),
        (order(OrderType.TRAILING_STOP, trail_percent=Decimal(1)), "trailing"),
        (order(reduce_only=True), "reduce-only"),
        (order(OrderType.STOP_MARKET), "stop"),
        (
            order(OrderType.LIMIT, symbol="SHIBEUR", quantity="1000000", price=Decimal("0.0000123456")),
            "5 significant",
        ),
        (order(symbol="DOGEEUR"), "not a Bitvavo market"),
    ],
)
async def test_what_bitvavo_would_refuse_is_rejected_before_sending(
    server: FakeServer, live: BitvavoExchange, placed: Order, reason: str
) -> None:
    with pytest.raises(OrderRejected) as caught:
        await live.place_order(placed)
    assert reason in caught.value.reason
    assert server.fake.private_requests("/order") == []


async def test_insufficient_balance_is_a_rejection(server: FakeServer, live: BitvavoExchange) -> None:
    with pytest.raises(OrderRejected) as caught:
        await live.place_order(order(quantity="1"))
    assert "216" in caught.value.reason and "balance" in caught.value.reason
    assert server.fake.exchange.orders == {}


async def test_an_error_after_the_order_landed_returns_the_order_once(
    server: FakeServer, live: BitvavoExchange
) -> None:
    server.fake.fail_next(path="/order", status=500, code=101, after=True)
    placed = order()
    result = await live.place_order(placed)
    assert result.order.status is OrderStatus.FILLED and len(result.fills) == 1
    assert len(server.fake.exchange.orders) == 1


async def test_a_slow_answer_is_looked_up_instead_of_placed_twice(
    server: FakeServer, make_exchange: Any
) -> None:
    exchange: BitvavoExchange = make_exchange(timeout=0.3)
    await exchange.connect()
    server.fake.slow_next(1.0, path="/order")
    placed = order(OrderType.LIMIT, price=Decimal(29000))
    result = await exchange.place_order(placed)
    assert (
        result.order.client_order_id == placed.client_order_id and result.order.status is OrderStatus.ACCEPTED
    )
    again = await exchange.place_order(placed)  # the order manager's retry after a timeout
    assert again.order.venue_order_id == result.order.venue_order_id
    assert len(server.fake.exchange.orders) == 1


async def test_a_failed_attempt_is_retried_once_it_is_known_not_to_have_landed(
    server: FakeServer, live: BitvavoExchange
) -> None:
    server.fake.fail_next(path="/order", status=503, code=109, message="Timeout. Outcome unknown.")
    placed = order()
    with pytest.raises(RetryableError):
        await live.place_order(placed)
    assert server.fake.exchange.orders == {}
    result = await live.place_order(placed)
    assert result.order.status is OrderStatus.FILLED
    assert len(server.fake.exchange.orders) == 1
    # The retry asked whether the first attempt landed before placing.
    assert [r for r in server.fake.requests if r[1] == "/order"][-2:] == [
        ("GET", "/order"),
        ("POST", "/order"),
    ]


async def test_overload_and_unknown_errors_are_retryable(server: FakeServer, live: BitvavoExchange) -> None:
    server.fake.fail_next(path="/balance", status=503, code=107, message="Overloaded.")
    with pytest.raises(RetryLater) as caught:
        await live.balances()
    assert caught.value.retry_after == 0.5
    server.fake.malformed_next(path="/balance")
    with pytest.raises(RetryableError, match="not JSON"):
        await live.balances()
    assert await live.balances()


async def test_a_wrong_secret_is_one_clear_error_at_connect(server: FakeServer, make_exchange: Any) -> None:
    wrong = "WRONG-SECRET-" + "9" * 40
    exchange: BitvavoExchange = make_exchange(secret=wrong)
    with pytest.raises(FatalExchangeError) as caught:
        await exchange.connect()
    message = str(caught.value)
    assert "309" in message and "api_secret" in message
    assert wrong not in message and API_SECRET not in message
    assert [r for r in server.fake.requests if r[1] == "/account"] == [("GET", "/account")]
    assert not exchange.is_connected()


async def test_live_needs_keys_and_the_explicit_switch(server: FakeServer, make_exchange: Any) -> None:
    with pytest.raises(FatalExchangeError, match="api_key and api_secret"):
        await make_exchange(key=None, secret=None).connect()
    with pytest.raises(FatalExchangeError, match=r"options\.live_orders is not true"):
        await make_exchange(live_orders=False).connect()
    assert server.fake.requests == [], "nothing was sent"


async def test_without_live_orders_nothing_private_is_sent(server: FakeServer, make_exchange: Any) -> None:
    exchange: BitvavoExchange = make_exchange(mode="paper", key=None, secret=None)
    await exchange.connect()
    for call in (exchange.place_order(order()), exchange.balances(), exchange.open_orders()):
        with pytest.raises(OrderRejected, match="live order entry is off"):
            await call
    assert server.fake.private_requests("/order", "/balance", "/ordersOpen", "/account") == []


async def test_a_ban_is_waited_out_without_asking_again(server: FakeServer, live: BitvavoExchange) -> None:
    server.fake.ban(30)
    with pytest.raises(RetryLater) as caught:
        await live.balances()
    assert 25 < caught.value.retry_after <= 30
    sent = len(server.fake.requests)
    with pytest.raises(RetryLater, match="ban in force"):
        await live.place_order(order())
    assert len(server.fake.requests) == sent, "no request while banned"
    assert live.describe()["banned_until"] is not None


async def test_the_weight_budget_follows_the_headers_and_stops_before_a_ban(
    server: FakeServer, make_exchange: Any
) -> None:
    server.fake.weight_limit = 20
    exchange: BitvavoExchange = make_exchange(max_rate_limit_wait=0)
    await (
        exchange.connect()
    )  # time and markets unsigned (per IP), then the signed /account: 1 point of the key's
    assert exchange.rest.budget.limit == 20 and exchange.rest.budget.remaining == 19
    for _ in range(3):
        await exchange.balances()  # 5 points each: 4 left
    with pytest.raises(RetryLater, match="weight budget spent"):
        await exchange.balances()
    assert server.fake.banned_until == {}, "the fake never had to ban"
    assert [r for r in server.fake.requests if r[1] == "/balance"] == [("GET", "/balance")] * 3


async def test_over_the_limit_the_fake_bans_with_the_real_error(
    server: FakeServer, make_exchange: Any
) -> None:
    server.fake.weight_limit = 8
    exchange: BitvavoExchange = make_exchange(weight_limit=1000)
    await exchange.connect()
    await exchange.balances()  # 6 of the key's 8 points spent, as the headers told the adapter
    exchange.rest.budget.remaining = 1000  # an adapter that lost count (say, another process on the key)
    with pytest.raises(RetryLater) as caught:
        await exchange.balances()
    assert "105" in str(caught.value) and caught.value.retry_after > 30
    assert exchange.rest.budget.banned_until == server.fake.banned_until[server.fake.api_key]
