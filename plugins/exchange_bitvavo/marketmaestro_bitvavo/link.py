"""The adapter's one WebSocket connection to Bitvavo, shared by its public and private streams.

Bitvavo serves public channels and the authenticated ``account`` channel on one connection
(``wss://ws.bitvavo.com/v2/``), so an adapter opens one, whichever of ``stream`` and ``private_stream`` the
core calls first, and in whatever order. Each call registers its stream (a :class:`Feed`) with the adapter's
:class:`SharedConnection` and waits; the first one to find no connection running becomes its owner and runs
it in its own task, serving every registered stream:

- a stream that registers while the connection is up is opened on it at once (it authenticates if it needs
  to, subscribes, and requests what it resyncs from), while the others' messages keep flowing to them;
- every message goes to every opened stream, each picking what concerns it;
- a connection failure (dropped, malformed frame, unanswered keepalive ping) closes the connection; the owner
  reconnects after a pause (exponential backoff with jitter, reset once a stream is open again) and opens
  every stream again, which resubscribes and resyncs;
- a stream's own error (refused credentials, a refused subscription) ends that stream's call only, and a
  failure before a stream was ever opened ends its call with a ``RetryableError`` (the core's supervisor
  restarts it), so a wrong URL is reported rather than retried silently for ever;
- when the owner's call ends (cancelled by its caller, or by its own error), the connection closes with it
  and another registered stream takes it over, reconnecting as after a failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import trio

from marketmaestro.exchanges import RetryableError
from marketmaestro.logs import log_event
from marketmaestro_bitvavo.connection import (
    Backoff,
    Others,
    Socket,
    open_socket,
    reconnectable,
    sole_error,
)

if TYPE_CHECKING:
    from marketmaestro_bitvavo.exchange import BitvavoExchange


class Feed(Protocol):
    """A stream that lives on the shared connection."""

    name: str
    """``public`` or ``private`` (for logs and errors)."""
    due: float
    """The trio time at which :meth:`tick` is next due."""

    async def open(self, socket: Socket, others: Others) -> None:
        """Authenticate, subscribe and request snapshots on a fresh (or running) connection. ``others`` is
        the callback for messages the stream reads past while waiting for its answers: they belong to the
        streams already open."""

    async def handle(self, socket: Socket, message: dict[str, Any]) -> None:
        """One message of the connection (every stream sees every message)."""

    async def tick(self, socket: Socket) -> None:
        """Periodic work (close candles, poll balances); sets the next ``due``."""

    def lost(self) -> None:
        """The connection it was opened on is gone."""


class _Client:
    """One registered stream: its state on the connection and the call waiting for it."""

    def __init__(self, feed: Feed, task_status: trio.TaskStatus[None]) -> None:
        self.feed = feed
        self.task_status = task_status
        self.opened = False
        """Opened on the current connection."""
        self.ready = False
        """Opened at least once: its ``started()`` is due."""
        self.announced = False
        self.error: Exception | None = None
        self.poke = trio.Event()

    def wake(self) -> None:
        self.poke.set()

    def fail(self, error: Exception) -> None:
        self.error = error
        self.opened = False
        self.wake()

    def announce(self) -> None:
        """``started()`` once opened; called from the stream's own task (the one ``nursery.start`` awaits)."""
        if self.ready and not self.announced:
            self.announced = True
            self.task_status.started()


