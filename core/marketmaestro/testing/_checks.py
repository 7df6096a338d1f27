"""What the conformance suite asserts about market data, balances and account events, one function each."""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

import trio

from marketmaestro.exchanges import AccountEvent, OrderUpdate
from marketmaestro.messages import KlineDataMsg, MarketDataMsg, OrderBookDataMsg, TickerDataMsg
from marketmaestro.model import (
    Balance,
    Fill,
    Instrument,
    Kline,
    Order,
    OrderBook,
    Position,
    Side,
    Trade,
    interval_seconds,
)


def free(balances: Iterable[Balance]) -> dict[str, Decimal]:
    """Free balances by asset, leaving out zeros (venues differ in whether they list empty assets)."""
    return {b.asset: b.free for b in balances if b.free}


def top(book: OrderBook) -> tuple[float | None, float | None]:
    """The best bid and ask."""
    return book.best_bid, book.best_ask


def drain(
    receive: trio.MemoryReceiveChannel[MarketDataMsg], messages: list[MarketDataMsg]
) -> OrderBook | None:
    """Append whatever ``receive`` holds to ``messages``; the latest order book among them."""
    while True:
        try:
            messages.append(receive.receive_nowait())
        except trio.WouldBlock:
            break
    books = [m.orderbook for m in messages if isinstance(m, OrderBookDataMsg)]
    return books[-1] if books else None


def check_klines(klines: list[Kline], symbol: str, interval: str) -> None:
    """Closed klines of ``symbol`` and ``interval``, oldest first, no duplicates, on the interval's grid."""
    length = interval_seconds(interval) * 1000
    stamps = [k.timestamp for k in klines]
    assert stamps == sorted(set(stamps)), f"klines must be oldest first without duplicates: {stamps}"
    for kline in klines:
        assert (kline.symbol, kline.interval, kline.closed) == (symbol, interval, True), kline
        assert kline.timestamp % length == 0, f"kline at {kline.timestamp} is not on the {interval} grid"
        assert kline.low <= min(kline.open, kline.close) <= max(kline.open, kline.close) <= kline.high, kline
        assert math.isfinite(kline.volume) and kline.volume >= 0, kline


def check_market_data(messages: list[MarketDataMsg], exchange: str, symbol: str, interval: str) -> None:
    """Everything streamed is ``exchange``'s and ``symbol``'s; klines as :func:`check_klines`; books
    sorted (bids descending, asks ascending) and not crossed; tickers with a price."""
    assert all(m.exchange == exchange and m.symbol == symbol for m in messages), "foreign market data"
    check_klines([m.kline for m in messages if isinstance(m, KlineDataMsg)], symbol, interval)
    for book in (m.orderbook for m in messages if isinstance(m, OrderBookDataMsg)):
        bids, asks = [p for p, _ in book.bids], [p for p, _ in book.asks]
        assert bids == sorted(set(bids), reverse=True), f"bids must be strictly descending: {bids}"
        assert asks == sorted(set(asks)), f"asks must be strictly ascending: {asks}"
        assert all(q > 0 for _, q in (*book.bids, *book.asks)), f"a level without quantity: {book}"
        if bids and asks:
            assert bids[0] < asks[0], f"crossed book: best bid {bids[0]} >= best ask {asks[0]}"
    for ticker in (m.ticker for m in messages if isinstance(m, TickerDataMsg)):
        assert ticker.last > 0, ticker
        assert not (ticker.bid and ticker.ask) or ticker.bid <= ticker.ask, ticker


def check_trades(trades: list[Trade], instrument: Instrument) -> None:
    """Public trades of ``instrument``: Decimal price and quantity on its grid, a taker side, a trade id, no
    trade twice, and timestamps that do not go backwards."""
    for trade in trades:
        assert trade.symbol == instrument.symbol, trade
        assert isinstance(trade.price, Decimal) and isinstance(trade.quantity, Decimal), trade
        assert trade.price > 0 and instrument.round_price(trade.price) == trade.price, (
            f"trade price {trade.price} is off {instrument.symbol}'s tick {instrument.tick_size}"
        )
        assert trade.quantity > 0 and instrument.round_quantity(trade.quantity) == trade.quantity, (
            f"trade quantity {trade.quantity} is off {instrument.symbol}'s step {instrument.step_size}"
        )
        assert isinstance(trade.side, Side) and trade.trade_id, trade
    ids = [t.trade_id for t in trades]
    assert len(ids) == len(set(ids)), f"a trade was delivered twice: {ids}"
    stamps = [t.timestamp for t in trades]
    assert stamps == sorted(stamps), f"trades must come oldest first: {stamps}"


def realised_pnl(position: Position | None, fills: Iterable[Fill]) -> Decimal:
    """The PnL ``fills`` realise (in the quote) by reducing ``position``, the derivative position held
    before them, in order; a fill that opens or adds realises nothing."""
    held = position.quantity if position is not None else Decimal(0)
    entry = position.average_price if position is not None else Decimal(0)
    pnl = Decimal(0)
    for fill in fills:
        signed = fill.side.sign * fill.quantity
        if held and (held > 0) != (signed > 0):
            closed = min(abs(held), fill.quantity)
            pnl += closed * (fill.price - entry) * (1 if held > 0 else -1)
            held += closed if held < 0 else -closed
            signed -= closed * fill.side.sign
        if signed:
            entry = (
                fill.price
                if not held
                else (entry * abs(held) + fill.price * abs(signed)) / (abs(held) + abs(signed))
            )
            held += signed
    return pnl


def order_updates(events: list[AccountEvent], order: Order) -> list[OrderUpdate]:
    """The ``OrderUpdate`` events of ``order``."""
    return [
        e for e in events if isinstance(e, OrderUpdate) and e.order.client_order_id == order.client_order_id
    ]
