"""Helpers to point a Bybit adapter at a :class:`~marketmaestro_bybit.testing.FakeBybit`, and read streams."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio

from marketmaestro.config import ExchangeConfig
from marketmaestro.exchanges import ExchangeContext
from marketmaestro.model import OrderBook
from marketmaestro.storage import AsyncStore
from marketmaestro_bybit.options import BybitOptions
from marketmaestro_bybit.testing.fake import FakeBybit

__all__ = [
    "TEST_KEY",
    "TEST_SECRET",
    "WAIT",
    "drain",
    "fake_book",
    "fake_context",
    "fake_options",
    "next_matching",
    "same_book",
    "wait_until",
]

TEST_KEY = "MMTESTKEY0001"
TEST_SECRET = "MM-FAKE-BYBIT-SECRET-7d9f2a61c4e8"
"""A recognisable secret: tests assert it never shows in logs or errors."""

FAST = {"reconnect_initial": 0.05, "reconnect_max": 0.5, "fill_wait": 2.0, "ban_backoff": 1.0}
"""Short pauses, so tests of reconnects and bans take fractions of a second."""


def fake_options(fake: FakeBybit, category: str = "spot", **overrides: Any) -> BybitOptions:
    """Options pointing every URL at ``fake``, with the short pauses of :data:`FAST`."""
    values: dict[str, Any] = {
        "category": category,
        "rest_url": fake.rest_url,
        "ws_public_url": fake.ws_public_url(category),
        "ws_private_url": fake.ws_private_url,
        **FAST,
        **overrides,
    }
    return BybitOptions.model_validate(values)


def fake_context(
    fake: FakeBybit,
    store: AsyncStore,
    *,
    name: str = "bybit",
    category: str = "spot",
    pairs: tuple[str, ...] = ("BTCUSDT",),
    mode: str = "testnet",
    api_key: str | None = TEST_KEY,
    api_secret: str | None = TEST_SECRET,
    config_dir: Path | None = None,
    **options: Any,
) -> ExchangeContext:
    """An ``ExchangeContext`` as the exchange service builds it, for an adapter talking to ``fake``."""
    raw: dict[str, Any] = {"plugin": "bybit", "mode": mode, "pairs": [{"symbol": s} for s in pairs]}
    if api_key is not None:
        raw["api_key"] = api_key
    if api_secret is not None:
        raw["api_secret"] = api_secret
    config = ExchangeConfig.model_validate(raw)
    return ExchangeContext(
        name, config, fake_options(fake, category, **options), store, config_dir or Path.cwd(), mode=mode
    )


WAIT = 5.0
"""Longest wait for something a stream must send (generous: the machine is shared)."""


async def next_matching(receive: trio.MemoryReceiveChannel[Any], wanted: Callable[[Any], bool]) -> Any:
    """The next item ``wanted`` accepts (others are skipped); fails after :data:`WAIT` seconds."""
    with trio.fail_after(WAIT):
        async for item in receive:
            if wanted(item):
                return item
    raise AssertionError("the stream ended")


async def drain(receive: trio.MemoryReceiveChannel[Any], quiet: float = 0.3) -> list[Any]:
    """Everything that arrives until nothing came for ``quiet`` seconds."""
    items = []
    while True:
        with trio.move_on_after(quiet) as scope:
            items.append(await receive.receive())
        if scope.cancelled_caught:
            return items


def fake_book(
    fake: FakeBybit, symbol: str = "BTCUSDT", category: str = "spot", depth: int = 50
) -> tuple[Any, Any]:
    """The fake's book as the floats of an ``OrderBook``."""
    bids, asks = fake.book(symbol, category, depth)
    return tuple((float(p), float(q)) for p, q in bids), tuple((float(p), float(q)) for p, q in asks)


def same_book(book: OrderBook, fake: FakeBybit, category: str = "spot") -> bool:
    return (book.bids, book.asks) == fake_book(fake, book.symbol, category)


async def wait_until(condition: Callable[[], bool], what: str, within: float = WAIT) -> None:
    """Poll ``condition`` until it holds (for the fake's counters, which have no event to wait on)."""
    with trio.move_on_after(within):
        while not condition():  # noqa: ASYNC110 - another component's counter, no event to wait for
            await trio.sleep(0.02)
        return
    raise AssertionError(f"timed out after {within:g} s waiting for {what}")
