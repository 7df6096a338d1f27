"""Wall-clock helpers. All timestamps in MarketMaestro are UTC epoch milliseconds."""

from __future__ import annotations

import time as _time


def now_ms() -> int:
    """The current UTC time in epoch milliseconds."""
    return _time.time_ns() // 1_000_000
