"""The core's exchange conformance suite, run against the adapter on the fake Bybit (spot and linear)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from marketmaestro.testing import ExchangeConformance
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
    """Linear perpetuals: the adapter declares ``derivatives``, so the suite checks that a market order moves
    the position and charges fees and realised PnL to the settle coin, not the base coin's balance."""

    category = "linear"
