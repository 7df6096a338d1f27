"""Order manager tests: the trading path of ``tests.trading.conftest`` on a real paper exchange and a real
SQLite file, with market prices sent to the order manager as the exchange service's router does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from marketmaestro.exchanges.paper import PaperExchange
from marketmaestro.messages import PlaceOrderMsg
from marketmaestro.model import Kline, Order, OrderType, Side
from marketmaestro.storage import AsyncStore
from tests.exchanges.conftest import known_book_paper, store
from tests.trading.conftest import TIMEOUT, TradingStack, trading_stack

__all__ = ["store"]


def kline(close: str | float, timestamp: int = 0, symbol: str = "BTCUSDT") -> Kline:
    value = float(close)
    return Kline(symbol, "1m", timestamp, value, value, value, value, 1.0)


@asynccontextmanager
async def paper_stack(
    store: AsyncStore, folder: Path, *, warm: bool = True, **options: Any
) -> AsyncIterator[TradingStack]:
    """The trading path on the known-book paper exchange (market orders fill at BEST_ASK/BEST_BID); the
    order manager first sees the last warm-up close (20001.3) unless ``warm`` is false."""
    exchange, warmup = known_book_paper(store, folder, **options)
    async with trading_stack(store, exchange, price=warmup[-1] if warm else None) as stack:
        yield stack


@asynccontextmanager
async def venue_stack(
    store: AsyncStore, folder: Path, venue: type[PaperExchange], **options: Any
) -> AsyncIterator[TradingStack]:
    """The trading path on ``venue``: a paper exchange subclass (e.g. one whose limit orders rest) on the
    known book, after the last warm-up close."""
    paper, warmup = known_book_paper(store, folder, **options)
    async with trading_stack(store, venue(paper.context), price=warmup[-1]) as stack:
        yield stack


async def place(
    stack: TradingStack,
    side: Side,
    quantity: str,
    order_type: OrderType = OrderType.MARKET,
    *,
    strategy: str = "s1",
    symbol: str = "BTCUSDT",
    **fields: Any,
) -> Order:
    """Ask the order manager for any order; ``fields`` are the other ``PlaceOrderMsg`` fields (strings
    for prices become Decimals)."""
    values = {k: Decimal(v) if type(v) is str else v for k, v in fields.items()}
    msg = PlaceOrderMsg(stack.name, symbol, side, order_type, Decimal(quantity), strategy, **values)
    order: Order = await stack.order_manager.mailbox.request(msg, TIMEOUT)
    return order


async def see(stack: TradingStack, *closes: str | float, symbol: str = "BTCUSDT") -> None:
    """The market trades at each of ``closes`` in turn; returns once the order manager handled them."""
    for close in closes:
        await stack.price(kline(close, symbol=symbol))
    await stack.settle()


async def kinds(store: AsyncStore, order: Order) -> list[str]:
    """The event kinds recorded for ``order``, oldest first."""
    events = await store.list_events(limit=1000)
    return [e.kind for e in reversed(events) if e.data.get("client_order_id") == order.client_order_id]
