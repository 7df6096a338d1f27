"""The core's pre-trade rules besides ``max_position_size`` (in :mod:`.rules`). docs/risk.md has a table.

Each rule is built by a factory from its merged configuration (``None`` when the section configures
nothing) and answers ``None`` to approve or the reason for denying. Rules about *risk* (daily loss,
drawdown, concentration, leverage, budget, position size) let orders that reduce the position pass; rules
about *orders* (size, value, open orders, rate) apply to every order.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from marketmaestro.risk.rules import (
    OrderCheck,
    PerSymbolLimit,
    RiskConfigError,
    per_symbol_limits,
    positive_number,
)

if TYPE_CHECKING:
    from marketmaestro.risk.metrics import RiskMetrics

HARD_LIMITS = ("max_daily_loss", "max_drawdown")
"""Rules whose breach halts risk-increasing orders on the exchange until the next UTC day or a reset."""


def _known_keys(name: str, params: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in params:
        if key not in allowed:
            raise RiskConfigError(str(key), params[key], f"one of {', '.join(allowed)} (rule {name})")


def _whole_number(key: str, raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise RiskConfigError(key, raw, "a whole number of at least 1")
    return raw


# -- per-order limits ---------------------------------------------------------------------------------


class MaxOrderSize(PerSymbolLimit):
    """Denies any order over its symbol's quantity limit (base asset), e.g. ``{default: 0.1, ETHUSDT: 2}``."""

    name = "max_order_size"

    def check(self, check: OrderCheck) -> str | None:
        limit = self.limit_for(check.order.symbol)
        if limit is not None and check.order.quantity > limit:
            return f"order quantity {check.order.quantity} {check.order.symbol} is over the limit of {limit}"
        return None


class MaxOrderValue(PerSymbolLimit):
    """Denies any order whose notional (quantity x price, quote currency) is over its symbol's limit."""

    name = "max_order_value"

    def check(self, check: OrderCheck) -> str | None:
        limit = self.limit_for(check.order.symbol)
        if limit is not None and check.notional > limit:
            return (
                f"order value {check.notional} ({check.order.quantity} x {check.reference_price}) "
                f"is over the limit of {limit}"
            )
        return None


class MaxOpenOrders:
    """Denies a new order while the account already has ``limit`` open orders."""

    name = "max_open_orders"

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def check(self, check: OrderCheck) -> str | None:
        if check.open_orders >= self.limit:
            return f"{check.open_orders} orders are open, the limit is {self.limit}"
        return None


class MaxOrdersPerMinute:
    """Denies an order when ``limit`` orders were already approved in the last 60 seconds."""

    name = "max_orders_per_minute"

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def check(self, check: OrderCheck) -> str | None:
        if check.orders_last_minute >= self.limit:
            return f"{check.orders_last_minute} orders in the last minute, the limit is {self.limit}"
        return None


# -- account risk -------------------------------------------------------------------------------------


class MaxDailyLoss:
    """Hard limit: denies risk-increasing orders once the day's loss (equity now against the start of the
    UTC day) reaches ``limit`` (valuation currency) or ``percent`` of the day's starting equity."""

    name = "max_daily_loss"

    def __init__(self, limit: Decimal | None, percent: Decimal | None) -> None:
        self.limit, self.percent = limit, percent

    def breach(self, metrics: RiskMetrics | None) -> str | None:
        """Why the limit is breached now (regardless of any order), or ``None``."""
        if metrics is None or metrics.daily_pnl >= 0:
            return None
        loss = -metrics.daily_pnl
        if self.limit is not None and loss >= self.limit:
            return f"the day's loss {loss} reached the limit of {self.limit}"
        if self.percent is not None and metrics.day_start_equity > 0:
            share = loss / metrics.day_start_equity * 100
            if share >= self.percent:
                start = metrics.day_start_equity
                return f"the day's loss {loss} ({share:.2f}% of {start}) reached the limit of {self.percent}%"
        return None

    def check(self, check: OrderCheck) -> str | None:
        return self.breach(check.metrics) if check.increases_exposure else None


class MaxDrawdown:
    """Hard limit: denies risk-increasing orders while equity is ``percent`` or more below its peak."""

    name = "max_drawdown"

    def __init__(self, percent: Decimal) -> None:
        self.percent = percent

    def breach(self, metrics: RiskMetrics | None) -> str | None:
        """Why the limit is breached now (regardless of any order), or ``None``."""
        if metrics is not None and metrics.current_drawdown >= self.percent:
            return (
                f"equity {metrics.equity} is {metrics.current_drawdown:.2f}% below its peak "
                f"{metrics.peak_equity}, the limit is {self.percent}%"
            )
        return None

    def check(self, check: OrderCheck) -> str | None:
        return self.breach(check.metrics) if check.increases_exposure else None


