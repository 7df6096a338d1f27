"""``mm data download`` from the fake Bitvavo over a long history: the real ``mm`` in a process of its own,
the fake served by this test.

The fake has a trade every quarter of an hour over 8,000 minutes (more than five of Bitvavo's 1,440-minute
windows of 1m candles), with 2,000 minutes without trades in the middle and nothing in the month before.
Bitvavo has no candle for a minute without trades, so most minutes are gaps, as on a quiet market. A
download from that month fills the file with every candle, once, and reports the gaps.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import trio
import yaml

from marketmaestro.data import load_klines
from marketmaestro_bitvavo.testing import FakeBitvavo, FakeServer, serve_fake

MINUTE = 60_000
HISTORY = 8000
EVERY = 15
"""Minutes from one trade to the next."""
GAP = (2000, 4000)
"""The stretch without trades: minutes ``GAP[0]`` to ``GAP[1] - 1`` of the history."""
DAY = 86_400_000


def utc(ms: int, pattern: str = "%Y-%m-%d %H:%M") -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime(pattern)


async def test_a_download_from_long_before_the_history_fills_the_file_with_every_candle(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    fake = FakeBitvavo()
    now = fake.exchange.now_ms()
    first = now - now % MINUTE - HISTORY * MINUTE  # the last minute of the history closed before now
    expected = [first + i * MINUTE for i in range(0, HISTORY, EVERY) if not GAP[0] <= i < GAP[1]]
    prices = {t: Decimal(30000 + (t // MINUTE) % 97) for t in expected}
    for stamp, price in prices.items():
        fake.set_price("BTC-EUR", price, timestamp=stamp + 1_000)
    server: FakeServer = await nursery.start(serve_fake, fake)

    options = {"rest_url": server.rest_url, "ws_url": server.ws_url}
    settings = {"data": {"dir": "market"}, "exchanges": {"bitvavo": {"options": options}}}
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(settings))
    since = utc(first - 30 * DAY, "%Y-%m-%d")
    command = [str(Path(sys.executable).with_name("mm")), "data", "download", "--exchange", "bitvavo",
               "--symbol", "BTCEUR", "--interval", "1m", "--since", since]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MM_", "VIRTUAL_ENV"))}
    with trio.fail_after(120):
        done = await trio.run_process(
            command, cwd=tmp_path, env=env, capture_stdout=True, capture_stderr=True, check=False
        )
    assert done.returncode == 0, done.stderr.decode()
    missing = (expected[-1] - first) // MINUTE + 1 - len(expected)
    assert done.stdout.decode().splitlines()[:3] == [
        f"bitvavo BTCEUR 1m: {len(expected)} new klines stored, {len(expected)} in total "
        f"from {utc(first)} to {utc(expected[-1])} UTC",
        f"file: {tmp_path / 'market' / 'bitvavo' / 'BTCEUR-1m.klines'}",
        f"gaps: {len(expected) - 1} ({missing} klines missing; some exchanges skip intervals without trades)",
    ]
    stored = load_klines(tmp_path / "market", "bitvavo", "BTCEUR", "1m").to_klines()
    assert [k.timestamp for k in stored] == expected
    assert all(k.open == k.close == float(prices[k.timestamp]) for k in stored), "one trade a candle"
