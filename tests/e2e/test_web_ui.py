"""The dashboard in a real headless Chromium, against the real ``mm run``."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import yaml

from tests.conftest import clean_environ, mm_command, paper_settings

TOKEN = "ui-test-token-0b9d2f"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=6000",
    "--dump-dom",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Chromium is required for the UI tests: `make test` installs it (Debian package chromium)"
    return found


def dump_dom(url: str, profile: Path) -> str:
    command = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_dashboard_shows_health_orders_and_fills_and_asks_for_a_token(tmp_path: Path) -> None:
    settings = paper_settings(tmp_path)
    port = yaml.safe_load(settings.read_text())["api"]["port"]
    env = clean_environ(MM_API__TOKEN=TOKEN)
    proc = subprocess.Popen(
        [*mm_command(), "run"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            try:
                with sqlite3.connect(f"file:{tmp_path / 'bot.db'}?mode=ro", uri=True) as conn:
                    if conn.execute("select count(*) from fills").fetchone()[0]:
                        break
            except sqlite3.OperationalError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("no fill within 40 s")
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 401

        dom = dump_dom(f"http://127.0.0.1:{port}/#token={TOKEN}", tmp_path / "profile-a")
        assert '<main id="dashboard">' in dom, "the dashboard is shown with a valid token"
        assert 'id="login" hidden' in dom
        for text in ("exchange:paper/order_manager", "running", "BTCUSDT", "filled", "USDT", "simple_sma"):
            assert text in dom, text
        assert "none yet" not in dom.split('id="fills"')[1].split("</table>")[0], "the fills table has rows"

        anonymous = dump_dom(f"http://127.0.0.1:{port}/", tmp_path / "profile-b")
        assert '<div id="login">' in anonymous, "without a token the page asks for one"
        assert 'id="dashboard" hidden' in anonymous
        assert '<table id="orders"></table>' in anonymous, "no data is shown without a token"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
