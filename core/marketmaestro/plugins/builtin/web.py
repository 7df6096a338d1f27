"""Built-in plugin: the core API routes and the dashboard page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from html import escape
from importlib.resources import files
from types import ModuleType
from typing import Any

from quart import Blueprint, Response, current_app, request

from marketmaestro import hookimpl
from marketmaestro.api.app import bot_context, json_response
from marketmaestro.plugins.registry import RegisterWeb

api = Blueprint("core_api", __name__, url_prefix="/api/v1")
pages = Blueprint("core_pages", __name__)


def _limit() -> int:
    raw = request.args.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise _BadParameter(f"limit: got {raw!r}; expected a whole number from 1 to 1000")
    return int(raw)


class _BadParameter(ValueError):
    pass


@api.errorhandler(_BadParameter)
async def _bad_parameter(error: _BadParameter) -> Response:
    return json_response({"error": str(error)}, 400)


@api.get("/health")
async def health() -> Response:
    """Status, version, uptime, component states and restart counts."""
    return json_response(bot_context().health_report())


@api.get("/plugins")
async def plugins() -> Response:
    """The same rows as ``mm plugins list --all --json``."""
    return json_response([info.as_dict() for info in bot_context().plugins.plugins])


@api.get("/orders")
async def orders() -> Response:
    bot = bot_context()
    return json_response(await bot.store.list_orders(exchange=request.args.get("exchange"), limit=_limit()))


@api.get("/fills")
async def fills() -> Response:
    bot = bot_context()
    return json_response(await bot.store.list_fills(exchange=request.args.get("exchange"), limit=_limit()))


@api.get("/positions")
async def positions() -> Response:
    return json_response(await bot_context().store.list_positions(exchange=request.args.get("exchange")))


@api.get("/balances")
async def balances() -> Response:
    bot = bot_context()
    return json_response({name: await bot.store.list_balances(name) for name in sorted(bot.config.exchanges)})


async def _body() -> dict[str, Any]:
    body = await request.get_json(force=True, silent=True)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise _BadParameter("body: expected a JSON object")
    return body


def _decimal_field(body: dict[str, Any], name: str) -> Decimal | None:
    raw = body.get(name)
    if raw is None:
        return None
    try:
        value = Decimal(str(raw))
    except ArithmeticError:
        value = Decimal("NaN")
    if isinstance(raw, bool) or not value.is_finite() or value <= 0:
        raise _BadParameter(f"{name}: got {raw!r}; expected a positive number")
    return value


async def _controlled(call: Callable[[ModuleType], Awaitable[Any]], status: int = 200) -> Response:
    """Run ``call(marketmaestro.orders.control)``; its ``ControlError`` is a 400 naming the problem."""
    # Imported here: the order manager brings the database layer, which most CLI commands do not need.
    from marketmaestro.orders import control

    try:
        result = await call(control)
    except control.ControlError as exc:
        return json_response({"error": str(exc)}, 400)
    return json_response(result, status)


@api.post("/orders/<exchange>/<client_order_id>/cancel")
async def cancel_order(exchange: str, client_order_id: str) -> Response:
    """Cancel one order (an emulated one locally)."""
    bot = bot_context()
    timeout = bot.config.supervision.request_timeout
    return await _controlled(
        lambda control: control.cancel_order(
            bot.order_managers, exchange, client_order_id, request_timeout=timeout
        )
    )


@api.post("/orders/<exchange>/<client_order_id>/amend")
async def amend_order(exchange: str, client_order_id: str) -> Response:
    """Change ``quantity`` and/or ``price``; natively where the exchange can, else cancel and replace
    (the answer is then the new order, whose ``replaces`` names the old one)."""
    bot = bot_context()
    body = await _body()
    quantity, price = _decimal_field(body, "quantity"), _decimal_field(body, "price")
    return await _controlled(
        lambda control: control.amend_order(
            bot.order_managers,
            exchange,
            client_order_id,
            quantity=quantity,
            price=price,
            request_timeout=bot.config.supervision.request_timeout,
        )
    )


@api.post("/orders/cancel-all")
async def cancel_all_orders() -> Response:
    """Cancel the open orders of every exchange, or of ``exchange``, ``symbol`` and/or ``strategy``."""
    bot = bot_context()
    body = await _body()
    filters = {name: body.get(name) for name in ("exchange", "symbol", "strategy")}
    for name, value in filters.items():
        if value is not None and not isinstance(value, str):
            raise _BadParameter(f"{name}: got {value!r}; expected a string")

    async def call(control: ModuleType) -> Any:
        timeout = bot.config.supervision.request_timeout
        return {"cancelled": await control.cancel_all(bot.order_managers, **filters, request_timeout=timeout)}

    return await _controlled(call)


@api.post("/kill")
async def kill_switch() -> Response:
    """The kill switch: cancel every open order on every exchange, refuse new ones, stop the strategies.
    502 when an exchange's order manager did not answer (the report names it)."""
    bot = bot_context()
    from marketmaestro.orders import control

    report = await control.kill(bot.order_managers, bot.stop_strategies, bot.strategies_stopped)
    return json_response(report, 200 if not report.failed else 502)


@api.post("/kill/lift")
async def lift_kill_switch() -> Response:
    """Lift the kill switch's halt (it outlives restarts): answered with ``{"lifted": {exchange: bool}}``,
    whether each exchange was halted."""
    bot = bot_context()

    async def call(control: ModuleType) -> Any:
        return {"lifted": await control.lift_kill(bot.order_managers, by="api")}

    return await _controlled(call)


@pages.get("/")
async def dashboard() -> Response:
    """The dashboard, with a navigation link for every page plugins registered (``register_web`` ``nav``)."""
    page = files("marketmaestro.api").joinpath("static/index.html").read_text()
    links = "".join(
        f'<a href="{escape(path, quote=True)}">{escape(title)}</a>'
        for title, path in current_app.extensions.get("marketmaestro_nav", [])
    )
    return Response(page.replace("<!--NAV-->", links, 1), mimetype="text/html")


@hookimpl
def register_web(register: RegisterWeb) -> None:
    register(api)
    register(pages, nav=[("Dashboard", "/")])
