"""Balances and positions of an account."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    free: Decimal
    locked: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@dataclass(frozen=True, slots=True)
class Position:
    """Net holding of a symbol. ``strategy`` is empty for the whole account."""

    exchange: str
    symbol: str
    quantity: Decimal
    average_price: Decimal
    realized_pnl: Decimal = Decimal(0)
    strategy: str = ""
    fees: Decimal = Decimal(0)
    """Fees paid on this position's fills, in the symbol's quote currency (see docs/portfolio.md)."""
