"""The API secret never shows: not in logs, exceptions, reprs or the health summary, whatever goes wrong."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import trio

from marketmaestro.exchanges import ExchangeError, Subscription
from marketmaestro.messages import MarketDataMsg
from marketmaestro.model import Order, OrderType, Side
from marketmaestro_bitvavo import BitvavoExchange
from marketmaestro_bitvavo.testing import API_KEY, API_SECRET, FakeServer


async def test_the_secret_is_nowhere(
    server: FakeServer, make_exchange: Any, nursery: trio.Nursery, log_messages: list[dict[str, Any]]
) -> None:
    assert API_SECRET.startswith("FAKE-BITVAVO-SECRET-")
    seen: list[str] = []
    exchange: BitvavoExchange = make_exchange(reconnect_initial=0.05, timeout=0.3)
    await exchange.connect()
    send, _receive = trio.open_memory_channel[MarketDataMsg](10_000)
    await nursery.start(exchange.stream, Subscription(orderbooks=frozenset({"BTCEUR"})), send)
    failures = [
        lambda: server.fake.fail_next(path="/order", status=403, code=309),
        lambda: server.fake.fail_next(path="/order", status=500, code=101),
        lambda: server.fake.slow_next(1.0, path="/order"),
        lambda: server.fake.ban(5),
    ]
    for inject in failures:
        inject()
        order = Order(
            f"mm-{uuid.uuid4().hex}", "bitvavo", "BTCEUR", Side.BUY, OrderType.MARKET, Decimal("0.01")
        )
        try:
            await exchange.place_order(order)
        except ExchangeError as exc:
            seen += [str(exc), repr(exc)]
    server.fake.drop_connections()
    await trio.sleep(0.3)
    wrong: BitvavoExchange = make_exchange(secret=API_SECRET[::-1])
    server.fake.banned_until.clear()
    try:
        await wrong.connect()
    except ExchangeError as exc:
        seen += [str(exc), repr(exc)]
    assert len(seen) >= 6
    seen += [
        json.dumps(exchange.describe()),
        repr(vars(exchange)),
        repr(vars(exchange.rest)),
        repr(exchange.context),
        repr(exchange.options),
        json.dumps(log_messages, default=str),
    ]
    for text in seen:
        assert API_SECRET not in text and API_SECRET[::-1] not in text
    assert API_KEY not in json.dumps(log_messages, default=str)
