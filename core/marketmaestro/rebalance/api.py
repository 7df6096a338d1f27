"""The rebalance API: each rebalance script's status, and a run on demand.

``GET /api/v1/rebalance`` and ``POST /api/v1/rebalance/<exchange>/<script>/run`` (``?force=true`` runs the
script even when the drift is under its threshold); see docs/rebalancing.md.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request

from marketmaestro.api.app import bot_context, json_response
from marketmaestro.messages import GetStatusMsg, RunRebalanceMsg
from marketmaestro.settings.api import ask, component_mailbox

rebalance_api = Blueprint("rebalance_api", __name__, url_prefix="/api/v1")


@rebalance_api.get("/rebalance")
async def statuses() -> Response:
    """Exchange -> script -> its settings in force, the last run's report and counts."""
    answer: dict[str, dict[str, Any]] = {}
    for exchange, boxes in sorted(bot_context().mailboxes.items()):
        for name, mailbox in sorted(boxes.items()):
            if name.startswith("rebalance:"):
                status = await ask(mailbox, GetStatusMsg())
                if isinstance(status, Response):
                    return status
                answer.setdefault(exchange, {})[name.removeprefix("rebalance:")] = status
    return json_response(answer)


@rebalance_api.post("/rebalance/<exchange>/<script>/run")
async def run_now(exchange: str, script: str) -> Response:
    force = request.args.get("force", "false")
    if force not in ("true", "false"):
        return json_response({"error": f"force: got {force!r}; expected true or false"}, 400)
    mailbox = component_mailbox(exchange, f"rebalance:{script}")
    if isinstance(mailbox, Response):
        return mailbox
    report = await ask(mailbox, RunRebalanceMsg(exchange, force=force == "true"))
    return report if isinstance(report, Response) else json_response(report)
