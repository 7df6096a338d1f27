"""The portfolio: balances and positions per exchange account and strategy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from marketmaestro.portfolio.positions import apply_fill
from marketmaestro.portfolio.valuation import (
    AssetValue,
    Marks,
    PnlSummary,
    PortfolioReport,
    PositionValue,
    fee_in_quote,
)

if TYPE_CHECKING:
    from marketmaestro.portfolio.component import Portfolio

__all__ = [
    "AssetValue",
    "Marks",
    "PnlSummary",
    "Portfolio",
    "PortfolioReport",
    "PositionValue",
    "apply_fill",
    "fee_in_quote",
]


def __getattr__(name: str) -> Any:
    # The component needs the database layer (slow to import); `mm strategy test` needs only apply_fill.
    if name == "Portfolio":
        from marketmaestro.portfolio.component import Portfolio

        return Portfolio
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
