"""``scripted``: an exchange plugin for tests that serves public market data from a known price path.

It implements the real exchange interface and registers through the real hook, like any exchange plugin,
so the paper exchange can use it as its ``feed`` and ``mm data download`` can page through its history.
Everything it serves follows from the timestamp alone, so tests compute what must arrive independently:

- the price at time ``t`` (ms) is :func:`price_at` (a sine wave around ``base_price``, on the 0.01 grid);
- the kline that opens at ``ts`` runs from ``price_at(ts)`` to ``price_at(ts + interval)``;
- the best bid and ask are the price minus and plus ``half_spread``;
- one public trade a minute: at ``price_at(t)``, of ``TRADE_QUANTITY``, taken by a buyer when the price rose
  since the minute before (else by a seller), with the id ``<symbol>-<t>``.

Its clock is virtual: it starts at the current minute and moves one minute per :meth:`advance` (driven by
``stream`` every ``kline_seconds``, or by the test when ``kline_seconds`` is 0). Klines exist up to the
virtual time, minus the ``gaps`` ranges, which have none (as on an exchange that skips intervals without
trades). It is a public-data feed: every private call raises and is counted in ``private_calls``.

In a subprocess it is installed as the module ``mmtest_scripted`` with an entry point (see
``install_scripted``), so the real ``mm`` finds it exactly as it finds a pip-installed plugin.
"""

from __future__ import annotations

import itertools
import math
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import trio
from pydantic import BaseModel, ConfigDict, Field

from marketmaestro import hookimpl
from marketmaestro.exchanges import (
    Exchange,
    ExchangeContext,
    FatalExchangeError,
    OrderResult,
    Subscription,
)
from marketmaestro.exchanges.paper import PaperExchange
from marketmaestro.messages import (
    KlineDataMsg,
    MarketDataMsg,
    OrderBookDataMsg,
    TickerDataMsg,
    TradeDataMsg,
)
from marketmaestro.model import (
    Balance,
    Instrument,
    Kline,
    Order,
    OrderBook,
    Position,
    Side,
    Ticker,
    Trade,
    interval_seconds,
    now_ms,
)
from marketmaestro.plugins.registry import RegisterExchange

MINUTE_MS = 60_000
TRADE_QUANTITY = Decimal("0.01")
PLUGIN_NAME = "scripted"
MODULE_NAME = "mmtest_scripted"


class ScriptedOptions(BaseModel):
    """``exchanges.<key>.options`` (or ``feed_options``) of the scripted exchange."""

    model_config = ConfigDict(extra="forbid")

    symbols: list[str] = Field(default_factory=lambda: ["BTCUSDT", "ETHUSDT"])
    base_price: float = Field(31337.0, gt=1000)
    amplitude: float = Field(150.0, ge=0)
    period_minutes: float = Field(37.0, gt=0)
    half_spread: float = Field(1.25, gt=0)
    kline_seconds: float = Field(0.05, ge=0)
    """Wall-clock seconds per virtual minute in ``stream``; 0: only :meth:`ScriptedExchange.advance` moves."""
    page_limit: int = Field(200, ge=1)
    """The most klines one ``klines`` call returns (as an exchange's per-request maximum)."""
    gaps: list[tuple[int, int]] = Field(default_factory=list)
    """[start, end) ranges of open times (ms) without klines."""
    intervals: list[str] = Field(default_factory=lambda: ["1m", "5m", "15m", "1h", "1d"])
    start_ms: int | None = None
    """The virtual clock's start (ms, a whole minute); default: the current minute."""


def price_at(options: ScriptedOptions, symbol: str, t: int) -> float:
    """The scripted price of ``symbol`` at time ``t`` (ms): on the 0.01 grid, different per symbol."""
    offset = (sum(symbol.encode()) % 7) * 1000.0
    wave = math.sin(2 * math.pi * t / (options.period_minutes * MINUTE_MS))
    return round(options.base_price + offset + options.amplitude * wave, 2)


