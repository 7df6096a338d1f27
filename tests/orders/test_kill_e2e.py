"""The kill switch end to end: a real ``mm run`` holds emulated orders from a strategy; the real
``mm kill`` (through the API, with the token) cancels them and stops the strategy."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import clean_environ, mm_command, paper_settings

TOKEN = "kill-test-token-3b9e"
DEADLINE = 40.0

PLACES_TWO_STOPS = """
def settings():
    return {"interval": "1m"}

def on_kline(kline):
    set_state("klines", get_state("klines", 0) + 1)
    if get_state("placed", False):
        return None
    set_state("placed", True)
    return [
        {"action": "buy", "quantity": 0.01, "type": "stop_market", "stop_price": 1000000},
        {"action": "buy", "quantity": 0.01, "type": "take_profit", "stop_price": 1000},
    ]
"""


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []


def wait_for(predicate, what: str):  # type: ignore[no-untyped-def]
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    pytest.fail(f"timed out after {DEADLINE:g} s waiting for {what}")


def mm(folder: Path, *args: str, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*mm_command(), *args],
        cwd=folder,
        env=clean_environ(MM_API__TOKEN=token),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_mm_kill_cancels_the_emulated_orders_and_stops_the_strategies(tmp_path: Path) -> None:
    strategy = tmp_path / "two_stops.star"
    strategy.write_text(PLACES_TWO_STOPS)
    settings = paper_settings(tmp_path, strategy=strategy)
    assert yaml.safe_load(settings.read_text())["api"]["port"]
    db = tmp_path / "bot.db"
    log = (tmp_path / "run.txt").open("w")
    proc = subprocess.Popen(
        [*mm_command(), "run"], cwd=tmp_path, env=clean_environ(MM_API__TOKEN=TOKEN), stdout=log, stderr=log
    )
    try:
        held = "select client_order_id from orders where status = 'accepted' and emulated = 1"
        wait_for(lambda: len(rows(db, held)) == 2, "the strategy's two emulated orders")

        refused = mm(tmp_path, "kill", token="wrong-token")
        assert refused.returncode == 1
        assert "refused the API token" in refused.stderr
        assert len(rows(db, held)) == 2

        killed = mm(tmp_path, "kill")
        assert killed.returncode == 0, killed.stderr
        assert "paper: 2 open order(s) ended (2 emulated)" in killed.stdout
        assert "strategies: stopped" in killed.stdout
        statuses = rows(db, "select status, error from orders order by created_at")
        assert statuses == [("cancelled", "kill switch"), ("cancelled", "kill switch")]

        # The strategy is stopped: it sees no more klines, and the bot itself keeps running.
        klines = "select value from strategy_state where key = 'klines'"
        before = rows(db, klines)
        time.sleep(1.0)
        assert rows(db, klines) == before
        assert proc.poll() is None
        assert rows(db, "select count(*) from events where kind = 'order.cancelled'") == [(2,)]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()

    # The halt outlives the restart: the restarted bot is halted until an operator lifts it.
    halts = "select exchange, rule from risk_halts"
    assert rows(db, halts) == [("paper", "kill_switch")]
    log = (tmp_path / "run2.txt").open("w")
    proc = subprocess.Popen(
        [*mm_command(), "run"], cwd=tmp_path, env=clean_environ(MM_API__TOKEN=TOKEN), stdout=log, stderr=log
    )
    try:
        klines = "select value from strategy_state where key = 'klines'"
        before = rows(db, klines)
        wait_for(lambda: rows(db, klines) != before, "the restarted bot's strategy")
        lifted = mm(tmp_path, "kill", "--lift")
        assert lifted.returncode == 0, lifted.stderr
        assert lifted.stdout.splitlines() == ["paper: halt lifted"]
        assert rows(db, halts) == []
        again = mm(tmp_path, "kill", "--lift")
        assert again.stdout.splitlines() == ["paper: not halted"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_mm_kill_without_a_running_bot_says_so(tmp_path: Path) -> None:
    paper_settings(tmp_path)
    result = mm(tmp_path, "kill")
    assert result.returncode == 1
    assert "mm kill: cannot reach the bot at http://127.0.0.1:" in result.stderr
