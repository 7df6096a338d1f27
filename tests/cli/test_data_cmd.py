"""``mm data download`` and ``mm data list``: the real ``mm`` against the scripted exchange plugin, installed
with an entry point; input errors through the same command in-process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from marketmaestro.cli.context import CliState
from marketmaestro.cli.main import main
from marketmaestro.data import load_klines
from tests.conftest import clean_environ, mm_command
from tests.exchanges.scripted import MINUTE_MS, ScriptedOptions, install_scripted, scripted_kline

DAY = 1_704_067_200_000  # 2024-01-01T00:00:00Z
HOUR = 60 * MINUTE_MS


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of an ``mm`` that has the scripted plugin installed."""
    return clean_environ(**install_scripted(tmp_path_factory.mktemp("site")))


def mm(folder: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*mm_command(), *args], cwd=folder, env=env, capture_output=True, text=True, timeout=60
    )


def settings(folder: Path, exchanges: dict[str, Any] | None = None) -> Path:
    path = folder / "settings.yaml"
    path.write_text(yaml.safe_dump({"data": {"dir": "market"}, "exchanges": exchanges or {}}))
    return path


def test_download_stores_pages_resumes_and_lists(tmp_path: Path, site: dict[str, str]) -> None:
    settings(tmp_path)
    args = ("data", "download", "--exchange", "scripted", "--symbol", "btcusdt", "--interval", "1m")
    first = mm(
        tmp_path, site, *args, "--since", "2024-01-01", "--until", "2024-01-01T06:00", "--page-size", "77"
    )
    assert first.returncode == 0, first.stderr
    path = tmp_path / "market" / "scripted" / "BTCUSDT-1m.klines"
    assert first.stdout.splitlines() == [
        "scripted BTCUSDT 1m: 360 new klines stored, 360 in total "
        "from 2024-01-01 00:00 to 2024-01-01 05:59 UTC",
        f"file: {path}",
        "gaps: none",
    ]
    options = ScriptedOptions()
    stored = load_klines(tmp_path / "market", "scripted", "BTCUSDT", "1m")
    assert stored.to_klines() == [
        scripted_kline(options, "BTCUSDT", "1m", DAY + i * MINUTE_MS) for i in range(360)
    ]

    again = mm(tmp_path, site, *args, "--since", "2024-01-01", "--until", "2024-01-01T08:00")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0].startswith("scripted BTCUSDT 1m: 120 new klines stored, 480 in total")

    listed = mm(tmp_path, site, "data", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row == {
        "exchange": "scripted",
        "symbol": "BTCUSDT",
        "interval": "1m",
        "path": str(path),
        "count": 480,
        "first": DAY,
        "last": DAY + 8 * HOUR - MINUTE_MS,
        "first_utc": "2024-01-01 00:00",
        "last_utc": "2024-01-01 07:59",
        "missing": 0,
        "gaps": [],
        "error": None,
    }
    state = CliState(tmp_path / "settings.yaml", environ={"MM_LOAD_PLUGINS": ""})
    table = CliRunner().invoke(main, ["--config", str(tmp_path / "settings.yaml"), "data", "list"], obj=state)
    assert table.exit_code == 0
    (line,) = [row for row in table.output.splitlines() if "scripted" in row]
    cells = [cell.strip() for cell in line.split("│")[1:-1]]
    assert cells == ["scripted", "BTCUSDT", "1m", "2024-01-01 00:00", "2024-01-01 07:59", "480", "none"]


def test_a_configured_exchange_key_brings_its_options_and_gaps_are_reported(
    tmp_path: Path, site: dict[str, str]
) -> None:
    options = {"base_price": 5000.0, "page_limit": 50, "gaps": [[DAY + 30 * MINUTE_MS, DAY + 45 * MINUTE_MS]]}
    settings(tmp_path, {"mine": {"plugin": "scripted", "options": options}})
    result = mm(
        tmp_path, site, "data", "download", "--exchange", "mine", "--symbol", "ETHUSDT", "--interval", "1m",
        "--since", "2024-01-01T00:00Z", "--until", "2024-01-01T02:00+00:00",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[2:] == [
        "gaps: 1 (15 klines missing; some exchanges skip intervals without trades)",
        "  2024-01-01 00:30 to 2024-01-01 00:44 UTC (15 missing)",
    ]
    stored = load_klines(tmp_path / "market", "mine", "ETHUSDT", "1m")
    assert len(stored) == 120 - 15
    validated = ScriptedOptions.model_validate(options)
    assert stored.to_klines()[0] == scripted_kline(validated, "ETHUSDT", "1m", DAY)


def test_an_interval_the_exchange_does_not_serve_is_refused(tmp_path: Path, site: dict[str, str]) -> None:
    settings(tmp_path)
    result = mm(
        tmp_path, site, "data", "download", "--exchange", "scripted", "--symbol", "BTCUSDT",
        "--interval", "3m", "--since", "2024-01-01",
    )  # fmt: skip
    assert result.returncode == 1
    assert (
        "Error: exchange 'scripted' cannot serve 3m klines: scripted serves 1m, 5m, 15m, 1h, 1d"
        in result.stderr
    )
    assert not (tmp_path / "market" / "scripted" / "BTCUSDT-3m.klines").exists()


def invoke(folder: Path, exchanges: dict[str, Any], *args: str) -> tuple[int, str]:
    """``mm --config <folder>/settings.yaml data download ...`` in this process, with the built-in plugins."""
    path = settings(folder, exchanges)
    state = CliState(path, environ={"MM_LOAD_PLUGINS": ""})
    result = CliRunner().invoke(main, ["--config", str(path), "data", "download", *args], obj=state)
    return result.exit_code, result.output


BASE = ("--symbol", "BTCUSDT", "--interval", "1m", "--since", "2024-01-01")


@pytest.mark.parametrize(
    ("exchanges", "args", "expected"),
    [
        (
            {},
            ("--exchange", "nosuch", *BASE),
            "Error: unknown exchange 'nosuch': expected a configured exchange key ((none)) "
            "or a registered exchange plugin ((none installed))",
        ),
        (
            {"paper": {}},
            ("--exchange", "paper", *BASE),
            "Error: exchange 'paper' is the paper exchange's simulator, which has no market history",
        ),
        ({}, ("--exchange", "paper", "--symbol", "BTCUSDT", "--interval", "7m", "--since", "2024-01-01"),
         "Invalid value for '--interval': got '7m'; expected one of 1m, 3m, 5m"),
        ({}, ("--exchange", "paper", *BASE[:4], "--since", "yesterday"),
         "Invalid value for --since: got 'yesterday'; expected a UTC date or time such as 2024-01-01"),
        ({}, ("--exchange", "paper", *BASE, "--until", "2023-12-31"),
         "Invalid value for --until: '2023-12-31' is not after --since '2024-01-01'"),
        ({}, ("--exchange", "../up", *BASE), "exchange '../up' cannot name a data file"),
        ({}, ("--exchange", "paper", "--symbol", "btc-usdt", *BASE[2:]),
         "Invalid value for --symbol: got 'BTC-USDT'; expected letters and digits only"),
    ],
)  # fmt: skip
def test_bad_input_gets_a_clear_error(
    tmp_path: Path, exchanges: dict[str, Any], args: tuple[str, ...], expected: str
) -> None:
    code, output = invoke(tmp_path, exchanges, *args)
    assert code in (1, 2), output
    assert expected in " ".join(output.split()), output
    assert not (tmp_path / "market").exists() or not any((tmp_path / "market").rglob("*.klines"))


def test_list_says_when_nothing_is_stored(tmp_path: Path) -> None:
    path = settings(tmp_path)
    state = CliState(path, environ={"MM_LOAD_PLUGINS": ""})
    result = CliRunner().invoke(main, ["--config", str(path), "data", "list"], obj=state)
    assert result.exit_code == 0
    assert f"No market data in {tmp_path / 'market'} yet" in result.output


@pytest.fixture
def fake_bybit() -> Iterator[dict[str, str]]:
    """The Bybit plugin's fake exchange server, on 127.0.0.1 in a process of its own: its URLs."""
    server = subprocess.Popen(
        [sys.executable, "-m", "marketmaestro_bybit.testing", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=clean_environ(),
    )
    try:
        assert server.stdout is not None
        urls: dict[str, str] = json.loads(server.stdout.readline())
        assert urls["rest_url"].startswith("http://127.0.0.1:")
        yield urls
    finally:
        server.kill()
        server.wait()
        if server.stdout is not None:
            server.stdout.close()


def test_download_from_the_bybit_plugin_against_its_fake_server(
    tmp_path: Path, fake_bybit: dict[str, str]
) -> None:
    options = {"rest_url": fake_bybit["rest_url"], "ws_public_url": fake_bybit["ws_public_spot"]}
    settings(tmp_path, {"bybit_fake": {"plugin": "bybit", "options": options}})
    # The fake's 1m history: 1,500 minutes ending a day ago. Start inside it, well over one page back.
    since = datetime.fromtimestamp(time.time() - 86_400 - 1_400 * 60, tz=UTC).strftime("%Y-%m-%dT%H:%M")
    args = ("data", "download", "--exchange", "bybit_fake", "--symbol", "BTCUSDT", "--interval", "1m")
    result = mm(tmp_path, clean_environ(), *args, "--since", since)
    assert result.returncode == 0, result.stderr
    stored = load_klines(tmp_path / "market", "bybit_fake", "BTCUSDT", "1m")
    assert len(stored) >= 1_390, result.stdout  # more than one page of 1,000
    assert stored.timestamp.tolist() == list(
        range(int(stored.timestamp[0]), int(stored.timestamp[-1]) + 1, MINUTE_MS)
    )
    assert result.stdout.splitlines()[-1] == "gaps: none"
