"""Bybit's public WebSocket streams as MarketMaestro market data.

Topics: ``kline.<interval>.<symbol>``, ``orderbook.<depth>.<symbol>``, ``tickers.<symbol>`` and
``publicTrade.<symbol>``. What a strategy sees:

- klines: only closed candles (``confirm: true``), each strictly newer than the last one sent for its
  symbol and interval. After a reconnect the candles that closed meanwhile are fetched over REST and sent
  first, so nothing is duplicated, reordered or skipped across a reconnect;
- order books: the local book after every message; a lost or inconsistent update makes the stream
  resubscribe the topic, which brings a fresh snapshot;
- tickers: Bybit's snapshot merged with its deltas (linear sends changed fields only);
- trades: each ``publicTrade`` entry as a core :class:`~marketmaestro.model.Trade` (``S``, the taker's side,
  as its side), in the order Bybit sends them. Trades made while the connection was down are not fetched
  again: the tape is live data, and a trade is never sent twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from marketmaestro.exchanges import ExchangeError
from marketmaestro.logs import log_event
from marketmaestro.messages import KlineDataMsg, OrderBookDataMsg, TickerDataMsg, TradeDataMsg
from marketmaestro.model import Kline, Side, Trade, interval_seconds
from marketmaestro_bybit.book import BookOutOfSync, LocalBook
from marketmaestro_bybit.convert import FROM_BYBIT_INTERVAL, bybit_interval, parse_ticker
from marketmaestro_bybit.errors import BybitFatal
from marketmaestro_bybit.options import BybitOptions
from marketmaestro_bybit.ws import ReconnectingStream, WsConnection

__all__ = ["PublicStream"]

SPOT_ARGS_PER_REQUEST = 10
"""Bybit spot accepts at most 10 topics per subscribe request."""

Emit = Callable[[Any], Awaitable[None]]
Backfill = Callable[[str, str, int | None], Awaitable[list[Kline]]]
"""(symbol, interval, start): the closed klines from ``start`` on, or with None the latest closed one."""


class PublicStream(ReconnectingStream):
    """One public connection carrying every subscribed topic, kept alive across failures."""

    label = "public"

    def __init__(
        self,
        *,
        exchange: str,
        url: str,
        options: BybitOptions,
        emit: Emit,
        klines: frozenset[tuple[str, str]] = frozenset(),
        tickers: frozenset[str] = frozenset(),
        orderbooks: frozenset[str] = frozenset(),
        trades: frozenset[str] = frozenset(),
        backfill: Backfill | None = None,
    ) -> None:
        super().__init__(exchange=exchange, url=url, options=options)
        self.emit = emit
        self.backfill = backfill
        self.klines = {(symbol, bybit_interval(interval)): interval for symbol, interval in klines}
        self.books = {
            s: LocalBook(s, options.orderbook_depth, check_sequence=options.check_sequence)
            for s in orderbooks
        }
        self.tickers = frozenset(tickers)
        self.trades = frozenset(trades)
        self.last_kline: dict[tuple[str, str], int] = {}
        """Open time of the last closed kline sent, per (symbol, MarketMaestro interval)."""
        self.ticker_state: dict[str, dict[str, Any]] = {}
        self.resyncs = 0
        self._resyncing: set[str] = set()

    def topics(self) -> list[str]:
        depth = self.options.orderbook_depth
        return sorted(
            [f"kline.{bybit}.{symbol}" for symbol, bybit in self.klines]
            + [f"orderbook.{depth}.{symbol}" for symbol in self.books]
            + [f"tickers.{symbol}" for symbol in self.tickers]
            + [f"publicTrade.{symbol}" for symbol in self.trades]
        )

    async def _session(self, conn: WsConnection) -> None:
        self.sessions += 1
        for book in self.books.values():
            book.reset()
        self._resyncing.clear()
        self.ticker_state.clear()
        await self._subscribe(conn, self.topics())
        if self.sessions == 1:
            await self._anchor_klines()
        await self._backfill()
        self._ready.set()
        while True:
            message = await conn.receive()
            if message is None:
                await self._recover(conn)
            else:
                await self._dispatch(conn, message)

    async def _recover(self, conn: WsConnection) -> None:
        """A frame could not be read, so its content is lost: resync every book and fetch missed klines."""
        for book in self.books.values():
            if book.symbol not in self._resyncing:
                await self._resync(conn, book, "a frame could not be read")
        await self._backfill()

    async def _subscribe(self, conn: WsConnection, topics: list[str]) -> None:
        """Send the subscribe requests and handle what arrives until each is acknowledged."""
        batch = SPOT_ARGS_PER_REQUEST if self.options.category == "spot" else max(1, len(topics))
        pending = set()
        for index in range(0, len(topics), batch):
            req_id = conn.next_id("sub")
            pending.add(req_id)
            await conn.send_json({"req_id": req_id, "op": "subscribe", "args": topics[index : index + batch]})
        while pending:
            message = await conn.receive()
            if message is None:
                continue
            if message.get("op") == "subscribe" and message.get("req_id") in pending:
                self._check_ack(message, topics)
                pending.discard(str(message["req_id"]))
            else:
                await self._dispatch(conn, message)

    def _check_ack(self, message: dict[str, Any], topics: list[str]) -> None:
        if message.get("success") is False:
            raise BybitFatal(
                f"Bybit refused the subscription to {', '.join(topics)}: {message.get('ret_msg', '')}"
            )

    async def _dispatch(self, conn: WsConnection, message: dict[str, Any]) -> None:
        topic = message.get("topic")
        if not isinstance(topic, str):
            if message.get("op") in ("subscribe", "unsubscribe"):
                self._check_ack(message, [str(a) for a in message.get("args") or []] or ["a topic"])
            return  # pongs and other control messages
        kind, _, rest = topic.partition(".")
        try:
            if kind == "kline":
                await self._on_kline(rest, message)
            elif kind == "orderbook":
                await self._on_book(conn, rest.partition(".")[2], message)
            elif kind == "tickers":
                await self._on_ticker(rest, message)
            elif kind == "publicTrade":
                await self._on_trades(message)
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            log_event(
                "bybit.ws_bad_message", level="warning", topic=topic, error=f"{type(exc).__name__}: {exc}"
            )

    async def _on_kline(self, rest: str, message: dict[str, Any]) -> None:
        bybit, _, symbol = rest.partition(".")
        interval = self.klines.get((symbol, bybit)) or FROM_BYBIT_INTERVAL[bybit]
        for item in message["data"]:
            kline = Kline(
                symbol=symbol,
                interval=interval,
                timestamp=int(item["start"]),
                open=float(item["open"]),
                high=float(item["high"]),
                low=float(item["low"]),
                close=float(item["close"]),
                volume=float(item["volume"]),
                closed=bool(item.get("confirm")),
            )
            await self._send_kline(kline)

    async def _send_kline(self, kline: Kline) -> None:
        key = (kline.symbol, kline.interval)
        last = self.last_kline.get(key)
        if last is not None and kline.timestamp <= last:
            return  # already sent (a replay after a reconnect) or older: never twice, never backwards
        if kline.closed:
            self.last_kline[key] = kline.timestamp
        elif not self.options.running_klines:
            return
        await self.emit(KlineDataMsg(self.exchange, kline))

    async def _anchor_klines(self) -> None:
        """Note the newest closed kline of each subscription, so that even the first lost one is noticed."""
        if self.backfill is None:
            return
        for (symbol, _), interval in sorted(self.klines.items()):
            if (symbol, interval) in self.last_kline:
                continue
            latest = await self._klines_from(symbol, interval, None)
            if latest:
                self.last_kline[(symbol, interval)] = latest[-1].timestamp

    async def _backfill(self) -> None:
        """Send the klines that closed while the connection was down (REST), oldest first."""
        if self.backfill is None:
            return
        for (symbol, interval), last in sorted(self.last_kline.items()):
            for kline in await self._klines_from(symbol, interval, last + interval_seconds(interval) * 1000):
                await self._send_kline(kline)

    async def _klines_from(self, symbol: str, interval: str, start: int | None) -> list[Kline]:
        """``backfill``'s answer, or nothing when it fails (logged; the WebSocket data still flows)."""
        assert self.backfill is not None
        try:
            return await self.backfill(symbol, interval, start)
        except ExchangeError as exc:
            log_event(
                "bybit.backfill_failed", level="warning", symbol=symbol, interval=interval, error=str(exc)
            )
            return []

    async def _on_book(self, conn: WsConnection, symbol: str, message: dict[str, Any]) -> None:
        book = self.books.get(symbol)
        if book is None:
            return
        kind = str(message.get("type"))
        if symbol in self._resyncing:
            if kind != "snapshot":
                return  # deltas still in flight from before the resubscribe
            self._resyncing.discard(symbol)
        try:
            changed = book.apply(kind, message["data"])
        except BookOutOfSync as exc:
            await self._resync(conn, book, str(exc))
            return
        if changed:
            timestamp = int(message.get("cts") or message.get("ts") or 0)
            await self.emit(OrderBookDataMsg(self.exchange, book.view(timestamp)))

    async def _resync(self, conn: WsConnection, book: LocalBook, why: str) -> None:
        self.resyncs += 1
        log_event("bybit.book_resync", level="warning", symbol=book.symbol, reason=why)
        book.reset()
        self._resyncing.add(book.symbol)
        topic = f"orderbook.{self.options.orderbook_depth}.{book.symbol}"
        await conn.send_json({"req_id": conn.next_id("unsub"), "op": "unsubscribe", "args": [topic]})
        await conn.send_json({"req_id": conn.next_id("resub"), "op": "subscribe", "args": [topic]})

    async def _on_ticker(self, symbol: str, message: dict[str, Any]) -> None:
        if symbol not in self.tickers:
            return
        data = message["data"]
        if message.get("type") == "delta":
            state = self.ticker_state.setdefault(symbol, {"symbol": symbol})
            state.update(data)
        else:
            state = self.ticker_state[symbol] = dict(data)
        if state.get("lastPrice"):
            await self.emit(TickerDataMsg(self.exchange, parse_ticker(state, int(message.get("ts") or 0))))

    async def _on_trades(self, message: dict[str, Any]) -> None:
        for item in message["data"]:
            if item.get("s") not in self.trades:
                continue
            trade = Trade(
                symbol=str(item["s"]),
                trade_id=str(item["i"]),
                price=Decimal(str(item["p"])),
                quantity=Decimal(str(item["v"])),
                side=Side(str(item["S"]).lower()),
                timestamp=int(item["T"]),
            )
            await self.emit(TradeDataMsg(self.exchange, trade))
