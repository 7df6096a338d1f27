"""The fake Bybit as the core conformance suite's ``Venue`` (``marketmaestro.testing``).

The suite drives the venue directly (balances, price, candles) and reads its own view of orders and of the
book, never through the adapter, so this module converts the fake's state itself instead of using the
adapter's parsers.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from marketmaestro.model import Order, OrderBook, OrderStatus, OrderType, Side
from marketmaestro_bybit.testing.fake import FakeBybit

__all__ = ["FakeBybitVenue"]

_STATUS = {
    "New": OrderStatus.ACCEPTED,
    "Untriggered": OrderStatus.ACCEPTED,
    "PartiallyFilled": OrderStatus.PARTIALLY_FILLED,
    "Filled": OrderStatus.FILLED,
    "Rejected": OrderStatus.REJECTED,
}


class FakeBybitVenue:
    """One symbol of one category of a :class:`FakeBybit`, for one account."""

    def __init__(
        self,
        fake: FakeBybit,
        api_key: str,
        *,
        symbol: str = "BTCUSDT",
        category: str = "spot",
        interval: str = "1m",
    ) -> None:
        self.fake = fake
        self.api_key = api_key
        self.symbol = symbol
        self.category = category
        self.interval = interval

    async def set_balances(self, balances: Mapping[str, Decimal]) -> None:
        account = self.fake.venue.accounts[self.api_key]
        for coin, amount in balances.items():
            # Free is what the wallet holds beyond what open orders lock.
            self.fake.set_balance(self.api_key, coin, amount + account.spot_locked(coin))

    async def move_price(self, price: Decimal) -> None:
        self.fake.set_price(self.symbol, price, self.category)

    async def close_kline(self) -> None:
        self.fake.close_kline(self.symbol, self.category)

    async def orders(self) -> list[Order]:
        account = self.fake.venue.accounts[self.api_key]
        found = []
        for order in sorted(account.orders.values(), key=lambda o: o.created):
            if order.category != self.category:
                continue
            status = _STATUS.get(order.status, OrderStatus.CANCELLED)
            kind = OrderType.LIMIT if order.order_type == "Limit" else OrderType.MARKET
            found.append(
                Order(
                    client_order_id=order.link_id,
                    exchange="bybit",
                    symbol=order.symbol,
                    side=Side.BUY if order.side == "Buy" else Side.SELL,
                    type=kind,
                    quantity=order.qty,
                    price=order.price,
                    status=status,
                    venue_order_id=order.order_id,
                    filled_quantity=order.cum_qty,
                )
            )
        return found

    async def orderbook(self) -> OrderBook:
        bids, asks = self.fake.book(self.symbol, self.category)
        return OrderBook(
            self.symbol,
            self.fake.venue.now(),
            tuple((float(p), float(q)) for p, q in bids),
            tuple((float(p), float(q)) for p, q in asks),
        )
