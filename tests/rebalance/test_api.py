"""Runtime settings and rebalancing over the REST API of a running bot (``run_bot``, the API on loopback)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import trio
import yaml

from marketmaestro.runtime import BotContext
from tests.conftest import REPO
from tests.runtime.conftest import load, running_bot

TOKEN = "rebalance-test-token-1d2e3f"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SETTINGS = "/api/v1/settings/paper/rebalance:equal_weight"


def bot_settings(folder: Path) -> Path:
    """A paper account of 30000 USDT trading BTCUSDT and ETHUSDT, rebalanced by equal_weight.star."""
    settings: dict[str, Any] = {
        "database": {"path": "bot.db"},
        "api": {"host": "127.0.0.1", "port": 0, "token": TOKEN},
        "rebalance": {
            "directory": str(REPO / "rebalance"),
            "scripts": [{"script": "equal_weight", "exchange": "paper"}],
        },
        "exchanges": {
            "paper": {
                "options": {"seed": 3, "kline_seconds": 3600.0, "warmup": 10, "balances": {"USDT": "30000"}},
                "pairs": [{"symbol": "BTCUSDT"}, {"symbol": "ETHUSDT"}],
            }
        },
    }
    path = folder / "settings.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


async def request(client: httpx.AsyncClient, method: str, path: str, status: int, **kwargs: Any) -> Any:
    response = await client.request(method, path, headers=AUTH, **kwargs)
    assert response.status_code == status, (method, path, response.status_code, response.text)
    return response.json()


async def test_settings_are_listed_changed_validated_and_applied_over_the_api(tmp_path: Path) -> None:
    config, host = load(bot_settings(tmp_path))
    with trio.fail_after(60):
        async with (
            running_bot(config, host) as bot,
            httpx.AsyncClient(base_url=bot.api_urls[0], timeout=10) as client,
        ):
            await check_the_api(bot, client)


async def check_the_api(bot: BotContext, client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/settings")).status_code == 401
    listed = await request(client, "GET", "/api/v1/settings", 200)
    rows = {row["key"]: row for row in listed["paper"] if row["component"] == "rebalance:equal_weight"}
    assert sorted(rows) == ["drift_threshold", "interval", "min_trade", "quote", "target"]
    assert rows["drift_threshold"]["value"] == rows["drift_threshold"]["default"] == 0.05
    assert rows["interval"]["value"] == "1h"
    assert rows["target"]["expected"].startswith("an object of asset -> weight")

    # Refused, naming what was wrong; nothing changes.
    refused = await request(client, "PUT", f"{SETTINGS}/drift_threshold", 400, json={"value": 3})
    assert refused == {
        "error": "rebalance:equal_weight.drift_threshold: got 3; expected a number from 0 to 1"
    }
    refused = await request(
        client, "PUT", "/api/v1/settings/paper/order_manager/paused", 400, json={"value": True}
    )
    assert "order_manager: no component of exchange paper declares settings" in refused["error"]
    refused = await request(client, "PUT", f"{SETTINGS}/drift_threshold", 400, content=b"0.2")
    assert refused["error"].startswith("body: expected a JSON object")
    missing = await request(client, "PUT", "/api/v1/settings/bybit/x/y", 404, json={"value": 1})
    assert missing == {"error": "exchange: got 'bybit'; expected a running one: paper"}
    assert await bot.store.settings("paper/rebalance:equal_weight") == {}

    # A high threshold, applied at once: the run is skipped.
    changed = await request(client, "PUT", f"{SETTINGS}/drift_threshold", 200, json={"value": 0.9})
    assert changed == {
        "exchange": "paper",
        "component": "rebalance:equal_weight",
        "key": "drift_threshold",
        "value": 0.9,
    }
    status = await request(client, "GET", "/api/v1/rebalance", 200)
    assert status["paper"]["equal_weight"]["applied"]["drift_threshold"] == 0.9
    skipped = await request(client, "POST", "/api/v1/rebalance/paper/equal_weight/run", 200)
    assert skipped["status"] == "skipped" and "threshold 0.9" in skipped["reason"]

    # Back to 5%: drift -> trades -> orders -> fills -> balances at the target.
    await request(client, "PUT", f"{SETTINGS}/drift_threshold", 200, json={"value": 0.05})
    traded = await request(client, "POST", "/api/v1/rebalance/paper/equal_weight/run", 200)
    assert traded["status"] == "traded", traded
    assert {o["status"] for o in traded["orders"]} == {"filled"}
    after = await request(client, "POST", "/api/v1/rebalance/paper/equal_weight/run", 200)
    assert after["status"] == "skipped" and after["drift"] < 0.01
    listed = await request(client, "GET", "/api/v1/settings", 200, params={"exchange": "paper"})
    assert [r["value"] for r in listed["paper"] if r["key"] == "drift_threshold"] == [0.05]
    assert (await request(client, "POST", "/api/v1/rebalance/paper/nope/run", 404))["error"].startswith(
        "component:"
    )
    assert await bot.store.settings("paper/rebalance:equal_weight") == {"drift_threshold": 0.05}


async def test_a_broken_script_is_reported_in_the_health_and_the_bot_keeps_trading(tmp_path: Path) -> None:
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "equal_weight.star").write_text("def settings(:\n")
    settings = yaml.safe_load(bot_settings(tmp_path).read_text())
    settings["rebalance"]["directory"] = "scripts"
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(settings))
    config, host = load(tmp_path / "settings.yaml")
    with trio.fail_after(60):
        async with (
            running_bot(config, host) as bot,
            httpx.AsyncClient(base_url=bot.api_urls[0], timeout=10) as client,
        ):
            health = await request(client, "GET", "/api/v1/health", 200)
            script = health["components"]["exchange:paper/rebalance:equal_weight"]
            assert script["state"] == "failed" and "equal_weight.star" in script["detail"]
            assert health["components"]["exchange:paper"]["state"] == "running"
            report = await request(client, "POST", "/api/v1/rebalance/paper/equal_weight/run", 200)
            assert report["status"] == "error" and "equal_weight.star" in report["error"]
            # Fixed on disk: the next run loads it and trades.
            (folder / "equal_weight.star").write_text((REPO / "rebalance" / "equal_weight.star").read_text())
            report = await request(client, "POST", "/api/v1/rebalance/paper/equal_weight/run", 200)
            assert report["status"] == "traded", report
            health = await request(client, "GET", "/api/v1/health", 200)
            assert health["components"]["exchange:paper/rebalance:equal_weight"]["state"] == "running"
