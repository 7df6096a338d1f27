"""The core's paper exchange passes the exchange conformance suite.

Its venue is the paper account itself (balances and order records in the database) on a scripted feed
whose clock and price the venue drives. Its limit orders (and amend) run the suite's limit checks; what
it does not do (public trades of its own fills) is skipped by the suite, naming the capability.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from pathlib import Path

import pytest
import trio

from marketmaestro.exchanges import Exchange, ExchangeContext, Subscription
from marketmaestro.exchanges.paper import PaperExchange, PaperOptions
from marketmaestro.exchanges.paper.records import VenueRecord
from marketmaestro.exchanges.public import public_exchange_factory
from marketmaestro.messages import MarketDataMsg
from marketmaestro.model import Order, OrderBook
from marketmaestro.plugins.manager import load_plugins
from marketmaestro.storage import AsyncStore
from marketmaestro.testing import ExchangeConformance, Venue
from tests.conftest import REPO
from tests.exchanges import scripted
from tests.exchanges.conftest import exchange_config
from tests.exchanges.scripted import ScriptedExchange, scripted_book


class PaperVenue:
    """The paper account as a venue: what it stores is its own view; the scripted feed is its market."""

    symbol = "BTCUSDT"
    interval = "1m"

    def __init__(self, paper: PaperExchange, store: AsyncStore) -> None:
        assert isinstance(paper.feed, ScriptedExchange)
        self.paper = paper
        self.feed = paper.feed
        self.store = store

    async def set_balances(self, balances: Mapping[str, Decimal]) -> None:
        # The account lives in the database; the exchange reads it when it connects.
        await self.store.set_setting(
            f"paper_exchange:{self.paper.name}", "balances", {a: str(v) for a, v in balances.items()}
        )
        await self.paper.disconnect()
        await self.paper.connect()

    async def move_price(self, price: Decimal) -> None:
        await self.feed.set_price(float(price))

    async def close_kline(self) -> None:
        await self.feed.advance()

    async def orders(self) -> list[Order]:
        stored = await self.store.settings(f"paper_exchange:{self.paper.name}:orders")
        return [VenueRecord.from_json(data).order for data in stored.values()]

    async def orderbook(self) -> OrderBook:
        return scripted_book(self.feed.options, self.symbol, self.feed.now, self.feed.price(self.symbol))


class TestPaperConformance(ExchangeConformance):
    exchange_class = PaperExchange
    conformance_timeout = 15.0
    settle_seconds = 5.0

    @pytest.fixture
    async def conformance_venue(self, store: AsyncStore, tmp_path: Path) -> AsyncIterator[Venue]:
        host = load_plugins(environ={"MM_LOAD_PLUGINS": ""}, extra=[("scripted", scripted)])
        options = PaperOptions.model_validate({"feed": "scripted", "feed_options": {"kline_seconds": 0}})
        factory = public_exchange_factory(host.registry, store, tmp_path, name="paper", symbols=["BTCUSDT"])
        context = ExchangeContext(
            "paper", exchange_config("BTCUSDT"), options, store, tmp_path, build_public=factory
        )
        paper = self.exchange_class(context)  # subclasses in broken_adapters.py build broken ones
        assert isinstance(paper, PaperExchange)
        yield PaperVenue(paper, store)

    @pytest.fixture
    async def conformance_exchange(self, conformance_venue: PaperVenue) -> AsyncIterator[Exchange]:
        """The connected paper exchange with its market running, as the core runs it: the stream of the
        venue's symbol is what the paper account matches its resting limit orders against."""
        paper = conformance_venue.paper
        await paper.connect()
        send, receive = trio.open_memory_channel[MarketDataMsg](math.inf)
        async with trio.open_nursery() as nursery:
            await nursery.start(
                paper.stream, Subscription(tickers=frozenset({conformance_venue.symbol})), send
            )
            yield paper
            nursery.cancel_scope.cancel()
        receive.close()
        await paper.disconnect()


GATED = {
    # The paper account's own fills are not on its feed's tape: paper does not declare public trades.
    "test_stream_delivers_the_public_trades_of_an_order_on_the_grid",
}
BROKEN = Path(__file__).with_name("broken_adapters.py")
CAUGHT = {
    ("TestForgetful", "test_the_same_client_order_id_twice_is_one_order_on_the_venue"),
    # Forgetting its records, it cannot find a resting order again either (get_order answers None).
    ("TestForgetful", "test_a_limit_order_rests_is_listed_and_cancelled"),
    ("TestForgetful", "test_a_resting_limit_order_is_amended"),
    ("TestForgetful", "test_a_limit_order_fills_when_the_price_reaches_it"),
    ("TestForgetful", "test_a_filled_limit_order_is_in_the_order_history_and_its_fills_in_fills"),
    ("TestOffTick", "test_a_market_buy_fills_on_the_grid_and_moves_the_balances"),
    ("TestOffTick", "test_a_market_sell_fills_on_the_grid_and_moves_the_balances"),
    ("TestSloppy", "test_a_rejected_order_raises_order_rejected"),
}
"""The tests that must fail for the paper exchanges broken on purpose in broken_adapters.py."""


def test_the_suite_skips_what_paper_lacks_by_name_and_fails_broken_adapters() -> None:
    """The suite in a child pytest, on the paper exchange and on copies of it broken on purpose: the tests
    paper lacks a capability for are skipped naming it, and each breakage fails exactly its tests."""
    command = [sys.executable, "-m", "pytest", f"{__file__}::TestPaperConformance", str(BROKEN), "-v", "-rs"]
    result = subprocess.run(
        [*command, "-p", "no:cacheprovider"], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    lines = result.stdout.splitlines()
    outcomes = {
        (m.group(1), m.group(2), m.group(3))
        for line in lines
        if (m := re.search(r"::(Test\w+)::(test_\w+) (PASSED|FAILED|SKIPPED)", line))
    }
    classes = ("TestPaperConformance", "TestForgetful", "TestOffTick", "TestSloppy")
    tests = {name for _, name, _ in outcomes}
    assert len(tests) == 17, result.stdout
    for cls in classes:
        for name in tests:
            expected = "SKIPPED" if name in GATED else "FAILED" if (cls, name) in CAUGHT else "PASSED"
            assert (cls, name, expected) in outcomes, (cls, name, expected, result.stdout)
    reasons = [line.split(": ", 1)[1] for line in lines if line.startswith("SKIPPED [")]
    assert set(reasons) == {
        f"capability {capability!r} is not declared by {name}"
        for capability in ("public_trades",)
        for name in ("PaperExchange", "ForgetfulPaper", "OffTickPaper", "SloppyPaper")
    }, result.stdout
    assert lines[-1].startswith("=") and "8 failed, 56 passed, 4 skipped" in lines[-1], result.stdout
