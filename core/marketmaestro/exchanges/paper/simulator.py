"""The market simulator behind the paper exchange.

Per symbol, either a random walk (geometric Brownian motion sampled in sub-steps, so each kline has a
realistic open/high/low/close) or the replay of a klines CSV. Deterministic: the same seed, symbols and
start time give the same klines, order books and tickers.
"""

from __future__ import annotations

import csv
import math
import random
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from marketmaestro.model import Kline, OrderBook, Ticker

SUB_STEPS = 12
DAY_MS = 86_400_000


class CsvFormatError(ValueError):
    """A klines CSV is not in the expected format; the message names the file, line and column."""


CSV_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")


def read_klines_csv(path: Path, symbol: str, interval: str) -> Iterator[Kline]:
    """Klines from a CSV with columns timestamp,open,high,low,close,volume.

    ``timestamp`` is epoch milliseconds, epoch seconds or an ISO-8601 time (``2024-01-01T00:00:00Z``; a time
    without an offset is UTC).
    """
    for timestamp, o, h, lo, c, v in _csv_rows(path):
        yield Kline(symbol, interval, timestamp, o, h, lo, c, v, closed=True)


def read_kline_columns(path: Path) -> dict[str, list[Any]]:
    """The klines of a CSV (as ``read_klines_csv`` reads them) as columns named after ``CSV_COLUMNS``,
    without building a ``Kline`` per row (what ``mm strategy test`` feeds the replay).

    A well-formed file is parsed in bulk by numpy (several times faster); anything unusual (a bad value, a
    quoted field, a blank line) is read row by row instead, which gives the same values or the error naming
    the line and column."""
    try:
        columns = _bulk_kline_columns(path)
    except (ValueError, OSError):
        columns = None
    return columns if columns is not None else _row_kline_columns(path)


def _bulk_kline_columns(path: Path) -> dict[str, list[Any]] | None:
    """``read_kline_columns`` for a plain file, or None when it is not one (the row reader decides)."""
    import numpy as np  # only this command needs it; kept off the import path of the others

    lines = path.read_text().splitlines()
    if not lines or [f.strip().lower() for f in lines[0].split(",")] != list(CSV_COLUMNS):
        return None
    body = lines[1:]
    # Exactly five commas a row: loadtxt fails on fewer, and the total rules out more.
    if sum(line.count(",") for line in body) != 5 * len(body) or any(not line.strip() for line in body):
        return None
    numbers = np.loadtxt(body, delimiter=",", usecols=(1, 2, 3, 4, 5), dtype=np.float64, ndmin=2)
    if numbers.shape[0] != len(body) or not bool(np.isfinite(numbers).all()):
        return None
    stamps = [line[: line.index(",")].strip() for line in body]
    try:
        number = np.array(stamps, dtype=np.float64)
        if not bool((np.abs(number) < 2.0**53).all()):  # NaN, infinite or absurd: the row reader says so
            return None
        timestamps = np.where(number > 1e11, number, number * 1000).astype(np.int64).tolist()
    except ValueError:
        timestamps = [_iso_milliseconds(stamp) for stamp in stamps]
    columns: dict[str, list[Any]] = {"timestamp": timestamps}
    for index, name in enumerate(CSV_COLUMNS[1:]):
        columns[name] = numbers[:, index].tolist()
    return columns


