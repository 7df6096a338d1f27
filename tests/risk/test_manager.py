"""The risk manager with a real portfolio and store: layered configuration, hard-limit halts kept across a
restart and lifted by a reset or the next UTC day, the order rate, and the metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import trio

from marketmaestro.config import Config
from marketmaestro.messages import (
    CheckRiskLimitsMsg,
    GetRiskMetricsMsg,
    GetStatusMsg,
    OrderValidationResult,
    ResetRiskHaltMsg,
    UpdateBalanceMsg,
    ValidateOrderMsg,
)
from marketmaestro.model import Balance, Order, OrderType, Side, now_ms
from marketmaestro.portfolio import Portfolio
from marketmaestro.risk import RiskManager, RiskMetrics, RuleBook, check_risk_config
from marketmaestro.storage import AsyncStore, EquitySnapshot, RiskHalt
from marketmaestro.supervision import Mailbox
from tests.portfolio.conftest import INSTRUMENTS, TIMEOUT, filled, kline, make_fill
from tests.trading.conftest import plugin_host

D = Decimal
PRICE = D(50000)


def config(**sections: Any) -> Config:
    """A configuration with one paper exchange trading BTCUSDT with strategies a and b."""
    pair = {
        "symbol": "BTCUSDT",
        "strategies": [{"name": "a", "file": "a.star"}, {"name": "b", "file": "b.star"}],
    }
    pair["risk"] = sections.pop("pair", {})
    for spec in pair["strategies"]:
        spec["risk"] = sections.pop(f"strategy_{spec['name']}", {})
    exchange = {"risk": sections.pop("exchange", {}), "pairs": [pair]}
    return Config.model_validate({"risk": sections.pop("risk", {}), "exchanges": {"paper": exchange}})


def book(cfg: Config) -> RuleBook:
    return RuleBook(plugin_host().registry, cfg.risk, cfg.exchanges["paper"])


def order(side: Side, quantity: str, strategy: str = "a") -> Order:
    return Order(f"c-{now_ms()}", "paper", "BTCUSDT", side, OrderType.MARKET, D(quantity), strategy=strategy)


@asynccontextmanager
async def risk_stack(store: AsyncStore, rules: RuleBook) -> AsyncIterator[tuple[Portfolio, RiskManager]]:
    portfolio = Portfolio(Mailbox("paper/portfolio"), exchange="paper", store=store, instruments=INSTRUMENTS)
    manager = RiskManager(
        Mailbox("paper/risk_manager"),
        exchange="paper",
        rules=rules,
        portfolio=portfolio.mailbox,
        request_timeout=TIMEOUT,
        store=store,
        instruments=INSTRUMENTS,
    )
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(portfolio.run)
            await nursery.start(manager.run)
            await portfolio.mailbox.send(kline("BTCUSDT", float(PRICE)))
            yield portfolio, manager
            nursery.cancel_scope.cancel()


async def validate(
    manager: RiskManager, side: Side, quantity: str, strategy: str = "a"
) -> OrderValidationResult:
    result: OrderValidationResult = await manager.mailbox.request(
        ValidateOrderMsg(order(side, quantity, strategy), PRICE), TIMEOUT
    )
    return result


def test_narrower_sections_win_key_by_key() -> None:
    cfg = config(
        risk={"max_order_size": {"default": 1, "ETHUSDT": 5}, "max_open_orders": {"limit": 9}},
        exchange={"max_order_size": {"default": "0.5"}},
        pair={"max_order_size": {"default": "0.2"}},
        strategy_b={"max_order_size": {"default": "0.1"}, "strategy_budget": {"capital": 100}},
    )
    rules = book(cfg)

    def limits(symbol: str = "", strategy: str = "") -> dict[str, Any]:
        return {r.name: getattr(r, "limits", None) for r in rules.rules_for(symbol, strategy)}

    assert limits() == {"max_open_orders": None, "max_order_size": {"default": D("0.5"), "ETHUSDT": D(5)}}
    assert limits("BTCUSDT", "a")["max_order_size"] == {"default": D("0.2"), "ETHUSDT": D(5)}
    b = limits("BTCUSDT", "b")
    assert b["max_order_size"] == {"default": D("0.1"), "ETHUSDT": D(5)}
    assert "strategy_budget" in b and "strategy_budget" not in limits("BTCUSDT", "a")
    assert rules.names == ["max_open_orders", "max_order_size", "strategy_budget"]
    assert rules.rules_for("BTCUSDT", "a") is rules.rules_for("BTCUSDT", "a"), "built once"


def test_every_section_is_checked_under_its_own_key() -> None:
    cfg = config(
        pair={"max_order_size": {"default": 0}},
        strategy_b={"strategy_budget": {"capital": -5}, "max_nothing": {}},
    )
    problems = [(p.key, p.value) for p in check_risk_config(plugin_host().registry, cfg)]
    assert problems == [
        ("exchanges.paper.pairs[0].risk.max_order_size.default", 0),
        ("exchanges.paper.pairs[0].strategies[1].risk.strategy_budget.capital", -5),
        ("exchanges.paper.pairs[0].strategies[1].risk.max_nothing", {}),
    ]


async def test_a_strategy_denied_by_its_own_section_and_another_approved(store: AsyncStore) -> None:
    rules = book(config(strategy_b={"max_order_size": {"default": "0.01"}}))
    async with risk_stack(store, rules) as (_, manager):
        assert await validate(manager, Side.BUY, "0.02", "a") == OrderValidationResult(True)
        denied = await validate(manager, Side.BUY, "0.02", "b")
        assert denied == OrderValidationResult(
            False, "max_order_size", "order quantity 0.02 BTCUSDT is over the limit of 0.01"
        )


async def test_a_daily_loss_halts_increasing_orders_across_a_restart_until_reset(store: AsyncStore) -> None:
    rules = book(config(exchange={"max_daily_loss": {"limit": 100}}))
    async with risk_stack(store, rules) as (portfolio, manager):
        await portfolio.mailbox.send(UpdateBalanceMsg("paper", (Balance("USDT", D(10000)),)))
        assert (await validate(manager, Side.BUY, "0.01")).approved  # the day starts at 10000
        await portfolio.mailbox.send(filled(make_fill(Side.BUY, "0.01", "50000", strategy="a")))
        await portfolio.mailbox.send(
            UpdateBalanceMsg("paper", (Balance("USDT", D(9350)), Balance("BTC", D("0.01"))))
        )
        # 9350 + 0.01 x 50000 = 9850: 150 lost today.
        halt = await manager.mailbox.request(CheckRiskLimitsMsg("paper"), TIMEOUT)
        assert isinstance(halt, RiskHalt) and halt.rule == "max_daily_loss"
        assert halt.reason == "the day's loss 150.000 reached the limit of 100"
        denied = await validate(manager, Side.BUY, "0.001")
        assert (denied.approved, denied.rule) == (False, "max_daily_loss")
        assert denied.reason is not None and "trading halted: the day's loss 150.000" in denied.reason
        assert (await validate(manager, Side.SELL, "0.01")).approved, "reducing orders still pass"

    assert await store.get_risk_halt("paper") == halt
    async with risk_stack(store, rules) as (_, manager):
        assert not (await validate(manager, Side.BUY, "0.001")).approved, "the halt survives a restart"
        status = await manager.mailbox.request(GetStatusMsg(), TIMEOUT)
        assert status["halted"] == {"rule": "max_daily_loss", "until": halt.until}
        assert await manager.mailbox.request(ResetRiskHaltMsg("paper", by="test"), TIMEOUT) is True
        assert await manager.mailbox.request(ResetRiskHaltMsg("paper"), TIMEOUT) is False
        assert (await validate(manager, Side.BUY, "0.001")).approved, "the day starts again at the reset"
    assert await store.get_risk_halt("paper") is None
    kinds = [e.kind for e in await store.list_events(limit=10) if e.kind.startswith("risk.")]
    assert kinds == ["risk.halt_reset", "risk.halted"]
    # A restart after the reset does not halt again on the loss from before it.
    async with risk_stack(store, rules) as (_, manager):
        assert (await validate(manager, Side.BUY, "0.001")).approved


async def test_a_halt_ends_at_the_next_utc_day(store: AsyncStore) -> None:
    await store.set_risk_halt(
        RiskHalt("paper", "max_drawdown", "down 30%", now_ms() - 90_000_000, now_ms() - 1)
    )
    async with risk_stack(store, book(config(exchange={"max_drawdown": {"percent": 50}}))) as (
        portfolio,
        manager,
    ):
        await portfolio.mailbox.send(UpdateBalanceMsg("paper", (Balance("USDT", D(10000)),)))
        assert (await validate(manager, Side.BUY, "0.01")).approved
    assert await store.get_risk_halt("paper") is None
    (expired,) = await store.list_events(kind="risk.halt_expired")
    assert expired.data == {"rule": "max_drawdown"}


async def test_orders_per_minute_counts_approved_orders(store: AsyncStore) -> None:
    async with risk_stack(store, book(config(risk={"max_orders_per_minute": {"limit": 2}}))) as (_, manager):
        assert (await validate(manager, Side.BUY, "0.01")).approved
        assert (await validate(manager, Side.BUY, "0.01", "b")).approved
        third = await validate(manager, Side.SELL, "0.01")
        assert (third.rule, third.reason) == (
            "max_orders_per_minute",
            "2 orders in the last minute, the limit is 2",
        )


async def test_metrics_from_the_snapshots_and_the_live_portfolio(store: AsyncStore) -> None:
    start = now_ms() - 30_000
    equities = [D(10000) + D(i % 3) * 10 - D(i) for i in range(25)]  # wobbling down from 10000
    await store.add_equity_snapshots(
        EquitySnapshot("paper", "", start + i, e, D(0), D(0), D(0), D(0)) for i, e in enumerate(equities)
    )
    async with risk_stack(store, book(config())) as (portfolio, manager):
        position = make_fill(Side.BUY, "0.04", "50000", strategy="a")
        await portfolio.mailbox.send(filled(position))
        await portfolio.mailbox.send(
            UpdateBalanceMsg("paper", (Balance("USDT", D(7000)), Balance("BTC", D("0.04"))))
        )
        metrics: RiskMetrics = await manager.mailbox.request(GetRiskMetricsMsg("paper"), TIMEOUT)
    assert metrics.equity == D(9000)
    assert metrics.peak_equity == D(10018)
    assert metrics.current_drawdown == (D(1018) / D(10018) * 100)
    assert metrics.max_drawdown == metrics.current_drawdown
    assert metrics.exposure == D("2000.00")
    assert metrics.leverage == D("2000.00") / D(9000)
    assert metrics.concentration == {"BTC": D("2000.00") / D(9000) * 100}
    assert metrics.var95 is not None and metrics.var95 > 0
    assert metrics.var95_percent is not None and metrics.var95 == metrics.var95_percent / 100 * metrics.equity
