"""The portfolio: balances and positions per exchange account and strategy."""

from marketmaestro.portfolio.component import Portfolio
from marketmaestro.portfolio.positions import apply_fill

__all__ = ["Portfolio", "apply_fill"]
