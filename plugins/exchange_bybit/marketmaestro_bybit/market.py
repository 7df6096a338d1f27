"""Bybit's public REST market data: server time, instruments, klines and the last price."""

from __future__ import annotations

from decimal import Decimal

from marketmaestro.exchanges.kline_pages import oldest_klines
from marketmaestro.model import Instrument, Kline, interval_seconds
from marketmaestro_bybit.convert import bybit_interval, decimal, parse_instrument, parse_kline_row
from marketmaestro_bybit.errors import BybitRequestError
from marketmaestro_bybit.rest import BybitRest

__all__ = ["MAX_KLINES", "MarketData"]

MAX_KLINES = 1000
"""Bybit's largest ``limit`` of ``/v5/market/kline``."""


class MarketData:
    """Public market data of one category; no credentials needed."""

    def __init__(self, rest: BybitRest, category: str) -> None:
        self.rest = rest
        self.category = category

    async def server_time(self) -> int:
        result = await self.rest.get("/v5/market/time", {})
        return int(result["timeNano"]) // 1_000_000

    async def instruments(self) -> dict[str, Instrument]:
        """Every trading instrument of the category (linear has several pages)."""
        found: dict[str, Instrument] = {}
        cursor: str | None = None
        for _ in range(100):
            params = {"category": self.category, "limit": MAX_KLINES if self.category == "linear" else None}
            result = await self.rest.get("/v5/market/instruments-info", {**params, "cursor": cursor})
            for item in result.get("list") or []:
                if item.get("status", "Trading") == "Trading":
                    instrument = parse_instrument(item, self.category)
                    found[instrument.symbol] = instrument
            cursor = result.get("nextPageCursor") or None
            if not cursor:
                return found
        raise BybitRequestError("Bybit /v5/market/instruments-info: more than 100 pages")

    async def last_price(self, symbol: str) -> Decimal | None:
        result = await self.rest.get("/v5/market/tickers", {"category": self.category, "symbol": symbol})
        for item in result.get("list") or []:
            if item.get("symbol") == symbol:
                price = decimal(item.get("lastPrice"))
                return price if price is not None and price > 0 else None
        return None

    async def klines(
        self, symbol: str, interval: str, limit: int, *, start: int | None = None, end: int | None = None
    ) -> list[Kline]:
        """Closed klines, oldest first (see ``Exchange.klines``); the running candle is never included.

        With ``start``/``end``: the oldest ``limit`` in the range, however long it is and whatever stretches
        without klines it holds (Bybit answers the newest of a range; ``oldest_klines`` pages its windows).
        """
        if limit <= 0:
            return []
        span = interval_seconds(interval) * 1000
        # A candle is closed once its whole interval lies in the past of Bybit's clock.
        newest_closed = self.rest.server_now() - span
        if start is None and end is None:
            return await self._latest(symbol, interval, limit, newest_closed)
        first = start if start is not None else 0
        last = min(end if end is not None else newest_closed, newest_closed)

        async def fetch(low: int, high: int, count: int) -> list[Kline]:
            return await self._rows(symbol, interval, low, high, count)

        return await oldest_klines(fetch, first, last, limit, step=span, per_request=MAX_KLINES)

    async def _latest(self, symbol: str, interval: str, limit: int, newest_closed: int) -> list[Kline]:
        collected: dict[int, Kline] = {}
        end = newest_closed
        while len(collected) < limit:
            want = min(MAX_KLINES, limit - len(collected))
            rows = await self._rows(symbol, interval, None, end, want)
            rows = [k for k in rows if k.timestamp <= newest_closed]
            if not rows:
                break
            for kline in rows:
                collected[kline.timestamp] = kline
            end = min(k.timestamp for k in rows) - 1
        return sorted(collected.values(), key=lambda k: k.timestamp)[-limit:]

    async def _rows(self, symbol: str, interval: str, start: int | None, end: int, limit: int) -> list[Kline]:
        params = {
            "category": self.category,
            "symbol": symbol,
            "interval": bybit_interval(interval),
            "start": start,
            "end": end,
            "limit": limit,
        }
        result = await self.rest.get("/v5/market/kline", params)
        return [parse_kline_row(symbol, interval, row) for row in result.get("list") or []]
