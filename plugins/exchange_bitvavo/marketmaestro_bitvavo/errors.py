"""Bitvavo's error objects mapped onto MarketMaestro's error tree.

::

    ExchangeError
    ├── RetryableError          network, timeout, HTTP 5xx, 101/107/108/109/111/419/430 (overloaded, outcome
    │   └── RetryLater          uncertain), 105/112/103/104 rate limits and bans: ``retry_after`` seconds
    ├── OrderRejected           2xx/4xx order codes (216 insufficient balance, 205 invalid value, 422 tick
    │                           size...), post-only orders that would take
    └── FatalExchangeError      30x authentication and permission errors, 219 delisted...
"""

from __future__ import annotations

import re
import time
from typing import Any

from marketmaestro.exchanges import ExchangeError, FatalExchangeError, OrderRejected, RetryableError

RATE_LIMIT_CODES = frozenset({103, 104, 105, 110, 112})
"""Rate-limit errors; 105 is a ban whose message ends with its expiry (``The ban expires at <ms>.``)."""
RETRYABLE_CODES = frozenset({101, 107, 108, 109, 111, 400, 419, 430})
"""The exchange is busy or the outcome is uncertain: the same request may succeed later."""
NOT_FOUND = 240
CLIENT_ORDER_ID_CONFLICT = 220
_BAN_EXPIRY = re.compile(r"\bat (\d{10,})")


class RetryLater(RetryableError):
    """A retryable error that knows how long to wait (a rate-limit ban, an overloaded exchange)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(0.0, retry_after)


class NotFound(OrderRejected):
    """Error 240: no such order (or not active any more)."""


def ban_expiry_ms(message: str) -> int | None:
    """The epoch ms after ``at`` in a 105 message (``... The ban expires at 1700000060000.``), if any."""
    match = _BAN_EXPIRY.search(message)
    return int(match.group(1)) if match else None


def error_code(exc: BaseException) -> int | None:
    """Bitvavo's ``errorCode`` behind an exception built by :func:`classify`, if it had one."""
    code = getattr(exc, "bitvavo_code", None)
    return code if isinstance(code, int) else None


def classify(status: int, payload: Any, *, what: str) -> ExchangeError:
    """The exception for HTTP ``status`` with Bitvavo's error object ``payload``; ``what`` names the call."""
    error = _classify(status, payload, what)
    if isinstance(payload, dict) and isinstance(payload.get("errorCode"), int):
        error.bitvavo_code = payload["errorCode"]  # type: ignore[attr-defined]
    return error


def _classify(status: int, payload: Any, what: str) -> ExchangeError:
    code: int | None = None
    message = ""
    if isinstance(payload, dict):
        raw = payload.get("errorCode")
        code = raw if isinstance(raw, int) else None
        message = str(payload.get("error", ""))
    text = (
        f"Bitvavo {what}: error {code}: {message}" if code is not None else f"Bitvavo {what}: HTTP {status}"
    )
    if code in RATE_LIMIT_CODES or status == 429:
        expiry = ban_expiry_ms(message)
        wait = (expiry - int(time.time() * 1000)) / 1000 if expiry else 60.0
        return RetryLater(f"{text} (retry in {max(wait, 0):.1f} s)", wait)
    if code == 107:
        return RetryLater(text, 0.5)
    if code in RETRYABLE_CODES or status >= 500:
        return RetryableError(text)
    if code == NOT_FOUND:
        return NotFound(text)
    if status == 403 or (code is not None and 300 <= code < 400):
        return FatalExchangeError(text)
    if code is not None and 200 <= code < 500:
        return OrderRejected(text)
    return RetryableError(text) if status >= 500 else OrderRejected(text)
