"""The reconciliation API (token-protected like every ``/api/`` route); docs/orders.md shows each answer.

- ``GET /api/v1/reconcile``: per running exchange, the last reconciliation's report and any halt;
- ``POST /api/v1/reconcile/<exchange>``: reconcile now, answered with the report;
- ``POST /api/v1/reconcile/<exchange>/ack``: acknowledge the differences that halted trading there.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response

from marketmaestro.api.app import bot_context, json_response
from marketmaestro.messages import GetStatusMsg, ReconcileMsg, ResetRiskHaltMsg
from marketmaestro.orders.reconcile import COMPLETED_EVENT, RECONCILE_RULE, ReconcileReport
from marketmaestro.settings.api import ask, component_mailbox

reconcile_api = Blueprint("reconcile_api", __name__, url_prefix="/api/v1")


@reconcile_api.get("/reconcile")
async def last_reports() -> Response:
    """Each running exchange's last reconciliation (when and what it found) and its halt, if any."""
    bot = bot_context()
    events = await bot.store.list_events(kind=COMPLETED_EVENT, limit=1000)
    answer: dict[str, Any] = {}
    for name in sorted(bot.mailboxes):
        last = next((e for e in events if e.exchange == name), None)
        halt = await bot.store.get_risk_halt(name)
        answer[name] = {
            "last": None if last is None else {"timestamp": last.timestamp, **last.data},
            "halted": None
            if halt is None
            else {"rule": halt.rule, "reason": halt.reason, "since": halt.since},
        }
    return json_response(answer)


@reconcile_api.post("/reconcile/<exchange>")
async def reconcile_now(exchange: str) -> Response:
    """Reconcile ``exchange`` now (between the periodic runs); the report."""
    orders = bot_context().order_managers.get(exchange)
    if orders is None:
        return json_response({"error": f"exchange: got {exchange!r}; expected a running one"}, 404)
    report = await ask(orders, ReconcileMsg(exchange))
    if isinstance(report, Response):
        return report
    assert isinstance(report, ReconcileReport)
    return json_response({"exchange": exchange, **report.summary()})


@reconcile_api.post("/reconcile/<exchange>/ack")
async def acknowledge(exchange: str) -> Response:
    """Lift the reconciliation halt of ``exchange`` (recorded as ``reconcile.acknowledged``). A halt of a risk
    limit is not this route's: it is lifted with ``POST /api/v1/risk/<exchange>/reset``."""
    mailbox = component_mailbox(exchange, "risk_manager")
    if isinstance(mailbox, Response):
        return mailbox
    status = await ask(mailbox, GetStatusMsg())
    if isinstance(status, Response):
        return status
    halted = status.get("halted")
    if halted is not None and halted["rule"] != RECONCILE_RULE:
        return json_response(
            {
                "error": f"{exchange} is halted by the risk rule {halted['rule']}, not by reconciliation; "
                f"lift it with POST /api/v1/risk/{exchange}/reset"
            },
            409,
        )
    if halted is None:
        return json_response({"exchange": exchange, "acknowledged": False})
    lifted = await ask(mailbox, ResetRiskHaltMsg(exchange, by="api"))
    if isinstance(lifted, Response):
        return lifted
    return json_response({"exchange": exchange, "acknowledged": lifted})
