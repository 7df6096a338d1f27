"""Pre-trade risk rules. A rule is built from its configuration section and approves or denies orders.

Rules are plugins (``register_risk_rules``); the core's own rules live in
``marketmaestro.plugins.builtin.risk_rules`` and use this same interface.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from marketmaestro.model import Order


@dataclass(frozen=True)
class OrderCheck:
    """What a rule sees of an order about to be sent."""

    order: Order
    reference_price: Decimal
    """The latest market price of the symbol: what a market order is expected to fill near."""
    position: Decimal
    """The account's current net quantity of the symbol (negative when short)."""

    @property
    def position_after(self) -> Decimal:
        return self.position + self.order.side.sign * self.order.quantity

    @property
    def increases_exposure(self) -> bool:
        return abs(self.position_after) > abs(self.position)


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


def per_symbol_limits(name: str, params: Mapping[str, Any]) -> dict[str, Decimal]:
    """Parse ``{default: 0.05, BTCUSDT: 0.1}``-style limits into positive Decimals keyed by symbol."""
    limits: dict[str, Decimal] = {}
    for key, raw in params.items():
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            raise RiskConfigError(str(key), raw, "a positive number") from None
        if not value.is_finite() or value <= 0:
            raise RiskConfigError(str(key), raw, "a positive number")
        limits[key if key == "default" else key.upper()] = value
    return limits


class MaxPositionSize:
    """Denies an order that would take the absolute position of a symbol over its limit.

    Configuration (base-asset quantity)::

        risk:
          max_position_size:
            default: 0.05      # every symbol without its own limit
            ETHUSDT: 1.0

    Orders that reduce the position always pass, so a position over a lowered limit can still be closed.
    """

    name = "max_position_size"

    def __init__(self, limits: Mapping[str, Decimal]) -> None:
        self.limits = dict(limits)

    def limit_for(self, symbol: str) -> Decimal | None:
        return self.limits.get(symbol, self.limits.get("default"))

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
