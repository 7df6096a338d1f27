"""A rebalance script that fails is reported, and the component (and the bot) keeps running."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import trio

from marketmaestro.storage import AsyncStore
from tests.rebalance.conftest import EQUAL_WEIGHT, HEALTH_NAME, paper, rebalancing

SETTINGS = """
def settings():
    return {"interval": "1h", "target": {"BTC": 0.5, "USDT": 0.5}, "drift_threshold": 0.05, "min_trade": 10.0}
"""


def script(tmp_path: Path, body: str, name: str = "broken") -> Path:
    path = tmp_path / f"{name}.star"
    path.write_text(SETTINGS + body)
    return path


async def test_a_runtime_error_is_reported_with_the_starlark_location_and_nothing_is_ordered(
    store: AsyncStore, tmp_path: Path
) -> None:
    file = script(tmp_path, "\ndef on_rebalance():\n    return 1 // 0\n")
    with trio.fail_after(60):
        async with rebalancing(store, paper(store, tmp_path), file=file) as r:
            report = await r.run()
            assert report["status"] == "error"
            assert "broken.star" in report["error"] and "division by zero" in report["error"]
            # Still answering, and it tries again on the next run.
            assert (await r.status())["last"]["status"] == "error"
            assert (await r.run())["status"] == "error"
    assert await store.list_orders(exchange="paper", limit=10) == []
    events = await store.list_events(kind="rebalance.error")
    assert len(events) == 2


async def test_malformed_trades_name_the_field_and_none_is_placed(store: AsyncStore, tmp_path: Path) -> None:
    body = (
        "\ndef on_rebalance():\n"
        '    return [{"symbol": "BTCUSDT", "side": "buy", "quantity": 0.1},'
        ' {"symbol": "BTCUSDT", "side": "hold", "quantity": 0.1}]\n'
    )
    file = script(tmp_path, body)
    with trio.fail_after(60):
        async with rebalancing(store, paper(store, tmp_path), file=file) as r:
            report = await r.run()
            assert report["status"] == "error"
            assert "trade 1: field 'side' got 'hold'; expected buy or sell" in report["error"]
            assert r.health.get(HEALTH_NAME).state == "failed"
    assert await store.list_orders(exchange="paper", limit=10) == []


async def test_a_file_that_does_not_load_is_reported_and_loaded_once_fixed(
    store: AsyncStore, tmp_path: Path
) -> None:
    file = tmp_path / "later.star"
    file.write_text("def settings(:\n")
    with trio.fail_after(60):
        async with rebalancing(store, paper(store, tmp_path), file=file) as r:
            status = await r.status()
            assert "later.star" in status["load_error"]
            assert r.health.get(HEALTH_NAME).state == "failed"
            report = await r.run()
            assert report["status"] == "error" and "later.star" in report["error"]
            file.write_text(EQUAL_WEIGHT.read_text())
            fixed = await r.run()
            assert fixed["status"] == "traded", fixed
            assert (await r.status())["load_error"] is None
            assert r.health.get(HEALTH_NAME).state == "running"


async def test_settings_without_a_required_key_do_not_load(store: AsyncStore, tmp_path: Path) -> None:
    file = tmp_path / "partial.star"
    file.write_text(
        'def settings():\n    return {"interval": "1h"}\n\ndef on_rebalance():\n    return None\n'
    )
    with trio.fail_after(60):
        async with rebalancing(store, paper(store, tmp_path), file=file) as r:
            error = (await r.status())["load_error"]
            assert "missing: target, drift_threshold, min_trade" in error


async def test_a_runaway_script_is_killed_over_its_budget_and_the_next_run_gets_a_new_worker(
    store: AsyncStore, tmp_path: Path
) -> None:
    file = tmp_path / "runaway.star"
    file.write_text(
        "def settings():\n"
        '    return {"interval": "1h", "target": {"BTC": 0.5, "USDT": 0.5}, "drift_threshold": 0.05,'
        ' "min_trade": 10.0, "loop": True}\n\n'
        "def on_rebalance():\n"
        '    if config["loop"]:\n'
        "        for i in range(10000000000):\n"
        "            pass\n"
        '    return [{"symbol": "BTCUSDT", "side": "buy", "quantity": 0.01}]\n'
    )
    with trio.fail_after(60):
        async with rebalancing(store, paper(store, tmp_path), file=file, callback_timeout=1.0) as r:
            first_pid = (await r.status())["pid"]
            assert first_pid is not None
            report = await r.run()
            assert report["status"] == "error"
            assert "over its 1 s budget" in report["error"]
            assert (await r.status())["pid"] is None  # killed
            assert r.health.get(HEALTH_NAME).state == "failed"
            # The script's own setting, changed at runtime: the next run starts a new worker with it.
            assert await r.set("loop", False) is False
            fixed = await r.run()
            assert fixed["status"] == "traded", fixed
            assert (await r.status())["pid"] not in (None, first_pid)
            assert r.health.get(HEALTH_NAME).state == "running"
            await r.stack.settle()
            assert (await r.stack.balances())["BTC"] == Decimal("0.01")
