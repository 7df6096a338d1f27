"""Kline files: one per exchange, symbol and interval, made to load in one read and to survive crashes.

A file is ``<data dir>/<exchange>/<SYMBOL>-<interval>.klines``::

    bytes 0-7      magic  b"MMKLINES"
    bytes 8-9      format version, little-endian uint16 (1)
    bytes 10-11    header length in bytes, little-endian uint16 (256)
    bytes 12-255   JSON {"exchange", "symbol", "interval", "interval_ms", "columns"}, padded with spaces
    then           one 48-byte record per kline, oldest first: open time (int64 ms, UTC), open, high,
                   low, close, volume (float64), all little-endian

A file is created whole (written to a temporary file, then renamed), and klines are only ever appended as
whole records, each batch flushed to disk before the next. A crash can therefore only leave a partial last
record: loading then fails with a message naming the file, and the next download cuts the partial record
off, keeping every whole kline. Loading also checks that open times increase strictly and sit on the
interval's grid, so no damage goes unnoticed.
"""

from __future__ import annotations

import json
import os
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from marketmaestro.model import Kline, interval_seconds

__all__ = [
    "COLUMNS",
    "RECORD",
    "DataFileError",
    "KlineColumns",
    "KlineFile",
    "dataset_path",
    "read_klines",
]

MAGIC = b"MMKLINES"
VERSION = 1
HEADER_SIZE = 256
COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
RECORD = np.dtype([("timestamp", "<i8"), *((name, "<f8") for name in COLUMNS[1:])])
"""One kline on disk: 48 bytes."""
SUFFIX = ".klines"
_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class DataFileError(Exception):
    """A kline file is unreadable, damaged or not what its name says; the message names the file."""


@dataclass(frozen=True)
class KlineColumns:
    """Klines as columns (numpy arrays of equal length, oldest first): what backtests read."""

    exchange: str
    symbol: str
    interval: str
    timestamp: npt.NDArray[np.int64]
    """Open times, epoch ms UTC."""
    open: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64]
    volume: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.timestamp)

    def between(self, start: int | None = None, end: int | None = None) -> KlineColumns:
        """The klines whose open time lies in [start, end] (ms; None: unbounded)."""
        low = 0 if start is None else int(np.searchsorted(self.timestamp, start, side="left"))
        high = len(self) if end is None else int(np.searchsorted(self.timestamp, end, side="right"))
        return KlineColumns(
            self.exchange,
            self.symbol,
            self.interval,
            *(getattr(self, name)[low:high] for name in COLUMNS),
        )

    def to_klines(self) -> list[Kline]:
        """The klines as :class:`~marketmaestro.model.Kline` objects (closed)."""
        rows = zip(*(getattr(self, name).tolist() for name in COLUMNS), strict=True)
        return [Kline(self.symbol, self.interval, int(t), o, h, lo, c, v) for t, o, h, lo, c, v in rows]


def dataset_path(data_dir: Path, exchange: str, symbol: str, interval: str) -> Path:
    """Where the klines of ``exchange``/``symbol``/``interval`` are kept under ``data_dir``."""
    interval_seconds(interval)  # ValueError naming the valid intervals
    for what, value in (("exchange", exchange), ("symbol", symbol)):
        if not _NAME.fullmatch(value) or value.startswith("."):
            raise ValueError(f"{what} {value!r} cannot name a data file; expected letters, digits, _ . -")
    return data_dir / exchange / f"{symbol}-{interval}{SUFFIX}"


def _header(exchange: str, symbol: str, interval: str) -> bytes:
    meta = {
        "exchange": exchange,
        "symbol": symbol,
        "interval": interval,
        "interval_ms": interval_seconds(interval) * 1000,
        "columns": list(COLUMNS),
    }
    text = json.dumps(meta).encode() + b"\n"
    fixed = MAGIC + struct.pack("<HH", VERSION, HEADER_SIZE)
    if len(fixed) + len(text) > HEADER_SIZE:
        raise ValueError(f"names too long for a kline file header: {exchange!r} {symbol!r}")
    return fixed + text.ljust(HEADER_SIZE - len(fixed), b" ")


