"""WebSocket plumbing shared by the public and private streams: JSON frames, heartbeats, reconnects.

:func:`keep_connected` opens the connection, runs a heartbeat task (Bybit wants ``{"op": "ping"}`` every
20 s and cuts idle connections) and hands the connection to a *session* function, which subscribes and
reads until the connection fails. Then it waits (exponential backoff with jitter, reset after a connection
that worked) and starts a new session, which subscribes again: Bybit keeps no subscriptions across
connections. A connection that stays silent for ``stale_after`` seconds counts as failed.

Exceptions that are not about the connection (a refused API key, a bug) end the loop.
"""

from __future__ import annotations

import json
import random
import ssl
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, NoReturn
from urllib.parse import urlsplit

import trio
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection, wrap_client_stream

from marketmaestro.logs import log_event
from marketmaestro_bybit.options import BybitOptions

__all__ = [
    "Backoff",
    "ReconnectingStream",
    "StaleConnection",
    "WsConnection",
    "keep_connected",
    "single_errors",
]


class StaleConnection(Exception):
    """Nothing arrived for too long: the connection is treated as dead."""


CONNECT_TIMEOUT = 10.0
DISCONNECTS: tuple[type[Exception], ...] = (
    ConnectionClosed,
    HandshakeError,
    OSError,
    trio.BrokenResourceError,
    trio.TooSlowError,
    StaleConnection,
)
"""Failures that end a connection and call for a new one."""


class WsConnection:
    """A connected socket speaking JSON text frames."""

    def __init__(self, ws: WebSocketConnection, *, stale_after: float, name: str) -> None:
        self.ws = ws
        self.stale_after = stale_after
        self.name = name
        self.received = 0
        """Messages received on this connection (malformed ones included)."""
        self.malformed = 0
        self._req = 0

    def next_id(self, prefix: str) -> str:
        self._req += 1
        return f"{prefix}{self._req}"

    async def send_json(self, payload: dict[str, Any]) -> None:
        await self.ws.send_message(json.dumps(payload, separators=(",", ":")))

    async def receive(self) -> dict[str, Any] | None:
        """The next message as a dict; None for a frame that is not a JSON object (logged, then skipped)."""
        with trio.move_on_after(self.stale_after):
            raw = await self.ws.get_message()
            self.received += 1
            try:
                message = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError, TypeError):
                message = None
            if not isinstance(message, dict):
                self.malformed += 1
                log_event("bybit.ws_malformed", level="warning", stream=self.name, frame=str(raw)[:120])
                return None
            return message
        raise StaleConnection(f"nothing received for {self.stale_after:g} s")


class Backoff:
    """Exponential backoff with jitter: ``initial``, twice that, ... up to ``maximum``, each times 0.5-1."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self.failures = 0

    def reset(self) -> None:
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * 2**self.failures)
        self.failures += 1
        return delay * (0.5 + random.random() / 2)


Session = Callable[[WsConnection], Awaitable[None]]


async def keep_connected(
    url: str,
    session: Session,
    *,
    name: str,
    ping_interval: float,
    stale_after: float,
    backoff: Backoff,
) -> NoReturn:
    """Run ``session`` on a connection to ``url`` over and over, reconnecting after every failure."""
    connections = 0
    while True:
        connections += 1
        failure: BaseException | None = None
        worked = False
        try:
            async with _websocket(url) as ws:
                connection = WsConnection(ws, stale_after=stale_after, name=name)
                log_event("bybit.ws_connected", stream=name, connection=connections)
                try:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(_heartbeat, connection, ping_interval)
                        await session(connection)
                        nursery.cancel_scope.cancel()
                finally:
                    worked = connection.received > 0
        except BaseExceptionGroup as group:
            failure = _only_disconnects(group)
        except DISCONNECTS as exc:
            failure = exc
        if worked:
            backoff.reset()
        delay = backoff.next_delay()
        log_event(
            "bybit.ws_reconnecting",
            level="warning",
            stream=name,
            error=f"{type(failure).__name__}: {failure}" if failure else "session ended",
            delay=round(delay, 3),
        )
        await trio.sleep(delay)


@asynccontextmanager
async def _websocket(url: str) -> AsyncIterator[WebSocketConnection]:
    """A client connection to ``url`` whose socket is closed on exit, however the connection ended.

    (``trio_websocket.open_websocket_url`` leaves the socket open when the server closed first.)
    """
    parts = urlsplit(url)
    secure = parts.scheme == "wss"
    host = parts.hostname or ""
    port = parts.port or (443 if secure else 80)
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    async with trio.open_nursery() as nursery:
        with trio.fail_after(CONNECT_TIMEOUT):
            stream: trio.SocketStream | trio.SSLStream[trio.SocketStream] = (
                await trio.open_ssl_over_tcp_stream(
                    host, port, ssl_context=ssl.create_default_context(), https_compatible=True
                )
                if secure
                else await trio.open_tcp_stream(host, port)
            )
        try:
            header = host if port in (80, 443) else f"{host}:{port}"
            with trio.fail_after(CONNECT_TIMEOUT):
                ws = await wrap_client_stream(nursery, stream, header, resource)
            yield ws
        finally:
            # No closing handshake: its answer would need the reader task, which a cancellation also ends, and
            # Bybit needs none. Closing the socket ends the connection either way.
            await trio.aclose_forcefully(stream)
            nursery.cancel_scope.cancel()


@contextmanager
def single_errors() -> Iterator[None]:
    """Let an exception that nurseries wrapped in groups (one inside another) out on its own.

    Callers of a stream expect the core's error classes (a ``FatalExchangeError`` for a refused key), not
    an ``ExceptionGroup`` three levels deep.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        leaves = _leaves(group)
        if len(leaves) == 1 and isinstance(leaves[0], Exception):
            raise leaves[0] from None
        raise


def _only_disconnects(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first disconnect in ``group``; re-raises the group when anything else is inside."""
    rest = group.split(DISCONNECTS)[1]
    if rest is not None:
        raise group
    leaves = list(_leaves(group))
    return leaves[0]


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


async def _heartbeat(connection: WsConnection, interval: float) -> None:
    while True:
        await trio.sleep(interval)
        await connection.send_json({"req_id": connection.next_id("ping"), "op": "ping"})


class ReconnectingStream(ABC):
    """A stream on one WebSocket connection, kept alive across failures by :func:`keep_connected`.

    Subclasses implement ``_session`` (subscribe, then read until the connection fails) and set
    ``_ready`` once the first session delivers.
    """

    label = "stream"
    """Names the stream in the log (``<exchange>/<label>``)."""

    def __init__(self, *, exchange: str, url: str, options: BybitOptions) -> None:
        self.exchange = exchange
        self.url = url
        self.options = options
        self.sessions = 0
        """Sessions started so far (each reconnect starts one)."""
        self._ready = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> NoReturn:
        """Stream until cancelled; ``started()`` once the first session is ready."""
        with single_errors():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._keep)
                await self._ready.wait()
                task_status.started()
        raise AssertionError(f"unreachable: the {self.label} stream never ends by itself")

    async def _keep(self) -> NoReturn:
        await keep_connected(
            self.url,
            self._session,
            name=f"{self.exchange}/{self.label}",
            ping_interval=self.options.ping_interval,
            stale_after=self.options.stale_after,
            backoff=Backoff(self.options.reconnect_initial, self.options.reconnect_max),
        )

    @abstractmethod
    async def _session(self, conn: WsConnection) -> None:
        """Run one connection: subscribe, then read until it fails."""
