"""The core's exchange conformance suite, run against the adapter on the fake Bybit (spot and linear)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest

from marketmaestro.exchanges import Exchange
from marketmaestro.model import OrderStatus, Side
from marketmaestro.testing import ExchangeConformance, Venue
from marketmaestro_bybit import BybitExchange
from marketmaestro_bybit.testing import FakeBybit
from marketmaestro_bybit.testing.conformance import FakeBybitVenue
from marketmaestro_bybit.testing.kit import TEST_KEY


class TestBybitSpotConformance(ExchangeConformance):
    exchange_class = BybitExchange
    settle_seconds = 5.0
    category = "spot"

    @pytest.fixture
    async def conformance_venue(self, fake: FakeBybit) -> AsyncIterator[FakeBybitVenue]:
        yield FakeBybitVenue(fake, TEST_KEY, category=self.category)

    @pytest.fixture
    async def conformance_exchange(
        self, conformance_venue: FakeBybitVenue, make_adapter: Callable[..., BybitExchange]
    ) -> AsyncIterator[BybitExchange]:
        adapter = make_adapter(category=self.category)
        await adapter.connect()
        yield adapter  # make_adapter disconnects it


class TestBybitLinearConformance(TestBybitSpotConformance):
    """Linear perpetuals: a fill moves the position and charges the fee to the settle coin; the base coin's
    balance does not move (the suite's own check of a market order assumes spot, so this one replaces it)."""

    category = "linear"

    async def market_order_fills(self, exchange: Exchange, venue: Venue, side: Side) -> None:
        instrument, price = await self.market(exchange, venue)
        quantity = self.quantity(instrument, price)
        await self.fund(exchange, venue, instrument, quantity * price)
        before = {p.symbol: p.quantity for p in await exchange.positions()}.get(venue.symbol, Decimal(0))
        wallet = {b.asset: b.total for b in await exchange.balances()}[instrument.quote]
        order = self.order(exchange, venue.symbol, side, quantity)
        result = await exchange.place_order(order)
        final = await self.settled(exchange, result.order, frozenset({OrderStatus.FILLED}))
        assert final.filled_quantity == quantity, final
        fills = await self.fills_of(exchange, order, result.fills)
        assert sum(f.quantity for f in fills) == quantity, fills
        assert all(
            instrument.round_price(f.price) == f.price and f.fee_currency == instrument.quote for f in fills
        )
        after = await self.eventually(
            "positions() moves by the fills",
            exchange.positions,
            lambda ps: {p.symbol: p.quantity for p in ps}.get(venue.symbol) == before + side.sign * quantity,
        )
        assert after
        fees = sum(f.fee for f in fills)
        await self.eventually(
            "the settle coin pays the fees",
            exchange.balances,
            lambda bs: {b.asset: b.total for b in bs}[instrument.quote] == wallet - fees,
        )
