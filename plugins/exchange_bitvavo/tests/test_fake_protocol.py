"""The fake Bitvavo speaks the protocol strictly, seen with a plain HTTP client and WebSocket: signatures over
the raw bytes, the window, operatorId, error objects with their HTTP codes, candles newest first with gaps,
rate-limit headers, and the WebSocket's answers."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import trio
from trio_websocket import open_websocket_url

from marketmaestro_bitvavo.signing import rest_headers, ws_authenticate
from marketmaestro_bitvavo.testing import API_KEY, API_SECRET, FakeServer


def signed(
    method: str, path: str, body: str = "", *, stamp: int | None = None, window: int = 10_000
) -> dict[str, str]:
    stamp = stamp if stamp is not None else time.time_ns() // 1_000_000
    return rest_headers(API_KEY, API_SECRET, stamp, method, "/v2" + path, body, window)


async def call(server: FakeServer, method: str, path: str, body: str = "", **kwargs: Any) -> httpx.Response:
    headers = signed(method, path, body, **kwargs)
    async with httpx.AsyncClient() as client:
        return await client.request(
            method, server.rest_url + path, content=body.encode() or None, headers=headers
        )


async def test_signatures_windows_and_operator_ids(server: FakeServer) -> None:
    body = '{"market":"BTC-EUR","side":"buy","orderType":"market","amount":"0.001","operatorId":9}'
    placed = await call(server, "POST", "/order", body)
    assert (
        placed.status_code == 200 and placed.json()["status"] == "filled" and placed.json()["operatorId"] == 9
    )
    assert int(placed.headers["bitvavo-ratelimit-remaining"]) == 999
    assert int(placed.headers["bitvavo-ratelimit-resetat"]) % 60_000 == 0

    spaced = json.dumps(json.loads(body))  # signed compact, sent with spaces: what the python SDK does
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            server.rest_url + "/order", content=spaced, headers=signed("POST", "/order", body)
        )
    assert answer.status_code == 200

    async with httpx.AsyncClient() as client:
        forged = await client.post(
            server.rest_url + "/order",
            content=body.replace("0.001", "0.002"),
            headers=signed("POST", "/order", body),
        )
    assert (forged.status_code, forged.json()["errorCode"]) == (403, 309)

    stale = await call(server, "GET", "/balance", stamp=time.time_ns() // 1_000_000 - 20_000)
    assert (stale.status_code, stale.json()["errorCode"]) == (403, 304)
    assert (await call(server, "GET", "/balance", window=99)).json()["errorCode"] == 303
    missing = await call(server, "POST", "/order", body.replace(',"operatorId":9', ""))
    assert (missing.status_code, missing.json()) == (
        400,
        {"errorCode": 203, "error": "operatorId parameter is required."},
    )
    async with httpx.AsyncClient() as client:
        anonymous = await client.get(server.rest_url + "/balance")
    assert (anonymous.status_code, anonymous.json()["errorCode"]) == (403, 300)
    unknown = await call(server, "DELETE", "/order?market=BTC-EUR&orderId=nope&operatorId=9")
    assert (unknown.status_code, unknown.json()["errorCode"]) == (404, 240)


async def test_candles_are_newest_first_with_gaps(server: FakeServer) -> None:
    fake = server.fake
    base = (fake.exchange.now_ms() // 60_000 - 10) * 60_000
    for minute in (0, 1, 4):
        fake.set_price("ETH-EUR", "2001", timestamp=base + minute * 60_000 + 5)
    async with httpx.AsyncClient() as client:
        answer = await client.get(
            f"{server.rest_url}/ETH-EUR/candles",
            params={"interval": "1m", "start": base, "end": base + 9 * 60_000},
        )
    rows = answer.json()
    assert [r[0] for r in rows] == [base + 4 * 60_000, base + 60_000, base]
    assert rows[0][1:] == ["2001", "2001", "2001", "2001", "0.01"]


async def test_the_websocket_answers_authenticates_and_pushes(server: FakeServer) -> None:
    async with open_websocket_url(server.ws_url) as ws:
        await ws.send_message(
            json.dumps({"action": "getBook", "requestId": 3, "market": "BTC-EUR", "depth": 2})
        )
        book = json.loads(await ws.get_message())
        assert book["requestId"] == 3 and len(book["response"]["bids"]) == 2
        await ws.send_message("{broken")
        assert json.loads(await ws.get_message())["errorCode"] == 102
        await ws.send_message(
            json.dumps({"action": "subscribe", "channels": [{"name": "account", "markets": ["BTC-EUR"]}]})
        )
        assert json.loads(await ws.get_message())["errorCode"] == 300
        stamp = time.time_ns() // 1_000_000
        await ws.send_message(json.dumps(ws_authenticate(API_KEY, API_SECRET, stamp, 10_000)))
        assert json.loads(await ws.get_message()) == {"event": "authenticate", "authenticated": True}
        channels = [{"name": "account", "markets": ["BTC-EUR"]}, {"name": "book", "markets": ["BTC-EUR"]}]
        await ws.send_message(json.dumps({"action": "subscribe", "channels": channels}))
        assert json.loads(await ws.get_message()) == {
            "event": "subscribed",
            "subscriptions": {"account": ["BTC-EUR"], "book": ["BTC-EUR"]},
        }
        nonce = server.fake.exchange.nonce["BTC-EUR"]
        server.fake.set_price("BTC-EUR", "30100")
        with trio.fail_after(5):
            update = json.loads(await ws.get_message())
        assert update["event"] == "book" and update["nonce"] == nonce + 1
        assert ["30101", "1"] in update["asks"] and ["30001", "0"] in update["asks"]


async def test_every_match_is_published_on_the_trades_channel_as_bitvavo_sends_it(server: FakeServer) -> None:
    """The protocol doc's ``trades`` event: ``{"event":"trade","timestamp","market","id","amount","price",
    "side"}``, with the taker's side, for the crowd's trades and for an order that takes the book."""
    fake = server.fake
    async with open_websocket_url(server.ws_url) as ws:
        channels = [{"name": "trades", "markets": ["BTC-EUR"]}]
        await ws.send_message(json.dumps({"action": "subscribe", "channels": channels}))
        assert json.loads(await ws.get_message()) == {
            "event": "subscribed",
            "subscriptions": {"trades": ["BTC-EUR"]},
        }
        fake.set_price("BTC-EUR", "29990")  # the crowd sells down to 29990
        fake.set_balance("EUR", "100000")
        body = {"market": "BTC-EUR", "side": "buy", "orderType": "market", "amount": "1.5", "operatorId": 1}
        fake.call("POST", "order", {}, body, True)  # takes the asks a tick apart: 1 at 29991, 0.5 at 29992
        with trio.fail_after(5):
            frames = [json.loads(await ws.get_message()) for _ in range(3)]
    assert all(set(f) == {"event", "timestamp", "market", "id", "amount", "price", "side"} for f in frames)
    assert all(f["event"] == "trade" and f["market"] == "BTC-EUR" for f in frames)
    assert all(isinstance(f["timestamp"], int) and f["id"] for f in frames)
    assert [(f["price"], f["amount"], f["side"]) for f in frames] == [
        ("29990", "0.01", "sell"),
        ("29991", "1", "buy"),
        ("29992", "0.5", "buy"),
    ]
