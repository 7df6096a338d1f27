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
