"""``mm data download`` from the fake Bybit over a long history: the real ``mm`` and the fake (``python -m
marketmaestro_bybit.testing``) each in a process of their own.

The fake holds 6,000 closed minutes (six of Bybit's 1,000-kline windows) with a stretch of 1,500 minutes
without klines in the middle, and nothing in the month before them. A download from that month fills the
file with every kline, once, and reports the stretch as the one gap; running it again adds nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from marketmaestro.data import load_klines

MINUTE = 60_000
HISTORY = 6000
GAP = (2000, 3500)
"""The stretch without klines: minutes ``GAP[0]`` to ``GAP[1] - 1`` of the history."""
DAY = 86_400_000


def environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("MM_", "VIRTUAL_ENV"))}


@pytest.fixture
def fake() -> Iterator[dict[str, str]]:
    """The fake Bybit with ``HISTORY`` minutes of history, in its own process: its URLs."""
    server = subprocess.Popen(
        [sys.executable, "-m", "marketmaestro_bybit.testing", "--port", "0", "--history", str(HISTORY)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=environ(),
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line, "the fake did not start"
        yield json.loads(line)
    finally:
        server.kill()
        server.wait()
        if server.stdout is not None:
            server.stdout.close()


def rest(urls: dict[str, str], **params: Any) -> list[list[str]]:
    """Rows of the fake's ``/v5/market/kline`` for spot BTCUSDT 1m, newest first, as Bybit sends them."""
    query = {"category": "spot", "symbol": "BTCUSDT", "interval": "1", **params}
    body = httpx.get(f"{urls['rest_url']}/v5/market/kline", params=query, timeout=10).json()
    assert body["retCode"] == 0, body
    rows: list[list[str]] = body["result"]["list"]
    return rows


def utc(ms: int, pattern: str = "%Y-%m-%d %H:%M") -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime(pattern)


def test_a_download_from_long_before_the_history_fills_the_file_with_every_kline(
    tmp_path: Path, fake: dict[str, str]
) -> None:
    newest = int(rest(fake, limit=1)[0][0])
    first = newest - (HISTORY - 1) * MINUTE
    gap_start, gap_end = first + GAP[0] * MINUTE, first + GAP[1] * MINUTE
    control = httpx.post(
        fake["control_url"],
        json={"action": "remove_klines", "symbol": "BTCUSDT", "start": gap_start, "end": gap_end},
        timeout=10,
    )
    assert control.status_code == 200, control.text
    expected = [first + i * MINUTE for i in range(HISTORY) if not GAP[0] <= i < GAP[1]]

    options = {"rest_url": fake["rest_url"], "ws_public_url": fake["ws_public_spot"]}
    settings = {"data": {"dir": "market"}, "exchanges": {"bybit": {"options": options}}}
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(settings))
    since = utc(first - 30 * DAY, "%Y-%m-%d")
    command = [Path(sys.executable).with_name("mm"), "data", "download", "--exchange", "bybit",
               "--symbol", "BTCUSDT", "--interval", "1m", "--since", since]  # fmt: skip
    done = subprocess.run(command, cwd=tmp_path, env=environ(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"bybit BTCUSDT 1m: {len(expected)} new klines stored, {len(expected)} in total "
        f"from {utc(first)} to {utc(newest)} UTC",
        f"file: {tmp_path / 'market' / 'bybit' / 'BTCUSDT-1m.klines'}",
        "gaps: 1 (1500 klines missing; some exchanges skip intervals without trades)",
        f"  {utc(gap_start)} to {utc(gap_end - MINUTE)} UTC (1500 missing)",
    ]

    stored = load_klines(tmp_path / "market", "bybit", "BTCUSDT", "1m")
    assert stored.timestamp.tolist() == expected
    # Every value is Bybit's: the newest window and the one after the stretch, against the fake's REST.
    by_time = {k.timestamp: k for k in stored.to_klines()}
    for row in rest(fake, limit=1000) + rest(fake, start=gap_end, end=gap_end + 999 * MINUTE, limit=1000):
        kline = by_time[int(row[0])]
        assert [kline.open, kline.high, kline.low, kline.close, kline.volume] == [float(v) for v in row[1:6]]

    again = subprocess.run(command, cwd=tmp_path, env=environ(), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0].startswith(f"bybit BTCUSDT 1m: 0 new klines stored, {len(expected)}")
    assert load_klines(tmp_path / "market", "bybit", "BTCUSDT", "1m").timestamp.tolist() == expected
