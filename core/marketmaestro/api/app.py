"""The web application: one Quart app serving the API and the UI, built from registered blueprints."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quart import Response, current_app, request
from quart_trio import QuartTrio

from marketmaestro.api.auth import token_matches

if TYPE_CHECKING:
    from marketmaestro.runtime.bot import BotContext

EXTENSION = "marketmaestro"


def to_jsonable(value: Any) -> Any:
    """Plain JSON data from models: Decimals as strings (exact), enums as values, dataclasses as dicts."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return value


def json_response(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(to_jsonable(data)), status=status, mimetype="application/json")


def bot_context() -> BotContext:
    """The running bot, for route handlers."""
    bot: BotContext = current_app.extensions[EXTENSION]
    return bot


def create_app(bot: BotContext, token: str) -> QuartTrio:
    app = QuartTrio("marketmaestro")
    app.extensions[EXTENSION] = bot
    nav: list[tuple[str, str]] = []
    for entry in bot.plugins.registry.web:
        app.register_blueprint(entry.blueprint)
        nav.extend(entry.nav)
    app.extensions["marketmaestro_nav"] = nav
    # Imported here: these modules import this one (json_response, bot_context).
    from marketmaestro.orders.reconcile_api import reconcile_api
    from marketmaestro.portfolio.api import portfolio_api
    from marketmaestro.rebalance.api import rebalance_api
    from marketmaestro.settings.api import settings_api

    app.register_blueprint(settings_api)
    app.register_blueprint(rebalance_api)
    app.register_blueprint(portfolio_api)
    app.register_blueprint(reconcile_api)

    @app.before_request
    async def require_token() -> Response | None:
        if request.path.startswith("/api/") and not token_matches(
            token, request.headers.get("Authorization")
        ):
            return json_response(
                {"error": "missing or invalid API token (send 'Authorization: Bearer <token>')"}, 401
            )
        return None

    @app.after_request
    async def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    return app
