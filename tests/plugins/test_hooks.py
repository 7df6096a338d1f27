"""Registry hooks doing their job end to end: risk rules, strategy builtins and web pages from plugins."""

from __future__ import annotations

import types
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from quart import Blueprint

from marketmaestro import hookimpl
from marketmaestro.api import create_app
from marketmaestro.config import load_config
from marketmaestro.model import Order, OrderType, Side
from marketmaestro.plugins.manager import load_plugins
from marketmaestro.risk import OrderCheck, build_rules, check_risk_config
from marketmaestro.runtime import BotContext
from marketmaestro.storage import AsyncStore, Store
from marketmaestro.strategy import StarlarkScript
from tests.conftest import paper_settings

NO_ENTRY_POINTS = {"MM_LOAD_PLUGINS": ""}


class MaxNotional:
    name = "max_order_notional"

    def __init__(self, limit: Decimal) -> None:
        self.limit = limit

    def check(self, check: OrderCheck) -> str | None:
        notional = check.order.quantity * check.reference_price
        return None if notional <= self.limit else f"notional {notional} over {self.limit}"


def max_notional(params: Mapping[str, Any]) -> MaxNotional | None:
    if "limit" not in params:
        return None
    limit = Decimal(str(params["limit"]))
    if limit <= 0:
        raise ValueError(f"limit must be positive, got {params['limit']!r}")
    return MaxNotional(limit)


risk_plugin = types.SimpleNamespace(
    register_risk_rules=hookimpl(lambda register: register("max_order_notional", max_notional))
)


def _order(quantity: str) -> Order:
    return Order("mm-1", "paper", "BTCUSDT", Side.BUY, OrderType.MARKET, Decimal(quantity), strategy="s")


def test_a_plugin_risk_rule_is_built_from_its_configuration_and_denies(tmp_path: Path) -> None:
    host = load_plugins(environ=NO_ENTRY_POINTS, extra=[("notional", risk_plugin)])
    assert host.registry.risk_rules["max_order_notional"].plugin == "notional"
    rules = build_rules(host.registry, {"max_order_notional": {"limit": 1000}}, {})
    assert [rule.name for rule in rules] == ["max_order_notional"]
    check = OrderCheck(_order("0.01"), Decimal(60000), Decimal(0))
    assert rules[0].check(check) is None
    denied = rules[0].check(OrderCheck(_order("0.1"), Decimal(60000), Decimal(0)))
    assert denied == "notional 6000.0 over 1000"
    # The exchange's section overrides the global one.
    strict = build_rules(
        host.registry, {"max_order_notional": {"limit": 1000}}, {"max_order_notional": {"limit": 1}}
    )
    assert strict[0].check(check) is not None

    settings = paper_settings(tmp_path, extra={"risk": {"max_order_notional": {"limit": -5}}})
    config = load_config(settings, environ={}, exchange_options=host.registry.exchange_options_models())
    problems = [str(p) for p in check_risk_config(host.registry, config)]
    assert problems == ["risk.max_order_notional: got {'limit': -5}; expected limit must be positive, got -5"]


def test_a_plugin_strategy_builtin_is_callable_from_starlark(tmp_path: Path) -> None:
    def clamp(value: float, low: float, high: float) -> float:
        return max(low, min(high, value))

    plugin = types.SimpleNamespace(
        register_strategy_builtins=hookimpl(lambda register: register("clamp", clamp, description="clamp"))
    )
    host = load_plugins(environ=NO_ENTRY_POINTS, extra=[("clamper", plugin)])
    entry = host.registry.functions["clamp"]
    assert (entry.kind, entry.plugin) == ("builtin", "clamper")
    assert "clamp" not in host.registry.indicators
    file = tmp_path / "s.star"
    file.write_text("def settings():\n    return {}\ndef on_kline(k):\n    return clamp(k, 0.0, 1.0)\n")
    builtins = {name: e.function for name, e in host.registry.functions.items()}
    script = StarlarkScript(file, builtins, print)
    assert script.call("on_kline", 3.5) == 1.0
    assert script.call("on_kline", -2.0) == 0.0


async def test_plugin_pages_are_served_and_linked_from_the_dashboard(tmp_path: Path) -> None:
    page = Blueprint("hello_page", __name__)

    @page.get("/hello")
    async def hello() -> str:
        return "<p>hello from a plugin</p>"

    plugin = types.SimpleNamespace(
        register_web=hookimpl(lambda register: register(page, nav=[("Hello <page>", "/hello")]))
    )
    host = load_plugins(environ=NO_ENTRY_POINTS, extra=[("hello", plugin)])
    config = load_config(
        paper_settings(tmp_path), environ={}, exchange_options=host.registry.exchange_options_models()
    )
    with Store(tmp_path / "web.db") as store:
        bot = BotContext(config, host, AsyncStore(store))
        client = create_app(bot, "secret-token").test_client()
        assert (await (await client.get("/hello")).get_data(as_text=True)) == "<p>hello from a plugin</p>"
        dashboard = await (await client.get("/")).get_data(as_text=True)
        assert '<a href="/">Dashboard</a><a href="/hello">Hello &lt;page&gt;</a>' in dashboard
        assert (await client.get("/api/v1/health")).status_code == 401
        ok = await client.get("/api/v1/health", headers={"Authorization": "Bearer secret-token"})
        assert ok.status_code == 200 and (await ok.get_json())["version"] == bot.version
