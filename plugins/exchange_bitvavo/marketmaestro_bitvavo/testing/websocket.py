"""The fake Bitvavo's WebSocket: actions, subscriptions and pushed events over trio-websocket.

Everything one connection sends (answers to its actions and pushed events) goes through one queue, so the
answer to ``getBook`` arrives after exactly the book updates whose nonce it already contains.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from typing import Any

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest

from marketmaestro_bitvavo.testing.api import FakeBitvavo
from marketmaestro_bitvavo.testing.engine import ApiError, Event

DROP = object()
MALFORMED = object()

ACTIONS: dict[str, tuple[str, str]] = {
    "getTime": ("GET", "time"),
    "getMarkets": ("GET", "markets"),
    "getAssets": ("GET", "assets"),
    "getBook": ("GET", "{market}/book"),
    "getTrades": ("GET", "{market}/trades"),
    "getCandles": ("GET", "{market}/candles"),
    "getTickerPrice": ("GET", "ticker/price"),
    "getTickerBook": ("GET", "ticker/book"),
    "getTicker24h": ("GET", "ticker/24h"),
    "privateCreateOrder": ("POST", "order"),
    "privateUpdateOrder": ("PUT", "order"),
    "privateGetOrder": ("GET", "order"),
    "privateCancelOrder": ("DELETE", "order"),
    "privateGetOrders": ("GET", "orders"),
    "privateCancelOrders": ("DELETE", "orders"),
    "privateGetOrdersOpen": ("GET", "ordersOpen"),
    "privateGetTrades": ("GET", "trades"),
    "privateGetAccount": ("GET", "account"),
    "privateGetBalance": ("GET", "balance"),
    "privateGetFees": ("GET", "account/fees"),
}
CHANNELS = frozenset({"book", "trades", "candles", "ticker", "ticker24h", "account"})


class Connection:
    """One client's connection: its subscriptions, authentication and outgoing queue."""

    def __init__(self, fake: FakeBitvavo, ws: WebSocketConnection) -> None:
        self.fake = fake
        self.ws = ws
        self.authenticated = False
        self.subscriptions: dict[str, set[str]] = {}
        self.candles: dict[str, set[str]] = {}
        # Unbounded: the engine pushes synchronously and a test's fake never outruns its client for long.
        self.send, self.outgoing = trio.open_memory_channel[Any](math.inf)

    def push(self, item: Any) -> None:
        self.send.send_nowait(item)

    def on_event(self, event: Event) -> None:
        if event.channel == "candles":
            wanted = event.interval is not None and event.market in self.candles.get(event.interval, set())
        else:
            markets = self.subscriptions.get(event.channel, set())
            wanted = event.market in markets or "*" in markets
        if wanted and (event.channel != "account" or self.authenticated):
            self.push(json.dumps(event.payload))

    def on_command(self, command: str) -> None:
        self.push(DROP if command == "drop" else MALFORMED)

    async def run(self) -> None:
        self.fake.exchange.listeners.append(self.on_event)
        self.fake.connection_commands.append(self.on_command)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._write, nursery.cancel_scope)
                while True:
                    try:
                        message = await self.ws.get_message()
                    except ConnectionClosed:
                        break
                    self.push(json.dumps(self.answer(message)))
                nursery.cancel_scope.cancel()
        finally:
            self.fake.exchange.listeners.remove(self.on_event)
            self.fake.connection_commands.remove(self.on_command)

    async def _write(self, scope: trio.CancelScope) -> None:
        async for item in self.outgoing:
            try:
                if item is DROP:
                    await self.ws.aclose(code=1011, reason="dropped by fault injection")
                    scope.cancel()
                    return
                await self.ws.send_message("{not json" if item is MALFORMED else item)
            except ConnectionClosed:
                scope.cancel()
                return

    def answer(self, message: str | bytes) -> dict[str, Any]:
        try:
            request = json.loads(message)
            if not isinstance(request, dict):
                raise ValueError("not an object")
        except ValueError:
            return {"event": "error", "errorCode": 102, "error": "The JSON object you sent is invalid."}
        action = request.get("action")
        reply: dict[str, Any] = {"action": action}
        if "requestId" in request:
            reply["requestId"] = request["requestId"]
        try:
            if action == "authenticate":
                self._authenticate(request)
                return {"event": "authenticate", "authenticated": True}
            if action in ("subscribe", "unsubscribe"):
                self._subscribe(request, action == "subscribe")
                return {"event": f"{action}d", "subscriptions": self._active()}
            if action not in ACTIONS:
                raise ApiError(404, 415, "Unknown action.")
            method, template = ACTIONS[action]
            params = {k: v for k, v in request.items() if k not in ("action", "requestId")}
            path = template.format(market=params.pop("market", "")) if "{market}" in template else template
            if method in ("POST", "PUT"):
                result = self.fake.call(method, path, {}, params, self.authenticated)
            else:
                result = self.fake.call(
                    method, path, {k: str(v) for k, v in params.items()}, None, self.authenticated
                )
            reply["response"] = result
        except ApiError as error:
            reply.update(error.as_json())
        return reply

    def _authenticate(self, request: dict[str, Any]) -> None:
        fake = self.fake
        if request.get("key") != fake.api_key:
            raise ApiError(403, 305, "No active API key found.")
        stamp = request.get("timestamp")
        window = int(request.get("window", 10_000))
        if not isinstance(stamp, int) or not 100 <= window <= 60_000:
            raise ApiError(403, 302, "Timestamp is invalid.")
        now = fake.exchange.now_ms()
        if stamp < now - window or stamp > now + 1000:
            raise ApiError(403, 304, "Request was not received within acceptable window.")
        expected = hmac.new(
            fake.api_secret.encode(), f"{stamp}GET/v2/websocket".encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, str(request.get("signature", ""))):
            raise ApiError(403, 309, "The signature is invalid.")
        self.authenticated = True

    def _subscribe(self, request: dict[str, Any], on: bool) -> None:
        channels = request.get("channels")
        if not isinstance(channels, list):
            raise ApiError(400, 203, "channels parameter is required.")
        for channel in channels:
            name = channel.get("name") if isinstance(channel, dict) else None
            if name not in CHANNELS:
                raise ApiError(400, 205, "channels parameter is invalid.")
            if name == "account" and not self.authenticated:
                raise ApiError(403, 300, "Authentication is required for this channel.")
            markets = channel.get("markets", [])
            markets = [markets] if isinstance(markets, str) else list(markets)
            unknown = [m for m in markets if m != "*" and m not in self.fake.exchange.markets]
            if unknown:
                raise ApiError(400, 205, "markets parameter is invalid.")
            if name == "candles":
                intervals = channel.get("interval", [])
                for interval in [intervals] if isinstance(intervals, str) else intervals:
                    _switch(self.candles.setdefault(interval, set()), markets, on)
            else:
                _switch(self.subscriptions.setdefault(name, set()), markets, on)

    def _active(self) -> dict[str, Any]:
        active: dict[str, Any] = {k: sorted(v) for k, v in self.subscriptions.items() if v}
        candles = {k: sorted(v) for k, v in self.candles.items() if v}
        if candles:
            active["candles"] = candles
        return active


def _switch(target: set[str], markets: list[str], on: bool) -> None:
    if on:
        target.update(markets)
    else:
        target.difference_update(markets)


async def handle_websocket(fake: FakeBitvavo, request: WebSocketRequest) -> None:
    """trio-websocket's handler: accept the connection and serve it until either side closes."""
    ws = await request.accept()
    fake.ws_connections += 1
    await Connection(fake, ws).run()
