"""Proactive rate limiting: Bybit counts private requests per endpoint in a rolling second.

The documented defaults (per UID, per endpoint, per second) are below; the adapter allows itself a
fraction of each (``rate_limit_headroom``) so that other programs on the same account and clock jitter
leave it under the limit. Market data endpoints only have the IP limit (600 requests per 5 s), which
:data:`IP_LIMIT` keeps for all endpoints together.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import trio

__all__ = ["ENDPOINT_LIMITS", "IP_LIMIT", "EndpointLimiter", "RollingWindow"]

ENDPOINT_LIMITS: dict[tuple[str, str], int] = {
    ("/v5/order/create", "linear"): 10,
    ("/v5/order/create", "spot"): 20,
    ("/v5/order/amend", "linear"): 10,
    ("/v5/order/amend", "spot"): 10,
    ("/v5/order/cancel", "linear"): 10,
    ("/v5/order/cancel", "spot"): 20,
    ("/v5/order/cancel-all", "linear"): 10,
    ("/v5/order/cancel-all", "spot"): 20,
    ("/v5/order/realtime", "*"): 50,
    ("/v5/order/history", "*"): 50,
    ("/v5/execution/list", "*"): 50,
    ("/v5/position/list", "*"): 50,
    ("/v5/account/wallet-balance", "*"): 50,
    ("/v5/account/fee-rate", "*"): 5,
}
"""Requests per second per (path, category); ``*`` for every category."""

IP_LIMIT = (600, 5.0)
"""Requests per window (s) per IP address, over all endpoints."""


class RollingWindow:
    """At most ``limit`` requests in any ``period`` seconds (trio's clock, so tests can jump it).

    A request counts from the moment it is sent until ``period`` after its answer arrived: Bybit counts it
    at some moment in between, so this is the only accounting that never lets a late-arriving burst
    exceed the limit on Bybit's side.
    """

    def __init__(self, limit: int, period: float) -> None:
        if limit < 1 or period <= 0:
            raise ValueError(f"a rolling window needs limit >= 1 and period > 0, got {limit} and {period}")
        self.limit = limit
        self.period = period
        self._ends: list[list[float]] = []
        """Per counted request: [the time it stops counting] (infinite while it is in flight)."""
        self._lock = trio.Lock()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait until one more request fits, count it for the duration of the block and ``period`` after."""
        entry = [math.inf]
        # The lock keeps waiters in arrival order, so a burst drains first-come first-served.
        async with self._lock:
            while True:
                now = trio.current_time()
                self._ends = [end for end in self._ends if end[0] > now]
                if len(self._ends) < self.limit:
                    self._ends.append(entry)
                    break
                await trio.sleep_until(min(end[0] for end in self._ends))
        try:
            yield
        finally:
            entry[0] = trio.current_time() + self.period


class EndpointLimiter:
    """One :class:`RollingWindow` per limited endpoint, plus the IP-wide window."""

    def __init__(self, category: str, headroom: float = 0.8) -> None:
        if not 0 < headroom <= 1:
            raise ValueError(f"headroom must be in (0, 1], got {headroom}")
        self.category = category
        self.headroom = headroom
        self._windows: dict[str, RollingWindow] = {}
        ip_limit, ip_period = IP_LIMIT
        self._ip = RollingWindow(max(1, math.floor(ip_limit * headroom)), ip_period)

    def limit_of(self, path: str) -> int | None:
        """The requests per second the adapter allows itself on ``path`` (None: only the IP limit)."""
        documented = ENDPOINT_LIMITS.get((path, self.category)) or ENDPOINT_LIMITS.get((path, "*"))
        if documented is None:
            return None
        return max(1, math.floor(documented * self.headroom))

    @asynccontextmanager
    async def slot(self, path: str) -> AsyncIterator[None]:
        """Wait until a request to ``path`` is within every limit; send it inside the block."""
        limit = self.limit_of(path)
        async with AsyncExitStack() as stack:
            if limit is not None:
                window = self._windows.get(path)
                if window is None:
                    window = self._windows[path] = RollingWindow(limit, 1.0)
                await stack.enter_async_context(window.slot())
            await stack.enter_async_context(self._ip.slot())
            yield
