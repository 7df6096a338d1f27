"""Exchange errors. The branch tells the caller what to do::

ExchangeError
├── RetryableError        try again later (network, timeout, 5xx, rate limit)
├── OrderRejected         do not retry this order; tell the strategy why (balance, invalid order)
└── FatalExchangeError    stop using this exchange until an operator acts (bad credentials, wrong env)
"""

from __future__ import annotations


class ExchangeError(Exception):
    """Base of every error an exchange adapter raises."""


class RetryableError(ExchangeError):
    """A transient failure; the same request may succeed later."""


class OrderRejected(ExchangeError):
    """The exchange (or the adapter, before sending) refused the order; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FatalExchangeError(ExchangeError):
    """The exchange cannot be used as configured."""
