"""Helpers to point a Bybit adapter at a :class:`~marketmaestro_bybit.testing.FakeBybit`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from marketmaestro.config import ExchangeConfig
from marketmaestro.exchanges import ExchangeContext
from marketmaestro.storage import AsyncStore
from marketmaestro_bybit.options import BybitOptions
from marketmaestro_bybit.testing.fake import FakeBybit

__all__ = ["TEST_KEY", "TEST_SECRET", "fake_context", "fake_options"]

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