def _records(klines: Iterable[Kline]) -> bytes:
    rows = [(k.timestamp, k.open, k.high, k.low, k.close, k.volume) for k in klines]
    return np.array(rows, dtype=RECORD).tobytes()


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class KlineFile:
    """One kline file: its identity, and reading, appending and replacing its records."""

    def __init__(self, path: Path, exchange: str, symbol: str, interval: str) -> None:
        self.path = path
        self.exchange, self.symbol, self.interval = exchange, symbol, interval
        self.interval_ms = interval_seconds(interval) * 1000

    @classmethod
    def at(cls, data_dir: Path, exchange: str, symbol: str, interval: str) -> KlineFile:
        return cls(dataset_path(data_dir, exchange, symbol, interval), exchange, symbol, interval)

    # --- reading ------------------------------------------------------------------------------------------

    def read_header(self) -> dict[str, Any]:
        """The header's metadata; ``DataFileError`` when it is not a kline file of this identity."""
        try:
            with self.path.open("rb") as handle:
                head = handle.read(HEADER_SIZE)
        except OSError as exc:
            raise DataFileError(f"{self.path}: cannot read it ({exc.strerror})") from None
        if len(head) < HEADER_SIZE or head[:8] != MAGIC:
            raise DataFileError(f"{self.path}: not a MarketMaestro kline file (no MMKLINES header)")
        version, size = struct.unpack("<HH", head[8:12])
        if version != VERSION or size != HEADER_SIZE:
            raise DataFileError(
                f"{self.path}: kline file format {version} is not supported (expected {VERSION})"
            )
        try:
            meta: dict[str, Any] = json.loads(head[12:])
        except ValueError:
            raise DataFileError(f"{self.path}: the header is damaged (its metadata is not JSON)") from None
        wanted = {"exchange": self.exchange, "symbol": self.symbol, "interval": self.interval}
        found = {key: meta.get(key) for key in wanted}
        if found != wanted or meta.get("columns") != list(COLUMNS):
            raise DataFileError(f"{self.path}: holds {found}, not {wanted}")
        return meta

    def whole_records(self) -> tuple[int, int]:
        """(whole records, bytes of a partial last record) after the header."""
        body = self.path.stat().st_size - HEADER_SIZE
        return body // RECORD.itemsize, body % RECORD.itemsize

    def load(self) -> KlineColumns:
        """Every kline of the file, checked (see the module docstring); ``DataFileError`` naming the file."""
        self.read_header()
        count, partial = self.whole_records()
        if partial:
            raise DataFileError(
                f"{self.path}: ends in a partial kline ({partial} bytes after {count} whole ones), as a "
                "crash while writing leaves it; the whole klines are intact: `mm data download` for the "
                "same exchange, symbol and interval cuts the partial one off and continues"
            )
        records = np.fromfile(self.path, dtype=RECORD, count=count, offset=HEADER_SIZE)
        self._check(records)
        return KlineColumns(
            self.exchange, self.symbol, self.interval, *(np.ascontiguousarray(records[n]) for n in COLUMNS)
        )

    def _check(self, records: npt.NDArray[Any]) -> None:
        stamps = records["timestamp"]
        if len(stamps) == 0:
            return
        steps = np.diff(stamps)
        bad = np.flatnonzero(steps <= 0)
        if bad.size:
            index = int(bad[0]) + 1
            raise DataFileError(
                f"{self.path}: kline {index} opens at {int(stamps[index])}, not after the one before "
                f"({int(stamps[index - 1])}); the file is damaged"
            )
        off_grid = np.flatnonzero(stamps % self.interval_ms)
        if off_grid.size:
            index = int(off_grid[0])
            raise DataFileError(
                f"{self.path}: kline {index} opens at {int(stamps[index])}, off the {self.interval} grid; "
                "the file is damaged"
            )
        for name in COLUMNS[1:]:
            broken = np.flatnonzero(~np.isfinite(records[name]))
            if broken.size:
                raise DataFileError(f"{self.path}: kline {int(broken[0])} has a non-finite {name}; damaged")

    def timestamps(self) -> npt.NDArray[np.int64]:
        """The open times, checked as by :meth:`load`."""
        return self.load().timestamp

    # --- writing ------------------------------------------------------------------------------------------

    def create(self, klines: Iterable[Kline] = ()) -> None:
        """Write the file anew (header and ``klines``) through a temporary file and a rename."""
        self.replace_with([self._records_of(klines)])

    def replace_with(self, chunks: Iterable[bytes]) -> None:
        """Write the header and ``chunks`` of records to a temporary file, then rename it over the file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("wb") as handle:
            handle.write(_header(self.exchange, self.symbol, self.interval))
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        _fsync_dir(self.path.parent)

    def append(self, klines: Iterable[Kline]) -> int:
        """Append ``klines`` as whole records and flush them to disk; how many were appended."""
        data = self._records_of(klines)
        with self.path.open("ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return len(data) // RECORD.itemsize

    def cut_partial_record(self) -> int:
        """Cut a partial last record off (a crash while appending); the bytes removed."""
        count, partial = self.whole_records()
        if partial:
            os.truncate(self.path, HEADER_SIZE + count * RECORD.itemsize)
        return partial

    def raw_records(self, chunk: int = 100_000) -> Iterable[bytes]:
        """The records as bytes, in chunks of ``chunk`` records (for rewriting the file)."""
        count, _ = self.whole_records()
        with self.path.open("rb") as handle:
            handle.seek(HEADER_SIZE)
            for start in range(0, count, chunk):
                yield handle.read(min(chunk, count - start) * RECORD.itemsize)

    def _records_of(self, klines: Iterable[Kline]) -> bytes:
        klines = list(klines)
        for kline in klines:
            if (kline.symbol, kline.interval) != (self.symbol, self.interval):
                raise ValueError(f"kline {kline} does not belong in {self.path}")
        return _records(klines) if klines else b""


def read_klines(path: Path) -> KlineColumns:
    """Load a kline file by its path alone (exchange, symbol and interval are read from its header)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(HEADER_SIZE)
        meta = json.loads(head[12:]) if head[:8] == MAGIC else {}
    except (OSError, ValueError):
        meta = {}
    if not all(isinstance(meta.get(key), str) for key in ("exchange", "symbol", "interval")):
        raise DataFileError(f"{path}: not a MarketMaestro kline file (no readable MMKLINES header)")
    return KlineFile(path, meta["exchange"], meta["symbol"], meta["interval"]).load()
