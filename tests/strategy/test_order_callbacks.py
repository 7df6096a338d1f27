"""``on_order`` and ``on_fill``: a strategy hears what became of its orders, denials included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from marketmaestro.storage import AsyncStore
from tests.strategy.conftest import harness, logged, write_strategy

ORDER_CALLBACKS = """
def settings():
    return {"interval": "1m"}

def on_kline(kline):
    if get_state("sent", False):
        return None
    set_state("sent", True)
    return [
        {"action": "buy", "quantity": 0.001, "reason": "small"},
        {"action": "buy", "quantity": 5000.0, "reason": "far too big"},
    ]

def on_order(order):
    log("order", order["status"], order["quantity"], order["error"])
    set_state("orders", get_state("orders", 0) + 1)

def on_fill(fill):
    log("fill", fill["quantity"], fill["price"], fill["fee_currency"])
    set_state("fills", get_state("fills", 0) + 1)
"""

CASCADE = """
def settings():
    return {"interval": "1m"}

def on_kline(kline):
    return {"action": "buy", "quantity": 0.001}

def on_order(order):
    return {"action": "buy", "quantity": 0.001}
"""


async def test_orders_and_fills_are_reported_back_to_the_strategy(
    store: AsyncStore, tmp_path: Path, log_messages: list[dict[str, Any]]
) -> None:
    file = write_strategy(tmp_path, ORDER_CALLBACKS)
    with trio.fail_after(10):
        async with harness(store, tmp_path) as h:
            runner = await h.start(file)
            after = await h.feed(runner, 20010.0)
            assert after["errors"] == 0
    state = await store.strategy_state("paper", runner.symbol, "probe")
    lines = [m["message"] for m in logged(log_messages, "strategy.log")]
    # Each status change of each order in turn (from the order manager), a fill right after its order's.
    statuses = [line.split()[1] for line in lines if line.startswith("order ")]
    assert statuses == ["created", "submitted", "filled", "created", "submitted", "rejected"]
    assert state["orders"] == 6 and state["fills"] == 1
    assert lines[2].startswith("order filled 0.001")
    assert lines[3].startswith("fill 0.001 ") and lines[3].endswith(" USDT")
    assert lines[6].startswith("order rejected 5000.0") and "insufficient balance" in lines[6]


async def test_an_endless_cascade_of_orders_is_cut_and_reported(
    store: AsyncStore, tmp_path: Path, log_messages: list[dict[str, Any]]
) -> None:
    file = write_strategy(tmp_path, CASCADE)
    with trio.fail_after(20):
        async with harness(store, tmp_path) as h:
            runner = await h.start(file)
            after = await h.feed(runner, 20010.0)
    assert after["errors"] == 1
    assert any("more than 10 rounds" in m["error"] for m in logged(log_messages, "strategy.error"))
    assert len(await store.list_orders(exchange="paper", strategy="probe")) == 11
