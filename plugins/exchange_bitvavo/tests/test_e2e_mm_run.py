"""End to end: the fake Bitvavo as its own process (``python -m marketmaestro_bitvavo.testing``) and the real
``mm run`` trading on it live: a strategy signals, the order goes to the fake, fills, and the order, fill,
position and balances are in the database and the API."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from marketmaestro_bitvavo.testing import API_KEY, API_SECRET

TOKEN = "bitvavo-e2e-token-5d1c"
DEADLINE = 40.0
STRATEGY = """\
def settings():
    return {"interval": "1m"}

def on_kline(kline):
    if get_state("bought", False):
        return {"action": "hold"}
    set_state("bought", True)
    return {"action": "buy", "quantity": 0.001, "type": "market", "reason": "first kline"}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MM_")}
    env.update(extra)
    return env


def wait_for(predicate: Callable[[], Any], what: str) -> Any:
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    pytest.fail(f"timed out after {DEADLINE:g} s waiting for {what}")


@pytest.fixture
def fake_process(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The fake Bitvavo in a subprocess, as a plugin author would start it; its URLs and keys."""
    command = [
        sys.executable,
        "-m",
        "marketmaestro_bitvavo.testing",
        "--port",
        "0",
        "--price",
        "BTC-EUR=30000",
    ]
    err = (tmp_path / "fake-stderr.txt").open("w")
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, (tmp_path / "fake-stderr.txt").read_text()
        yield json.loads(line)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        err.close()


def control(fake: dict[str, str], command: str, **args: Any) -> Any:
    response = httpx.post(f"{fake['control_url']}/{command}", json=args, timeout=5)
    response.raise_for_status()
    return response.json()


def api(port: int, path: str) -> Any:
    try:
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2
        )
    except httpx.TransportError:
        return None
    return response.json() if response.status_code == 200 else None


def test_mm_run_trades_live_on_the_fake_bitvavo(tmp_path: Path, fake_process: dict[str, str]) -> None:
    (tmp_path / "first_kline.star").write_text(STRATEGY)
    port = free_port()
    exchange = {
        "mode": "live",
        "options": {
            "rest_url": fake_process["rest_url"],
            "ws_url": fake_process["ws_url"],
            "live_orders": True,
            "operator_id": 4242,
        },
        "pairs": [{"symbol": "BTCEUR", "strategies": [{"name": "first_kline", "file": "first_kline.star"}]}],
    }
    (tmp_path / "settings.yaml").write_text(
        yaml.safe_dump(
            {
                "database": {"path": "bot.db"},
                "api": {"host": "127.0.0.1", "port": port},
                "logging": {"file": "logs/bot.log"},
                "risk": {"max_position_size": {"default": 1}},
                "exchanges": {"bitvavo": exchange},
            }
        )
    )
    env = clean_environ(
        MM_API__TOKEN=TOKEN,
        MM_EXCHANGES__BITVAVO__API_KEY=API_KEY,
        MM_EXCHANGES__BITVAVO__API_SECRET=API_SECRET,
    )
    mm = str(Path(sys.executable).with_name("mm"))
    out, err = (tmp_path / "stdout.txt").open("w"), (tmp_path / "stderr.txt").open("w")
    proc = subprocess.Popen([mm, "run"], cwd=tmp_path, env=env, stdout=out, stderr=err)
    try:
        health = wait_for(
            lambda: (h := api(port, "health")) and h["status"] == "ok" and h, "the bot to be ok"
        )
        assert health["exchanges"]["bitvavo"]["connected"] is True
        assert health["exchanges"]["bitvavo"]["live_orders"] is True
        # A trade in a minute that is already over: the stream sees the candle and closes it at once.
        now = int(time.time() * 1000)
        control(
            fake_process, "set_price", market="BTC-EUR", price="30010", timestamp=now - now % 60_000 - 60_000
        )
        filled = wait_for(
            lambda: [o for o in api(port, "orders") or [] if o["status"] == "filled"],
            "the strategy's order to fill",
        )
        fills = wait_for(lambda: api(port, "fills"), "the fill in the API")
        positions = wait_for(lambda: api(port, "positions"), "the position")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()
        err.close()

    (order,) = filled
    assert (order["symbol"], order["side"], order["type"], order["quantity"]) == (
        "BTCEUR",
        "buy",
        "market",
        "0.00100000",
    )
    assert order["strategy"] == "first_kline" and order["venue_order_id"]
    (fill,) = fills
    assert fill["client_order_id"] == order["client_order_id"] and fill["quantity"] == "0.00100000"
    assert {(p["symbol"], p["strategy"], p["quantity"]) for p in positions} >= {("BTCEUR", "", "0.00100000")}

    state = httpx.get(f"{fake_process['control_url']}/state", timeout=5).json()
    (venue,) = state["orders"]
    assert venue["status"] == "filled" and venue["operatorId"] == 4242
    assert venue["clientOrderId"].replace("-", "") == order["client_order_id"].removeprefix("mm-")
    log = (tmp_path / "logs" / "bot.log").read_text()
    assert "order.filled" in log
    for text in (log, (tmp_path / "stdout.txt").read_text(), (tmp_path / "stderr.txt").read_text()):
        assert API_SECRET not in text
