"""Bitvavo's weight budget, kept proactively and corrected by the exchange's headers.

Every REST endpoint costs a weight (``WEIGHTS``); an account (or IP) may spend ``limit`` points per minute.
The budget counts down locally, adopts ``bitvavo-ratelimit-remaining``/``-resetat``/``-limit`` from each
response, waits for the reset when a request would overdraw it (up to ``max_wait`` seconds, else
:class:`~marketmaestro_bitvavo.errors.RetryLater`), and refuses every request while a ban (error 105) lasts,
so a ban is never extended by retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import trio

from marketmaestro_bitvavo.errors import RetryLater

WINDOW_MS = 60_000

WEIGHTS: dict[tuple[str, str], int] = {
    ("GET", "/time"): 1,
    ("GET", "/markets"): 1,
    ("GET", "/assets"): 1,
    ("GET", "/book"): 1,
    ("GET", "/candles"): 1,
    ("GET", "/ticker/price"): 1,
    ("GET", "/ticker/book"): 1,
    ("GET", "/ticker/24h"): 1,
    ("GET", "/public-trades"): 5,
    ("POST", "/order"): 1,
    ("PUT", "/order"): 1,
    ("GET", "/order"): 1,
    ("DELETE", "/order"): 1,
    ("DELETE", "/orders"): 1,
    ("GET", "/orders"): 5,
    ("GET", "/ordersOpen"): 1,
    ("GET", "/trades"): 5,
    ("GET", "/balance"): 5,
    ("GET", "/account"): 1,
    ("GET", "/account/fees"): 1,
}
"""Weight per (method, endpoint). ``/{market}/book``, ``/{market}/candles`` and ``/{market}/trades`` are
keyed ``/book``, ``/candles`` and ``/public-trades``. Cancels are "N/A" in the docs: counted as 1 here."""


def weight_of(method: str, path: str, params: Mapping[str, object] | None = None) -> int:
    """The weight of a request to ``path`` (relative to ``/v2``)."""
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[1] in ("book", "candles", "trades") and "-" in parts[0]:
        key = "/public-trades" if parts[1] == "trades" else f"/{parts[1]}"
    else:
        key = "/" + "/".join(parts)
    weight = WEIGHTS.get((method.upper(), key), 1)
    without_market = not (params or {}).get("market")
    if key == "/ticker/24h" and without_market:
        return 25
    if key == "/ordersOpen" and without_market:
        return 25
    return weight


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class WeightBudget:
    """Weight points left in the current minute, and any ban in force."""

    def __init__(
        self, limit: int = 1000, *, max_wait: float = 5.0, clock: Callable[[], int] = wall_ms
    ) -> None:
        self.limit = limit
        self.max_wait = max_wait
        self.clock = clock
        self.remaining = limit
        self.reset_at = 0
        self.banned_until = 0

    def _roll(self, now: int) -> None:
        if now >= self.reset_at:
            self.remaining = self.limit
            self.reset_at = now + WINDOW_MS

    def wait_needed(self, weight: int) -> float:
        """Seconds until ``weight`` points may be spent (0 when now)."""
        now = self.clock()
        if now < self.banned_until:
            return (self.banned_until - now) / 1000
        self._roll(now)
        if self.remaining >= weight:
            return 0.0
        return (self.reset_at - now) / 1000

    async def acquire(self, weight: int, what: str) -> None:
        """Spend ``weight`` points, waiting for the reset if it comes within ``max_wait`` seconds."""
        now = self.clock()
        if now < self.banned_until:
            wait = (self.banned_until - now) / 1000
            raise RetryLater(f"Bitvavo {what}: rate-limit ban in force for {wait:.1f} s more", wait)
        wait = self.wait_needed(weight)
        if wait > self.max_wait:
            raise RetryLater(
                f"Bitvavo {what}: weight budget spent ({self.remaining} of {self.limit} left), "
                f"resets in {wait:.1f} s",
                wait,
            )
        if wait > 0:
            await trio.sleep(wait)
            self._roll(self.clock())
        self.remaining -= weight

    def update(self, headers: Mapping[str, str]) -> None:
        """Adopt the exchange's own count from a response's rate-limit headers."""
        limit = headers.get("bitvavo-ratelimit-limit")
        remaining = headers.get("bitvavo-ratelimit-remaining")
        reset_at = headers.get("bitvavo-ratelimit-resetat")
        if limit is not None and limit.isdigit():
            self.limit = int(limit)
        if remaining is not None and remaining.lstrip("-").isdigit():
            self.remaining = int(remaining)
        if reset_at is not None and reset_at.isdigit():
            self.reset_at = int(reset_at)

    def ban(self, until_ms: int) -> None:
        """Refuse requests until ``until_ms`` (epoch ms), the expiry a 105 error announced."""
        self.banned_until = max(self.banned_until, until_ms)
        self.remaining = 0
        self.reset_at = max(self.reset_at, until_ms)
