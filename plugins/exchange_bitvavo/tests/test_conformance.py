"""The core's exchange conformance suite, run against the adapter on the fake Bitvavo."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from marketmaestro.testing import ExchangeConformance
from marketmaestro_bitvavo import BitvavoExchange
from marketmaestro_bitvavo.testing import FakeBitvavoVenue, FakeServer


class TestBitvavoConformance(ExchangeConformance):
    exchange_class = BitvavoExchange
    settle_seconds = 5.0

    @pytest.fixture
    async def conformance_venue(self, server: FakeServer) -> AsyncIterator[FakeBitvavoVenue]:
        fake = server.fake
        now = fake.exchange.now_ms()
        for minutes_ago in range(30, 0, -1):  # half an hour of 1m history, one trade a minute
            price = Decimal(30000 + (minutes_ago % 7) * 10)
            fake.set_price("BTC-EUR", price, timestamp=now - minutes_ago * 60_000)
        fake.set_price("BTC-EUR", "30000")
        yield FakeBitvavoVenue(fake, "BTC-EUR")

    @pytest.fixture
    async def conformance_exchange(
        self, conformance_venue: FakeBitvavoVenue, make_exchange: Any
    ) -> AsyncIterator[BitvavoExchange]:
        exchange: BitvavoExchange = make_exchange()
        await exchange.connect()
        yield exchange  # make_exchange disconnects it
