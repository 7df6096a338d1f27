"""Built-in plugin: the core API routes and the dashboard page."""

from __future__ import annotations

from html import escape
from importlib.resources import files

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
