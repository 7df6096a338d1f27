"""End to end: the real ``mm run`` trading on the fake Bybit, each in a process of its own.

The fake (``python -m marketmaestro_bybit.testing``) closes a candle every half second; the bot runs a
``bybit`` exchange in testnet mode pointed at it, with keys from the environment, and a strategy that buys
on its first kline. The order, its fill and the position must be in the database and the API, and match
what the fake holds. ``test_installed_alone`` does the same from a fresh virtual environment holding only
the core and this plugin, installed by pip from wheels as a user installs them
(``marketmaestro.testing.install.fresh_environment``: no network needed).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import yaml

from marketmaestro.testing.install import fresh_environment

PLUGIN = Path(__file__).resolve().parents[1]
REPO = PLUGIN.parents[1]
KEY = "E2EKEY0001"
SECRET = "E2E-FAKE-BYBIT-SECRET-0f9a8b7c6d5e"
TOKEN = "e2e-api-token-3a1b"
DEADLINE = 60.0
FIRST_BUY = """\
def settings():
    return {"interval": "1m"}

def on_kline(kline):
    if position()["quantity"] == 0:
        return {"action": "buy", "quantity": 0.01, "type": "market", "reason": "first kline"}
    return {"action": "hold"}
"""


def clean_environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MM_", "VIRTUAL_ENV", "PYTHONPATH"))}
    return {**env, **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(probe: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        result = probe()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def rows(db: Path, query: str) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        try:
            return conn.execute(query).fetchall()
        except sqlite3.OperationalError:  # the bot has not created its tables yet
            return []


def start_fake(python: Path, errors: Any) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """``python -m marketmaestro_bybit.testing`` with one funded account, closing a candle every 0.5 s."""
    fake = subprocess.Popen(
        [python, "-m", "marketmaestro_bybit.testing", "--port", "0", "--account", f"{KEY}:{SECRET}",
         "--balance", "USDT=100000", "--kline-seconds", "0.5"],
        stdout=subprocess.PIPE, stderr=errors, text=True, env=clean_environ(),
    )  # fmt: skip
    assert fake.stdout is not None
    line = fake.stdout.readline()
    assert line, "the fake did not start"
    return fake, json.loads(line)


def write_settings(folder: Path, urls: dict[str, str]) -> int:
    """settings.yaml trading BTCUSDT on the fake (testnet mode) with the first-buy strategy; the API port."""
    port = free_port()
    (folder / "first_buy.star").write_text(FIRST_BUY)
    options = {
        "rest_url": urls["rest_url"],
        "ws_public_url": urls["ws_public_spot"],
        "ws_private_url": urls["ws_private_url"],
    }
    pair = {"symbol": "BTCUSDT", "strategies": [{"name": "first_buy", "file": "first_buy.star"}]}
    settings = {
        "database": {"path": "bot.db"},
        "api": {"host": "127.0.0.1", "port": port},
        "logging": {"file": "logs/bot.log", "level": "info"},
        "risk": {"max_position_size": {"default": 0.05}},
        "exchanges": {"bybit": {"mode": "testnet", "options": options, "pairs": [pair]}},
    }
    (folder / "settings.yaml").write_text(yaml.safe_dump(settings))
    return port


def bot_environ(secret: str = SECRET) -> dict[str, str]:
    return clean_environ(
        MM_API__TOKEN=TOKEN, MM_EXCHANGES__BYBIT__API_KEY=KEY, MM_EXCHANGES__BYBIT__API_SECRET=secret
    )


def stop(*processes: subprocess.Popen[Any] | None) -> None:
    for process in processes:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        if process is not None and process.stdout is not None:
            process.stdout.close()


def trade_end_to_end(folder: Path, python: Path, mm: Path) -> None:
    """Start the fake and ``mm run`` with ``python`` and ``mm``, and check the trade everywhere."""
    logs = {name: (folder / f"{name}.txt").open("w") for name in ("fake-err", "bot-out", "bot-err")}
    fake, urls = start_fake(python, logs["fake-err"])
    bot: subprocess.Popen[bytes] | None = None
    try:
        port = write_settings(folder, urls)
        env = bot_environ()
        bot = subprocess.Popen(
            [mm, "run"], cwd=folder, env=env, stdout=logs["bot-out"], stderr=logs["bot-err"]
        )
        db = folder / "bot.db"
        query = "select client_order_id, side, quantity, venue_order_id from orders where status = 'filled'"
        [(client_id, side, quantity, venue_id)] = wait_for(lambda: rows(db, query), "a filled order")
        assert (side, quantity) == ("buy", "0.010000")

        headers = {"Authorization": f"Bearer {TOKEN}"}
        api = f"http://127.0.0.1:{port}/api/v1"
        health = httpx.get(f"{api}/health", headers=headers, timeout=5).json()
        assert health["exchanges"]["bybit"]["connected"] is True, health
        assert health["exchanges"]["bybit"]["mode"] == "testnet"
        orders = httpx.get(f"{api}/orders?exchange=bybit", headers=headers, timeout=5).json()
        assert [(o["client_order_id"], o["status"]) for o in orders] == [(client_id, "filled")], orders
        positions = httpx.get(f"{api}/positions?exchange=bybit", headers=headers, timeout=5).json()
        held = {(p["symbol"], p["strategy"]): p["quantity"] for p in positions}
        assert float(held[("BTCUSDT", "first_buy")]) == 0.01 and float(held[("BTCUSDT", "")]) == 0.01, (
            positions
        )

        bot.send_signal(signal.SIGINT)
        assert bot.wait(timeout=20) == 0, (folder / "bot-err.txt").read_text()[-3000:]
        fills = rows(db, "select fill_id, client_order_id, quantity, price, fee, fee_currency from fills")
        assert [(f[1], f[2], f[5]) for f in fills] == [(client_id, "0.010000", "BTC")], fills
        state = httpx.get(f"{urls['rest_url']}/fake/state", params={"key": KEY}, timeout=5).json()
        [order] = state["orders"]
        assert (order["orderLinkId"], order["orderId"], order["orderStatus"]) == (
            client_id,
            venue_id,
            "Filled",
        )
        assert [e["execId"] for e in state["executions"]] == [fills[0][0]], "the fill is Bybit's execution"
        assert float(fills[0][3]) == float(state["executions"][0]["execPrice"])
        assert Decimal(state["wallet"]["BTC"]) == Decimal(
            "0.00999"
        )  # 0.01 less the 0.1 % fee, charged in BTC
    finally:
        stop(bot, fake)
        for handle in logs.values():
            handle.close()
    texts = [(folder / "logs" / "bot.log").read_text(), *((folder / f"{n}.txt").read_text() for n in logs)]
    assert "bybit.connected" in texts[0]
    for text in texts:
        assert SECRET not in text and KEY not in text and TOKEN not in text


def _items(payload: Any) -> list[dict[str, Any]]:
    return (
        payload if isinstance(payload, list) else list(payload.get("positions") or payload.get("items") or [])
    )


def test_mm_run_trades_on_the_fake_bybit(tmp_path: Path) -> None:
    trade_end_to_end(tmp_path, Path(sys.executable), Path(sys.executable).with_name("mm"))


def test_mm_run_with_a_wrong_secret_fails_the_exchange_once_and_clearly(tmp_path: Path) -> None:
    with (tmp_path / "fake-err.txt").open("w") as errors, (tmp_path / "bot-err.txt").open("w") as bot_errors:
        fake, urls = start_fake(Path(sys.executable), errors)
        bot = None
        try:
            port = write_settings(tmp_path, urls)
            mm = Path(sys.executable).with_name("mm")
            bot = subprocess.Popen(
                [mm, "run"],
                cwd=tmp_path,
                env=bot_environ("WRONG-SECRET-51c2"),
                stdout=bot_errors,
                stderr=bot_errors,
            )
            headers = {"Authorization": f"Bearer {TOKEN}"}

            def failed() -> dict[str, Any] | None:
                try:
                    health = httpx.get(
                        f"http://127.0.0.1:{port}/api/v1/health", headers=headers, timeout=2
                    ).json()
                except (httpx.TransportError, ValueError):
                    return None
                component = health.get("components", {}).get("exchange:bybit", {})
                return component if component.get("state") == "failed" else None

            component = wait_for(failed, "exchange:bybit to be marked failed")
            assert "signature was refused" in component["detail"] and "10004" in component["detail"]
            assert KEY not in component["detail"]
            time.sleep(1.0)  # long enough for a retry storm to show
            state = httpx.get(f"{urls['rest_url']}/fake/state", timeout=5).json()
            assert state["answered"].get("refused") == 1, state["answered"]
            bot.send_signal(signal.SIGINT)
            assert bot.wait(timeout=20) == 0
        finally:
            stop(bot, fake)
    log = (tmp_path / "logs" / "bot.log").read_text()
    assert "exchange.fatal" in log and "WRONG-SECRET-51c2" not in log and KEY not in log


def test_installed_alone_it_is_listed_and_trades(tmp_path: Path) -> None:
    # Wheels of the core and the plugin built from this checkout, their dependencies packed from this
    # environment: pip installs all of them into a fresh environment without the network.
    python = fresh_environment(tmp_path / "venv", [REPO, PLUGIN])
    mm = python.with_name("mm")
    done = subprocess.run(
        [mm, "plugins", "list", "--json"], capture_output=True, text=True, env=clean_environ()
    )
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert [(r["name"], r["distribution"], r["status"], r["hooks"]) for r in listed] == [
        ("bybit", "marketmaestro-bybit", "ok", ["register_exchanges"])
    ], "only this plugin is installed, and it loads"
    bot = tmp_path / "bot"
    bot.mkdir()
    trade_end_to_end(bot, python, mm)
