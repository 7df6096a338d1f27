"""The reconciliation routes of a running bot (paper exchange, real SQLite file, real HTTP): a difference
found at start-up halts trading until acknowledged over the API; an acknowledged difference halts no more."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import trio

from marketmaestro.messages import PlaceOrderMsg
from marketmaestro.model import Order, OrderStatus, OrderType, Side
from marketmaestro.storage import Store
from tests.conftest import REPO
from tests.orders.test_api import AUTH, TOKEN, settings
from tests.rebalance.test_docs import curl
from tests.runtime.conftest import load, running_bot, wait_for

WHY = "mm-ghost (accepted) is unknown to the exchange"


def answers(output: str) -> list[Any]:
    """The JSON documents curl printed one after the other."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while at < len(output.rstrip()):
        value, at = decoder.raw_decode(output, at)
        found.append(value)
        while at < len(output) and output[at].isspace():
            at += 1
    return found


def ghost_order(folder: Path) -> None:
    """What a bot that stopped would have left: an order acknowledged by an exchange with no record of it."""
    with Store(folder / "bot.db") as store:
        ghost = Order("mm-ghost", "paper", "BTCUSDT", Side.BUY, OrderType.MARKET, Decimal("0.01"))
        store.save_order(ghost.with_status(OrderStatus.ACCEPTED, venue_order_id="v-ghost"))


async def test_a_halt_found_at_start_up_is_acknowledged_over_the_api(tmp_path: Path) -> None:
    config, host = load(settings(tmp_path))
    ghost_order(tmp_path)
    with trio.fail_after(40):
        async with running_bot(config, host) as bot:
            await wait_for(lambda: bot.store.strategy_state("paper", "BTCUSDT", "holds"), "a first kline")
            async with httpx.AsyncClient(base_url=bot.api_urls[0], timeout=20) as client:
                report = (await client.get("/api/v1/reconcile", headers=AUTH)).json()["paper"]
                assert report["last"]["unexplained"] == [WHY] and report["last"]["halted"] is True
                assert report["halted"]["rule"] == "reconcile" and WHY in report["halted"]["reason"]

                msg = PlaceOrderMsg("paper", "BTCUSDT", Side.BUY, OrderType.MARKET, Decimal("0.01"), "manual")
                denied: Order = await bot.order_managers["paper"].request(msg, 5)
                assert denied.status is OrderStatus.REJECTED and "risk rule reconcile" in (denied.error or "")

                assert (await client.post("/api/v1/reconcile/paper/ack")).status_code == 401
                acked = await client.post("/api/v1/reconcile/paper/ack", headers=AUTH)
                assert acked.json() == {"exchange": "paper", "acknowledged": True}

                again = await client.post("/api/v1/reconcile/paper", headers=AUTH)
                assert again.status_code == 200
                assert (again.json()["unexplained"], again.json()["halted"]) == ([], False)
                assert (await client.get("/api/v1/reconcile", headers=AUTH)).json()["paper"]["halted"] is None
                traded: Order = await bot.order_managers["paper"].request(msg, 5)
                assert traded.status is OrderStatus.FILLED

                twice = await client.post("/api/v1/reconcile/paper/ack", headers=AUTH)
                assert twice.json() == {"exchange": "paper", "acknowledged": False}
                unknown = await client.post("/api/v1/reconcile/nowhere", headers=AUTH)
                assert unknown.status_code == 404 and "nowhere" in unknown.json()["error"]
            events = await bot.store.list_events(kind="reconcile.acknowledged")
            assert [(e.exchange, e.data["by"]) for e in events] == [("paper", "api")]


async def test_the_documented_curl_commands_run(tmp_path: Path) -> None:
    config, host = load(settings(tmp_path))
    ghost_order(tmp_path)
    (tmp_path / ".mm").mkdir()
    (tmp_path / ".mm" / "api_token").write_text(TOKEN)
    section = (REPO / "docs" / "orders.md").read_text().split("\n### The reconciliation halt\n", 1)[1]
    [script] = [block.split("\n```", 1)[0] for block in section.split("```bash\n")[1:]]
    with trio.fail_after(40):
        async with running_bot(config, host) as bot:
            output = await curl(script, bot.api_urls[0], tmp_path)
            listed, acked, report = answers(output)
            assert listed["paper"]["last"]["unexplained"] == [WHY]
            assert listed["paper"]["halted"]["rule"] == "reconcile"
            assert acked == {"exchange": "paper", "acknowledged": True}
            assert (report["unexplained"], report["halted"]) == ([], False)
            assert await bot.store.get_risk_halt("paper") is None


def test_the_documented_configuration_loads(tmp_path: Path) -> None:
    page = (REPO / "docs" / "configuration.md").read_text()
    section = page.split("\n### `reconcile`\n", 1)[1].split("\n### ", 1)[0]
    [example] = [block.split("\n```", 1)[0] for block in section.split("```yaml\n")[1:]]
    settings(tmp_path)
    path = tmp_path / "settings.yaml"
    path.write_text(path.read_text() + example)
    config, _ = load(path)
    assert (config.reconcile.interval, config.reconcile.halt_on_unexplained) == (600, True)
    assert config.reconcile.foreign_orders == "report"
