"""The runtime settings API: list every declared setting, change one (validated, applied at once).

``GET /api/v1/settings`` (``?exchange=paper`` for one exchange) and
``PUT /api/v1/settings/<exchange>/<component>/<key>`` with the body ``{"value": <JSON value>}``;
see docs/configuration.md ("Runtime settings").
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request

from marketmaestro.api.app import bot_context, json_response
from marketmaestro.messages import ListSettingsMsg, SetSettingMsg
from marketmaestro.supervision import BadRequest, Mailbox, RequestFailed, RequestTimeout

settings_api = Blueprint("settings_api", __name__, url_prefix="/api/v1")


def component_mailbox(exchange: str, component: str) -> Mailbox | Response:
    """The mailbox of a running component of ``exchange``, or the 404 answer naming what runs."""
    running = bot_context().mailboxes
    if exchange not in running:
        known = ", ".join(sorted(running)) or "(none)"
        return json_response({"error": f"exchange: got {exchange!r}; expected a running one: {known}"}, 404)
    mailbox = running[exchange].get(component)
    if mailbox is None:
        known = ", ".join(sorted(running[exchange]))
        return json_response({"error": f"component: got {component!r}; expected one of {known}"}, 404)
    return mailbox


async def ask(mailbox: Mailbox, msg: object) -> Any | Response:
    """The component's answer, or the error answer: 400 for a refused request, 503 when it is unavailable."""
    try:
        return await mailbox.request(msg, bot_context().config.supervision.request_timeout)
    except RequestFailed as exc:
        if isinstance(exc.__cause__, BadRequest):
            return json_response({"error": str(exc.__cause__)}, 400)
        return json_response({"error": str(exc)}, 503)
    except RequestTimeout as exc:
        return json_response({"error": str(exc)}, 503)


@settings_api.get("/settings")
async def list_settings() -> Response:
    """Every declared setting of every running exchange: value, default, kind, range and description."""
    wanted = request.args.get("exchange")
    answer: dict[str, Any] = {}
    for exchange in sorted(bot_context().mailboxes):
        if wanted is not None and exchange != wanted:
            continue
        mailbox = component_mailbox(exchange, "settings")
        rows = await ask(mailbox, ListSettingsMsg()) if isinstance(mailbox, Mailbox) else mailbox
        if isinstance(rows, Response):
            return rows
        answer[exchange] = rows
    if wanted is not None and wanted not in answer:
        mailbox = component_mailbox(wanted, "settings")
        assert isinstance(mailbox, Response)
        return mailbox
    return json_response(answer)


@settings_api.put("/settings/<exchange>/<component>/<key>")
async def set_setting(exchange: str, component: str, key: str) -> Response:
    """Validate, store and apply one setting; the body is ``{"value": ...}``."""
    body = await request.get_json(force=True, silent=True)
    if not isinstance(body, dict) or set(body) != {"value"}:
        return json_response({"error": 'body: expected a JSON object {"value": <the new value>}'}, 400)
    mailbox = component_mailbox(exchange, "settings")
    if isinstance(mailbox, Response):
        return mailbox
    value = await ask(mailbox, SetSettingMsg(component, key, body["value"], strict=True))
    if isinstance(value, Response):
        return value
    return json_response({"exchange": exchange, "component": component, "key": key, "value": value})
