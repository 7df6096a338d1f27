"""Faults the fake injects on demand: HTTP errors, rate limits, bans, slow answers, malformed frames.

Each injected fault applies to the next ``count`` matching requests (or frames) and is then used up, so a
test says exactly what goes wrong and can check that nothing else did. Connection drops and skipped book
sequence numbers act at once and live on :class:`~marketmaestro_bybit.testing.FakeBybit`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["Faults", "HttpFault"]


@dataclass
class HttpFault:
    kind: str
    """``status`` (an HTTP error), ``rate_limit`` (retCode 10006 or HTTP 429) or ``delay``."""
    count: int
    path: str | None = None
    """Only requests whose path starts with this (None: every request)."""
    status: int = 503
    http_429: bool = False
    reset_ms: int = 300
    seconds: float = 0.0

    def matches(self, path: str) -> bool:
        return self.count > 0 and (self.path is None or path.startswith(self.path))


@dataclass
class Faults:
    """The faults waiting to happen, and counters of what the fake answered."""

    http: list[HttpFault] = field(default_factory=list)
    banned_until: float = 0.0
    """``time.monotonic()`` until which every REST request gets HTTP 403."""
    ban_retry_after: int | None = None
    malformed: dict[str, int] = field(default_factory=dict)
    """Connection kind (``spot``, ``linear``, ``private``) -> frames still to replace by garbage."""
    answered: dict[str, int] = field(default_factory=dict)
    """What the fake answered, by kind: ``ok``, ``rate_limited``, ``banned``, ``status``, ``refused``."""

    def fail_next(self, count: int = 1, *, status: int = 503, path: str | None = None) -> None:
        """The next ``count`` requests (to ``path``) get HTTP ``status`` (5xx: an upstream failure)."""
        self.http.append(HttpFault("status", count, path, status=status))

    def rate_limit_next(
        self, count: int = 1, *, path: str | None = None, http_429: bool = False, reset_ms: int = 300
    ) -> None:
        """The next ``count`` requests get retCode 10006 (or HTTP 429) with a reset ``reset_ms`` ahead."""
        self.http.append(HttpFault("rate_limit", count, path, http_429=http_429, reset_ms=reset_ms))

    def delay_next(self, count: int = 1, *, seconds: float = 1.0, path: str | None = None) -> None:
        """The next ``count`` requests are answered ``seconds`` late."""
        self.http.append(HttpFault("delay", count, path, seconds=seconds))

    def ban(self, seconds: float, *, retry_after: bool = False) -> None:
        """Every REST request gets HTTP 403 "access too frequent" for ``seconds``."""
        self.banned_until = time.monotonic() + seconds
        self.ban_retry_after = max(1, round(seconds)) if retry_after else None

    def malformed_next(self, count: int = 1, *, kind: str = "spot") -> None:
        """The next ``count`` frames to ``kind`` connections are replaced by text that is not JSON."""
        self.malformed[kind] = self.malformed.get(kind, 0) + count

    def banned(self) -> bool:
        return time.monotonic() < self.banned_until

    def take(self, path: str) -> list[HttpFault]:
        """The faults this request runs into (each used once)."""
        hits: list[HttpFault] = []
        for fault in self.http:
            if fault.matches(path) and all(hit.kind != fault.kind for hit in hits):
                fault.count -= 1
                hits.append(fault)
        self.http = [f for f in self.http if f.count > 0]
        return hits

    def take_malformed(self, kind: str) -> bool:
        left = self.malformed.get(kind, 0)
        if left <= 0:
            return False
        self.malformed[kind] = left - 1
        return True

    def count(self, what: str) -> None:
        self.answered[what] = self.answered.get(what, 0) + 1
