"""Closed klines: from Bitvavo's candle stream never twice and never out of order, and over REST in ranges.

Bitvavo pushes the current candle after every trade; a candle is closed once a later one appears or its
interval is over. :class:`KlineTracker` keeps, per (symbol, interval), the open candle and the open time of
the last closed candle handed on, and drops anything not newer, so a reconnect (which replays the current
candle, and after which missed candles are fetched over REST) can neither repeat nor reorder a kline.

:func:`candles_in_range` answers ``Exchange.klines`` with ``start``/``end``: the oldest closed candles of a
range of any length, although ``/{market}/candles`` answers the newest of a range first and has no row for
an interval without trades.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from marketmaestro.exchanges.kline_pages import oldest_klines
from marketmaestro.model import Kline, interval_seconds
from marketmaestro_bitvavo.convert import to_kline
from marketmaestro_bitvavo.markets import bitvavo_interval

if TYPE_CHECKING:
    from marketmaestro_bitvavo.rest import RestClient

CANDLES_MAX = 1440
"""Bitvavo's largest ``limit`` of ``/{market}/candles``."""
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


async def candles_in_range(
    rest: RestClient, market: str, symbol: str, interval: str, limit: int, start: int | None, end: int | None
) -> list[Kline]:
    """The oldest ``limit`` closed candles of ``market`` opening in ``[start, end]`` (ms), oldest first; the
    range may span any number of requests and stretches without trades (see ``oldest_klines``)."""
    step = interval_seconds(interval) * 1000
    newest_closed = rest.now_ms() - step  # a candle is closed once its interval lies in the server's past
    last = newest_closed if end is None else min(end, newest_closed)

    async def fetch(low: int, high: int, count: int) -> list[Kline]:
        params: dict[str, str | int | None] = {
            "interval": bitvavo_interval(interval),
            "start": low,
            "end": high,
            "limit": count,
        }
        rows = await rest.request("GET", f"/{market}/candles", params=params)
        return [to_kline(row, symbol, interval) for row in rows]

    return await oldest_klines(fetch, start or 0, last, limit, step=step, per_request=CANDLES_MAX)
