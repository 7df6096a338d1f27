"""Fixtures of the Bybit plugin's tests: a fake Bybit on loopback, adapters pointed at it, a real store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from marketmaestro.storage import AsyncStore, Store
from marketmaestro_bybit import BybitExchange
from marketmaestro_bybit.testing import FakeBybit, running_fake
from marketmaestro_bybit.testing.kit import TEST_KEY, TEST_SECRET, fake_context

START_BALANCES = {"USDT": Decimal(100_000), "BTC": Decimal(2), "ETH": Decimal(10)}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AsyncStore]:
    with Store(tmp_path / "t.db") as sync_store:
        yield AsyncStore(sync_store)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBybit]:
    """A fake Bybit with one funded account (``TEST_KEY``/``TEST_SECRET``)."""
    async with running_fake() as server:
        server.add_account(TEST_KEY, TEST_SECRET, START_BALANCES)
        yield server


Factory = Callable[..., BybitExchange]


@pytest.fixture
async def make_adapter(fake: FakeBybit, store: AsyncStore) -> AsyncIterator[Factory]:
    """``make_adapter(category="spot", **context_kwargs)``: an adapter for the fake (disconnected after)."""
    made: list[BybitExchange] = []

    def build(**kwargs: Any) -> BybitExchange:
        adapter = BybitExchange(fake_context(fake, store, **kwargs))
        made.append(adapter)
        return adapter

    yield build
    for adapter in made:
        await adapter.disconnect()


@pytest.fixture
async def spot(make_adapter: Factory) -> BybitExchange:
    adapter = make_adapter(category="spot", pairs=("BTCUSDT", "ETHUSDT"))
    await adapter.connect()
    return adapter


@pytest.fixture
async def linear(make_adapter: Factory) -> BybitExchange:
    adapter = make_adapter(category="linear", pairs=("BTCUSDT", "ETHUSDT"))
    await adapter.connect()
    return adapter
