"""Where the paper exchange's market comes from: its own simulator, or another exchange's public data.

Both sources answer the same questions (:class:`PaperMarket`): which instruments there are, the klines
history, the stream of market data, and the price a market order fills at now. The account side of the
paper exchange (``exchange.py``) does not care which one it trades against.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import trio

from marketmaestro.exchanges.base import Exchange, Subscription
from marketmaestro.exchanges.errors import FatalExchangeError
from marketmaestro.exchanges.paper.options import PaperOptions, split_symbol
from marketmaestro.exchanges.paper.simulator import (
    CsvFormatError,
    MarketSimulator,
    RandomWalk,
    read_klines_csv,
)
from marketmaestro.logs import log_event
from marketmaestro.messages import (
    KlineDataMsg,
    MarketDataMsg,
    OrderBookDataMsg,
    TickerDataMsg,
    TradeDataMsg,
)
from marketmaestro.model import Instrument, Kline, OrderBook, Side, interval_seconds, now_ms

FEED_BUFFER = 1024
"""Messages of the feed waiting to be looked at; the feed waits when they pile up (backpressure)."""


@dataclass(frozen=True)
class Reach:
    """How far the market of ``symbol`` went, for resting limit orders: a buy limit at or above ``low``
    fills, at ``buy_open`` when that is below its limit (the market gapped through it); a sell limit at or
    below ``high`` fills, at ``sell_open`` when that is above its limit. A kline reaches its low and high
    from its open; a book or ticker reaches its ask (for buys) and bid (for sells); a trade its price."""

    symbol: str
    low: float | None
    buy_open: float | None
    high: float | None
    sell_open: float | None

    @classmethod
    def of_kline(cls, kline: Kline) -> Reach:
        return cls(kline.symbol, kline.low, kline.open, kline.high, kline.open)

    @classmethod
    def of_quote(cls, symbol: str, bid: float | None, ask: float | None) -> Reach:
        return cls(symbol, ask, ask, bid, bid)


Listener = Callable[[Reach], Awaitable[None]]
"""What a market calls with each move it sees (the paper account matching its resting orders)."""


async def _ignore(reach: Reach) -> None:
    return None


class PaperMarket(Protocol):
    """A market the paper account trades against. ``listener`` is called with every move it streams."""

    listener: Listener

    async def connect(self, pairs: set[str]) -> dict[str, Instrument]:
        """Get ready; the instruments. ``FatalExchangeError`` when a configured pair is not on offer."""

    async def disconnect(self) -> None: ...

    async def klines(
        self, symbol: str, interval: str, limit: int, *, start: int | None, end: int | None
    ) -> list[Kline]:
        """As :meth:`Exchange.klines`."""

    async def stream(
        self,
        subscription: Subscription,
        send: trio.MemorySendChannel[MarketDataMsg],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """As :meth:`Exchange.stream`."""

    async def price(self, symbol: str, side: Side) -> float | None:
        """What a market order of ``side`` fills at now (best ask for buys, best bid for sells), or None."""

    async def server_time(self) -> int: ...

    def describe(self) -> dict[str, Any]: ...


def _select(range_klines: list[Kline], limit: int, start: int | None, end: int | None) -> list[Kline]:
    """``limit`` klines of ``range_klines`` (oldest first): the earliest in [start, end] when a bound is
    given, else the latest."""
    if limit <= 0:
        return []
    if start is None and end is None:
        return range_klines[-limit:]
    low = start if start is not None else -1
    high = end if end is not None else 2**63
    return [k for k in range_klines if low <= k.timestamp <= high][:limit]


class SimulatedMarket:
    """Random walks and CSV replays (see :mod:`marketmaestro.exchanges.paper.simulator`)."""

    def __init__(self, name: str, options: PaperOptions, config_dir: Path) -> None:
        self.name = name
        self.options = options
        self.listener: Listener = _ignore
        self._books: dict[str, OrderBook] = {}
        self._history: dict[str, list[Kline]] = {}
        self._sim = self._build(config_dir)

    def _build(self, config_dir: Path) -> MarketSimulator:
        opts = self.options
        interval_ms = interval_seconds(opts.interval) * 1000
        replays = {}
        history: dict[str, list[Kline]] = {}
        for symbol, raw_path in opts.csv.items():
            path = raw_path if raw_path.is_absolute() else config_dir / raw_path
            if not path.is_file():
                raise FatalExchangeError(f"exchanges.{self.name}.options.csv.{symbol}: no such file {path}")
            try:
                # Read whole, so a bad row stops the start with its line number instead of the run later.
                rows = list(read_klines_csv(path, symbol, opts.interval))
            except CsvFormatError as exc:
                raise FatalExchangeError(f"exchanges.{self.name}.options.csv.{symbol}: {exc}") from None
            history[symbol] = rows[: opts.warmup]
            replays[symbol] = iter(rows[opts.warmup :])
        walks = {
            symbol: RandomWalk(symbol, price, opts.volatility, opts.seed)
            for symbol, price in opts.symbols.items()
            if symbol not in replays
        }
        start_ms = (now_ms() // interval_ms - opts.warmup) * interval_ms
        sim = MarketSimulator(
            interval=opts.interval,
            interval_ms=interval_ms,
            start_ms=start_ms,
            walks=walks,
            replays=replays,
            depth=opts.book_depth,
            spread_bps=opts.spread_bps,
        )
        # The random walks' warm-up is simulated here, so it is the same history every start with one seed.
        for _ in range(opts.warmup if walks else 0):
            for kline in sim.step(walks_only=True):
                history.setdefault(kline.symbol, []).append(kline)
        for symbol, klines in history.items():
            if klines:
                sim.last[symbol] = klines[-1]
        self._history = history
        return sim

    async def connect(self, pairs: set[str]) -> dict[str, Instrument]:
        missing = sorted(pairs - set(self._sim.symbols))
        if missing:
            raise FatalExchangeError(
                f"exchanges.{self.name}: pair(s) {', '.join(missing)} are not simulated; add them to "
                f"exchanges.{self.name}.options.symbols with a start price (or to options.csv)"
            )
        instruments = {}
        for symbol in self._sim.symbols:
            base, quote = split_symbol(symbol)
            instruments[symbol] = Instrument(
                symbol=symbol,
                base=base,
                quote=quote,
                tick_size=self.options.tick_size,
                step_size=self.options.step_size,
                min_quantity=self.options.step_size,
                min_notional=self.options.min_notional,
            )
            if symbol in self._sim.last:
                self._books[symbol] = self._sim.orderbook(symbol)
        return instruments

    async def disconnect(self) -> None:
        return None

    async def klines(
        self, symbol: str, interval: str, limit: int, *, start: int | None, end: int | None
    ) -> list[Kline]:
        base = self._history.get(symbol, [])
        factor = self._factor(interval)
        klines = base if factor == 1 else _aggregate(base, interval, factor, self._sim.interval_ms)
        return _select(klines, limit, start, end)

    def _factor(self, interval: str) -> int:
        wanted, base = interval_seconds(interval), interval_seconds(self.options.interval)
        if wanted % base:
            raise FatalExchangeError(
                f"the paper exchange {self.name!r} simulates {self.options.interval} klines; "
                f"interval {interval} is not a multiple of it"
            )
        return wanted // base

    async def stream(
        self,
        subscription: Subscription,
        send: trio.MemorySendChannel[MarketDataMsg],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        factors = {(symbol, interval): self._factor(interval) for symbol, interval in subscription.klines}
        pending: dict[tuple[str, str], list[Kline]] = {key: [] for key in factors}
        task_status.started()
        deadline = trio.current_time()
        while not self._sim.exhausted:
            deadline += self.options.kline_seconds
            await trio.sleep_until(deadline)
            for kline in self._sim.step():
                book = self._sim.orderbook(kline.symbol)
                self._books[kline.symbol] = book
                await self.listener(Reach.of_kline(kline))
                for (symbol, interval), factor in factors.items():
                    if symbol != kline.symbol:
                        continue
                    if factor == 1:
                        await send.send(KlineDataMsg(self.name, kline))
                        continue
                    bucket = pending[(symbol, interval)]
                    bucket.append(kline)
                    bucket_ms = factor * self._sim.interval_ms
                    if (kline.timestamp + self._sim.interval_ms) % bucket_ms == 0:
                        if len(bucket) == factor:
                            await send.send(KlineDataMsg(self.name, _merge(bucket, interval)))
                        bucket.clear()
                if kline.symbol in subscription.orderbooks:
                    await send.send(OrderBookDataMsg(self.name, book))
                if kline.symbol in subscription.tickers:
                    await send.send(TickerDataMsg(self.name, self._sim.ticker(kline.symbol, book)))
        log_event("paper_exchange.replay_finished", exchange=self.name, symbols=self._sim.symbols)
        await trio.sleep_forever()

    async def price(self, symbol: str, side: Side) -> float | None:
        book = self._books.get(symbol)
        if book is None:
            return None
        return book.best_ask if side is Side.BUY else book.best_bid

    async def server_time(self) -> int:
        return now_ms()

    def describe(self) -> dict[str, Any]:
        return {"symbols": self._sim.symbols, "replay_finished": self._sim.exhausted}


class FeedMarket:
    """Another exchange's public market data: paper trading on a live venue's prices.

    The feed's stream is asked for tickers of every subscribed symbol on top of the subscription, so fills
    happen at the venue's best bid and ask; only what was subscribed is passed on, public trades included
    when the feed declares ``public_trades``. Before the stream has delivered a price for a symbol, an order
    fills at the close of the feed's latest 1m kline.
    """

    def __init__(self, name: str, feed: Exchange) -> None:
        self.name = name
        self.feed = feed
        self.listener: Listener = _ignore
        self._quotes: dict[str, tuple[float | None, float | None]] = {}
        self._closes: dict[str, float] = {}

    async def connect(self, pairs: set[str]) -> dict[str, Instrument]:
        await self.feed.connect()
        instruments = await self.feed.instruments()
        missing = sorted(pairs - set(instruments))
        if missing:
            raise FatalExchangeError(
                f"exchanges.{self.name}: pair(s) {', '.join(missing)} are not listed by the feed "
                f"{self.feed.name!r}"
            )
        return instruments

    async def disconnect(self) -> None:
        await self.feed.disconnect()

    async def klines(
        self, symbol: str, interval: str, limit: int, *, start: int | None, end: int | None
    ) -> list[Kline]:
        return await self.feed.klines(symbol, interval, limit, start=start, end=end)

    async def stream(
        self,
        subscription: Subscription,
        send: trio.MemorySendChannel[MarketDataMsg],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        asked = Subscription(
            klines=subscription.klines,
            tickers=subscription.tickers | subscription.symbols,
            orderbooks=subscription.orderbooks,
            trades=subscription.trades,
        )
        feed_send, feed_receive = trio.open_memory_channel[MarketDataMsg](FEED_BUFFER)
        async with trio.open_nursery() as nursery:
            await nursery.start(self._run_feed, asked, feed_send)
            task_status.started()
            async for msg in feed_receive:
                reach = self._note(msg)
                if reach is not None:
                    await self.listener(reach)
                if _subscribed(msg, subscription):
                    await send.send(replace(msg, exchange=self.name))

    async def _run_feed(
        self,
        subscription: Subscription,
        send: trio.MemorySendChannel[MarketDataMsg],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        await self.feed.stream(subscription, send, task_status=task_status)
        # A stream only ends by failing; one that returns would leave the paper exchange without prices.
        raise ConnectionError(f"the market data stream of feed {self.feed.name!r} ended")

    def _note(self, msg: MarketDataMsg) -> Reach | None:
        """Keep the latest prices of ``msg``'s symbol for fills; how far ``msg`` says the market went."""
        match msg:
            case OrderBookDataMsg(orderbook=book):
                self._quotes[book.symbol] = (book.best_bid, book.best_ask)
                return Reach.of_quote(book.symbol, book.best_bid, book.best_ask)
            case TickerDataMsg(ticker=ticker):
                self._quotes[ticker.symbol] = (ticker.bid, ticker.ask)
                return Reach.of_quote(ticker.symbol, ticker.bid, ticker.ask)
            case KlineDataMsg(kline=kline):
                self._closes[kline.symbol] = kline.close
                return Reach.of_kline(kline)
            case TradeDataMsg(trade=trade):
                return Reach.of_quote(trade.symbol, float(trade.price), float(trade.price))
        return None

    async def price(self, symbol: str, side: Side) -> float | None:
        bid, ask = self._quotes.get(symbol, (None, None))
        level = ask if side is Side.BUY else bid
        if level is not None and level > 0:
            return level
        if symbol in self._closes:
            return self._closes[symbol]
        latest = await self.feed.klines(symbol, "1m", 1)
        return latest[-1].close if latest else None

    async def server_time(self) -> int:
        return await self.feed.server_time()

    def describe(self) -> dict[str, Any]:
        return {"feed": self.feed.describe()}


