"""The real ``mm run`` paper trading on a feed: the scripted exchange plugin, installed by entry point."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import STRATEGIES, clean_environ, free_port, mm_command
from tests.exchanges.scripted import MINUTE_MS, ScriptedOptions, install_scripted, price_at

DEADLINE = 40.0
FEED_OPTIONS: dict[str, Any] = {"kline_seconds": 0.05, "period_minutes": 24, "amplitude": 150}


def settings(folder: Path, options: dict[str, Any]) -> Path:
    path = folder / "settings.yaml"
    strategy = {
        "name": "simple_sma",
        "file": str(STRATEGIES / "simple_sma.star"),
        "config": {"position_size": 0.01},
    }
    path.write_text(
        yaml.safe_dump(
            {
                "database": {"path": "bot.db"},
                "api": {"enabled": False, "port": free_port()},
                "logging": {"file": "logs/bot.log"},
                "risk": {"max_position_size": {"default": 0.05}},
                "exchanges": {
                    "paper": {"options": options, "pairs": [{"symbol": "BTCUSDT", "strategies": [strategy]}]}
                },
            }
        )
    )
    return path


def fills(db: Path) -> list[tuple[str, str, str]]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return conn.execute("select side, quantity, price from fills order by timestamp").fetchall()
    except sqlite3.OperationalError:
        return []  # not migrated yet


def test_mm_run_paper_trades_at_the_feeds_prices(tmp_path: Path) -> None:
    env = clean_environ(**install_scripted(tmp_path / "site"))
    settings(tmp_path, {"feed": "scripted", "feed_options": FEED_OPTIONS, "balances": {"USDT": 50000}})
    started = time.time()
    output = tmp_path / "output.txt"
    with output.open("w") as out:
        bot = subprocess.Popen([*mm_command(), "run"], cwd=tmp_path, env=env, stdout=out, stderr=out)
        try:
            end = time.monotonic() + DEADLINE
            # A buy and the sell that closes it: both directions of the book are used.
            while time.monotonic() < end and bot.poll() is None and len(fills(tmp_path / "bot.db")) < 2:
                time.sleep(0.2)
            bot.send_signal(signal.SIGINT)
            assert bot.wait(timeout=20) == 0, output.read_text()
        finally:
            if bot.poll() is None:
                bot.kill()
                bot.wait()
    stored = fills(tmp_path / "bot.db")
    assert len(stored) >= 2, output.read_text()

    # The scripted clock starts at the minute the bot started and runs a minute per 0.05 s.
    options = ScriptedOptions.model_validate(FEED_OPTIONS)
    first = int(started * 1000) // MINUTE_MS * MINUTE_MS - MINUTE_MS
    prices = {Decimal(repr(price_at(options, "BTCUSDT", first + i * MINUTE_MS))) for i in range(3000)}
    spread = Decimal("1.25")
    for side, quantity, price in stored:
        assert quantity == "0.0100"  # on the feed's quantity step (0.0001), not the simulator's
        # A buy pays the feed's ask (price + half spread), a sell gets its bid: never a simulated price.
        assert (Decimal(price) - spread if side == "buy" else Decimal(price) + spread) in prices, (
            side,
            price,
        )
    assert {side for side, _, _ in stored} == {"buy", "sell"}

    log = (tmp_path / "logs" / "bot.log").read_text()
    assert "public data only" not in log, "the paper exchange made a private call on its feed"
    with sqlite3.connect(tmp_path / "bot.db") as conn:
        venue = conn.execute(
            "select count(*) from settings where component = 'paper_exchange:paper:orders'"
        ).fetchone()[0]
        ours = conn.execute("select count(*) from orders where status = 'filled'").fetchone()[0]
    assert venue == ours == len(stored), "the paper venue keeps its own record of every order it filled"


def test_mm_run_stops_on_bad_feed_options_with_the_configuration_problem(tmp_path: Path) -> None:
    """The start-up check (test_paper_feed.py has every case) is wired into mm run."""
    env = clean_environ(**install_scripted(tmp_path / "site"))
    settings(tmp_path, {"feed": "scripted", "feed_options": {"page_limit": 0}})
    expected = "exchanges.paper.options.feed_options.page_limit: got 0; expected a number >= 1"
    result = subprocess.run(
        [*mm_command(), "run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
