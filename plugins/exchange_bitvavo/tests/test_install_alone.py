"""The plugin as it ships: a fresh virtual environment with the core and only this plugin, installed by pip
from wheels (``marketmaestro.testing.install.fresh_environment``: built from this checkout, dependencies
packed from this environment, no network). ``mm`` lists it, and it works: ``mm data download`` pages
Bitvavo candles from the fake server (started with that environment's Python, as the plugin ships it), and
``mm run`` with a ``bitvavo`` exchange connects to the fake with it."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from marketmaestro.testing.install import fresh_environment

PLUGIN = Path(__file__).resolve().parents[1]
REPO = PLUGIN.parents[1]
TOKEN = "install-alone-token-9f2e"


def run(*command: str | Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=environ(), capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done


def environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MM_", "VIRTUAL_ENV", "PYTHONPATH"))}
    return {**env, **extra}


def health(port: int) -> dict[str, Any] | None:
    try:
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/health", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2
        )
    except httpx.TransportError:
        return None
    report: dict[str, Any] = response.json()
    return report if response.status_code == 200 and report.get("exchanges", {}).get("bitvavo") else None


def test_pip_installed_alone_it_is_listed_downloads_and_runs(tmp_path: Path) -> None:
    python = fresh_environment(tmp_path / "venv", [REPO, PLUGIN])
    mm = python.with_name("mm")

    rows = json.loads(run(mm, "plugins", "list", "--json", cwd=tmp_path).stdout)
    assert [(r["name"], r["distribution"], r["status"], r["hooks"]) for r in rows] == [
        ("bitvavo", "marketmaestro-bitvavo", "ok", ["register_exchanges"])
    ], "only this plugin is installed, and it loads"

    errors = (tmp_path / "fake-stderr.txt").open("w")
    fake = subprocess.Popen(
        [python, "-m", "marketmaestro_bitvavo.testing", "--port", "0", "--price", "BTC-EUR=30000",
         "--history", "90"],
        stdout=subprocess.PIPE, stderr=errors, text=True, env=environ(),
    )  # fmt: skip
    bot: subprocess.Popen[bytes] | None = None
    try:
        assert fake.stdout is not None
        line = fake.stdout.readline()
        assert line, (tmp_path / "fake-stderr.txt").read_text()
        urls = json.loads(line)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        options = {"rest_url": urls["rest_url"], "ws_url": urls["ws_url"], "live_orders": True}
        settings = {
            "database": {"path": "bot.db"},
            "api": {"host": "127.0.0.1", "port": port},
            "logging": {"file": "logs/bot.log"},
            "exchanges": {"bitvavo": {"mode": "live", "options": options, "pairs": [{"symbol": "BTCEUR"}]}},
        }
        (tmp_path / "settings.yaml").write_text(yaml.safe_dump(settings))

        since = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=60)).strftime("%Y-%m-%dT%H:%M")
        download = ["data", "download", "--exchange", "bitvavo", "--symbol", "BTCEUR", "--interval", "1m"]
        run(mm, *download, "--since", since, "--page-size", "25", cwd=tmp_path)
        listed = json.loads(run(mm, "data", "list", "--json", cwd=tmp_path).stdout)
        assert [(d["exchange"], d["symbol"], d["interval"]) for d in listed] == [("bitvavo", "BTCEUR", "1m")]
        assert listed[0]["count"] >= 55, listed  # the fake's minutes of the last hour

        keys = {"MM_EXCHANGES__BITVAVO__API_KEY": urls["api_key"]}
        keys["MM_EXCHANGES__BITVAVO__API_SECRET"] = urls["api_secret"]
        with (tmp_path / "bot-out.txt").open("w") as out:
            bot = subprocess.Popen(
                [mm, "run"], cwd=tmp_path, env=environ(MM_API__TOKEN=TOKEN, **keys), stdout=out, stderr=out
            )
            deadline = time.monotonic() + 60
            report = health(port)
            while not (report and report["exchanges"]["bitvavo"]["connected"]):
                assert time.monotonic() < deadline, (tmp_path / "bot-out.txt").read_text()[-3000:]
                assert bot.poll() is None, (tmp_path / "bot-out.txt").read_text()[-3000:]
                time.sleep(0.2)
                report = health(port)
            assert report["exchanges"]["bitvavo"]["live_orders"] is True
            bot.send_signal(signal.SIGINT)
            assert bot.wait(timeout=20) == 0, (tmp_path / "bot-out.txt").read_text()[-3000:]
        state = httpx.get(f"{urls['control_url']}/state", timeout=5).json()
        assert ["GET", "/account"] in state["requests"], "the bot checked its key with a signed request"
    finally:
        for process in (bot, fake):
            if process is not None and process.poll() is None:
                process.kill()  # the bot stopped gracefully above; the fake needs no goodbye
                process.wait()
        if fake.stdout is not None:
            fake.stdout.close()
        errors.close()