def _subscribed(msg: MarketDataMsg, subscription: Subscription) -> bool:
    match msg:
        case KlineDataMsg(kline=kline):
            return (kline.symbol, kline.interval) in subscription.klines
        case TickerDataMsg(ticker=ticker):
            return ticker.symbol in subscription.tickers
        case OrderBookDataMsg(orderbook=book):
            return book.symbol in subscription.orderbooks
        case TradeDataMsg(trade=trade):
            return trade.symbol in subscription.trades
    return False


def _merge(klines: list[Kline], interval: str) -> Kline:
    first, last = klines[0], klines[-1]
    return Kline(
        symbol=first.symbol,
        interval=interval,
        timestamp=first.timestamp,
        open=first.open,
        high=max(k.high for k in klines),
        low=min(k.low for k in klines),
        close=last.close,
        volume=sum(k.volume for k in klines),
        closed=True,
    )


def _aggregate(klines: list[Kline], interval: str, factor: int, base_ms: int) -> list[Kline]:
    """Whole buckets of ``factor`` base klines, aligned to the bucket length."""
    bucket_ms = factor * base_ms
    buckets: dict[int, list[Kline]] = {}
    for kline in klines:
        buckets.setdefault(kline.timestamp - kline.timestamp % bucket_ms, []).append(kline)
    return [_merge(group, interval) for _, group in sorted(buckets.items()) if len(group) == factor]


def price_decimal(level: float) -> Decimal:
    """A float price as the Decimal it prints as (``repr``), so 20011.3 is 20011.3, not its binary value."""
    return Decimal(repr(level))
