"""Every signal example of docs/orders.md runs: a real strategy returns each in turn to a real runner and
order manager on the paper exchange, and each becomes the order the page says (none is a bad signal)."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path
from typing import Any

import trio

from marketmaestro.model import OrderStatus, OrderType
from marketmaestro.storage import AsyncStore
from marketmaestro.supervision import HealthRegistry
from tests.exchanges.conftest import known_book_paper
from tests.strategy.conftest import Harness, write_strategy
from tests.trading.conftest import trading_stack

DOC = Path(__file__).parents[2] / "docs" / "orders.md"


def doc_signals() -> list[str]:
    """The signal lines of the page's code blocks, as written (comments dropped)."""
    lines = [line.split("#")[0].strip() for line in DOC.read_text().splitlines()]
    return [line for line in lines if line.startswith('{"action"')]


def test_the_page_shows_every_order_type_and_flag() -> None:
    signals = [ast.literal_eval(line) for line in doc_signals()]
    types = {s.get("type", "market") for s in signals}
    assert types == {t.value for t in OrderType} | {"oco"}
    for field in ("time_in_force", "post_only", "reduce_only", "trail_amount", "stop_loss", "take_profit"):
        assert any(field in s for s in signals), field


async def test_every_signal_on_the_page_places_its_order(store: AsyncStore, tmp_path: Path) -> None:
    signals = doc_signals()
    source = (
        "SIGNALS = [\n    "
        + ",\n    ".join(signals)
        + ",\n]\n"
        + (
            "def settings():\n"
            '    return {"interval": "1m"}\n'
            "def on_kline(kline):\n"
            '    i = get_state("i", 0)\n'
            '    set_state("i", i + 1)\n'
            "    if i < len(SIGNALS):\n"
            "        return SIGNALS[i]\n"
            "    return None\n"
        )
    )
    file = write_strategy(tmp_path, source)
    # A market-only paper venue, so the page's emulated orders (and post-only's refusal) are what runs.
    paper, warmup = known_book_paper(
        store, tmp_path, balances={"USDT": Decimal("100000"), "BTC": Decimal("1")}, limit_orders=False
    )
    with trio.fail_after(30):
        async with trading_stack(store, paper, price=warmup[-1]) as stack:
            h = Harness(stack, warmup, HealthRegistry(), tmp_path)
            runner = await h.start(file)
            for _ in signals:
                state: dict[str, Any] = await h.feed(runner, 20001.3)
                assert state["errors"] == 0
            assert state["signals"] == len(signals)
    orders = await store.list_orders(strategy="probe", limit=1000)
    # One order per signal, two for the OCO and one more per bracket exit.
    assert len(orders) == len(signals) + 1 + 2 + 2
    rejected = {o.error for o in orders if o.status is OrderStatus.REJECTED}
    assert rejected == {"post_only: this exchange has no post-only orders and they cannot be emulated"}
    assert {o.type.value for o in orders} == {t.value for t in OrderType}
