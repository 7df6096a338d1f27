"""Kline files: what is written reads back exactly; damage is reported naming the file, good data kept."""

from __future__ import annotations

import json
import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from marketmaestro.data import (
    DataFileError,
    Gap,
    KlineFile,
    dataset_path,
    find_gaps,
    list_datasets,
    load_klines,
    read_klines,
)
from marketmaestro.data.files import HEADER_SIZE, RECORD
from marketmaestro.model import Kline

MINUTE = 60_000
START = 1_704_067_200_000


def klines(count: int, *, start: int = START, symbol: str = "BTCUSDT", interval: str = "1m") -> list[Kline]:
    step = MINUTE if interval == "1m" else 3_600_000
    return [
        Kline(symbol, interval, start + i * step, 100.0 + i, 101.5 + i, 99.25 + i, 100.75 + i, 0.1 * (i + 1))
        for i in range(count)
    ]


def test_klines_read_back_exactly_as_columns_and_objects(tmp_path: Path) -> None:
    file = KlineFile.at(tmp_path, "bybit", "BTCUSDT", "1m")
    written = klines(5)
    file.create(written[:2])
    assert file.append(written[2:]) == 3
    assert file.path == tmp_path / "bybit" / "BTCUSDT-1m.klines"
    assert file.path.stat().st_size == HEADER_SIZE + 5 * RECORD.itemsize
    columns = load_klines(tmp_path, "bybit", "BTCUSDT", "1m")
    assert len(columns) == 5 and columns.timestamp.dtype == np.int64 and columns.close.dtype == np.float64
    assert columns.to_klines() == written
    assert columns.close.tolist() == [k.close for k in written]
    assert read_klines(file.path).to_klines() == written
    assert (
        load_klines(
            tmp_path, "bybit", "BTCUSDT", "1m", start=START + MINUTE, end=START + 3 * MINUTE
        ).to_klines()
        == (written[1:4])
    )


def test_a_missing_dataset_says_how_to_download_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        load_klines(tmp_path, "bybit", "ETHUSDT", "1h")
    assert "mm data download --exchange bybit --symbol ETHUSDT --interval 1h" in str(caught.value)


def test_a_partial_last_kline_is_reported_and_cut_off_keeping_the_whole_ones(tmp_path: Path) -> None:
    file = KlineFile.at(tmp_path, "bybit", "BTCUSDT", "1m")
    file.create(klines(3))
    with file.path.open("ab") as handle:
        handle.write(b"\x01" * 20)  # a crash in the middle of an append
    with pytest.raises(DataFileError) as caught:
        file.load()
    message = str(caught.value)
    assert str(file.path) in message and "partial kline (20 bytes after 3 whole ones)" in message
    assert "mm data download" in message
    assert file.cut_partial_record() == 20
    assert file.load().to_klines() == klines(3)


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("repeat", "kline 2 opens at 1704067260000, not after the one before (1704067260000)"),
        ("off_grid", "kline 1 opens at 1704067260001, off the 1m grid"),
        ("nan", "kline 1 has a non-finite close"),
        ("magic", "not a MarketMaestro kline file"),
        ("version", "kline file format 7 is not supported"),
        ("identity", "holds {'exchange': 'bybit', 'symbol': 'BTCUSDT', 'interval': '1m'}, not"),
    ],
)
def test_damage_is_reported_naming_the_file(tmp_path: Path, damage: str, expected: str) -> None:
    file = KlineFile.at(tmp_path, "bybit", "BTCUSDT", "1m")
    file.create(klines(3))
    data = bytearray(file.path.read_bytes())
    record = HEADER_SIZE + RECORD.itemsize
    match damage:
        case "repeat":
            data[record + RECORD.itemsize : record + RECORD.itemsize + 8] = struct.pack("<q", START + MINUTE)
        case "off_grid":
            data[record : record + 8] = struct.pack("<q", START + MINUTE + 1)
        case "nan":
            data[record + 32 : record + 40] = struct.pack("<d", float("nan"))
        case "magic":
            data[:8] = b"NOTKLINE"
        case "version":
            data[8:10] = struct.pack("<H", 7)
    file.path.write_bytes(bytes(data))
    target = KlineFile(file.path, "bybit", "ETHUSDT", "1m") if damage == "identity" else file
    with pytest.raises(DataFileError) as caught:
        target.load()
    assert str(caught.value).startswith(f"{file.path}: ")
    assert expected in str(caught.value)
    assert file.path.read_bytes() == bytes(data), "loading never changes the file"


