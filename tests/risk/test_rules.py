"""The built-in risk rules: what each approves and denies, and their configuration errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from marketmaestro.model import Balance, Order, OrderType, Position, Side
from marketmaestro.portfolio import Marks
from marketmaestro.portfolio.valuation import report
from marketmaestro.risk import OrderCheck, RiskConfigError
from marketmaestro.risk import limits as L
from marketmaestro.risk.metrics import RiskMetrics
from tests.portfolio.conftest import INSTRUMENTS

D = Decimal
PRICE = D(50000)


def order(side: Side, quantity: str, *, strategy: str = "s", symbol: str = "BTCUSDT") -> Order:
    return Order("c-1", "paper", symbol, side, OrderType.MARKET, D(quantity), strategy=strategy)


def metrics(*, equity: str = "10000", day_start: str = "10000", peak: str = "10000") -> RiskMetrics:
    e, start, top = D(equity), D(day_start), D(peak)
    drawdown = (top - e) / top * 100 if e < top else D(0)
    return RiskMetrics("paper", 1, e, start, e - start, top, drawdown, drawdown, D(0), None)


def portfolio(btc: str = "0", usdt: str = "10000", positions: tuple[Position, ...] = ()) -> Any:
    marks = Marks(INSTRUMENTS)
    marks.update("BTCUSDT", PRICE)
    balances = [Balance("USDT", D(usdt)), Balance("BTC", D(btc))]
    return report("paper", 1, positions, balances, INSTRUMENTS, marks, "USDT")


def check(side: Side, quantity: str, position: str = "0", **context: Any) -> OrderCheck:
    context.setdefault("base_asset", "BTC")
    return OrderCheck(order(side, quantity), PRICE, D(position), **context)


def test_order_size_and_value_apply_to_every_order_even_reducing_ones() -> None:
    size = L.max_order_size({"default": 0.1, "ethusdt": 2})
    assert size is not None and size.limits == {"default": D("0.1"), "ETHUSDT": D(2)}
    assert size.check(check(Side.BUY, "0.1")) is None
    denied = size.check(check(Side.SELL, "0.2", position="1"))  # reducing, still too big an order
    assert denied == "order quantity 0.2 BTCUSDT is over the limit of 0.1"
    value = L.max_order_value({"default": 1000})
    assert value is not None
    assert value.check(check(Side.BUY, "0.02")) is None  # 1000 exactly
    assert (
        value.check(check(Side.BUY, "0.021"))
        == "order value 1050.000 (0.021 x 50000) is over the limit of 1000"
    )


def test_open_orders_and_orders_per_minute_count_what_the_manager_saw() -> None:
    opened = L.max_open_orders({"limit": 2})
    rate = L.max_orders_per_minute({"limit": 3})
    assert opened is not None and rate is not None
    assert opened.check(check(Side.BUY, "0.01", open_orders=1)) is None
    assert opened.check(check(Side.BUY, "0.01", open_orders=2)) == "2 orders are open, the limit is 2"
    assert rate.check(check(Side.BUY, "0.01", orders_last_minute=2)) is None
    assert rate.check(check(Side.SELL, "0.01", orders_last_minute=3)) == (
        "3 orders in the last minute, the limit is 3"
    )


def test_daily_loss_denies_increasing_orders_by_amount_or_percent() -> None:
    by_amount = L.max_daily_loss({"limit": 200})
    by_percent = L.max_daily_loss({"percent": 5})
    assert by_amount is not None and by_percent is not None
    lost_250 = metrics(equity="9750")
    reason = by_amount.check(check(Side.BUY, "0.01", metrics=lost_250))
    assert reason == "the day's loss 250 reached the limit of 200"
    assert by_percent.check(check(Side.BUY, "0.01", metrics=lost_250)) is None  # 2.5 %
    assert by_percent.check(check(Side.BUY, "0.01", metrics=metrics(equity="9500"))) is not None
    # Reducing orders pass; a day in profit is never a breach.
    assert by_amount.check(check(Side.SELL, "0.01", position="0.05", metrics=lost_250)) is None
    assert by_amount.breach(metrics(equity="10300")) is None


def test_drawdown_is_measured_from_the_peak() -> None:
    rule = L.max_drawdown({"percent": 10})
    assert rule is not None
    assert rule.check(check(Side.BUY, "0.01", metrics=metrics(equity="9100", peak="10000"))) is None
    denied = rule.check(check(Side.BUY, "0.01", metrics=metrics(equity="9000", peak="10000")))
    assert denied == "equity 9000 is 10.00% below its peak 10000, the limit is 10%"
    assert rule.check(check(Side.SELL, "0.01", position="0.1", metrics=metrics(equity="8000"))) is None


def test_concentration_counts_what_the_account_holds_of_the_base_asset() -> None:
    rule = L.max_concentration({"percent": 30})
    assert rule is not None
    held = portfolio(btc="0.04", usdt="8000")  # 2000 of 10000 in BTC
    assert rule.check(check(Side.BUY, "0.02", portfolio=held)) is None  # 3000: 30 %
    denied = rule.check(check(Side.BUY, "0.021", portfolio=held))
    assert denied == "BTC would be 30.50% of equity 10000.00, over 30%"
    assert rule.check(check(Side.SELL, "0.04", position="0.04", portfolio=held)) is None


def test_leverage_adds_the_order_to_the_account_exposure() -> None:
    rule = L.max_leverage({"limit": 1})
    assert rule is not None
    position = Position("paper", "BTCUSDT", D("0.1"), PRICE)  # 5000 exposure
    account = portfolio(btc="0.1", usdt="5000", positions=(position,))
    assert rule.check(check(Side.BUY, "0.1", position="0.1", portfolio=account)) is None  # 10000 = 1x
    denied = rule.check(check(Side.BUY, "0.11", position="0.1", portfolio=account))
    assert denied == "exposure 10500.00 would be 1.05x equity 10000.0, over 1x"


def test_a_strategy_budget_grows_and_shrinks_with_its_pnl() -> None:
    rule = L.strategy_budget({"capital": 1000})
    assert rule is not None
    mine = Position("paper", "BTCUSDT", D("0.01"), D(40000), D(0), "s")  # 500 at the mark, +100 unrealised
    account = portfolio(positions=(mine,))
    ok = check(Side.BUY, "0.012", strategy_position=D("0.01"), portfolio=account)  # 500 + 600 <= 1000 + 100
    assert rule.check(ok) is None
    over = check(Side.BUY, "0.013", strategy_position=D("0.01"), portfolio=account)
    assert rule.check(over) == (
        "strategy 's' would have 1150.000 at risk, over its budget 1100.00 (capital 1000, net P&L 100.00)"
    )
    assert rule.check(check(Side.SELL, "0.01", strategy_position=D("0.01"), portfolio=account)) is None


def test_rules_without_the_context_they_need_approve() -> None:
    # A plugin's own tests may build a bare OrderCheck: rules that need the portfolio do not guess.
    bare = OrderCheck(order(Side.BUY, "5"), PRICE, D(0))
    for factory, params in (
        (L.max_concentration, {"percent": 1}),
        (L.max_leverage, {"limit": 1}),
        (L.strategy_budget, {"capital": 1}),
        (L.max_daily_loss, {"limit": 1}),
        (L.max_drawdown, {"percent": 1}),
    ):
        rule = factory(params)
        assert rule is not None and rule.check(bare) is None, rule.name


@pytest.mark.parametrize(
    ("factory", "params", "key", "expected"),
    [
        (L.max_open_orders, {"limit": 0}, "limit", "a whole number of at least 1"),
        (L.max_orders_per_minute, {"limit": 2.5}, "limit", "a whole number of at least 1"),
        (L.max_daily_loss, {"limit": -1}, "limit", "a positive number"),
        (L.max_drawdown, {"percent": 150}, "percent", "a percentage above 0 and at most 100"),
        (L.max_concentration, {"pct": 10}, "pct", "one of percent (rule max_concentration)"),
        (L.max_leverage, {"limit": True}, "limit", "a positive number"),
        (L.strategy_budget, {"capital": "lots"}, "capital", "a positive number"),
        (L.max_order_value, {"default": "nan"}, "default", "a positive number"),
    ],
)
def test_a_bad_parameter_names_its_key_and_what_was_expected(
    factory: Any, params: dict[str, Any], key: str, expected: str
) -> None:
    with pytest.raises(RiskConfigError) as caught:
        factory(params)
    assert (caught.value.key, caught.value.expected) == (key, expected)


def test_an_empty_section_builds_no_rule() -> None:
    for factory in (L.max_order_size, L.max_daily_loss, L.max_open_orders, L.strategy_budget, L.max_drawdown):
        assert factory({}) is None
