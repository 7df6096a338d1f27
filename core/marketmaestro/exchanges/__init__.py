"""The exchange interface and the errors adapters raise."""

from marketmaestro.exchanges.base import (
    AccountEvent,
    BalanceUpdate,
    Exchange,
    ExchangeContext,
    FillUpdate,
    OrderResult,
    OrderUpdate,
    PositionUpdate,
    Subscription,
)
from marketmaestro.exchanges.errors import ExchangeError, FatalExchangeError, OrderRejected, RetryableError

__all__ = [
    "AccountEvent",
    "BalanceUpdate",
    "Exchange",
    "ExchangeContext",
    "ExchangeError",
    "FatalExchangeError",
    "FillUpdate",
    "OrderRejected",
    "OrderResult",
    "OrderUpdate",
    "PositionUpdate",
    "RetryableError",
    "Subscription",
]
