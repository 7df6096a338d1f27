"""Public trades in the core: the order manager takes a trade's price as the market price (no strategy
callback takes trades), and the exchange service's router hands trades to the order manager only."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import trio

from marketmaestro.messages import KlineDataMsg, MarketDataMsg, TradeDataMsg
from marketmaestro.model import Kline, OrderStatus, Side, Trade
from marketmaestro.runtime.exchange_service import _route
from marketmaestro.storage import AsyncStore
from marketmaestro.supervision import Mailbox
from tests.exchanges.conftest import known_book_paper
from tests.trading.conftest import trading_stack


async def test_a_public_trade_is_the_market_price_for_a_market_order(
    store: AsyncStore, tmp_path: Path
) -> None:
    exchange, _ = known_book_paper(store, tmp_path)
    trade = Trade("BTCUSDT", "t-1", Decimal("20010.5"), Decimal("0.3"), Side.SELL, 1_700_000_000_000)
    with trio.fail_after(10):
        async with trading_stack(store, exchange) as stack:
            await stack.order_manager.mailbox.send(TradeDataMsg(stack.name, trade))
            order = await stack.place(Side.BUY, "0.01")
            assert order.status is OrderStatus.FILLED, order
            assert stack.order_manager.last_price["BTCUSDT"] == Decimal("20010.5")


class Runner:
    """What the router needs of a strategy runner: its symbol, script and mailbox."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.script = "strategy.star"
        self.mailbox = Mailbox(f"strategy:{symbol}")


async def test_the_router_gives_trades_to_the_order_manager_only() -> None:
    orders, runner = Mailbox("order_manager"), Runner("BTCUSDT")
    trade = TradeDataMsg("paper", Trade("BTCUSDT", "t-1", Decimal(1), Decimal(1), Side.BUY, 1))
    kline = KlineDataMsg("paper", Kline("BTCUSDT", "1m", 0, 1.0, 1.0, 1.0, 1.0, 1.0))
    send, receive = trio.open_memory_channel[MarketDataMsg](10)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(_route, receive, orders, [runner])
            await send.send(trade)
            await send.send(kline)
            assert [(await orders.receive_channel.receive()).msg for _ in range(2)] == [trade, kline]
            assert (await runner.mailbox.receive_channel.receive()).msg == kline
            nursery.cancel_scope.cancel()
