"""A rebalance script's settings changed at runtime take effect at once, without a restart, and persist."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from marketmaestro.storage import AsyncStore
from marketmaestro.supervision import BadRequest, RequestFailed
from marketmaestro.testing import wait_until
from tests.rebalance.conftest import paper, rebalancing


async def test_threshold_target_and_min_trade_changes_apply_to_the_next_run(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(60):
        async with rebalancing(store, paper(store, tmp_path)) as r:
            assert await r.set("drift_threshold", 0.9) == 0.9
            status = await r.status()
            assert status["settings"]["drift_threshold"] == 0.9
            assert status["applied"]["drift_threshold"] == 0.9  # what the script's config now holds
            assert (await r.run())["status"] == "skipped"
            # Half in BTC, half in USDT, traded from a threshold of 5% again.
            await r.set("target", {"btc": 0.5, "usdt": 0.5})
            await r.set("drift_threshold", 0.05)
            report = await r.run()
            assert report["status"] == "traded", report
            assert [(o["symbol"], o["side"]) for o in report["orders"]] == [("BTCUSDT", "buy")]
            await r.stack.settle()
            assert "ETH" not in await r.stack.balances()
            assert abs((await r.run())["weights"]["BTC"] - 0.5) < 0.01


async def test_an_invalid_value_is_refused_and_the_script_keeps_its_settings(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(60):
        async with rebalancing(store, paper(store, tmp_path)) as r:
            before = await r.status()
            with pytest.raises(RequestFailed) as caught:
                await r.set("min_trade", -1)
            assert isinstance(caught.value.__cause__, BadRequest)
            assert str(caught.value.__cause__) == (
                "rebalance:equal_weight.min_trade: got -1; expected a number of at least 0"
            )
            with pytest.raises(RequestFailed, match="target: got"):
                await r.set("target", {"BTC": 0.7, "ETH": 0.7})
            assert await r.status() == before
    assert await store.settings("paper/rebalance:equal_weight") == {}


async def test_a_shorter_interval_restarts_the_timer(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with rebalancing(store, paper(store, tmp_path)) as r:
            assert (await r.status())["runs"] == 0  # every hour: not yet
            await r.set("interval", 1)
            last = await wait_until(lambda: r.component.last_report, "a run on the new interval")
            assert last["status"] == "traded", last
            await r.stack.settle()
            assert (await r.stack.balances())["BTC"] > 0


async def test_changed_settings_survive_a_restart(store: AsyncStore, tmp_path: Path) -> None:
    exchange = paper(store, tmp_path)
    with trio.fail_after(60):
        async with rebalancing(store, exchange, config={"min_trade": 50.0}) as r:
            await r.set("drift_threshold", 0.5)
            assert (await r.status())["settings"]["min_trade"] == 50.0
        async with rebalancing(store, exchange, config={"min_trade": 50.0}) as restarted:
            status = await restarted.status()
            assert status["settings"]["drift_threshold"] == 0.5
            assert status["applied"]["drift_threshold"] == 0.5
            assert status["applied"]["min_trade"] == 50.0  # the configuration file's override
    assert await store.get_setting("paper/rebalance:equal_weight", "drift_threshold") == 0.5
    assert await store.list_orders(exchange="paper", limit=10) == []  # no run was asked for
