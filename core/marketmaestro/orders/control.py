"""Operator control of the orders of a running bot: cancel, amend, cancel-all and the kill switch.

The API routes (``/api/v1/orders/...`` and ``/api/v1/kill``) call these; each request goes to the order
manager of the exchange concerned, so it is handled in turn with the orders' other news.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import trio

from marketmaestro.logs import log_event
from marketmaestro.messages import AmendOrderMsg, CancelAllOrdersMsg, CancelOrderMsg, LiftKillMsg
from marketmaestro.model import Order
from marketmaestro.orders.manager import KILL_REASON
from marketmaestro.supervision import Mailbox, RequestFailed, RequestTimeout

KILL_TIMEOUT = 30.0
"""How long the kill switch waits for each exchange's order manager, and for the strategies to stop."""


class ControlError(ValueError):
    """A request the bot cannot carry out (unknown exchange, unknown or closed order, ...)."""


@dataclass
class KillReport:
    """What the kill switch did: the orders it ended per exchange, the exchanges it could not reach."""

    cancelled: dict[str, list[Order]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    strategies_stopped: bool = False


async def _ask(managers: Mapping[str, Mailbox], exchange: str, msg: Any, request_timeout: float) -> Any:
    mailbox = managers.get(exchange)
    if mailbox is None:
        running = ", ".join(sorted(managers)) or "none"
        raise ControlError(f"exchange {exchange!r} is not running (running: {running})")
    try:
        return await mailbox.request(msg, request_timeout)
    except RequestFailed as exc:
        raise ControlError(str(exc)) from exc


async def cancel_order(
    managers: Mapping[str, Mailbox],
    exchange: str,
    client_order_id: str,
    *,
    request_timeout: float,
    reason: str = "",
) -> Order:
    order: Order = await _ask(
        managers, exchange, CancelOrderMsg(exchange, client_order_id, reason), request_timeout
    )
    return order


async def amend_order(
    managers: Mapping[str, Mailbox],
    exchange: str,
    client_order_id: str,
    *,
    quantity: Decimal | None,
    price: Decimal | None,
    request_timeout: float,
) -> Order:
    msg = AmendOrderMsg(exchange, client_order_id, quantity=quantity, price=price)
    order: Order = await _ask(managers, exchange, msg, request_timeout)
    return order


async def cancel_all(
    managers: Mapping[str, Mailbox],
    *,
    exchange: str | None,
    symbol: str | None,
    strategy: str | None,
    request_timeout: float,
    reason: str = "",
) -> dict[str, list[Order]]:
    """Cancel the open orders of ``exchange`` (every running exchange when None), narrowed to ``symbol``
    and ``strategy`` when given."""
    names = [exchange] if exchange is not None else sorted(managers)
    return {
        name: await _ask(managers, name, CancelAllOrdersMsg(name, symbol, strategy, reason), request_timeout)
        for name in names
    }


async def kill(
    managers: Mapping[str, Mailbox],
    stop_strategies: trio.Event,
    strategies_stopped: list[trio.Event],
    *,
    request_timeout: float = KILL_TIMEOUT,
) -> KillReport:
    """The kill switch: every order manager halts (refuses new orders) and cancels every open order,
    native and emulated; then the strategies stop. An exchange that does not answer is reported, and the
    others are still cancelled."""
    report = KillReport()
    log_event("order.kill_switch", level="warning", exchanges=sorted(managers))
    for name in sorted(managers):
        msg = CancelAllOrdersMsg(name, reason=KILL_REASON, halt=True)
        try:
            report.cancelled[name] = await managers[name].request(msg, request_timeout)
        except (RequestFailed, RequestTimeout) as exc:
            report.failed[name] = str(exc)
    stop_strategies.set()
    with trio.move_on_after(request_timeout):
        for stopped in list(strategies_stopped):
            await stopped.wait()
        report.strategies_stopped = True
    return report


async def lift_kill(
    managers: Mapping[str, Mailbox], *, request_timeout: float = KILL_TIMEOUT, by: str = "api"
) -> dict[str, bool]:
    """Lift the kill switch's halt on every running exchange: new orders are accepted again (the strategies
    stopped by the kill switch start again when the bot restarts). Answered per exchange with whether a
    halt was in force."""
    log_event("order.kill_lifted", by=by, exchanges=sorted(managers))
    return {
        name: await _ask(managers, name, LiftKillMsg(name, by=by), request_timeout)
        for name in sorted(managers)
    }
