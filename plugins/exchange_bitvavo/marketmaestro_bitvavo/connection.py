"""One WebSocket connection to Bitvavo: JSON in and out, authentication, subscriptions, keepalive, and the
reconnect policy (exponential backoff with jitter). :mod:`.link` shares one such connection between the
adapter's public and private streams."""

from __future__ import annotations

import json
import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import trio
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection, wrap_client_stream

from marketmaestro.exchanges import FatalExchangeError
from marketmaestro_bitvavo.signing import ws_authenticate

KEEPALIVE_IDLE = 15.0
"""Seconds without a message after which the connection is pinged (Bitvavo documents no heartbeat)."""
KEEPALIVE_TIMEOUT = 10.0
"""Seconds a ping may go unanswered before the connection is taken as dead."""


Others = Callable[[dict[str, Any]], Awaitable[None]] | None
"""Where :meth:`Socket.wait_for` hands the messages it reads past (those of streams already running on the
connection); None drops them (nothing runs yet)."""


class StreamBroken(Exception):
    """The connection cannot be trusted any more (malformed frame, unanswered ping): reconnect."""


CONNECT_TIMEOUT = 10.0

RECONNECTABLE = (
    ConnectionClosed,
    HandshakeError,
    OSError,
    trio.BrokenResourceError,
    trio.TooSlowError,
    StreamBroken,
)


def reconnectable(exc: BaseException) -> BaseException | None:
    """The connection failure inside ``exc`` (which trio may have wrapped in groups), or None if it is another
    kind of error that must propagate."""
    if isinstance(exc, BaseExceptionGroup):
        leaves = [reconnectable(e) for e in exc.exceptions]
        return leaves[0] if leaves and all(leaves) else None
    return exc if isinstance(exc, RECONNECTABLE) else None


def sole_error(exc: Exception) -> Exception:
    """The one error inside the groups trio's nurseries wrapped ``exc`` in (a FatalExchangeError must reach
    the core as itself), or ``exc`` when it holds several."""
    while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


class Backoff:
    """Pauses between reconnects: ``initial`` doubled per failure up to ``maximum``, each with ±25 % jitter
    so many clients do not reconnect in step."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = max(maximum, initial)
        self.failures = 0

    def next(self) -> float:
        delay = min(self.initial * 2**self.failures, self.maximum)
        self.failures += 1
        return delay * random.uniform(0.75, 1.25)

    def reset(self) -> None:
        self.failures = 0


class Socket:
    """A Bitvavo WebSocket connection: ``send`` actions, ``receive`` decoded messages.

    Bitvavo documents no heartbeat, so the connection keeps itself alive: after ``keepalive_idle`` seconds
    without a message it is pinged, and a pong that does not come within ``keepalive_timeout`` seconds means
    the connection is dead (:class:`StreamBroken`), which a silent network would otherwise hide for ever.
    """

    def __init__(
        self,
        ws: WebSocketConnection,
        *,
        keepalive_idle: float = KEEPALIVE_IDLE,
        keepalive_timeout: float = KEEPALIVE_TIMEOUT,
    ) -> None:
        self.ws = ws
        self.keepalive_idle = keepalive_idle
        self.keepalive_timeout = keepalive_timeout
        self.pings = 0
        self._heard = trio.current_time()

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_message(json.dumps(message, separators=(",", ":")))

    async def receive(self, wait: float) -> dict[str, Any] | None:
        """The next message, or None when ``wait`` seconds pass without one (pinging the server first when
        the connection has been idle for ``keepalive_idle`` seconds)."""
        with trio.move_on_after(wait):
            raw = await self.ws.get_message()
            self._heard = trio.current_time()
            try:
                message = json.loads(raw)
            except ValueError:
                raise StreamBroken(f"malformed frame from Bitvavo: {str(raw)[:80]!r}") from None
            if not isinstance(message, dict):
                raise StreamBroken(f"unexpected frame from Bitvavo: {str(raw)[:80]!r}")
            return message
        if trio.current_time() - self._heard >= self.keepalive_idle:
            self.pings += 1
            with trio.move_on_after(self.keepalive_timeout) as scope:
                await self.ws.ping()
            if scope.cancelled_caught:
                raise StreamBroken(f"no pong within {self.keepalive_timeout:g} s of a keepalive ping")
            self._heard = trio.current_time()
        return None

    async def wait_for(
        self, predicate: Any, what: str, patience: float = 10.0, *, others: Others = None
    ) -> dict[str, Any]:
        """Read until a message satisfies ``predicate``; the messages read past go to ``others``."""
        with trio.move_on_after(patience):
            while True:
                message = await self.receive(patience)
                if message is None:
                    continue
                if predicate(message):
                    return message
                if others is not None:
                    await others(message)
        raise StreamBroken(f"Bitvavo did not answer {what} within {patience:g} s")

    async def authenticate(
        self, key: str, secret: str, timestamp: int, window: int, *, others: Others = None
    ) -> None:
        """``authenticate``; FatalExchangeError when Bitvavo refuses the credentials."""
        await self.send(ws_authenticate(key, secret, timestamp, window))
        answer = await self.wait_for(
            lambda m: m.get("event") == "authenticate" or m.get("action") == "authenticate",
            "authenticate",
            others=others,
        )
        if not answer.get("authenticated"):
            raise FatalExchangeError(
                "Bitvavo refused the WebSocket authentication: "
                f"error {answer.get('errorCode')}: {answer.get('error')}"
            )

    async def subscribe(self, channels: list[dict[str, Any]], *, others: Others = None) -> dict[str, Any]:
        await self.send({"action": "subscribe", "channels": channels})
        answer = await self.wait_for(
            lambda m: m.get("event") == "subscribed" or (m.get("action") == "subscribe" and "errorCode" in m),
            "subscribe",
            others=others,
        )
        if "errorCode" in answer:
            raise FatalExchangeError(
                f"Bitvavo refused the subscription: error {answer['errorCode']}: {answer.get('error')}"
            )
        return answer


@asynccontextmanager
async def open_socket(url: str, *, keepalive_idle: float = KEEPALIVE_IDLE) -> AsyncIterator[Socket]:
    """Connect to ``url`` (``ws://`` or ``wss://``); the connection is closed when the block ends.

    The TCP (or TLS) stream is opened here rather than by trio-websocket so that it can be closed for certain
    even when the close handshake gets no answer (a server that vanished)."""
    parts = urlsplit(url)
    secure = parts.scheme == "wss"
    host = parts.hostname or "localhost"
    port = parts.port or (443 if secure else 80)
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    stream: trio.SocketStream | trio.SSLStream[trio.SocketStream]
    with trio.fail_after(CONNECT_TIMEOUT):
        if secure:
            stream = await trio.open_ssl_over_tcp_stream(host, port, ssl_context=ssl.create_default_context())
        else:
            stream = await trio.open_tcp_stream(host, port)
    try:
        async with trio.open_nursery() as nursery:
            with trio.fail_after(CONNECT_TIMEOUT):
                ws = await wrap_client_stream(nursery, stream, host, resource, message_queue_size=4096)
            try:
                yield Socket(
                    ws,
                    keepalive_idle=keepalive_idle,
                    keepalive_timeout=min(KEEPALIVE_TIMEOUT, keepalive_idle),
                )
            finally:
                with trio.CancelScope(shield=True), trio.move_on_after(1):
                    await ws.aclose()
                nursery.cancel_scope.cancel()
    finally:
        await trio.aclose_forcefully(stream)
