"""Closed klines from Bitvavo's candle stream, never twice and never out of order.

Bitvavo pushes the current candle after every trade; a candle is closed once a later one appears or its
interval is over. :class:`KlineTracker` keeps, per (symbol, interval), the open candle and the open time of
the last closed candle handed on, and drops anything not newer, so a reconnect (which replays the current
candle, and after which missed candles are fetched over REST) can neither repeat nor reorder a kline.
"""

from __future__ import annotations

from marketmaestro.model import Kline, interval_seconds

CLOSE_GRACE_MS = 2_000
"""How long after its interval ends an open candle is taken as closed without a newer one (late trades)."""


class KlineTracker:
    def __init__(self) -> None:
        self.last_emitted: dict[tuple[str, str], int] = {}
        self.open: dict[tuple[str, str], Kline] = {}

    def accept(self, kline: Kline) -> bool:
        """Whether a closed ``kline`` is newer than the last one handed on (and note it if so)."""
        key = (kline.symbol, kline.interval)
        if kline.timestamp <= self.last_emitted.get(key, -1):
            return False
        self.last_emitted[key] = kline.timestamp
        return True

    def on_candle(self, kline: Kline) -> list[Kline]:
        """The closed klines to hand on after candle ``kline`` (open, closed=False) arrived."""
        key = (kline.symbol, kline.interval)
        current = self.open.get(key)
        out: list[Kline] = []
        if current is not None and kline.timestamp < current.timestamp:
            return out  # a stale candle
        if current is not None and kline.timestamp > current.timestamp:
            out.append(_closed(current))
        if kline.timestamp > self.last_emitted.get(key, -1):
            self.open[key] = kline
        return [k for k in out if self.accept(k)]

    def close_due(self, now_ms: int) -> list[Kline]:
        """Open candles whose interval ended (plus a grace) by ``now_ms``, closed."""
        out = []
        for key, kline in list(self.open.items()):
            if kline.timestamp + interval_seconds(kline.interval) * 1000 + CLOSE_GRACE_MS <= now_ms:
                del self.open[key]
                closed = _closed(kline)
                if self.accept(closed):
                    out.append(closed)
        return out


def _closed(kline: Kline) -> Kline:
    return Kline(
        kline.symbol,
        kline.interval,
        kline.timestamp,
        kline.open,
        kline.high,
        kline.low,
        kline.close,
        kline.volume,
        True,
    )
