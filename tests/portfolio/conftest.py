"""Shared helpers of the portfolio and risk tests: fills, instruments and a running portfolio."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest
import trio

from marketmaestro.messages import KlineDataMsg
from marketmaestro.model import Fill, Instrument, Kline, Side
from marketmaestro.portfolio import Portfolio
from marketmaestro.storage import AsyncStore, Store
from marketmaestro.supervision import Mailbox
from tests.trading.test_portfolio import filled_msg as filled

__all__ = ["filled"]

TIMEOUT = 5.0
D = Decimal
INSTRUMENTS = {
    "BTCUSDT": Instrument("BTCUSDT", "BTC", "USDT", D("0.01"), D("0.0001")),
    "ETHUSDT": Instrument("ETHUSDT", "ETH", "USDT", D("0.01"), D("0.001")),
    "BNBUSDT": Instrument("BNBUSDT", "BNB", "USDT", D("0.01"), D("0.001")),
    "ETHBTC": Instrument("ETHBTC", "ETH", "BTC", D("0.00001"), D("0.001")),
}
_ids = itertools.count(1)


def make_fill(
    side: Side,
    quantity: str,
    price: str,
    *,
    strategy: str = "",
    symbol: str = "BTCUSDT",
    fee: str = "0",
    fee_currency: str = "USDT",
) -> Fill:
    number = next(_ids)
    return Fill(
        fill_id=f"f-{number}",
        client_order_id=f"c-{number}",
        exchange="paper",
        symbol=symbol,
        side=side,
        quantity=D(quantity),
        price=D(price),
        fee=D(fee),
        fee_currency=fee_currency,
        timestamp=1_700_000_000_000 + number,
        strategy=strategy,
    )


def kline(symbol: str, close: float, timestamp: int = 1_700_000_000_000) -> KlineDataMsg:
    return KlineDataMsg("paper", Kline(symbol, "1m", timestamp, close, close, close, close, 1.0))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AsyncStore]:
    """A real SQLite store in tmp_path, for trio code."""
    with Store(tmp_path / "portfolio.db") as sync_store:
        yield AsyncStore(sync_store)


@asynccontextmanager
async def running_portfolio(store: AsyncStore) -> AsyncIterator[Portfolio]:
    portfolio = Portfolio(Mailbox("paper/portfolio"), exchange="paper", store=store, instruments=INSTRUMENTS)
    async with trio.open_nursery() as nursery:
        await nursery.start(portfolio.run)
        yield portfolio
        nursery.cancel_scope.cancel()
