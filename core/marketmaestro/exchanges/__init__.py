"""The exchange interface and the errors adapters raise."""

from marketmaestro.exchanges.base import Exchange, ExchangeContext, OrderResult, Subscription
from marketmaestro.exchanges.errors import ExchangeError, FatalExchangeError, OrderRejected, RetryableError

__all__ = [
    "Exchange",
    "ExchangeContext",
    "ExchangeError",
    "FatalExchangeError",
    "OrderRejected",
    "OrderResult",
    "RetryableError",
    "Subscription",
]
