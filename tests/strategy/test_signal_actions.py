"""Every signal action reaching the trading path: limit orders with their prices, cancel, open_orders()."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio

from marketmaestro.exchanges import OrderResult
from marketmaestro.exchanges.paper import PaperExchange
from marketmaestro.model import Order, OrderStatus, OrderType
from marketmaestro.storage import AsyncStore
from marketmaestro.strategy.builtins import MATH_BUILTINS
from marketmaestro.supervision import HealthRegistry
from tests.exchanges.conftest import known_book_paper
from tests.strategy.conftest import Harness, logged, write_strategy
from tests.trading.conftest import trading_stack


class RestingLimitPaper(PaperExchange):
    """The paper exchange, except that limit orders rest on the book (accepted, unfilled) until cancelled:
    an exchange with open orders, behind the real interface."""

    capabilities = {**PaperExchange.capabilities, "limit_orders": True}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.resting: dict[str, Order] = {}

    async def place_order(self, order: Order) -> OrderResult:
        if order.type is not OrderType.LIMIT:
            return await super().place_order(order)
        accepted = order.with_status(OrderStatus.ACCEPTED, venue_order_id=f"rest-{len(self.resting) + 1}")
        self.resting[order.client_order_id] = accepted
        return OrderResult(accepted)

    async def cancel_order(self, order: Order) -> Order:
        return self.resting.pop(order.client_order_id).with_status(OrderStatus.CANCELLED)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return list(self.resting.values())


@asynccontextmanager
async def resting_harness(
    store: AsyncStore, folder: Path
) -> AsyncIterator[tuple[Harness, RestingLimitPaper]]:
    paper, warmup = known_book_paper(store, folder)
    exchange = RestingLimitPaper(paper.context)
    async with trading_stack(store, exchange, price=warmup[-1]) as stack:
        yield Harness(stack, warmup, HealthRegistry(), folder), exchange


LIMIT_THEN_CANCEL = """
def settings():
    return {"interval": "1m"}

def on_kline(kline):
    step = get_state("step", 0)
    set_state("step", step + 1)
    set_state("open_seen_%d" % step, len(open_orders()))
    if step == 0:
        return {"action": "buy", "quantity": 0.01, "type": "limit", "price": 19000.123,
                "reason": "bid under the market"}
    if step == 1:
        return {"action": "sell", "quantity": 0.01, "type": "stop_limit",
                "price": 18000, "stop_price": 18500.007}
    if step == 2:
        return {"action": "cancel", "reason": "changed my mind"}
    return None

def on_order(order):
    log("order", order["type"], order["status"], order["price"])
"""


async def test_limit_orders_rest_with_prices_on_the_tick_and_cancel_cancels_them(
    store: AsyncStore, tmp_path: Path, log_messages: list[dict[str, Any]]
) -> None:
    file = write_strategy(tmp_path, LIMIT_THEN_CANCEL)
    with trio.fail_after(10):
        async with resting_harness(store, tmp_path) as (h, exchange):
            runner = await h.start(file)
            for close in (20010.0, 20011.0, 20012.0, 20013.0):
                status = await h.feed(runner, close)
                assert status["errors"] == 0
    orders = {o.type: o for o in await store.list_orders(exchange="paper", strategy="probe")}
    limit, stop = orders[OrderType.LIMIT], orders[OrderType.STOP_LIMIT]
    assert limit.price == Decimal("19000.0"), "19000.123 on the known book's 0.5 tick"
    assert limit.status is OrderStatus.CANCELLED and limit.error == "changed my mind"
    # No native stops on this exchange: the stop limit is emulated (held locally), and cancelled locally.
    assert stop.emulated and not limit.emulated
    assert stop.status is OrderStatus.CANCELLED and stop.error == "changed my mind"
    assert stop.stop_price == Decimal("18500.0") and stop.price == Decimal("18000.0")
    assert exchange.resting == {}
    state = await store.strategy_state("paper", runner.symbol, "probe")
    assert [state[f"open_seen_{i}"] for i in range(4)] == [0, 1, 2, 0]
    # on_order hears every status change; the ones that matter here (before: created, submitted):
    lines = [
        m["message"]
        for m in logged(log_messages, "strategy.log")
        if m["message"].split()[2] in ("accepted", "cancelled")
    ]
    assert lines[0].startswith("order limit accepted 19000.0")
    assert lines[1].startswith("order stop_limit accepted 18000.0")
    assert sorted(lines[2:4]) == ["order limit cancelled 19000.0", "order stop_limit cancelled 18000.0"]


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("sqrt", (9,), 3.0),
        ("ln", (math.e,), 1.0),
        ("log10", (1000,), 3.0),
        ("exp", (0,), 1.0),
        ("pow", (2, 10), 1024.0),
        ("floor", (-1.5,), -2),
        ("ceil", (1.2,), 2),
        ("abs", (-3,), 3.0),
        ("isnan", (float("nan"),), True),
        ("isnan", (1.0,), False),
        ("round", (2.675, 2), 2.67),
        ("sum", ([0.1] * 10,), 1.0),
    ],
)
def test_math_builtins(name: str, args: tuple[Any, ...], expected: Any) -> None:
    assert MATH_BUILTINS[name](*args) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("name", "args", "fragments"),
    [
        ("sqrt", (-1,), ["sqrt()", "zero or more", "-1"]),
        ("ln", (0,), ["ln()", "positive", "0"]),
        ("log10", ("10",), ["log10()", "number", "str"]),
        ("pow", (-8, 0.5), ["pow()", "-8", "not a real number"]),
        ("floor", (float("inf"),), ["floor()", "finite"]),
        ("round", (1.5, 1.5), ["round()", "ndigits"]),
        ("sum", ([1, "2"],), ["sum()", "values[1]", "str"]),
        ("abs", (True,), ["abs()", "bool"]),
    ],
)
def test_math_builtins_name_what_was_wrong(name: str, args: tuple[Any, ...], fragments: list[str]) -> None:
    with pytest.raises(ValueError) as caught:
        MATH_BUILTINS[name](*args)
    for fragment in fragments:
        assert fragment in str(caught.value)
