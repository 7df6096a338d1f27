"""The fake's market: instruments, an order book per symbol, 1-minute candles and tickers.

The book is a market maker's ladder around the last price (``levels`` ticks apart on each side) plus the
users' resting limit orders. Moving the price (:meth:`FakeMarket.set_price`) rebuilds the ladder around
it. Candles are kept per minute on a timeline that lags real time by ``kline_lag_ms`` (a day by default),
so a test can close many candles quickly and every closed candle still lies in the past of Bybit's clock,
as on the real exchange; longer intervals are built from the minutes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

__all__ = [
    "DEPTHS",
    "INTERVAL_MS",
    "MINUTE_MS",
    "Candle",
    "FakeInstrument",
    "FakeMarket",
    "bucket_start",
    "default_instruments",
    "fmt",
]

DEPTHS = (1, 50, 200, 1000)
MINUTE_MS = 60_000
INTERVAL_MS = {
    "1": 1,
    "3": 3,
    "5": 5,
    "15": 15,
    "30": 30,
    "60": 60,
    "120": 120,
    "240": 240,
    "360": 360,
    "720": 720,
    "D": 1440,
    "W": 10080,
}
"""Bybit interval -> minutes (``M`` has no fixed length and is not served)."""
WEEK_OFFSET_MS = 4 * 86_400_000
"""Weekly candles open on Mondays; 1970-01-01 was a Thursday."""


def fmt(value: Decimal | int) -> str:
    """A number as Bybit writes it: a plain decimal string, never an exponent."""
    return format(value, "f") if isinstance(value, Decimal) else str(value)


@dataclass(frozen=True)
class FakeInstrument:
    symbol: str
    category: str
    base: str
    quote: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal
    price: Decimal
    """The start price."""
    ladder_qty: Decimal
    """Quantity of the market maker's best level on each side; deeper levels hold more."""

    def info(self) -> dict[str, Any]:
        """The ``instruments-info`` item (A6.2)."""
        if self.category == "spot":
            return {
                "symbol": self.symbol,
                "baseCoin": self.base,
                "quoteCoin": self.quote,
                "status": "Trading",
                "marginTrading": "utaOnly",
                "priceFilter": {"tickSize": fmt(self.tick)},
                "lotSizeFilter": {
                    "basePrecision": fmt(self.step),
                    "quotePrecision": "0.0000001",
                    "minOrderQty": fmt(self.min_qty),
                    "maxOrderQty": "1000",
                    "minOrderAmt": fmt(self.min_notional),
                    "maxOrderAmt": "8000000",
                    "maxLimitOrderQty": "1000",
                    "maxMarketOrderQty": "500",
                },
            }
        return {
            "symbol": self.symbol,
            "contractType": "LinearPerpetual",
            "status": "Trading",
            "baseCoin": self.base,
            "quoteCoin": self.quote,
            "settleCoin": self.quote,
            "priceScale": str(-int(self.tick.as_tuple().exponent)),
            "leverageFilter": {"maxLeverage": "100.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": fmt(self.tick), "maxPrice": "1999999.80", "tickSize": fmt(self.tick)},
            "lotSizeFilter": {
                "maxOrderQty": "1190.000",
                "minOrderQty": fmt(self.min_qty),
                "qtyStep": fmt(self.step),
                "maxMktOrderQty": "500.000",
                "minNotionalValue": fmt(self.min_notional),
            },
            "fundingInterval": 480,
        }


def default_instruments() -> list[FakeInstrument]:
    """BTCUSDT and ETHUSDT on spot and linear, with grids like Bybit's."""
    d = Decimal
    return [
        FakeInstrument("BTCUSDT", "spot", "BTC", "USDT", d("0.01"), d("0.000001"), d("0.000048"), d("1"),
                       d("60000"), d("0.5")),
        FakeInstrument("ETHUSDT", "spot", "ETH", "USDT", d("0.01"), d("0.00001"), d("0.00062"), d("1"),
                       d("3000"), d("5")),
        FakeInstrument("BTCUSDT", "linear", "BTC", "USDT", d("0.10"), d("0.001"), d("0.001"), d("5"),
                       d("60000"), d("0.5")),
        FakeInstrument("ETHUSDT", "linear", "ETH", "USDT", d("0.01"), d("0.01"), d("0.01"), d("5"),
                       d("3000"), d("5")),
    ]  # fmt: skip


