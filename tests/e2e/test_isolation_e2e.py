"""One bad strategy cannot take the bot down: the real ``mm run`` with a runaway loop, a memory bomb and
simple_sma trading next to them on a fast paper market."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import STRATEGIES, clean_environ, mm_command, paper_settings
from tests.e2e.test_mm_run import TOKEN, _health, _wait_for

LOOP_BUDGET = 0.5
BOMB_MEMORY_MB = 64
COMPONENT = "exchange:paper/strategy:{}:BTCUSDT"

LOOP = """
def settings():
    return {"interval": "1m"}

def on_kline(kline):
    total = 0
    for i in range(1000000000000):
        total += i
    return None
"""
BOMB = """
def settings():
    return {"interval": "1m"}

def on_kline(kline):
    hoard = []
    for i in range(1000000000):
        hoard.append([i] * 1000)
    return None
"""


def _settings(folder: Path) -> Path:
    (folder / "loop.star").write_text(LOOP)
    (folder / "bomb.star").write_text(BOMB)
    path = paper_settings(folder, strategy=STRATEGIES / "simple_sma.star")
    settings = yaml.safe_load(path.read_text())
    strategies = settings["exchanges"]["paper"]["pairs"][0]["strategies"]
    strategies += [
        {"name": "loop", "file": "loop.star", "callback_timeout": LOOP_BUDGET},
        {"name": "bomb", "file": "bomb.star", "memory_mb": BOMB_MEMORY_MB},
    ]
    path.write_text(yaml.safe_dump(settings))
    return path


def _query(db: Path, sql: str, *params: str) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError:  # not migrated yet
            return []


def _sma_fills(db: Path) -> int:
    return len(_query(db, "select 1 from orders where strategy = 'simple_sma' and status = 'filled'"))


def _failures(db: Path, strategy: str) -> list[dict[str, Any]]:
    rows = _query(
        db,
        "select data from events where kind = 'strategy.worker_failed' and strategy = ? "
        "order by timestamp, id",
        strategy,
    )
    return [json.loads(data) for (data,) in rows]


def _components(port: int) -> dict[str, Any]:
    response = _health(port)
    return response.json()["components"] if response is not None and response.status_code == 200 else {}


def _disabled(port: int, name: str) -> dict[str, Any] | None:
    entry = _components(port).get(COMPONENT.format(name))
    return entry if entry and entry["state"] == "failed" else None


def test_a_runaway_loop_and_a_memory_bomb_are_stopped_while_simple_sma_keeps_trading(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    port = yaml.safe_load(settings.read_text())["api"]["port"]
    db = tmp_path / "bot.db"
    with (tmp_path / "stderr.txt").open("w") as stderr:
        proc = subprocess.Popen(
            [*mm_command(), "run"],
            cwd=tmp_path,
            env=clean_environ(MM_API__TOKEN=TOKEN),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        _wait_for(lambda: _failures(db, "loop") and _failures(db, "bomb"), "both bad strategies to fail")
        at_first_failure = _sma_fills(db)
        loop = _wait_for(lambda: _disabled(port, "loop"), "the looping strategy to be disabled")
        bomb = _wait_for(lambda: _disabled(port, "bomb"), "the memory bomb to be disabled")
        at_disable = _sma_fills(db)
        _wait_for(lambda: _sma_fills(db) > at_disable, "simple_sma to fill an order after both were disabled")
        sma = _components(port)[COMPONENT.format("simple_sma")]
        assert proc.poll() is None

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert (sma["state"], sma["restarts"]) == ("running", 0)
    assert at_disable > at_first_failure, "simple_sma kept filling orders while the others were restarting"
    assert (
        loop["detail"]
        == f"disabled after 3 worker failures within 300 s; last: over its {LOOP_BUDGET:g} s budget"
    )
    assert (
        bomb["detail"]
        == f"disabled after 3 worker failures within 300 s; last: out of memory ({BOMB_MEMORY_MB} MiB)"
    )
    assert loop["restarts"] == bomb["restarts"] == 3

    loops = _failures(db, "loop")
    assert [f["reason"] for f in loops] == [f"over its {LOOP_BUDGET:g} s budget"] * 3
    assert all(LOOP_BUDGET <= f["elapsed_seconds"] < LOOP_BUDGET + 1.0 for f in loops), loops
    bombs = _failures(db, "bomb")
    assert [f["reason"] for f in bombs] == [f"out of memory ({BOMB_MEMORY_MB} MiB)"] * 3
    # Stopped by the memory limit well within the default 2 s budget.
    assert all(f["elapsed_seconds"] < 2.0 for f in bombs), bombs
    disabled = _query(db, "select strategy from events where kind = 'strategy.disabled' order by strategy")
    assert disabled == [("bomb",), ("loop",)]