def test_names_that_cannot_be_file_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape("exchange '../x' cannot name a data file")):
        dataset_path(tmp_path, "../x", "BTCUSDT", "1m")
    with pytest.raises(ValueError, match="unknown interval '7m'"):
        dataset_path(tmp_path, "bybit", "BTCUSDT", "7m")


def test_gaps_are_the_missing_open_times() -> None:
    stamps = np.array([START, START + MINUTE, START + 4 * MINUTE, START + 5 * MINUTE, START + 7 * MINUTE])
    assert find_gaps(stamps, MINUTE) == [
        Gap(START + 2 * MINUTE, START + 3 * MINUTE, 2),
        Gap(START + 6 * MINUTE, START + 6 * MINUTE, 1),
    ]
    assert find_gaps(stamps[:2], MINUTE) == []


def test_list_datasets_reports_ranges_gaps_and_damaged_files(tmp_path: Path) -> None:
    one = KlineFile.at(tmp_path, "bybit", "BTCUSDT", "1m")
    one.create([*klines(2), *klines(1, start=START + 5 * MINUTE)])
    hourly = KlineFile.at(tmp_path, "bybit", "BTCUSDT", "1h")
    hourly.create(klines(4, interval="1h"))
    broken = KlineFile.at(tmp_path, "bitvavo", "ETHEUR", "1m")
    broken.create(klines(2, symbol="ETHEUR"))
    os.truncate(broken.path, broken.path.stat().st_size - 5)
    (tmp_path / "bybit" / "BTCUSDT-1m.klines.lock").write_text("")  # not a dataset
    found = list_datasets(tmp_path)
    assert [(d.exchange, d.symbol, d.interval) for d in found] == [
        ("bitvavo", "ETHEUR", "1m"),
        ("bybit", "BTCUSDT", "1m"),
        ("bybit", "BTCUSDT", "1h"),
    ]
    damaged, minutes, hours = found
    assert damaged.error is not None and "partial kline" in damaged.error and damaged.count == 0
    assert (minutes.count, minutes.first, minutes.last) == (3, START, START + 5 * MINUTE)
    assert minutes.gaps == [Gap(START + 2 * MINUTE, START + 4 * MINUTE, 3)] and minutes.missing == 3
    assert (hours.count, hours.gaps, hours.error) == (4, [], None)


def test_the_documented_layout_reads_the_file_without_marketmaestro(tmp_path: Path) -> None:
    """docs/data.md's table of bytes, followed by hand: magic, version, header length, JSON, records."""
    file = KlineFile.at(tmp_path, "bybit", "BTCUSDT", "1m")
    file.create(klines(2))
    data = file.path.read_bytes()
    assert data[:8] == b"MMKLINES"
    assert struct.unpack("<HH", data[8:12]) == (1, 256)
    assert json.loads(data[12:256]) == {
        "exchange": "bybit",
        "symbol": "BTCUSDT",
        "interval": "1m",
        "interval_ms": 60_000,
        "columns": ["timestamp", "open", "high", "low", "close", "volume"],
    }
    records = [struct.unpack("<q5d", data[256 + 48 * i : 256 + 48 * (i + 1)]) for i in range(2)]
    assert records == [(k.timestamp, k.open, k.high, k.low, k.close, k.volume) for k in klines(2)]
    assert len(data) == 256 + 2 * 48
