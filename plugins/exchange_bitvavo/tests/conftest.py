"""Fixtures of the Bitvavo plugin's tests: a fake Bitvavo served on 127.0.0.1 and adapters pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from eliot import add_destinations, remove_destination

from marketmaestro.config import ExchangeConfig
from marketmaestro.exchanges import ExchangeContext
from marketmaestro.storage import AsyncStore, Store
from marketmaestro_bitvavo import BitvavoExchange, BitvavoOptions
from marketmaestro_bitvavo.testing import API_KEY, API_SECRET, FakeBitvavo, FakeServer, serve_fake

MakeExchange = Callable[..., BitvavoExchange]


@pytest.fixture
async def server(nursery: trio.Nursery) -> FakeServer:
    """A fake Bitvavo on 127.0.0.1 with BTC-EUR trading around 30000 and 10000 EUR in the account."""
    fake = FakeBitvavo()
    fake.set_price("BTC-EUR", "30000")
    fake.set_price("ETH-EUR", "2000")
    fake.set_price("SHIB-EUR", "0.000012345")
    started: FakeServer = await nursery.start(serve_fake, fake)
    return started


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AsyncStore]:
    with Store(tmp_path / "t.db") as sync_store:
        yield AsyncStore(sync_store)


def context(
    server: FakeServer,
    store: AsyncStore,
    folder: Path,
    *,
    mode: str = "live",
    key: str | None = API_KEY,
    secret: str | None = API_SECRET,
    pairs: tuple[str, ...] = ("BTCEUR",),
    **options: Any,
) -> ExchangeContext:
    """An ExchangeContext as the exchange service builds it, with options validated by BitvavoOptions."""
    raw: dict[str, Any] = {"rest_url": server.rest_url, "ws_url": server.ws_url, "live_orders": True}
    raw.update(options)
    validated = BitvavoOptions.model_validate(raw)
    config = ExchangeConfig.model_validate(
        {
            "plugin": "bitvavo",
            "mode": mode,
            "api_key": key,
            "api_secret": secret,
            "options": raw,
            "pairs": [{"symbol": s} for s in pairs],
        }
    )
    return ExchangeContext("bitvavo", config, validated, store, folder, mode=mode)


@pytest.fixture
def make_context(server: FakeServer, store: AsyncStore, tmp_path: Path) -> Callable[..., ExchangeContext]:
    """``make_context(**kwargs)``: an ExchangeContext on the fake (see ``context``)."""
    return lambda **kwargs: context(server, store, tmp_path, **kwargs)


@pytest.fixture
async def make_exchange(server: FakeServer, store: AsyncStore, tmp_path: Path) -> AsyncIterator[MakeExchange]:
    """``make_exchange(**kwargs)``: a BitvavoExchange on the fake (live with live_orders unless told);
    every one made is disconnected after the test."""
    made: list[BitvavoExchange] = []

    def make(**kwargs: Any) -> BitvavoExchange:
        made.append(BitvavoExchange(context(server, store, tmp_path, **kwargs)))
        return made[-1]

    yield make
    for exchange in made:
        await exchange.disconnect()


@pytest.fixture
async def live(make_exchange: MakeExchange) -> BitvavoExchange:
    """A connected live adapter on the fake."""
    exchange = make_exchange()
    await exchange.connect()
    return exchange


@pytest.fixture
def log_messages() -> Iterator[list[dict[str, Any]]]:
    """Every eliot message logged during the test."""
    messages: list[dict[str, Any]] = []
    add_destinations(messages.append)
    messages.clear()  # eliot replays what it buffered before its first destination
    yield messages
    remove_destination(messages.append)