@dataclass
class Candle:
    start: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = Decimal(0)
    turnover: Decimal = Decimal(0)

    def update(self, price: Decimal, quantity: Decimal = Decimal(0)) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += quantity
        self.turnover += quantity * price

    def row(self) -> list[str]:
        """A REST row ``[start, open, high, low, close, volume, turnover]``."""
        return [str(self.start), *(str(v) for v in (self.open, self.high, self.low, self.close)),
                fmt(self.volume), fmt(self.turnover)]  # fmt: skip

    def ws(self, interval: str, minutes: int, confirm: bool, now: int) -> dict[str, Any]:
        """A WebSocket ``kline`` item."""
        return {
            "start": self.start,
            "end": self.start + minutes * MINUTE_MS - 1,
            "interval": interval,
            "open": fmt(self.open),
            "close": fmt(self.close),
            "high": fmt(self.high),
            "low": fmt(self.low),
            "volume": fmt(self.volume),
            "turnover": fmt(self.turnover),
            "confirm": confirm,
            "timestamp": now,
        }


def bucket_start(start: int, interval: str) -> int:
    span = INTERVAL_MS[interval] * MINUTE_MS
    offset = WEEK_OFFSET_MS if interval == "W" else 0
    return start - (start - offset) % span


@dataclass
class FakeMarket:
    """One symbol of one category: its book, its candles and its ticker fields."""

    instrument: FakeInstrument
    now_ms: int
    levels: int = 10
    history: int = 1500
    kline_lag_ms: int = 86_400_000
    seed: int = 7
    last: Decimal = field(init=False)
    bids: dict[Decimal, Decimal] = field(init=False, default_factory=dict)
    asks: dict[Decimal, Decimal] = field(init=False, default_factory=dict)
    candles: list[Candle] = field(init=False, default_factory=list)
    running: Candle = field(init=False)
    volume_24h: Decimal = field(init=False, default=Decimal(0))
    open_24h: Decimal = field(init=False)

    def __post_init__(self) -> None:
        self.last = self.instrument.price
        self.open_24h = self.last
        self._history()
        self.rebuild()

    def _history(self) -> None:
        """``history`` closed minutes before the running one: a random walk that ends at the price."""
        rng = random.Random(f"{self.seed}:{self.instrument.category}:{self.instrument.symbol}")
        running_start = (self.now_ms - self.kline_lag_ms) // MINUTE_MS * MINUTE_MS
        closes = [self.last]
        for _ in range(self.history):
            closes.append(self.round(closes[-1] * Decimal(str(1 + rng.gauss(0, 0.001)))))
        closes.reverse()  # oldest first, the last one is the current price
        for index in range(self.history):
            open_, close = closes[index], closes[index + 1]
            wiggle = self.instrument.tick * rng.randint(0, 20)
            volume = self.instrument.ladder_qty * Decimal(rng.randint(1, 40))
            candle = Candle(
                running_start - (self.history - index) * MINUTE_MS,
                open_,
                max(open_, close) + wiggle,
                min(open_, close) - wiggle,
                close,
                volume,
                (volume * close).quantize(Decimal("0.0001")),
            )
            self.candles.append(candle)
        self.running = Candle(running_start, self.last, self.last, self.last, self.last)

    def round(self, price: Decimal) -> Decimal:
        tick = self.instrument.tick
        return ((price / tick).quantize(Decimal(1), rounding=ROUND_HALF_EVEN) * tick).quantize(tick)

    # --- the book -----------------------------------------------------------------------------------------

    def rebuild(self) -> None:
        """The market maker's ladder around ``last``: the best bid a tick below, the best ask a tick above."""
        tick, qty = self.instrument.tick, self.instrument.ladder_qty
        self.bids = {self.last - tick * (i + 1): qty * (1 + Decimal(i) / 2) for i in range(self.levels)}
        self.asks = {self.last + tick * (i + 1): qty * (1 + Decimal(i) / 2) for i in range(self.levels)}

    def best_bid(self) -> Decimal | None:
        return max(self.bids) if self.bids else None

    def best_ask(self) -> Decimal | None:
        return min(self.asks) if self.asks else None

    # --- candles ------------------------------------------------------------------------------------------

    def trade(self, price: Decimal, quantity: Decimal) -> None:
        """A trade at ``price``: the last price, the running candle and the day's volume move."""
        self.last = price
        self.running.update(price, quantity)
        self.volume_24h += quantity

    def close_minute(self) -> Candle:
        """Close the running minute and open the next at the last price; the closed candle."""
        closed = self.running
        self.candles.append(closed)
        self.running = Candle(closed.start + MINUTE_MS, self.last, self.last, self.last, self.last)
        return closed

    def aggregate(self, interval: str, *, include_running: bool) -> list[Candle]:
        """Candles of ``interval`` oldest first; a bucket is closed when the running minute is past it."""
        minutes = self.candles + ([self.running] if include_running else [])
        if interval == "1":
            return [Candle(**vars(c)) for c in minutes]
        buckets: dict[int, Candle] = {}
        for minute in minutes:
            start = bucket_start(minute.start, interval)
            bucket = buckets.get(start)
            if bucket is None:
                buckets[start] = Candle(start, minute.open, minute.high, minute.low, minute.close,
                                        minute.volume, minute.turnover)  # fmt: skip
            else:
                bucket.high = max(bucket.high, minute.high)
                bucket.low = min(bucket.low, minute.low)
                bucket.close = minute.close
                bucket.volume += minute.volume
                bucket.turnover += minute.turnover
        running_bucket = bucket_start(self.running.start, interval)
        return [b for start, b in sorted(buckets.items()) if include_running or start < running_bucket]

    def running_candle(self, interval: str) -> Candle:
        return self.aggregate(interval, include_running=True)[-1]

    def ticker(
        self, bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]]
    ) -> dict[str, Any]:
        """The ``tickers`` object (A6.5) with the book's best levels (``bids``/``asks`` best first)."""
        change = (self.last / self.open_24h - 1) if self.open_24h else Decimal(0)
        data = {
            "symbol": self.instrument.symbol,
            "lastPrice": fmt(self.last),
            "bid1Price": fmt(bids[0][0]) if bids else "",
            "bid1Size": fmt(bids[0][1]) if bids else "",
            "ask1Price": fmt(asks[0][0]) if asks else "",
            "ask1Size": fmt(asks[0][1]) if asks else "",
            "prevPrice24h": fmt(self.open_24h),
            "price24hPcnt": fmt(change.quantize(Decimal("0.000001"))),
            "highPrice24h": fmt(max(self.last, self.open_24h)),
            "lowPrice24h": fmt(min(self.last, self.open_24h)),
            "turnover24h": fmt(self.volume_24h * self.last),
            "volume24h": fmt(self.volume_24h),
        }
        if self.instrument.category == "linear":
            data |= {
                "indexPrice": fmt(self.last),
                "markPrice": fmt(self.last),
                "prevPrice1h": fmt(self.open_24h),
                "openInterest": "0",
                "openInterestValue": "0",
                "fundingRate": "0.0001",
                "nextFundingTime": str((self.now_ms // 28_800_000 + 1) * 28_800_000),
                "fundingIntervalHour": "8",
                "fundingCap": "0.005",
            }
        else:
            data["usdIndexPrice"] = fmt(self.last)
        return data
