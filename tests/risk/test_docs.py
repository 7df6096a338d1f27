"""docs/risk.md and docs/portfolio.md say what the code does: every settings example loads through the real
configuration loader with no risk problem, the precedence example gives the limits the page states, and the
rule plugin example works as written."""

from __future__ import annotations

import re
import shutil
import types
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from marketmaestro.config import load_config
from marketmaestro.model import Order, OrderType, Side
from marketmaestro.plugins.manager import load_plugins
from marketmaestro.risk import OrderCheck, RuleBook, build_rules, check_risk_config
from tests.conftest import STRATEGIES

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = ("risk.md", "portfolio.md")


def blocks(page: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", (DOCS / page).read_text(), flags=re.DOTALL)


def load(block: str, folder: Path) -> Any:
    (folder / "strategies").mkdir(exist_ok=True)
    shutil.copy(STRATEGIES / "simple_sma.star", folder / "strategies")
    settings = folder / "settings.yaml"
    settings.write_text(block)
    host = load_plugins(environ={"MM_LOAD_PLUGINS": "indicators"})
    return host, load_config(settings, environ={}, exchange_options=host.registry.exchange_options_models())


@pytest.mark.parametrize("page", PAGES)
def test_every_settings_example_loads_without_a_risk_problem(page: str, tmp_path: Path) -> None:
    examples = blocks(page, "yaml")
    assert examples, f"docs/{page} has settings examples"
    for index, block in enumerate(examples):
        folder = tmp_path / str(index)
        folder.mkdir()
        host, config = load(block, folder)
        assert check_risk_config(host.registry, config) == [], (page, index)
        for exchange in config.exchanges.values():
            book = RuleBook(host.registry, config.risk, exchange)
            for pair in exchange.pairs:
                for spec in pair.strategies:
                    book.rules_for(pair.symbol, spec.name)


def test_the_precedence_example_gives_the_stated_limits(tmp_path: Path) -> None:
    (example,) = [b for b in blocks("risk.md", "yaml") if "sma_fast" in b]
    host, config = load(example, tmp_path)

    def order_value_limit(book: RuleBook, symbol: str = "", strategy: str = "") -> Decimal:
        (rule,) = [r for r in book.rules_for(symbol, strategy) if r.name == "max_order_value"]
        return rule.limits["default"]  # type: ignore[attr-defined, no-any-return]

    paper = RuleBook(host.registry, config.risk, config.exchanges["paper"])
    elsewhere = RuleBook(host.registry, config.risk, None)
    assert order_value_limit(paper, "BTCUSDT", "sma_fast") == 500
    assert order_value_limit(paper, "BTCUSDT", "sma_slow") == 2000
    assert order_value_limit(elsewhere) == 5000
    assert "strategy_budget" in {r.name for r in paper.rules_for("BTCUSDT", "sma_fast")}
    assert "strategy_budget" not in {r.name for r in paper.rules_for("BTCUSDT", "sma_slow")}


def test_the_rule_plugin_example_works_as_written() -> None:
    (code,) = blocks("risk.md", "python")[1:]
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/risk.md", "exec"), namespace)
    plugin = types.SimpleNamespace(register_risk_rules=namespace["register_risk_rules"])
    host = load_plugins(environ={"MM_LOAD_PLUGINS": ""}, extra=[("no_shorts", plugin)])
    assert build_rules(host.registry, {"no_shorts": {"enabled": False}}) == []
    (rule,) = build_rules(host.registry, {"no_shorts": {"enabled": True}})
    sell = Order("c-1", "paper", "BTCUSDT", Side.SELL, OrderType.MARKET, Decimal("0.2"))
    assert rule.check(OrderCheck(sell, Decimal(50000), Decimal("0.2"))) is None
    assert rule.check(OrderCheck(sell, Decimal(50000), Decimal("0.1"))) == "BTCUSDT would be short (-0.1)"
