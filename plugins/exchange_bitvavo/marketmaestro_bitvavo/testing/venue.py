"""The fake Bitvavo as the core's exchange conformance suite drives it (``marketmaestro.testing.Venue``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal

from marketmaestro.model import Order, OrderBook, OrderStatus, OrderType, Side, TimeInForce
from marketmaestro_bitvavo.testing.api import FakeBitvavo
from marketmaestro_bitvavo.testing.state import INTERVAL_MS, FakeOrder, bucket_start

_TYPES = {
    "market": OrderType.MARKET,
    "limit": OrderType.LIMIT,
    "stopLoss": OrderType.STOP_MARKET,
    "stopLossLimit": OrderType.STOP_LIMIT,
    "takeProfit": OrderType.TAKE_PROFIT,
    "takeProfitLimit": OrderType.TAKE_PROFIT_LIMIT,
}
_STATUSES = {
    "new": OrderStatus.ACCEPTED,
    "awaitingTrigger": OrderStatus.ACCEPTED,
    "partiallyFilled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
}


class FakeBitvavoVenue:
    """``symbol`` is MarketMaestro's name (``BTCEUR``) of the fake's ``market`` (``BTC-EUR``)."""

    def __init__(self, fake: FakeBitvavo, market: str = "BTC-EUR", interval: str = "1m") -> None:
        spec = fake.exchange.markets[market]
        self.fake = fake
        self.market = market
        self.symbol = spec.base + spec.quote
        self.interval = interval

    async def set_balances(self, balances: Mapping[str, Decimal]) -> None:
        for asset, amount in balances.items():
            self.fake.set_balance(asset, amount)

    async def move_price(self, price: Decimal) -> None:
        self.fake.set_price(self.market, price)

    async def close_kline(self) -> None:
        """A trade at the last price in the next interval: Bitvavo's candle stream then moves on, which closes
        the current candle."""
        ex = self.fake.exchange
        last = max(ex.trades[self.market], key=lambda t: t.timestamp)
        following = bucket_start(last.timestamp, self.interval) + INTERVAL_MS[self.interval]
        self.fake.set_price(self.market, ex.last_price[self.market], timestamp=following + 1)

    async def orders(self) -> list[Order]:
        return [self._order(o) for o in self.fake.exchange.orders.values()]

    async def orderbook(self) -> OrderBook:
        book = self.fake.exchange.book_json(self.market)
        return OrderBook(
            self.symbol,
            book["timestamp"] // 1_000_000,
            tuple((float(p), float(s)) for p, s in book["bids"]),
            tuple((float(p), float(s)) for p, s in book["asks"]),
        )

    def _order(self, order: FakeOrder) -> Order:
        client_id = order.client_order_id
        ours = f"mm-{uuid.UUID(client_id).hex}" if client_id else f"bitvavo-{order.order_id}"
        return Order(
            client_order_id=ours,
            exchange="bitvavo",
            symbol=self.symbol,
            side=Side(order.side),
            type=_TYPES[order.order_type],
            quantity=order.amount,
            price=order.price,
            status=_STATUSES.get(order.status, OrderStatus.CANCELLED),
            stop_price=order.trigger_amount,
            time_in_force=TimeInForce(order.time_in_force.lower()),
            post_only=order.post_only,
            venue_order_id=order.order_id,
            filled_quantity=order.filled_amount,
            created_at=order.created,
            updated_at=order.updated,
        )
