"""The domain model: market data, orders, fills, balances and positions."""

from marketmaestro.model.account import Balance, Position
from marketmaestro.model.intervals import INTERVAL_SECONDS, interval_seconds
from marketmaestro.model.market import Instrument, Kline, OrderBook, Ticker, Trade
from marketmaestro.model.orders import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from marketmaestro.model.time import now_ms

__all__ = [
    "INTERVAL_SECONDS",
    "Balance",
    "Fill",
    "Instrument",
    "Kline",
    "Order",
    "OrderBook",
    "OrderStatus",
    "OrderType",
    "Position",
    "Side",
    "Ticker",
    "TimeInForce",
    "Trade",
    "interval_seconds",
    "now_ms",
]