class MaxConcentration:
    """Denies a risk-increasing order that would put more than ``percent`` of equity in the base asset."""

    name = "max_concentration"

    def __init__(self, percent: Decimal) -> None:
        self.percent = percent

    def check(self, check: OrderCheck) -> str | None:
        portfolio, value, base = check.portfolio, check.value, check.base_asset
        if not check.increases_exposure or portfolio is None or value is None or not base:
            return None
        if portfolio.equity <= 0:
            return f"equity is {portfolio.equity}: no position may grow"
        after = abs(portfolio.asset_value(base) + check.order.side.sign * value)
        share = after / portfolio.equity * 100
        if share > self.percent:
            return f"{base} would be {share:.2f}% of equity {portfolio.equity}, over {self.percent}%"
        return None


class MaxLeverage:
    """Denies a risk-increasing order that would take the account's exposure over ``limit`` x equity."""

    name = "max_leverage"

    def __init__(self, limit: Decimal) -> None:
        self.limit = limit

    def check(self, check: OrderCheck) -> str | None:
        portfolio, value = check.portfolio, check.value
        if not check.increases_exposure or portfolio is None or value is None:
            return None
        exposure = portfolio.account.exposure + value
        if portfolio.equity <= 0:
            return f"equity is {portfolio.equity}: no exposure is allowed"
        leverage = exposure / portfolio.equity
        if leverage > self.limit:
            return (
                f"exposure {exposure} would be {leverage:.2f}x equity {portfolio.equity}, over {self.limit}x"
            )
        return None


class StrategyBudget:
    """Denies a risk-increasing order of a strategy whose exposure would exceed its capital budget, which
    grows with the strategy's net P&L and shrinks with its losses."""

    name = "strategy_budget"

    def __init__(self, capital: Decimal) -> None:
        self.capital = capital

    def check(self, check: OrderCheck) -> str | None:
        portfolio, value = check.portfolio, check.value
        if portfolio is None or value is None or check.strategy_position is None:
            return None
        held = check.strategy_position
        after = held + check.order.side.sign * check.order.quantity
        if abs(after) <= abs(held):
            return None
        summary = portfolio.strategy(check.order.strategy)
        budget = self.capital + summary.net_pnl
        exposure = summary.exposure + value
        if exposure > budget:
            return (
                f"strategy {check.order.strategy!r} would have {exposure} at risk, over its budget {budget} "
                f"(capital {self.capital}, net P&L {summary.net_pnl})"
            )
        return None


# -- factories ----------------------------------------------------------------------------------------


def max_order_size(params: Mapping[str, Any]) -> MaxOrderSize | None:
    limits = per_symbol_limits(MaxOrderSize.name, params)
    return MaxOrderSize(limits) if limits else None


def max_order_value(params: Mapping[str, Any]) -> MaxOrderValue | None:
    limits = per_symbol_limits(MaxOrderValue.name, params)
    return MaxOrderValue(limits) if limits else None


def max_open_orders(params: Mapping[str, Any]) -> MaxOpenOrders | None:
    _known_keys(MaxOpenOrders.name, params, ("limit",))
    return MaxOpenOrders(_whole_number("limit", params["limit"])) if "limit" in params else None


def max_orders_per_minute(params: Mapping[str, Any]) -> MaxOrdersPerMinute | None:
    _known_keys(MaxOrdersPerMinute.name, params, ("limit",))
    return MaxOrdersPerMinute(_whole_number("limit", params["limit"])) if "limit" in params else None


def max_daily_loss(params: Mapping[str, Any]) -> MaxDailyLoss | None:
    _known_keys(MaxDailyLoss.name, params, ("limit", "percent"))
    limit = positive_number("limit", params["limit"]) if "limit" in params else None
    percent = positive_number("percent", params["percent"]) if "percent" in params else None
    return MaxDailyLoss(limit, percent) if limit is not None or percent is not None else None


def _percent(name: str, params: Mapping[str, Any]) -> Decimal | None:
    _known_keys(name, params, ("percent",))
    if "percent" not in params:
        return None
    percent = positive_number("percent", params["percent"])
    if percent > 100:
        raise RiskConfigError("percent", params["percent"], "a percentage above 0 and at most 100")
    return percent


def max_drawdown(params: Mapping[str, Any]) -> MaxDrawdown | None:
    percent = _percent(MaxDrawdown.name, params)
    return MaxDrawdown(percent) if percent is not None else None


def max_concentration(params: Mapping[str, Any]) -> MaxConcentration | None:
    percent = _percent(MaxConcentration.name, params)
    return MaxConcentration(percent) if percent is not None else None


def max_leverage(params: Mapping[str, Any]) -> MaxLeverage | None:
    _known_keys(MaxLeverage.name, params, ("limit",))
    return MaxLeverage(positive_number("limit", params["limit"])) if "limit" in params else None


def strategy_budget(params: Mapping[str, Any]) -> StrategyBudget | None:
    _known_keys(StrategyBudget.name, params, ("capital",))
    return StrategyBudget(positive_number("capital", params["capital"])) if "capital" in params else None
