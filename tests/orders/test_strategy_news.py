"""A strategy hears about every order of its own, not only those its callbacks returned: a bracket's exits
as they activate, fill or are cancelled as siblings, and fills reconciliation records (``on_order`` for each
status change, ``on_fill`` for each fill, once, in order)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import trio

from marketmaestro.messages import CancelAllOrdersMsg
from marketmaestro.model import OrderStatus, OrderType, Side
from marketmaestro.orders.manager import KILL_REASON
from marketmaestro.storage import AsyncStore
from marketmaestro.supervision import HealthRegistry
from tests.orders.conftest import place
from tests.reconcile.test_reconcile import LIMIT, reconcile, spot_stack
from tests.strategy.conftest import Harness, harness, status, write_strategy
from tests.trading.conftest import TIMEOUT

NEWS = """
def settings():
    return {"interval": "1m"}

def on_kline(kline):
    if get_state("sent", False):
        return None
    set_state("sent", True)
    return {"action": "buy", "quantity": 0.001, "stop_loss": 19000.0, "take_profit": 20100.0}

def on_order(order):
    role = "entry"
    if order["parent_order_id"] != None:
        role = order["type"]
    set_state("orders", get_state("orders", "") + role + ":" + order["status"] + " ")

def on_fill(fill):
    set_state("fills", get_state("fills", "") + fill["client_order_id"] + ":" + str(fill["quantity"]) + " ")
"""


async def test_a_bracket_s_exits_reach_the_strategy(store: AsyncStore, tmp_path: Path) -> None:
    file = write_strategy(tmp_path, NEWS)
    with trio.fail_after(20):
        async with harness(store, tmp_path) as h:
            runner = await h.start(file)
            assert (await h.feed(runner, 20010.0))["errors"] == 0
            # The take profit triggers and fills; the stop loss is cancelled as its sibling.
            await h.feed(runner, 20300.0)
            await h.stack.settle()
            assert (await status(runner))["errors"] == 0  # after the news the order manager sent
    orders = await store.list_orders(exchange="paper", strategy="probe")
    [entry] = [o for o in orders if o.parent_order_id is None]
    exits = {o.type: o for o in orders if o.parent_order_id == entry.client_order_id}
    take = next(o for kind, o in exits.items() if kind is not OrderType.STOP_MARKET)
    stop = exits[OrderType.STOP_MARKET]
    assert (take.status, stop.status) == (OrderStatus.FILLED, OrderStatus.CANCELLED)
    state = await store.strategy_state("paper", runner.symbol, "probe")
    # Every status change of every order, each once, in the order the order manager announced them.
    assert state["orders"].split() == [
        "entry:created",
        "entry:submitted",
        "entry:filled",
        f"{take.type.value}:created",
        f"{take.type.value}:pending",
        "stop_market:created",
        "stop_market:pending",
        f"{take.type.value}:accepted",  # released by the entry's fill
        "stop_market:accepted",
        f"{take.type.value}:triggered",
        f"{take.type.value}:filled",
        "stop_market:cancelled",  # its sibling filled
    ]
    fills = state["fills"].split()
    assert fills == [f"{entry.client_order_id}:0.001", f"{take.client_order_id}:0.001"]


async def test_a_fill_reconciliation_records_reaches_on_fill(store: AsyncStore, tmp_path: Path) -> None:
    file = write_strategy(tmp_path, NEWS)
    with trio.fail_after(LIMIT):
        async with spot_stack(store) as (stack, fake):
            runner = await Harness(stack, [], HealthRegistry(), tmp_path).start(file)
            order = await place(stack, Side.BUY, "0.01", OrderType.LIMIT, price="29000", strategy="probe")
            by_hand = await place(stack, Side.BUY, "0.02", OrderType.LIMIT, price="29000", strategy="")
            assert order.status is by_hand.status is OrderStatus.ACCEPTED
            fake.set_price("BTCUSDT", Decimal(28900))  # it fills; no private stream tells the bot
            report = await reconcile(stack)
            assert sorted(report.resolved) == sorted([order.client_order_id, by_hand.client_order_id])
            assert (await status(runner))["errors"] == 0
    state = await store.strategy_state("bybit", "BTCUSDT", "probe")
    # The order without a strategy (an API order) reaches no strategy.
    assert state["fills"].split() == [f"{order.client_order_id}:0.01"]
    assert state["orders"].split()[-1] == "entry:filled"


async def test_the_kill_switch_s_cancels_reach_on_order(store: AsyncStore, tmp_path: Path) -> None:
    file = write_strategy(
        tmp_path,
        NEWS.replace(
            '{"action": "buy", "quantity": 0.001, "stop_loss": 19000.0, "take_profit": 20100.0}',
            '{"action": "buy", "quantity": 0.001, "type": "stop_market", "stop_price": 25000.0}',
        ),
    )
    with trio.fail_after(20):
        async with harness(store, tmp_path) as h:
            runner = await h.start(file)
            assert (await h.feed(runner, 20010.0))["errors"] == 0
            msg = CancelAllOrdersMsg(h.stack.name, reason=KILL_REASON, halt=True)
            [cancelled] = await h.stack.order_manager.mailbox.request(msg, TIMEOUT)
            assert cancelled.error == KILL_REASON
            assert (await status(runner))["errors"] == 0
    state = await store.strategy_state("paper", runner.symbol, "probe")
    assert state["orders"].split() == ["entry:created", "entry:accepted", "entry:cancelled"]
