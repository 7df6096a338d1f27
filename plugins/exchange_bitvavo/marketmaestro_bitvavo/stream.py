"""The public market data stream and the private account stream, sharing the adapter's one WebSocket
connection (:mod:`.link`).

After any connection failure the connection is replaced (backoff with jitter) and each stream is opened on
the new one: it authenticates again, resubscribes and resyncs: order books from a fresh snapshot, klines
backfilled over REST from the last one handed on, the account's orders and fills from REST since the
connection was lost. Public trades are live data: those made while the connection was down are not fetched.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import trio

from marketmaestro.exchanges import (
    AccountEvent,
    BalanceUpdate,
    ExchangeError,
    FillUpdate,
    OrderUpdate,
    RetryableError,
    Subscription,
)
from marketmaestro.logs import log_event
from marketmaestro.messages import (
    KlineDataMsg,
    MarketDataMsg,
    OrderBookDataMsg,
    TickerDataMsg,
    TradeDataMsg,
)
from marketmaestro.model import Side, Ticker, Trade, interval_seconds
from marketmaestro_bitvavo.book import BookGap, LocalBook
from marketmaestro_bitvavo.connection import Others, Socket, StreamBroken
from marketmaestro_bitvavo.convert import to_fill, to_kline
from marketmaestro_bitvavo.klines import KlineTracker
from marketmaestro_bitvavo.markets import INTERVALS, bitvavo_interval

if TYPE_CHECKING:
    from marketmaestro_bitvavo.exchange import BitvavoExchange

CANDLE_CHECK_SECONDS = 1.0


# --- public -------------------------------------------------------------------------------------------------


class PublicStream:
    """The market data of one subscription; its state (kline tracker, tickers) outlives each connection."""

    name = "public"

    def __init__(
        self, ex: BitvavoExchange, subscription: Subscription, send: trio.MemorySendChannel[MarketDataMsg]
    ) -> None:
        self.ex = ex
        self.subscription = subscription
        self.send = send
        self.klines = KlineTracker()
        self.tickers: dict[str, dict[str, Any]] = {}
        self.books: dict[str, LocalBook] = {}
        self.resyncs = 0
        self.due = trio.current_time()
        self._request_ids = itertools.count(1)

    def channels(self) -> list[dict[str, Any]]:
        ex, sub = self.ex, self.subscription
        channels: list[dict[str, Any]] = []
        by_interval: dict[str, list[str]] = {}
        for symbol, interval in sorted(sub.klines):
            by_interval.setdefault(bitvavo_interval(interval), []).append(ex.market(symbol).market)
        for interval, markets in sorted(by_interval.items()):
            channels.append({"name": "candles", "interval": [interval], "markets": sorted(set(markets))})
        if sub.tickers:
            markets = sorted(ex.market(s).market for s in sub.tickers)
            channels += [{"name": "ticker", "markets": markets}, {"name": "ticker24h", "markets": markets}]
        if sub.orderbooks:
            channels.append({"name": "book", "markets": sorted(ex.market(s).market for s in sub.orderbooks)})
        if sub.trades:
            channels.append({"name": "trades", "markets": sorted(ex.market(s).market for s in sub.trades)})
        return channels

    async def open(self, socket: Socket, others: Others) -> None:
        channels = self.channels()
        self.books = {
            self.ex.market(s).market: LocalBook(self.ex.market(s).market, s)
            for s in self.subscription.orderbooks
        }
        if channels:
            await socket.subscribe(channels, others=others)
        for book in self.books.values():
            await self._request_snapshot(socket, book)
        await self._backfill()
        self.due = trio.current_time() + CANDLE_CHECK_SECONDS

    async def tick(self, socket: Socket) -> None:
        self.due = trio.current_time() + CANDLE_CHECK_SECONDS
        for kline in self.klines.close_due(self.ex.rest.now_ms()):
            await self.send.send(KlineDataMsg(self.ex.name, kline))

    def lost(self) -> None:
        """Nothing to note: :meth:`open` starts the books afresh and backfills the klines."""

    async def _request_snapshot(self, socket: Socket, book: LocalBook) -> None:
        book.reset()
        await socket.send({"action": "getBook", "requestId": next(self._request_ids), "market": book.market})

    async def _backfill(self) -> None:
        """Klines that closed while we were away, from REST, before the live feed goes on."""
        for (symbol, interval), last in sorted(self.klines.last_emitted.items()):
            step = interval_seconds(interval) * 1000
            try:
                missed = await self.ex.klines(
                    symbol, interval, 1440, start=last + step, end=self.ex.rest.now_ms()
                )
            except ExchangeError as exc:
                log_event(
                    "bitvavo.backfill_failed",
                    level="warning",
                    exchange=self.ex.name,
                    symbol=symbol,
                    error=str(exc),
                )
                continue
            for kline in missed:
                if self.klines.accept(kline):
                    await self.send.send(KlineDataMsg(self.ex.name, kline))

    async def handle(self, socket: Socket, message: dict[str, Any]) -> None:
        event = message.get("event")
        if message.get("action") == "getBook" and "response" in message:
            snapshot = message["response"]
            book = self.books.get(str(snapshot.get("market")))
            if book is not None:
                try:
                    book.on_snapshot(snapshot)
                except BookGap as gap:
                    await self._resync(socket, book, str(gap))
                    return
                await self._emit_book(book)
        elif "errorCode" in message:
            log_event(
                "bitvavo.stream_error",
                level="warning",
                exchange=self.ex.name,
                code=message["errorCode"],
                error=message.get("error"),
            )
            if message.get("action") == "getBook":
                raise StreamBroken(f"getBook failed: {message.get('error')}")
        elif event == "book":
            book = self.books.get(str(message.get("market")))
            if book is None:
                return
            try:
                changed = book.on_update(message)
            except BookGap as gap:
                await self._resync(socket, book, str(gap))
                return
            if changed:
                await self._emit_book(book)
        elif event == "candle":
            await self._candles(message)
        elif event in ("ticker", "ticker24h"):
            await self._ticker(message)
        elif event == "trade":
            await self._trade(message)

    async def _resync(self, socket: Socket, book: LocalBook, why: str) -> None:
        self.resyncs += 1
        log_event(
            "bitvavo.book_resync", level="warning", exchange=self.ex.name, symbol=book.symbol, reason=why
        )
        await self._request_snapshot(socket, book)

    async def _emit_book(self, book: LocalBook) -> None:
        model = book.to_model(self.ex.options.book_depth, self.ex.rest.now_ms())
        await self.send.send(OrderBookDataMsg(self.ex.name, model))

    async def _candles(self, message: dict[str, Any]) -> None:
        market = self.ex.by_market.get(str(message.get("market")))
        if market is None:
            return
        interval = next((k for k, v in INTERVALS.items() if v == message.get("interval")), None)
        if interval is None or (market.symbol, interval) not in self.subscription.klines:
            return
        for row in message.get("candle") or ():
            for kline in self.klines.on_candle(to_kline(row, market.symbol, interval, closed=False)):
                await self.send.send(KlineDataMsg(self.ex.name, kline))

    async def _ticker(self, message: dict[str, Any]) -> None:
        items = message.get("data") if message.get("event") == "ticker24h" else [message]
        for item in items or ():
            market = self.ex.by_market.get(str(item.get("market")))
            if market is None or market.symbol not in self.subscription.tickers:
                continue
            state = self.tickers.setdefault(market.symbol, {})
            if message.get("event") == "ticker":
                state.update(
                    bid=item.get("bestBid"),
                    ask=item.get("bestAsk"),
                    last=item.get("lastPrice") or state.get("last"),
                )
            else:
                state.update(
                    bid=item.get("bid"),
                    ask=item.get("ask"),
                    last=item.get("last"),
                    volume=item.get("volume"),
                    open=item.get("open"),
                )
            await self.send.send(
                TickerDataMsg(self.ex.name, _ticker(market.symbol, state, self.ex.rest.now_ms()))
            )

    async def _trade(self, message: dict[str, Any]) -> None:
        market = self.ex.by_market.get(str(message.get("market")))
        if market is None or market.symbol not in self.subscription.trades:
            return
        try:
            trade = Trade(
                symbol=market.symbol,
                trade_id=str(message["id"]),
                price=Decimal(str(message["price"])),
                quantity=Decimal(str(message["amount"])),
                side=Side(str(message["side"])),
                timestamp=int(message["timestamp"]),
            )
        except (KeyError, ArithmeticError, ValueError) as exc:
            log_event(
                "bitvavo.bad_trade",
                level="warning",
                exchange=self.ex.name,
                error=f"{type(exc).__name__}: {exc}",
                message=str(message)[:200],
            )
            return
        await self.send.send(TradeDataMsg(self.ex.name, trade))


def _num(raw: Any) -> float:
    return float(raw) if raw not in (None, "") else 0.0


def _ticker(symbol: str, state: dict[str, Any], now: int) -> Ticker:
    last, opened = _num(state.get("last")), _num(state.get("open"))
    return Ticker(
        symbol=symbol,
        timestamp=now,
        last=last,
        bid=_num(state.get("bid")),
        ask=_num(state.get("ask")),
        volume_24h=_num(state.get("volume")),
        change_24h=(last / opened - 1) * 100 if opened else 0.0,
    )


async def run_public_stream(
    ex: BitvavoExchange,
    subscription: Subscription,
    send: trio.MemorySendChannel[MarketDataMsg],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    stream = PublicStream(ex, subscription, send)
    ex.public = stream
    await ex.connection.serve(stream, task_status)


# --- private ------------------------------------------------------------------------------------------------


class PrivateStream:
    """The account channel: orders and fills as pushed, balances polled, a catch-up after each reconnect."""

    name = "private"

    def __init__(self, ex: BitvavoExchange, send: trio.MemorySendChannel[AccountEvent]) -> None:
        self.ex = ex
        self.send = send
        self.fill_ids: set[str] = set()
        self.lost_at: int | None = None
        self.due = trio.current_time()

    async def open(self, socket: Socket, others: Others) -> None:
        ex = self.ex
        key, secret = ex.context.config.api_key, ex.context.config.api_secret
        assert key is not None and secret is not None
        await socket.authenticate(
            key.get_secret_value(),
            secret.get_secret_value(),
            ex.rest.now_ms(),
            ex.options.access_window,
            others=others,
        )
        markets = sorted(ex.market(p.symbol).market for p in ex.context.config.pairs) or ["*"]
        await socket.subscribe([{"name": "account", "markets": markets}], others=others)
        if self.lost_at is not None:
            await self._catch_up(self.lost_at)
        self.lost_at = None
        await self.tick(socket)

    async def tick(self, socket: Socket) -> None:
        self.due = trio.current_time() + self.ex.options.balance_poll_seconds
        await self._poll_balances()

    def lost(self) -> None:
        # Events of the last ``access_window`` may not have reached us: the catch-up asks from there.
        self.lost_at = self.ex.rest.now_ms() - self.ex.options.access_window

    async def _poll_balances(self) -> None:
        try:
            balances = await self.ex.balances()
        except RetryableError as exc:
            log_event("bitvavo.balance_poll_failed", level="warning", exchange=self.ex.name, error=str(exc))
            return
        await self.send.send(BalanceUpdate(tuple(balances), complete=True))

    async def handle(self, socket: Socket, message: dict[str, Any]) -> None:
        event = message.get("event")
        market = self.ex.by_market.get(str(message.get("market")))
        if market is None:
            return
        if event == "order":
            order = self.ex.order_from(message)
            await self.send.send(OrderUpdate(order))
        elif event == "fill":
            await self._fill(message, market)

    async def _fill(self, raw: dict[str, Any], market: Any) -> None:
        fill_id = str(raw.get("fillId") or raw.get("id"))
        if fill_id in self.fill_ids:
            return
        self.fill_ids.add(fill_id)
        order = self.ex.known_order(str(raw.get("orderId")), raw.get("clientOrderId"))
        await self.send.send(FillUpdate(to_fill(raw, market, self.ex.name, order, self.ex.ids)))

    async def _catch_up(self, since: int) -> None:
        """What happened while the connection was down: orders still open or closed since, and fills."""
        ex = self.ex
        try:
            orders = await ex.open_orders() + await ex.order_history(since=since)
            fills = await ex.fills(since=since)
        except RetryableError as exc:
            log_event("bitvavo.catch_up_failed", level="warning", exchange=ex.name, error=str(exc))
            return
        for order in orders:
            await self.send.send(OrderUpdate(order))
        for fill in fills:
            if fill.fill_id not in self.fill_ids:
                self.fill_ids.add(fill.fill_id)
                await self.send.send(FillUpdate(fill))


async def run_private_stream(
    ex: BitvavoExchange,
    send: trio.MemorySendChannel[AccountEvent],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    await ex.connection.serve(PrivateStream(ex, send), task_status)