def scripted_kline(options: ScriptedOptions, symbol: str, interval: str, ts: int) -> Kline:
    """The kline of ``symbol`` that opens at ``ts``."""
    length = interval_seconds(interval) * 1000
    open_, close = price_at(options, symbol, ts), price_at(options, symbol, ts + length)
    volume = 1.0 + (ts // length) % 7
    return Kline(symbol, interval, ts, open_, max(open_, close) + 0.5, min(open_, close) - 0.5, close, volume)


def scripted_book(options: ScriptedOptions, symbol: str, t: int, price: float | None = None) -> OrderBook:
    """The book at time ``t``: three levels each side, the best ``half_spread`` from the price."""
    mid = price_at(options, symbol, t) if price is None else price
    bids = tuple((round(mid - options.half_spread - 0.5 * i, 2), 1.0 + i) for i in range(3))
    asks = tuple((round(mid + options.half_spread + 0.5 * i, 2), 1.0 + i) for i in range(3))
    return OrderBook(symbol, t, bids, asks)


def in_gap(options: ScriptedOptions, ts: int) -> bool:
    return any(start <= ts < end for start, end in options.gaps)


def scripted_trade(options: ScriptedOptions, symbol: str, t: int) -> Trade:
    """The public trade of minute ``t``."""
    price, before = price_at(options, symbol, t), price_at(options, symbol, t - MINUTE_MS)
    side = Side.BUY if price >= before else Side.SELL
    return Trade(symbol, f"{symbol}-{t}", Decimal(repr(price)), TRADE_QUANTITY, side, t)


class ScriptedExchange(Exchange):
    """The scripted public-data exchange (see the module docstring)."""

    capabilities = {**Exchange.capabilities, "public_trades": True}

    def __init__(self, context: ExchangeContext) -> None:
        super().__init__(context)
        options = context.options if isinstance(context.options, ScriptedOptions) else ScriptedOptions()
        self.options = options
        self.now = options.start_ms if options.start_ms is not None else now_ms() // MINUTE_MS * MINUTE_MS
        """The virtual time (ms): every kline that closed by then exists."""
        self.pinned: float | None = None
        """A price set by :meth:`set_price`, which replaces the path from then on."""
        self.connected = False
        self.connects = 0
        self.klines_calls = 0
        self.private_calls: list[str] = []
        self._listeners: list[tuple[Subscription, trio.MemorySendChannel[MarketDataMsg]]] = []

    async def connect(self) -> None:
        self.connects += 1
        self.connected = True

    async def disconnect(self) -> None:
        self.connected = False

    def is_connected(self) -> bool:
        return self.connected

    async def instruments(self) -> dict[str, Instrument]:
        return {
            s: Instrument(
                s, s[:-4], s[-4:], Decimal("0.01"), Decimal("0.0001"), Decimal("0.0001"), Decimal(5)
            )
            for s in self.options.symbols
        }

    def price(self, symbol: str) -> float:
        return self.pinned if self.pinned is not None else price_at(self.options, symbol, self.now)

    def _check(self, symbol: str, interval: str) -> int:
        if symbol not in self.options.symbols:
            raise ValueError(f"scripted lists {', '.join(self.options.symbols)}; not {symbol!r}")
        if interval not in self.options.intervals:
            raise ValueError(f"scripted serves {', '.join(self.options.intervals)} klines; not {interval!r}")
        return interval_seconds(interval) * 1000

    def _opens(self, length: int, low: int, high: int) -> Iterator[int]:
        """Open times on the interval grid within [low, high] of klines closed by ``now``, not in a gap."""
        ts = -(-low // length) * length
        last = min(high, self.now - length)
        while ts <= last:
            if not in_gap(self.options, ts):
                yield ts
            ts += length

    async def klines(
        self, symbol: str, interval: str, limit: int, *, start: int | None = None, end: int | None = None
    ) -> list[Kline]:
        self.klines_calls += 1
        length = self._check(symbol, interval)
        count = min(limit, self.options.page_limit)
        if count <= 0:
            return []
        if start is None and end is None:
            # The latest ``count``: walk back from now (gaps make the window longer).
            stamps: list[int] = []
            ts = (self.now - length) // length * length
            while len(stamps) < count and ts > self.now - 1000 * count * length:
                if not in_gap(self.options, ts):
                    stamps.append(ts)
                ts -= length
            return [scripted_kline(self.options, symbol, interval, t) for t in reversed(stamps)]
        opens = self._opens(length, start if start is not None else 0, end if end is not None else self.now)
        return [scripted_kline(self.options, symbol, interval, t) for t in itertools.islice(opens, count)]

    async def stream(
        self,
        subscription: Subscription,
        send: trio.MemorySendChannel[MarketDataMsg],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        for symbol, interval in subscription.klines:
            self._check(symbol, interval)
        listener = (subscription, send)
        self._listeners.append(listener)
        try:
            task_status.started()
            if self.options.kline_seconds == 0:
                await trio.sleep_forever()
            while True:
                await trio.sleep(self.options.kline_seconds)
                await self.advance()
        finally:
            self._listeners.remove(listener)

    async def advance(self, minutes: int = 1) -> None:
        """Move the virtual clock on by ``minutes``; every stream gets what closed and the new quotes."""
        for _ in range(minutes):
            self.now += MINUTE_MS
            for subscription, send in list(self._listeners):
                for symbol, interval in sorted(subscription.klines):
                    length = interval_seconds(interval) * 1000
                    if self.now % length == 0 and not in_gap(self.options, self.now - length):
                        kline = scripted_kline(self.options, symbol, interval, self.now - length)
                        await send.send(KlineDataMsg(self.name, kline))
                for symbol in sorted(subscription.trades):
                    await send.send(TradeDataMsg(self.name, scripted_trade(self.options, symbol, self.now)))
                await self._quotes(subscription, send)

    async def set_price(self, price: float) -> None:
        """Pin the price from now on, and send every stream the new book and ticker."""
        self.pinned = price
        for subscription, send in list(self._listeners):
            await self._quotes(subscription, send)

    async def _quotes(self, subscription: Subscription, send: trio.MemorySendChannel[MarketDataMsg]) -> None:
        for symbol in sorted(subscription.orderbooks | subscription.tickers):
            book = scripted_book(self.options, symbol, self.now, self.price(symbol))
            if symbol in subscription.orderbooks:
                await send.send(OrderBookDataMsg(self.name, book))
            if symbol in subscription.tickers:
                ticker = Ticker(
                    symbol, self.now, self.price(symbol), book.bids[0][0], book.asks[0][0], 0.0, 0.0
                )
                await send.send(TickerDataMsg(self.name, ticker))

    async def server_time(self) -> int:
        return now_ms()

    # --- a public-data feed never trades ------------------------------------------------------------------

    def _private(self, what: str) -> FatalExchangeError:
        self.private_calls.append(what)
        return FatalExchangeError(f"scripted serves public data only; {what} was called")

    async def place_order(self, order: Order) -> OrderResult:
        raise self._private("place_order")

    async def cancel_order(self, order: Order) -> Order:
        raise self._private("cancel_order")

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        raise self._private("open_orders")

    async def balances(self) -> list[Balance]:
        raise self._private("balances")

    async def positions(self) -> list[Position]:
        raise self._private("positions")


def build(context: ExchangeContext) -> Exchange:
    """The factory, as a real exchange plugin's: in paper mode the public adapter inside a paper account."""
    return PaperExchange(context, feed=ScriptedExchange(context))


@hookimpl
def register_exchanges(register: RegisterExchange) -> None:
    register(
        PLUGIN_NAME,
        build,
        options_model=ScriptedOptions,
        modes=("paper",),
        description="Test exchange: a scripted price path, public data only.",
    )


def install_scripted(site: Path) -> dict[str, str]:
    """Install this module as the plugin ``scripted`` (distribution ``mmtest-scripted``) into the folder
    ``site``, with the entry point pip would write; returns the environment that puts ``site`` on the path.
    """
    site.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(__file__), site / f"{MODULE_NAME}.py")
    info = site / "mmtest_scripted-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mmtest-scripted\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[marketmaestro]\n{PLUGIN_NAME} = {MODULE_NAME}\n")
    return {"PYTHONPATH": str(site)}


def scripted_options(**changes: Any) -> ScriptedOptions:
    return ScriptedOptions.model_validate(changes)
