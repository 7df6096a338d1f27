"""Reconciliation tests share the trading tests' real SQLite store fixture."""

from tests.trading.conftest import store

__all__ = ["store"]
