"""Helpers for tests that need a paper exchange: klines CSV files and an exchange built from options.

The trading and strategy tests import these too (``from tests.exchanges.conftest import ...``), so every
test builds its paper exchange the same way the exchange service does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest

from marketmaestro.config import ExchangeConfig
from marketmaestro.exchanges import ExchangeContext
from marketmaestro.exchanges.paper import PaperExchange, PaperOptions
from marketmaestro.model import Kline
from marketmaestro.storage import AsyncStore, Store

START_MS = 1_704_067_200_000
"""2024-01-01T00:00:00Z, where the CSV files written here start (as the benchmark generator gen_klines.py)."""
MINUTE_MS = 60_000

Row = tuple[float, float, float, float, float]
"""open, high, low, close, volume."""

# A market whose order book is known to the cent: the last warm-up close is BOOK_CLOSE and the spread is
# 10 bps, so the best ask is 20011.30065 and the best bid 19991.29935, which sit on the 0.5 tick at
# BEST_ASK and BEST_BID.
BOOK_CLOSE = 20001.3
BEST_ASK = Decimal("20011.5")
BEST_BID = Decimal("19991.5")
KNOWN_BOOK_OPTIONS: dict[str, Any] = {
    "symbols": {},
    "tick_size": Decimal("0.5"),
    "step_size": Decimal("0.001"),
    "min_notional": Decimal("10"),
    "spread_bps": 10.0,
    "fee_rate": Decimal("0.001"),
    "balances": {"USDT": Decimal("20000")},
    "kline_seconds": 0.001,
}


def rows_from_closes(closes: Sequence[float], *, first_open: float | None = None) -> list[Row]:
    """Klines that open at the previous close, with a high and low just outside open and close."""
    rows: list[Row] = []
    previous = closes[0] if first_open is None else first_open
    for index, close in enumerate(closes):
        high = max(previous, close) + 0.25
        low = min(previous, close) - 0.25
        rows.append((previous, high, low, close, 1.0 + index % 7))
        previous = close
    return rows


def write_klines_csv(
    path: Path,
    rows: Sequence[Row],
    *,
    symbol: str = "BTCUSDT",
    interval: str = "1m",
    interval_ms: int = MINUTE_MS,
    start_ms: int = START_MS,
    timestamps: Literal["iso", "ms", "s"] = "iso",
) -> list[Kline]:
    """Write ``rows`` in the format of gen_klines.py and return the klines a replay must produce.

    ``timestamps`` is ``iso`` (``2024-01-01T00:00:00Z``, as gen_klines.py writes), ``ms`` (epoch
    milliseconds) or ``s`` (epoch seconds). Numbers are written with ``repr`` so they read back exactly.
    """
    lines = ["timestamp,open,high,low,close,volume"]
    expected: list[Kline] = []
    for index, (open_, high, low, close, volume) in enumerate(rows):
        millis = start_ms + index * interval_ms
        if timestamps == "iso":
            stamp = dt.datetime.fromtimestamp(millis / 1000, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif timestamps == "ms":
            stamp = str(millis)
        else:
            stamp = str(millis // 1000)
        lines.append(stamp + "," + ",".join(repr(float(x)) for x in (open_, high, low, close, volume)))
        expected.append(Kline(symbol, interval, millis, open_, high, low, close, volume, closed=True))
    path.write_text("\n".join(lines) + "\n")
    return expected


def exchange_config(*symbols: str) -> ExchangeConfig:
    """An exchange configuration trading ``symbols`` (no strategies)."""
    return ExchangeConfig.model_validate({"pairs": [{"symbol": symbol} for symbol in symbols]})


def make_paper(
    store: AsyncStore,
    folder: Path,
    *,
    name: str = "paper",
    pairs: Sequence[str] = ("BTCUSDT",),
    **options: Any,
) -> PaperExchange:
    """A paper exchange as the exchange service builds it, with ``options`` validated by PaperOptions."""
    validated = PaperOptions.model_validate(options)
    return PaperExchange(ExchangeContext(name, exchange_config(*pairs), validated, store, folder))


def known_book_paper(
    store: AsyncStore, folder: Path, *, warmup_rows: int = 25, **overrides: Any
) -> tuple[PaperExchange, list[Kline]]:
    """A paper exchange replaying a CSV whose warm-up ends at ``BOOK_CLOSE`` (see ``BEST_ASK``/``BEST_BID``).

    Every row of the CSV is warm-up, so the replay has nothing left and the book stays where it is.
    Returns the exchange (not yet connected) and the warm-up klines.
    """
    closes = [20000.0 + (i % 5) * 0.5 for i in range(warmup_rows - 1)] + [BOOK_CLOSE]
    klines = write_klines_csv(folder / "btc.csv", rows_from_closes(closes))
    options = {**KNOWN_BOOK_OPTIONS, "csv": {"BTCUSDT": "btc.csv"}, "warmup": warmup_rows, **overrides}
    return make_paper(store, folder, **options), klines


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AsyncStore]:
    """A real SQLite store in tmp_path, for trio code."""
    with Store(tmp_path / "t.db") as sync_store:
        yield AsyncStore(sync_store)
