"""Bybit's private WebSocket stream as MarketMaestro account events.

After ``auth`` (a refused key ends the stream with one :class:`~marketmaestro_bybit.errors.BybitFatal`,
never a reconnect loop) the stream subscribes to ``order``, ``execution``, ``wallet`` and, on linear,
``position``. Bybit sends no snapshot and nothing that happened while a connection was down, so after
every subscribe the state is read over REST: open orders, balances, positions, and after a reconnect the
orders and executions since the last message. An event already sent is never sent twice (executions by
id, orders by their state), so a reconnect loses nothing and duplicates nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from marketmaestro.exchanges import (
    AccountEvent,
    BalanceUpdate,
    FillUpdate,
    OrderUpdate,
    PositionUpdate,
)
from marketmaestro.logs import log_event
from marketmaestro.model import Instrument, Order
from marketmaestro_bybit.convert import parse_balances, parse_fill, parse_order, parse_position
from marketmaestro_bybit.errors import BybitFatal
from marketmaestro_bybit.options import BybitOptions
from marketmaestro_bybit.signing import ws_auth_signature
from marketmaestro_bybit.ws import ReconnectingStream, WsConnection

__all__ = ["PrivateStream"]

REMEMBERED = 10_000
"""Execution ids and order states remembered for de-duplication."""
OVERLAP_MS = 5_000
"""How far before the last message a reconnect's REST catch-up starts (clock skew and in-flight events)."""

Emit = Callable[[AccountEvent], Awaitable[None]]
CatchUp = Callable[[int | None], Awaitable[list[AccountEvent]]]


class PrivateStream(ReconnectingStream):
    """The account's private stream, kept alive across failures."""

    label = "private"

    def __init__(
        self,
        *,
        exchange: str,
        url: str,
        options: BybitOptions,
        api_key: str,
        api_secret: str,
        server_now: Callable[[], int],
        instruments: Callable[[str], Instrument | None],
        catch_up: CatchUp,
        emit: Emit,
    ) -> None:
        super().__init__(exchange=exchange, url=url, options=options)
        self._key = api_key
        self._secret = api_secret
        self.server_now = server_now
        self.instruments = instruments
        self.catch_up = catch_up
        self.emit = emit
        self.watermark: int | None = None
        """Bybit time of the last message (or subscription); a reconnect catches up from a bit before it."""
        self._fills: OrderedDict[str, None] = OrderedDict()
        self._orders: OrderedDict[str, tuple[Any, ...]] = OrderedDict()

    def topics(self) -> list[str]:
        topics = ["order", "execution", "wallet"]
        return [*topics, "position"] if self.options.category == "linear" else topics

    async def _session(self, conn: WsConnection) -> None:
        self.sessions += 1
        await self._authenticate(conn)
        await self._subscribe(conn)
        since = None if self.watermark is None else self.watermark - OVERLAP_MS
        self.watermark = self.server_now()
        for event in await self.catch_up(since):
            await self._send(event)
        self._ready.set()
        while True:
            message = await conn.receive()
            if message is None:
                await self._recover()
            else:
                await self._dispatch(message)

    async def _recover(self) -> None:
        """A frame could not be read, so an event may be lost: read what happened since the last one."""
        since = None if self.watermark is None else self.watermark - OVERLAP_MS
        for event in await self.catch_up(since):
            await self._send(event)

    async def _authenticate(self, conn: WsConnection) -> None:
        expires = self.server_now() + self.options.recv_window
        signature = ws_auth_signature(self._secret, expires)
        await conn.send_json(
            {"req_id": conn.next_id("auth"), "op": "auth", "args": [self._key, expires, signature]}
        )
        while True:
            message = await conn.receive()
            if message is None or message.get("op") != "auth":
                continue
            if message.get("success") is True:
                return
            reason = str(message.get("ret_msg", "")).replace(self._key, "***").replace(self._secret, "***")
            raise BybitFatal(
                f"Bybit refused the private stream's API key ({reason or 'no reason given'}): check the key, "
                "its secret and that it belongs to this environment"
            )

    async def _subscribe(self, conn: WsConnection) -> None:
        req_id = conn.next_id("sub")
        await conn.send_json({"req_id": req_id, "op": "subscribe", "args": self.topics()})
        while True:
            message = await conn.receive()
            if message is None:
                continue
            if message.get("op") == "subscribe":
                if message.get("success") is False:
                    raise BybitFatal(f"Bybit refused the private subscription: {message.get('ret_msg', '')}")
                return
            await self._dispatch(message)

    async def _dispatch(self, message: dict[str, Any]) -> None:
        topic = str(message.get("topic") or "")
        if not topic:
            return  # pong or another control message
        self.watermark = max(self.watermark or 0, int(message.get("creationTime") or self.server_now()))
        kind = topic.partition(".")[0]
        try:
            for event in self._events(kind, message.get("data") or []):
                await self._send(event)
        except (KeyError, ValueError, TypeError) as exc:
            log_event(
                "bybit.ws_bad_message", level="warning", topic=topic, error=f"{type(exc).__name__}: {exc}"
            )

    def _events(self, kind: str, data: list[dict[str, Any]]) -> list[AccountEvent]:
        mine = [item for item in data if item.get("category", self.options.category) == self.options.category]
        if kind == "order":
            return [OrderUpdate(parse_order(item, self.exchange)) for item in mine]
        if kind == "execution":
            return [
                FillUpdate(parse_fill(item, self.exchange, self.instruments(str(item.get("symbol")))))
                for item in mine
                if item.get("execType", "Trade") == "Trade"
            ]
        if kind == "wallet":
            accounts = [
                a
                for a in data
                if a.get("accountType", self.options.account_type) == self.options.account_type
            ]
            return [BalanceUpdate(tuple(parse_balances(a)), complete=True) for a in accounts]
        if kind == "position":
            return (
                [PositionUpdate(tuple(parse_position(item, self.exchange) for item in mine))] if mine else []
            )
        return []

    async def _send(self, event: AccountEvent) -> None:
        if isinstance(event, FillUpdate):
            if not _first_time(self._fills, event.fill.fill_id, None):
                return
        elif isinstance(event, OrderUpdate) and not _first_time(
            self._orders, _order_key(event.order), _order_state(event.order)
        ):
            return
        await self.emit(event)


def _order_key(order: Order) -> str:
    return order.venue_order_id or order.client_order_id


def _order_state(order: Order) -> tuple[Any, ...]:
    return (order.status, order.filled_quantity, order.quantity, order.price, order.stop_price)


def _first_time(seen: OrderedDict[str, Any], key: str, value: Any) -> bool:
    """Remember ``key`` -> ``value``; False when exactly that was remembered already."""
    if key in seen and seen[key] == value:
        return False
    seen[key] = value
    seen.move_to_end(key)
    while len(seen) > REMEMBERED:
        seen.popitem(last=False)
    return True