def _iso_milliseconds(text: str) -> int:
    """An ISO-8601 time as epoch milliseconds, as ``_parse_timestamp`` reads it (a time without an offset
    is UTC); ``ValueError`` when it is not one."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _row_kline_columns(path: Path) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {name: [] for name in CSV_COLUMNS}
    appends = [columns[name].append for name in CSV_COLUMNS]
    for row in _csv_rows(path):
        for append, value in zip(appends, row, strict=True):
            append(value)
    return columns


def _csv_rows(path: Path) -> Iterator[tuple[int, float, float, float, float, float]]:
    """Each row of a klines CSV, parsed; ``CsvFormatError`` names the file, line and column of a bad value."""
    finite = math.isfinite
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [f.strip().lower() for f in header] != list(CSV_COLUMNS):
            raise CsvFormatError(f"{path}:1: header got {header!r}; expected {','.join(CSV_COLUMNS)}")
        for line, row in enumerate(reader, start=2):
            if len(row) != len(CSV_COLUMNS):
                raise CsvFormatError(f"{path}:{line}: got {len(row)} columns; expected {len(CSV_COLUMNS)}")
            try:
                o, h, lo, c, v = (float(raw) for raw in row[1:])
                good = finite(o) and finite(h) and finite(lo) and finite(c) and finite(v)
            except ValueError:
                good = False
            if not good:  # the slow path, for the message naming the bad value
                pairs = zip(CSV_COLUMNS[1:], row[1:], strict=True)
                o, h, lo, c, v = (_parse_number(raw, column, path, line) for column, raw in pairs)
            yield _parse_timestamp(row[0], path, line), o, h, lo, c, v


def _parse_number(raw: str, column: str, path: Path, line: int) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise CsvFormatError(f"{path}:{line}: column {column!r}: got {raw!r}; expected a finite number")
    return value


def _parse_timestamp(raw: str, path: Path, line: int) -> int:
    text = raw.strip()
    try:
        number = float(text)
    except ValueError:
        try:
            return _iso_milliseconds(text)
        except ValueError:
            raise CsvFormatError(
                f"{path}:{line}: column 'timestamp': got {raw!r}; "
                "expected epoch ms, epoch seconds or ISO-8601"
            ) from None
    if not math.isfinite(number):
        raise CsvFormatError(f"{path}:{line}: column 'timestamp': got {raw!r}; expected a finite number")
    return int(number if number > 1e11 else number * 1000)


class RandomWalk:
    """One symbol's simulated prices."""

    def __init__(self, symbol: str, price: float, volatility: float, seed: int) -> None:
        self.symbol = symbol
        self.price = price
        self.volatility = volatility
        # A string seed is hashed with SHA-512 by ``random``: stable across processes, unlike ``hash()``.
        self._rng = random.Random(f"{seed}:{symbol}")

    def next_kline(self, interval: str, timestamp: int) -> Kline:
        step_sigma = self.volatility / math.sqrt(SUB_STEPS)
        open_ = high = low = price = self.price
        for _ in range(SUB_STEPS):
            price *= math.exp(self._rng.gauss(-0.5 * step_sigma**2, step_sigma))
            high, low = max(high, price), min(low, price)
        self.price = price
        volume = self._rng.lognormvariate(0.0, 0.6) * 10
        return Kline(self.symbol, interval, timestamp, open_, high, low, price, volume, closed=True)

    def book_quantities(self, depth: int) -> list[float]:
        return [round(self._rng.uniform(0.05, 2.0) * (1 + i * 0.5), 6) for i in range(depth)]


class MarketSimulator:
    """All simulated symbols of one paper exchange, advanced one base kline at a time."""

    def __init__(
        self,
        *,
        interval: str,
        interval_ms: int,
        start_ms: int,
        walks: dict[str, RandomWalk],
        replays: dict[str, Iterator[Kline]],
        depth: int,
        spread_bps: float,
    ) -> None:
        self.interval = interval
        self.interval_ms = interval_ms
        self._next_ms = start_ms
        self._walks = walks
        self._replays = replays
        self._depth = depth
        self._half_spread = spread_bps / 20_000
        self._day: dict[str, deque[Kline]] = {
            s: deque(maxlen=max(1, DAY_MS // interval_ms)) for s in self.symbols
        }
        self.last: dict[str, Kline] = {}
        self.finished: set[str] = set()

    @property
    def symbols(self) -> list[str]:
        return sorted({*self._walks, *self._replays})

    def step(self, *, walks_only: bool = False) -> list[Kline]:
        """The next closed kline of every symbol that still has data (of the random walks only, for their
        warm-up: replays bring their own history)."""
        klines: list[Kline] = []
        for symbol in self.symbols:
            kline: Kline | None
            if walks_only and symbol not in self._walks:
                continue
            if symbol in self._walks:
                kline = self._walks[symbol].next_kline(self.interval, self._next_ms)
            else:
                kline = next(self._replays[symbol], None)
                if kline is None:
                    self.finished.add(symbol)
                    continue
            self.last[symbol] = kline
            self._day[symbol].append(kline)
            klines.append(kline)
        self._next_ms += self.interval_ms
        return klines

    @property
    def exhausted(self) -> bool:
        """Every symbol is a replay that has run out of rows."""
        return not self._walks and self.finished >= set(self._replays)

    def orderbook(self, symbol: str) -> OrderBook:
        kline = self.last[symbol]
        price = kline.close
        step = price * self._half_spread * 2
        walk = self._walks.get(symbol)
        bid_q = walk.book_quantities(self._depth) if walk else [1.0] * self._depth
        ask_q = walk.book_quantities(self._depth) if walk else [1.0] * self._depth
        bids = tuple((price * (1 - self._half_spread) - i * step, q) for i, q in enumerate(bid_q))
        asks = tuple((price * (1 + self._half_spread) + i * step, q) for i, q in enumerate(ask_q))
        return OrderBook(symbol, kline.timestamp + self.interval_ms, bids, asks)

    def ticker(self, symbol: str, book: OrderBook) -> Ticker:
        day = self._day[symbol]
        last = day[-1]
        first_open = day[0].open
        return Ticker(
            symbol=symbol,
            timestamp=last.timestamp + self.interval_ms,
            last=last.close,
            bid=book.best_bid or last.close,
            ask=book.best_ask or last.close,
            volume_24h=sum(k.volume for k in day),
            change_24h=(last.close / first_open - 1) * 100 if first_open else 0.0,
        )
