"""Bybit's HTTP statuses and retCodes mapped onto the core error tree.

::

    ExchangeError
    ├── RetryableError ── BybitRetryable     5xx, timeouts, 10000/10016, rate limits (10006, 429), 403 bans
    ├── OrderRejected ─── BybitRejected      balance, invalid order, post-only would take, unknown order
    ├── FatalExchangeError ── BybitFatal     10003 key / environment, 10004 signature, 10005 permission, 401
    └── BybitRequestError                    any other refused request outside order entry

Every class carries the ``ret_code`` (or HTTP status) it came from. Messages never contain the API key
or secret: Bybit echoes the signed string (which holds the key) in 10004 errors, so callers pass every
venue text through :func:`scrub` first.
"""

from __future__ import annotations

import re

from marketmaestro.exchanges.errors import ExchangeError, FatalExchangeError, OrderRejected, RetryableError

__all__ = [
    "ALREADY_CLOSED",
    "DUPLICATE_CLIENT_ID",
    "NOT_FOUND",
    "RATE_LIMITED",
    "BybitFatal",
    "BybitRejected",
    "BybitRequestError",
    "BybitRetryable",
    "error_for",
    "scrub",
]

RATE_LIMITED = frozenset({10006, 170005, 170222})
RETRYABLE = frozenset({10000, 10016})
FATAL = {
    10003: "the API key was refused (invalid, deleted, or made for another environment: testnet keys "
    "work only with mode testnet, mainnet keys only with mode live)",
    10004: "the request signature was refused: the API secret does not belong to the API key",
    10005: "the API key lacks a permission this call needs (give it read and trade; never withdrawal)",
    10010: "this IP address is not on the API key's whitelist",
}
NOT_FOUND = frozenset({110001, 170213})
ALREADY_CLOSED = frozenset({110008, 110010, 170139, 170142})
DUPLICATE_CLIENT_ID = frozenset({110072, 170141})
TIMESTAMP = 10002


class BybitRetryable(RetryableError):
    """A transient failure. ``retry_after`` (s) says how long to wait when Bybit said so."""

    def __init__(self, message: str, *, ret_code: int = 0, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.ret_code = ret_code
        self.retry_after = retry_after


class BybitRejected(OrderRejected):
    """Bybit (or the adapter, before sending) refused an order request."""

    def __init__(self, reason: str, *, ret_code: int = 0) -> None:
        super().__init__(reason)
        self.ret_code = ret_code


class BybitFatal(FatalExchangeError):
    """Bybit cannot be used as configured (credentials, permissions, environment)."""

    def __init__(self, message: str, *, ret_code: int = 0) -> None:
        super().__init__(message)
        self.ret_code = ret_code


class BybitRequestError(ExchangeError):
    """A request outside order entry that Bybit refused (a parameter error, an unknown symbol...)."""

    def __init__(self, message: str, *, ret_code: int = 0) -> None:
        super().__init__(message)
        self.ret_code = ret_code


_ORIGIN = re.compile(r"origin_string\[.*?\]", re.DOTALL)


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` without the signed string Bybit echoes and without any of ``secrets``; at most 300 chars."""
    cleaned = _ORIGIN.sub("origin_string[...]", text)
    for secret in secrets:
        if secret:
            cleaned = cleaned.replace(secret, "***")
    return cleaned if len(cleaned) <= 300 else cleaned[:297] + "..."


def error_for(ret_code: int, message: str, *, path: str, order_entry: bool) -> ExchangeError:
    """The error for a non-zero retCode on ``path``; ``message`` is already scrubbed.

    ``order_entry`` marks create/amend/cancel, whose business errors are order rejections.
    """
    where = f"Bybit {path}"
    if ret_code in RATE_LIMITED:
        return BybitRetryable(f"{where}: rate limited (retCode {ret_code}: {message})", ret_code=ret_code)
    if ret_code in RETRYABLE:
        return BybitRetryable(f"{where}: server busy (retCode {ret_code}: {message})", ret_code=ret_code)
    if ret_code == TIMESTAMP:
        return BybitRetryable(
            f"{where}: timestamp outside the receive window (retCode 10002: {message}); "
            "the clock offset is measured again",
            ret_code=ret_code,
        )
    if ret_code in FATAL:
        return BybitFatal(f"{where}: {FATAL[ret_code]} (retCode {ret_code}: {message})", ret_code=ret_code)
    if order_entry:
        return BybitRejected(f"{message} (Bybit retCode {ret_code})", ret_code=ret_code)
    return BybitRequestError(f"{where} refused: {message} (retCode {ret_code})", ret_code=ret_code)
