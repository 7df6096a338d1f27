"""The base of every component: a mailbox loop that handles one message at a time.

A component owns its state; nobody else reads or writes it. It learns things only from messages in its
mailbox, and answers requests through the envelope's reply channel. Every message is handled inside an
eliot action naming the component, exchange, symbol and strategy, so the log shows which message caused
what. A ``BadRequest`` from ``handle`` is answered and the component carries on; any other exception in
``handle`` is sent to the requester (if any) and then raised, so the supervisor
restarts the component with fresh state loaded from the database (``on_start``).
"""

from __future__ import annotations

from typing import Any

import trio

from marketmaestro.logs import component_action, log_event
from marketmaestro.supervision.mailbox import BadRequest, Mailbox, reply, reply_failure


class Component:
    """Subclasses implement ``handle`` and may override ``on_start``/``on_stop``."""

    component = "component"
    """The component kind, e.g. ``order_manager``; shown in logs."""

    def __init__(self, mailbox: Mailbox, *, exchange: str | None = None) -> None:
        self.mailbox = mailbox
        self.exchange = exchange
        self.strategy: str | None = None
        """Set by components that belong to one strategy, so every action they log names it."""

    async def on_start(self) -> None:
        """Load state before the first message (e.g. from the database). Runs on every (re)start."""

    async def on_stop(self) -> None:
        """Release resources; runs shielded when the component stops for any reason."""

    async def handle(self, msg: Any) -> Any:
        """Handle one message; the return value answers a request."""
        raise TypeError(f"{self.component} does not handle {type(msg).__name__}")

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            await self.on_start()
            task_status.started()
            async for envelope in self.mailbox.receive_channel:
                msg = envelope.msg
                with component_action(
                    f"{self.component}:{type(msg).__name__}",
                    component=self.component,
                    exchange=self.exchange,
                    symbol=getattr(msg, "symbol", None),
                    strategy=getattr(msg, "strategy", None) or self.strategy,
                    level="debug",  # one per message: the console shows what they cause, not each of them
                ):
                    try:
                        answer = await self.handle(msg)
                    except BadRequest as exc:
                        log_event("component.bad_request", level="warning", error=str(exc))
                        reply_failure(envelope, exc)
                        continue
                    except Exception as exc:
                        reply_failure(envelope, exc)
                        raise
                    reply(envelope, answer)
        finally:
            with trio.CancelScope(shield=True):
                await self.on_stop()