class SharedConnection:
    """The connection of one adapter (see the module docstring)."""

    def __init__(self, ex: BitvavoExchange) -> None:
        self.ex = ex
        self.connections = 0
        """Connections opened so far (a new one per reconnect)."""
        self._clients: list[_Client] = []
        self._owner: _Client | None = None
        self._waiting: trio.CancelScope | None = None

    @property
    def streams(self) -> list[str]:
        """The names of the streams registered now."""
        return [c.feed.name for c in self._clients]

    async def serve(self, feed: Feed, task_status: trio.TaskStatus[None]) -> None:
        """Serve ``feed`` on the shared connection until cancelled or until it fails (raising its error)."""
        client = _Client(feed, task_status)
        self._clients.append(client)
        if self._waiting is not None:
            self._waiting.cancel()  # the owner opens the new stream now, not after its next message
        try:
            while client.error is None:
                if self._owner is None:
                    self._owner = client
                    try:
                        await self._own(client)
                    finally:
                        self._owner = None
                        for other in self._clients:
                            other.wake()  # one of them takes the connection over
                else:
                    await client.poke.wait()
                    client.poke = trio.Event()
                    client.announce()
            raise client.error
        finally:
            self._clients.remove(client)

    async def _own(self, host: _Client) -> None:
        """Run connections for every registered stream until ``host`` fails (or its call is cancelled)."""
        backoff = Backoff(self.ex.options.reconnect_initial, self.ex.options.reconnect_max)
        while host.error is None:
            try:
                async with open_socket(
                    self.ex.options.ws_url, keepalive_idle=self.ex.options.keepalive_seconds
                ) as socket:
                    self.connections += 1
                    await _resync_clock(self.ex)
                    await self._session(socket, host, backoff)
            except Exception as exc:
                failure = reconnectable(exc)
                if failure is None:
                    raise sole_error(exc) from None
                for client in self._clients:
                    if not client.ready:
                        client.fail(
                            RetryableError(
                                f"Bitvavo {client.feed.name} stream could not start: "
                                f"{type(failure).__name__}: {failure}"
                            )
                        )
                if host.error is not None:
                    return
                pause = backoff.next()
                log_event(
                    "bitvavo.reconnect",
                    level="warning",
                    exchange=self.ex.name,
                    streams=self.streams,
                    error=f"{type(failure).__name__}: {failure}",
                    pause=round(pause, 3),
                )
                await trio.sleep(pause)
            finally:
                for client in self._clients:
                    if client.opened:
                        client.opened = False
                        client.feed.lost()

    async def _session(self, socket: Socket, host: _Client, backoff: Backoff) -> None:
        """Open the registered streams and hand them the connection's messages; returns when ``host``
        fails. A connection failure propagates (to reconnect); a stream's own error ends that stream."""
        while True:
            for client in [c for c in self._clients if not c.opened and c.error is None]:
                if await self._guard(client, client.feed.open(socket, self._others(socket, client))):
                    client.opened = client.ready = True
                    backoff.reset()
                    client.wake()
            host.announce()
            if host.error is not None:
                return
            opened = [c for c in self._clients if c.opened]
            due = min((c.feed.due for c in opened), default=trio.current_time() + 1.0)
            message = None
            with trio.CancelScope() as self._waiting:
                message = await socket.receive(max(due - trio.current_time(), 0.01))
            self._waiting = None
            if message is not None:
                await self._deliver(socket, message, opened)
            for client in opened:
                if client.opened and trio.current_time() >= client.feed.due:
                    await self._guard(client, client.feed.tick(socket))

    def _others(self, socket: Socket, opening: _Client) -> Others:
        async def deliver(message: dict[str, Any]) -> None:
            await self._deliver(socket, message, [c for c in self._clients if c.opened and c is not opening])

        return deliver

    async def _deliver(self, socket: Socket, message: dict[str, Any], clients: list[_Client]) -> None:
        for client in clients:
            if client.opened:
                await self._guard(client, client.feed.handle(socket, message))

    async def _guard(self, client: _Client, work: Any) -> bool:
        """Await ``work`` of ``client``; its own error fails it (False), a connection failure propagates."""
        try:
            await work
        except Exception as exc:
            if reconnectable(exc) is not None:
                raise
            client.fail(sole_error(exc))
            return False
        return True


async def _resync_clock(ex: BitvavoExchange) -> None:
    """Measure the server clock again: candles close and requests are signed by it, and it may have drifted
    while the connection was down."""
    try:
        await ex.rest.sync_time()
    except RetryableError as exc:
        log_event("bitvavo.time_sync_failed", level="warning", exchange=ex.name, error=str(exc))
