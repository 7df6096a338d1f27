"""Mailboxes: how components talk. A bounded trio memory channel of immutable messages.

A mailbox is created by a component's parent and outlives the component, so messages sent while the
component restarts wait in the mailbox instead of being lost. ``request`` sends a message with a reply
channel and waits for the answer, up to a timeout.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any

import trio


class RequestTimeout(TimeoutError):
    """A request got no answer in time (the component is slow, restarting or gone)."""


class BadRequest(ValueError):
    """The message itself is invalid. The component answers with this error and carries on: bad input must
    not restart a component (and lose its in-memory state)."""


class RequestFailed(RuntimeError):
    """The component raised while handling the request; the original exception is the cause."""


@dataclass(frozen=True, slots=True)
class Envelope:
    msg: Any
    reply: trio.MemorySendChannel[Any] | None = None


@dataclass(frozen=True, slots=True)
class _Failure:
    error: BaseException


class Mailbox:
    """The inbox of one component."""

    def __init__(self, name: str, capacity: int = 256) -> None:
        self.name = name
        self._send, self._receive = trio.open_memory_channel[Envelope](capacity)

    async def send(self, msg: object) -> None:
        """Deliver ``msg``, waiting while the mailbox is full (backpressure)."""
        await self._send.send(Envelope(msg))

    def send_nowait(self, msg: object) -> None:
        """Deliver ``msg`` or raise ``trio.WouldBlock`` when the mailbox is full."""
        self._send.send_nowait(Envelope(msg))

    async def request(self, msg: object, timeout: float) -> Any:  # noqa: ASYNC109 - a request/response API
        """Send ``msg`` and wait for the component's answer.

        Raises ``RequestTimeout`` after ``timeout`` seconds and ``RequestFailed`` when the component
        raised while handling it.
        """
        reply_send, reply_receive = trio.open_memory_channel[Any](1)
        with trio.move_on_after(timeout) as scope:
            await self._send.send(Envelope(msg, reply_send))
            answer = await reply_receive.receive()
        if scope.cancelled_caught:
            raise RequestTimeout(f"{self.name} did not answer {type(msg).__name__} within {timeout:g} s")
        if isinstance(answer, _Failure):
            raise RequestFailed(
                f"{self.name} failed on {type(msg).__name__}: {answer.error}"
            ) from answer.error
        return answer

    @property
    def receive_channel(self) -> trio.MemoryReceiveChannel[Envelope]:
        return self._receive

    def statistics(self) -> dict[str, int | float]:
        stats = self._send.statistics()
        return {
            "queued": stats.current_buffer_used,
            "capacity": stats.max_buffer_size if not math.isinf(stats.max_buffer_size) else -1,
        }


def reply(envelope: Envelope, answer: Any) -> None:
    """Answer a request (no-op for a plain message). A requester that gave up is not an error."""
    if envelope.reply is not None:
        with contextlib.suppress(trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            envelope.reply.send_nowait(answer)


def reply_failure(envelope: Envelope, error: BaseException) -> None:
    reply(envelope, _Failure(error))
