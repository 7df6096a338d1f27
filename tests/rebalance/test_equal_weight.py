"""equal_weight.star on a paper account, through the real settings, portfolio, risk and order managers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import trio

from marketmaestro.storage import AsyncStore
from tests.rebalance.conftest import paper, rebalancing

THIRD = 1 / 3


async def test_drift_becomes_trades_orders_and_fills_that_bring_the_balances_to_the_target(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(60):
        async with rebalancing(store, paper(store, tmp_path)) as r:
            assert await r.stack.balances() == {"USDT": Decimal("30000")}
            report = await r.run()
            assert report["status"] == "traded", report
            assert report["drift"] > 0.6  # all in USDT: 1 against a target of 1/3
            assert [(o["symbol"], o["side"], o["status"]) for o in report["orders"]] == [
                ("BTCUSDT", "buy", "filled"),
                ("ETHUSDT", "buy", "filled"),
            ]
            await r.stack.settle()
            balances = await r.stack.balances()
            assert balances["BTC"] > 0 and balances["ETH"] > 0
            # The next run values the new balances: every weight is now close to a third, so it is skipped.
            again = await r.run()
            assert again["status"] == "skipped", again
            assert again["drift"] < 0.01
            for weight in again["weights"].values():
                assert abs(weight - THIRD) < 0.01
    orders = await store.list_orders(exchange="paper", limit=10)
    assert {o.strategy for o in orders} == {"rebalance:equal_weight"}
    for order in orders:
        assert order.quantity == order.quantity.quantize(Decimal("0.0001"))  # on the step grid


async def test_trades_under_min_trade_are_skipped_and_nothing_is_ordered(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(60):
        async with rebalancing(store, paper(store, tmp_path), config={"min_trade": 20000.0}) as r:
            report = await r.run()
            assert report["status"] == "skipped", report
            assert report["orders"] == []
            assert [(s["symbol"], s["side"]) for s in report["skipped"]] == [
                ("BTCUSDT", "buy"),
                ("ETHUSDT", "buy"),
            ]
            for skipped in report["skipped"]:
                assert "under min_trade 20000" in skipped["reason"]
            assert await r.stack.balances() == {"USDT": Decimal("30000")}
    assert await store.list_orders(exchange="paper", limit=10) == []


async def test_under_the_drift_threshold_the_script_is_not_run_unless_forced(
    store: AsyncStore, tmp_path: Path
) -> None:
    """A drift of 2/3 is under a threshold of 0.7: skipped; ``force`` runs it anyway."""
    with trio.fail_after(60):
        async with rebalancing(store, paper(store, tmp_path), config={"drift_threshold": 0.7}) as r:
            report = await r.run()
            assert report["status"] == "skipped"
            assert "threshold 0.7" in report["reason"]
            assert "orders" not in report  # on_rebalance() was not called
            forced = await r.run(force=True)
            assert forced["status"] == "traded", forced
            assert len(forced["orders"]) == 2


async def test_sells_go_before_buys_and_quantities_sit_on_the_step_grid(
    store: AsyncStore, tmp_path: Path
) -> None:
    """An account all in BTC: ETH is bought with USDT that selling BTC frees first."""
    exchange = paper(store, tmp_path, balances={"BTC": "1", "USDT": "0"})
    with trio.fail_after(60):
        async with rebalancing(store, exchange) as r:
            report = await r.run()
            assert report["status"] == "traded", report
            assert [(o["symbol"], o["side"], o["status"]) for o in report["orders"]] == [
                ("BTCUSDT", "sell", "filled"),
                ("ETHUSDT", "buy", "filled"),
            ]
            for order in report["orders"]:
                assert Decimal(order["quantity"]) == Decimal(order["quantity"]).quantize(Decimal("0.0001"))
            await r.stack.settle()
            after = await r.run()
            assert after["drift"] < report["drift"]


async def test_an_order_the_risk_rules_deny_is_reported_and_never_reaches_the_exchange(
    store: AsyncStore, tmp_path: Path
) -> None:
    risk = {"max_position_size": {"default": 10, "ETHUSDT": 0.5}}
    with trio.fail_after(60):
        async with rebalancing(store, paper(store, tmp_path), risk=risk) as r:
            report = await r.run()
            assert report["status"] == "traded", report
            btc, eth = report["orders"]
            assert (btc["symbol"], btc["status"]) == ("BTCUSDT", "filled")
            assert (eth["symbol"], eth["status"]) == ("ETHUSDT", "rejected")
            assert eth["error"].startswith("risk rule max_position_size: position in ETHUSDT would be")
            await r.stack.settle()
            assert "ETH" not in await r.stack.balances()
