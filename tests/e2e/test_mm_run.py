"""The real ``mm run`` as a subprocess: it trades on paper, serves health, stops cleanly, keeps secrets."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import clean_environ, mm_command, paper_settings

TOKEN = "test-token-7f3a9c1e5b"
FAKE_SECRET = "FAKE-EXCHANGE-SECRET-d41d8cd98f00b204"
DEADLINE = 40.0


def _wait_for(predicate, what: str, timeout: float = DEADLINE):  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


def _health(port: int, token: str | None = TOKEN) -> httpx.Response | None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", headers=headers, timeout=2)
    except httpx.TransportError:
        return None


def _ok(port: int) -> httpx.Response | None:
    """The health response once every component is running (the API answers before the exchanges start)."""
    response = _health(port)
    return (
        response
        if response is not None and response.status_code == 200 and response.json()["status"] == "ok"
        else None
    )


def _filled_orders(db: Path) -> list[tuple[str, ...]]:
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        try:
            return conn.execute(
                "select client_order_id, status from orders where status = 'filled'"
            ).fetchall()
        except sqlite3.OperationalError:
            return []


@pytest.fixture
def bot(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = paper_settings(tmp_path)
    port = yaml.safe_load(settings.read_text())["api"]["port"]
    env = clean_environ(MM_API__TOKEN=TOKEN, MM_EXCHANGES__PAPER__API_SECRET=FAKE_SECRET)
    out, err = (tmp_path / "stdout.txt").open("w"), (tmp_path / "stderr.txt").open("w")
    proc = subprocess.Popen([*mm_command(), "run"], cwd=tmp_path, env=env, stdout=out, stderr=err)
    try:
        yield proc, tmp_path, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()
        err.close()


def test_mm_run_trades_on_paper_serves_health_and_stops_on_sigint(bot) -> None:  # type: ignore[no-untyped-def]
    proc, folder, port = bot
    response = _wait_for(lambda: _ok(port), "the health endpoint to report ok")
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ok"
    assert health["version"] == "0.1.0"
    assert health["uptime_seconds"] >= 0
    assert health["restarts"] == 0
    components = health["components"]
    for name in (
        "api",
        "exchange:paper",
        "exchange:paper/order_manager",
        "exchange:paper/risk_manager",
        "exchange:paper/portfolio",
        "exchange:paper/settings",
        "exchange:paper/feed",
        "exchange:paper/strategy:simple_sma:BTCUSDT",
    ):
        assert components[name]["state"] == "running", (name, components.get(name))
        assert components[name]["restarts"] == 0
    assert health["exchanges"]["paper"]["connected"] is True

    unauthorised = _health(port, token=None)
    assert unauthorised is not None and unauthorised.status_code == 401
    wrong = _health(port, token="not-the-token")
    assert wrong is not None and wrong.status_code == 401

    db = folder / "bot.db"
    _wait_for(lambda: _filled_orders(db), "a filled paper order")
    page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    assert page.status_code == 200 and "MarketMaestro" in page.text

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 0

    with sqlite3.connect(db) as conn:
        orders = conn.execute(
            "select client_order_id, side, quantity, status, average_price from orders"
        ).fetchall()
        fills = conn.execute("select client_order_id, side, quantity, price, fee from fills").fetchall()
        positions = conn.execute("select symbol, strategy, quantity from positions").fetchall()
        balances = dict(conn.execute("select asset, free from balances where exchange = 'paper'").fetchall())
    filled = {row[0]: row for row in orders if row[3] == "filled"}
    assert filled, orders
    assert {f[0] for f in fills} == set(filled), "every filled order has its fill and every fill its order"
    for client_order_id, side, quantity, price, fee in fills:
        assert filled[client_order_id][1] == side and filled[client_order_id][2] == quantity == "0.010000"
        assert filled[client_order_id][4] == price
        assert float(fee) > 0
    bought = sum(float(q) for _, side, q, _, _ in fills if side == "buy")
    sold = sum(float(q) for _, side, q, _, _ in fills if side == "sell")
    account = {(s, st): float(q) for s, st, q in positions}
    assert account[("BTCUSDT", "")] == pytest.approx(bought - sold)
    assert account[("BTCUSDT", "simple_sma")] == pytest.approx(bought - sold)
    assert float(balances["BTC"]) == pytest.approx(bought - sold)
    assert float(balances["USDT"]) < 10000  # fees were paid


def test_secrets_never_reach_the_log_or_the_console(bot) -> None:  # type: ignore[no-untyped-def]
    proc, folder, port = bot
    _wait_for(lambda: _health(port), "the health endpoint")
    _wait_for(lambda: _filled_orders(folder / "bot.db"), "a filled paper order")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 0
    log = (folder / "logs" / "bot.log").read_text()
    assert "order.filled" in log and "strategy.signal" in log
    for text in (log, (folder / "stdout.txt").read_text(), (folder / "stderr.txt").read_text()):
        assert FAKE_SECRET not in text
        assert TOKEN not in text

    rendered = subprocess.run(
        [
            *mm_command(),
            "logs",
            "--file",
            str(folder / "logs" / "bot.log"),
            "--strategy",
            "simple_sma",
            "--no-color",
        ],
        cwd=folder,
        env=clean_environ(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rendered.returncode == 0, rendered.stderr
    assert "order.filled" in rendered.stdout
    assert FAKE_SECRET not in rendered.stdout


def test_graceful_shutdown_calls_on_stop_and_keeps_what_it_stored(tmp_path: Path) -> None:
    counting = tmp_path / "counting.star"
    counting.write_text(
        "def settings():\n    return {'interval': '1m'}\n"
        "def on_kline(kline):\n    set_state('klines', get_state('klines', 0) + 1)\n"
        "def on_stop():\n    set_state('stopped_after', get_state('klines', 0))\n"
    )
    settings = paper_settings(tmp_path, strategy=counting)
    port = yaml.safe_load(settings.read_text())["api"]["port"]
    env = clean_environ(MM_API__TOKEN=TOKEN)
    proc = subprocess.Popen(
        [*mm_command(), "run"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_for(lambda: _ok(port), "the health endpoint to report ok")
        time.sleep(1)  # about 20 klines at 0.05 s each
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with sqlite3.connect(tmp_path / "bot.db") as conn:
        state = dict(conn.execute("select key, value from strategy_state where strategy = 'simple_sma'"))
    assert int(state["klines"]) > 5
    assert state["stopped_after"] == state["klines"], (
        "on_stop ran after the last kline and its state was stored"
    )


def test_a_second_signal_forces_the_exit(tmp_path: Path) -> None:
    slow_stop = tmp_path / "slow_stop.star"
    slow_stop.write_text(
        "def settings():\n    return {'interval': '1m'}\n"
        "def on_kline(kline):\n    return None\n"
        "def on_stop():\n    total = 0\n    for i in range(200000000):\n        total += i\n"
    )
    settings = paper_settings(tmp_path, strategy=slow_stop)
    port = yaml.safe_load(settings.read_text())["api"]["port"]
    proc = subprocess.Popen(
        [*mm_command(), "run"],
        cwd=tmp_path,
        env=clean_environ(MM_API__TOKEN=TOKEN),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: _ok(port), "the health endpoint to report ok")
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)  # on_stop is now busy counting
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=5) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_bad_configuration_stops_the_start_with_one_message_per_problem(tmp_path: Path) -> None:
    settings = {
        "api": {"port": "eighty"},
        "exchanges": {
            "nosuchexchange": {"pairs": []},
            "paper": {
                "options": {"kline_seconds": -1},
                "pairs": [
                    {
                        "symbol": "BTCUSDT",
                        "strategies": [
                            {"name": "s", "file": "strategies/missing.star", "config": {"interval": "7x"}}
                        ],
                    }
                ],
            },
        },
    }
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(settings))
    result = subprocess.run(
        [*mm_command(), "run"], cwd=tmp_path, env=clean_environ(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    err = result.stderr
    assert "api.port: got 'eighty'" in err
    assert "exchanges.nosuchexchange" in err and "paper" in err
    assert "exchanges.paper.options.kline_seconds: got -1" in err
    assert "exchanges.paper.pairs[0].strategies[0].file" in err and "missing.star" in err
    assert "exchanges.paper.pairs[0].strategies[0].config.interval: got '7x'" in err
    assert not (tmp_path / "marketmaestro.db").exists(), "nothing starts when the configuration is bad"
