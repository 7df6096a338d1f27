"""Pre-trade risk rules. A rule is built from its configuration section and approves or denies orders.

Rules are plugins (``register_risk_rules``); the core's own rules live in
``marketmaestro.plugins.builtin.risk_rules`` and use this same interface.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Protocol

from marketmaestro.model import Order

if TYPE_CHECKING:
    from marketmaestro.portfolio.valuation import PortfolioReport
    from marketmaestro.risk.metrics import RiskMetrics


@dataclass(frozen=True)
class OrderCheck:
    """What a rule sees of an order about to be sent.

    The risk manager fills in everything; a rule built for tests or a plugin's own checks may get only the
    first three fields, so rules that need the rest treat ``None`` as "not known" and approve.
    """

    order: Order
    reference_price: Decimal
    """The latest market price of the symbol: what a market order is expected to fill near."""
    position: Decimal
    """The account's current net quantity of the symbol (negative when short)."""
    strategy_position: Decimal | None = None
    """The order's strategy's own net quantity of the symbol."""
    portfolio: PortfolioReport | None = None
    """The account valued at the latest marks, with P&L per strategy."""
    metrics: RiskMetrics | None = None
    """The account's risk metrics (equity, daily P&L, drawdown, ...)."""
    open_orders: int = 0
    """Orders of the account still open on the exchange."""
    orders_last_minute: int = 0
    """Orders of the account approved in the last 60 seconds (this one not counted)."""
    base_asset: str = ""
    """The symbol's base asset ("" when not known)."""
    quote_rate: Decimal | None = Decimal(1)
    """Value of one unit of the symbol's quote currency in the valuation currency (None: no mark)."""

    @property
    def position_after(self) -> Decimal:
        return self.position + self.order.side.sign * self.order.quantity

    @property
    def increases_exposure(self) -> bool:
        return abs(self.position_after) > abs(self.position)

    @property
    def notional(self) -> Decimal:
        """The order's value in the symbol's quote currency at ``reference_price``."""
        return self.order.quantity * self.reference_price

    @property
    def value(self) -> Decimal | None:
        """The order's value in the valuation currency, or ``None`` when no mark converts it."""
        return None if self.quote_rate is None else self.notional * self.quote_rate


class RiskRule(Protocol):
    name: str

    def check(self, check: OrderCheck) -> str | None:
        """``None`` to approve, or the reason for denying the order."""
        ...


class RiskConfigError(ValueError):
    """A rule's configuration is invalid: ``key`` (below the rule's section), the ``value`` received and what
    was ``expected``."""

    def __init__(self, key: str, value: Any, expected: str) -> None:
        super().__init__(f"{key}: got {value!r}; expected {expected}")
        self.key, self.value, self.expected = key, value, expected


def positive_number(key: str, raw: Any) -> Decimal:
    """``raw`` as a positive finite Decimal, or ``RiskConfigError`` naming ``key``."""
    if isinstance(raw, bool):
        raise RiskConfigError(key, raw, "a positive number")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise RiskConfigError(key, raw, "a positive number") from None
    if not value.is_finite() or value <= 0:
        raise RiskConfigError(key, raw, "a positive number")
    return value


def per_symbol_limits(name: str, params: Mapping[str, Any]) -> dict[str, Decimal]:
    """Parse ``{default: 0.05, BTCUSDT: 0.1}``-style limits into positive Decimals keyed by symbol."""
    limits: dict[str, Decimal] = {}
    for key, raw in params.items():
        value = positive_number(str(key), raw)
        limits[key if key == "default" else key.upper()] = value
    return limits


class PerSymbolLimit:
    """Base of rules with a limit per symbol (``default`` for the others)."""

    name = ""

    def __init__(self, limits: Mapping[str, Decimal]) -> None:
        self.limits = dict(limits)

    def limit_for(self, symbol: str) -> Decimal | None:
        return self.limits.get(symbol, self.limits.get("default"))


class MaxPositionSize(PerSymbolLimit):
    """Denies an order that would take the absolute position of a symbol over its limit.

    Configuration (base-asset quantity)::

        risk:
          max_position_size:
            default: 0.05      # every symbol without its own limit
            ETHUSDT: 1.0

    Orders that reduce the position always pass, so a position over a lowered limit can still be closed.
    """

    name = "max_position_size"

    def check(self, check: OrderCheck) -> str | None:
        limit = self.limit_for(check.order.symbol)
        if limit is None or not check.increases_exposure:
            return None
        after = abs(check.position_after)
        if after > limit:
            return (
                f"position in {check.order.symbol} would be {after}, over the limit of {limit} "
                f"(current {check.position}, order {check.order.side.value} {check.order.quantity})"
            )
        return None


def max_position_size(params: Mapping[str, Any]) -> MaxPositionSize | None:
    limits = per_symbol_limits(MaxPositionSize.name, params)
    return MaxPositionSize(limits) if limits else None
