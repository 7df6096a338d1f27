"""The fake's WebSocket side: connections, subscriptions, ``auth``, pings and everything it pushes.

Every connection has an outgoing queue; the venue publishes into the queues of the connections
subscribed to a topic, and a writer task per connection sends them in order, so a snapshot sent on
subscribe always precedes the deltas after it. Dropping a connection cancels its handler, which closes it.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio

from marketmaestro_bybit.signing import ws_auth_signature
from marketmaestro_bybit.testing.faults import Faults
from marketmaestro_bybit.testing.marketdata import DEPTHS, INTERVAL_MS

if TYPE_CHECKING:
    from marketmaestro_bybit.testing.venue import Venue

__all__ = ["FakeHub", "WsClient"]

QUEUE_SIZE = 10_000
PRIVATE_TOPICS = ("order", "execution", "position", "wallet")
_PUBLIC = re.compile(
    r"^(kline\.(?P<interval>[^.]+)|orderbook\.(?P<depth>\d+)|tickers|publicTrade)\.(?P<symbol>[A-Z0-9]+)$"
)
SPOT_MAX_ARGS = 10

Send = Callable[[str], Awaitable[None]]
Receive = Callable[[], Awaitable[str | bytes]]


class WsClient:
    """One WebSocket connection: ``spot``, ``linear`` or ``private``."""

    _ids = itertools.count(1)

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.conn_id = f"fake-{next(self._ids)}-{uuid.uuid4().hex[:8]}"
        self.topics: set[str] = set()
        self.account: str | None = None
        self.scope = trio.CancelScope()
        self.send_channel, self.receive_channel = trio.open_memory_channel[dict[str, Any]](QUEUE_SIZE)

    def push(self, message: dict[str, Any]) -> None:
        try:
            self.send_channel.send_nowait(message)
        except trio.WouldBlock:
            self.scope.cancel()  # a client that does not read is cut off, as Bybit does
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass


class FakeHub:
    """Every open connection, and the venue's publishing target."""

    def __init__(self, venue: Venue, faults: Faults) -> None:
        self.venue = venue
        self.faults = faults
        self.clients: set[WsClient] = set()
        self.connections = 0
        """Connections accepted so far (a reconnecting client adds one each time)."""
        self.pings = 0

    # --- publishing (the venue's Hub protocol) -----------------------------------------------------------

    def publish(self, category: str, topic: str, message: dict[str, Any]) -> None:
        for client in list(self.clients):
            if client.kind == category and topic in client.topics:
                client.push(message)

    def publish_private(self, account: str, topic: str, category: str, data: list[dict[str, Any]]) -> None:
        for client in list(self.clients):
            if client.kind != "private" or client.account != account:
                continue
            if topic in client.topics:
                name = topic
            elif f"{topic}.{category}" in client.topics:
                name = f"{topic}.{category}"
            else:
                continue
            client.push(
                {"id": uuid.uuid4().hex, "topic": name, "creationTime": self.venue.now(), "data": data}
            )

    def subscribed(self, category: str) -> set[str]:
        return {topic for client in self.clients if client.kind == category for topic in client.topics}

    def drop(self, kind: str = "all") -> int:
        """Close every connection of ``kind`` (``spot``, ``linear``, ``private``, ``public`` or ``all``)."""
        dropped = 0
        for client in list(self.clients):
            if kind == "all" or client.kind == kind or (kind == "public" and client.kind != "private"):
                client.scope.cancel()
                dropped += 1
        return dropped

    # --- one connection -----------------------------------------------------------------------------------

    async def serve(self, kind: str, send: Send, receive: Receive) -> None:
        """Run one connection until the client leaves or it is dropped."""
        client = WsClient(kind)
        self.clients.add(client)
        self.connections += 1
        try:
            with client.scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._writer, client, send)
                    while True:
                        raw = await receive()
                        self._handle(client, raw)
        finally:
            self.clients.discard(client)
            client.send_channel.close()

    async def _writer(self, client: WsClient, send: Send) -> None:
        async for message in client.receive_channel:
            if self.faults.take_malformed(client.kind):
                await send('{"topic": "garbled' + uuid.uuid4().hex)
                continue
            await send(json.dumps(message, separators=(",", ":")))

    def _handle(self, client: WsClient, raw: str | bytes) -> None:
        try:
            request = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            request = None
        if not isinstance(request, dict):
            client.push(
                {"success": False, "ret_msg": "error:invalid request", "conn_id": client.conn_id, "op": ""}
            )
            return
        op = request.get("op")
        req_id = request.get("req_id")
        raw_args = request.get("args")
        args: list[Any] = raw_args if isinstance(raw_args, list) else []
        if op == "ping":
            self.pings += 1
            client.push(self._pong(client, req_id))
        elif op == "auth" and client.kind == "private":
            self._auth(client, req_id, args)
        elif op in ("subscribe", "unsubscribe"):
            self._subscribe(client, str(op), req_id, [str(a) for a in args])
        else:
            client.push(self._ack(client, str(op or ""), req_id, False, f"error:unknown op {op!r}"))

    def _ack(self, client: WsClient, op: str, req_id: Any, success: bool, ret_msg: str) -> dict[str, Any]:
        ack: dict[str, Any] = {"success": success, "ret_msg": ret_msg, "conn_id": client.conn_id, "op": op}
        if req_id is not None or client.kind == "linear":
            ack["req_id"] = req_id if req_id is not None else ""
        return ack

    def _pong(self, client: WsClient, req_id: Any) -> dict[str, Any]:
        if client.kind == "private":
            return {
                "req_id": req_id,
                "op": "pong",
                "args": [str(self.venue.now())],
                "conn_id": client.conn_id,
            }
        return self._ack(client, "ping", req_id, True, "pong")

    def _auth(self, client: WsClient, req_id: Any, args: list[Any]) -> None:
        ok, message = False, "Params Error"
        if (
            len(args) == 3
            and isinstance(args[1], int)
            and isinstance(args[0], str)
            and isinstance(args[2], str)
        ):
            key, expires, signature = args
            account = self.venue.accounts.get(key)
            if expires <= self.venue.now():
                message = "Request expired"
            elif account is not None and ws_auth_signature(account.api_secret, expires) == signature:
                ok, message = True, ""
                client.account = key
        client.push(self._ack(client, "auth", req_id, ok, message))

    def _subscribe(self, client: WsClient, op: str, req_id: Any, topics: list[str]) -> None:
        problem = self._check_topics(client, op, topics)
        if problem is not None:
            client.push(self._ack(client, op, req_id, False, problem))
            return
        if op == "unsubscribe":
            client.topics.difference_update(topics)
            client.push(self._ack(client, op, req_id, True, ""))
            return
        client.topics.update(topics)
        client.push(self._ack(client, op, req_id, True, "subscribe" if client.kind == "spot" else ""))
        if client.kind != "private":
            for topic in topics:
                for message in self._initial(client.kind, topic):
                    client.push(message)

    def _check_topics(self, client: WsClient, op: str, topics: list[str]) -> str | None:
        if not topics:
            return "error:args required"
        if client.kind == "private":
            if client.account is None:
                return "Request not authorized"
            plain = [t for t in topics if t in PRIVATE_TOPICS]
            split = [
                t
                for t in topics
                if t.partition(".")[0] in PRIVATE_TOPICS and t.partition(".")[2] in ("spot", "linear")
            ]
            if len(plain) + len(split) != len(topics):
                bad = next(t for t in topics if t not in plain and t not in split)
                return f"error:handler not found,topic:{bad}"
            if plain and split:
                return "error:all-in-one and categorised topics cannot be mixed"
            return None
        if client.kind == "spot" and op == "subscribe" and len(topics) > SPOT_MAX_ARGS:
            return f"error:args size >{SPOT_MAX_ARGS}"
        for topic in topics:
            match = _PUBLIC.match(topic)
            valid = match is not None and (client.kind, match["symbol"]) in self.venue.markets
            if valid and match is not None and match["interval"] is not None:
                valid = match["interval"] in INTERVAL_MS
            if valid and match is not None and match["depth"] is not None:
                valid = int(match["depth"]) in DEPTHS
            if not valid:
                return f"error:handler not found,topic:{topic}"
        return None

    def _initial(self, category: str, topic: str) -> list[dict[str, Any]]:
        """What Bybit sends right after a subscription: the book snapshot, the ticker, the running candle."""
        kind, _, rest = topic.partition(".")
        if kind == "orderbook":
            depth, _, symbol = rest.partition(".")
            return [self.venue.book_snapshot(category, symbol, int(depth))]
        if kind == "tickers":
            return [self.venue.ticker_snapshot(category, rest)]
        if kind == "kline":
            interval, _, symbol = rest.partition(".")
            now = self.venue.now()
            candle = self.venue.market(category, symbol).running_candle(interval)
            item = candle.ws(interval, INTERVAL_MS[interval], False, now)
            return [{"topic": topic, "type": "snapshot", "ts": now, "data": [item]}]
        return []
