"""The order manager with the real risk manager, portfolio, paper exchange, plugins and store."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio

from marketmaestro import hookimpl
from marketmaestro.messages import GetStatusMsg, OrderFilledMsg, OrderUpdatedMsg
from marketmaestro.model import Balance, Order, OrderStatus, OrderType, Side
from marketmaestro.storage import AsyncStore
from marketmaestro.supervision import BadRequest, RequestFailed
from tests.exchanges.conftest import BEST_ASK, BEST_BID, known_book_paper
from tests.trading.conftest import TIMEOUT, TradingStack, plugin_host, trading_stack

START_BALANCES = [Balance("USDT", Decimal("20000"))]


class Recorder:
    """A plugin that keeps every order event it is told about."""

    def __init__(self) -> None:
        self.updates: list[OrderUpdatedMsg] = []
        self.fills: list[OrderFilledMsg] = []

    @hookimpl
    def on_order_updated(self, event: OrderUpdatedMsg) -> None:
        self.updates.append(event)

    @hookimpl
    async def on_order_filled(self, event: OrderFilledMsg) -> None:
        # An awaitable result: the host must await it.
        await trio.lowlevel.checkpoint()
        self.fills.append(event)


class Broken:
    """A plugin whose hook always raises: trading must not notice."""

    @hookimpl
    def on_order_updated(self, event: OrderUpdatedMsg) -> None:
        raise RuntimeError(f"notification service down for {event.order.client_order_id}")


async def event_kinds(store: AsyncStore, order: Order) -> list[str]:
    """The kinds of the events stored for ``order``, oldest first."""
    events = await store.list_events(limit=1000)
    return [e.kind for e in reversed(events) if e.data.get("client_order_id") == order.client_order_id]


async def assert_never_reached_the_exchange(stack: TradingStack, order: Order) -> None:
    assert await stack.exchange.balances() == START_BALANCES
    assert await stack.store.list_fills() == []
    assert await event_kinds(stack.store, order) == ["order.created", "order.rejected"]
    assert await stack.store.get_order(order.client_order_id) == order


async def test_a_market_order_is_filled_and_everything_is_stored(store: AsyncStore, tmp_path: Path) -> None:
    exchange, warmup = known_book_paper(store, tmp_path)
    with trio.fail_after(10):
        async with trading_stack(store, exchange, price=warmup[-1]) as stack:
            # 0.0209 is rounded down to the 0.001 step.
            order = await stack.place(Side.BUY, "0.0209", strategy="sma", reason="crossed")
            await stack.settle()

            assert order.status is OrderStatus.FILLED
            assert order.error is None
            assert order.quantity == order.filled_quantity == Decimal("0.020")
            assert order.average_price == BEST_ASK
            assert order.venue_order_id
            assert (order.exchange, order.symbol, order.side, order.type) == (
                "paper",
                "BTCUSDT",
                Side.BUY,
                OrderType.MARKET,
            )
            assert (order.strategy, order.reason) == ("sma", "crossed")

            assert await store.get_order(order.client_order_id) == order
            (fill,) = await store.list_fills(client_order_id=order.client_order_id)
            assert (fill.quantity, fill.price, fill.strategy) == (Decimal("0.020"), BEST_ASK, "sma")
            # 0.020 * 20011.5 = 400.23; 0.1 % fee in USDT.
            assert (fill.fee, fill.fee_currency) == (Decimal("0.40023"), "USDT")
            assert await event_kinds(store, order) == ["order.created", "order.submitted", "order.filled"]

            expected_balances = [Balance("BTC", Decimal("0.02")), Balance("USDT", Decimal("19599.36977"))]
            assert await exchange.balances() == expected_balances
            assert await store.list_balances("paper") == expected_balances
            assert await stack.balances() == {"BTC": Decimal("0.02"), "USDT": Decimal("19599.36977")}

            for strategy in ("", "sma"):
                position = await stack.position(strategy=strategy)
                assert (position.quantity, position.average_price) == (Decimal("0.02"), BEST_ASK)
            stored = {p.strategy: p for p in await store.list_positions(exchange="paper")}
            assert set(stored) == {"", "sma"}
            assert all(p.quantity == Decimal("0.02") and p.average_price == BEST_ASK for p in stored.values())

            status = await stack.order_manager.mailbox.request(GetStatusMsg(), TIMEOUT)
            assert status == {
                "orders": {"created": 1, "submitted": 1, "filled": 1},
                "emulated": 0,
                "halted": False,
            }


async def test_a_round_trip_leaves_the_fees_and_the_spread_as_the_cost(
    store: AsyncStore, tmp_path: Path
) -> None:
    exchange, warmup = known_book_paper(store, tmp_path)
    with trio.fail_after(10):
        async with trading_stack(store, exchange, price=warmup[-1]) as stack:
            buy = await stack.place(Side.BUY, "0.02", strategy="sma")
            sell = await stack.place(Side.SELL, "0.02", strategy="sma")
            assert (buy.status, sell.status) == (OrderStatus.FILLED, OrderStatus.FILLED)
            assert sell.average_price == BEST_BID
            position = await stack.position(strategy="sma")
            assert position.quantity == 0
            assert position.average_price == 0
            # (19991.5 - 20011.5) * 0.02 = -0.4: the spread; the fees stay with the fills.
            assert position.realized_pnl == Decimal("-0.4")
            assert await stack.balances() == {
                "BTC": Decimal(0),
                "USDT": Decimal("20000") - Decimal("0.4") - Decimal("0.40023") - Decimal("0.39983"),
            }


@pytest.mark.parametrize(
    ("quantity", "options", "fragments"),
    [
        ("0.0004", {}, ["quantity 0.000 rounds to zero", "step 0.001"]),
        ("0.004", {"min_notional": "100"}, ["notional 80.0052", "minimum 100"]),
    ],
)
async def test_an_order_under_the_minimums_is_rejected_before_the_exchange(
    store: AsyncStore, tmp_path: Path, quantity: str, options: dict[str, Any], fragments: list[str]
) -> None:
    exchange, warmup = known_book_paper(store, tmp_path, **options)
    with trio.fail_after(10):
        async with trading_stack(store, exchange, price=warmup[-1]) as stack:
            order = await stack.place(Side.BUY, quantity)
            assert order.status is OrderStatus.REJECTED
            assert order.error is not None
            for fragment in fragments:
                assert fragment in order.error
            await assert_never_reached_the_exchange(stack, order)


async def test_an_order_without_a_market_price_is_rejected(store: AsyncStore, tmp_path: Path) -> None:
    exchange, _ = known_book_paper(store, tmp_path)
    with trio.fail_after(10):
        async with trading_stack(store, exchange) as stack:
            order = await stack.place(Side.BUY, "0.01")
            assert order.status is OrderStatus.REJECTED
            assert order.error == "no market price for BTCUSDT yet"
            await assert_never_reached_the_exchange(stack, order)


async def test_a_risk_denial_is_rejected_with_the_rule_and_never_sent(
    store: AsyncStore, tmp_path: Path
) -> None:
    exchange, warmup = known_book_paper(store, tmp_path)
    risk = {"max_position_size": {"default": "0.01"}}
    with trio.fail_after(10):
        async with trading_stack(store, exchange, risk=risk, price=warmup[-1]) as stack:
            order = await stack.place(Side.BUY, "0.02")
            assert order.status is OrderStatus.REJECTED
            assert order.error is not None
            assert order.error.startswith("risk rule max_position_size: ")
            assert "0.020" in order.error
            assert "limit of 0.01" in order.error
            await assert_never_reached_the_exchange(stack, order)
            status = await stack.risk_manager.mailbox.request(GetStatusMsg(), TIMEOUT)
            assert status == {"rules": ["max_position_size"], "denied": 1}

            # Within the limit it goes through.
            assert (await stack.place(Side.BUY, "0.01")).status is OrderStatus.FILLED


async def test_a_reducing_order_passes_even_over_the_limit(store: AsyncStore, tmp_path: Path) -> None:
    exchange, warmup = known_book_paper(store, tmp_path)
    with trio.fail_after(10):
        async with trading_stack(store, exchange, price=warmup[-1]) as stack:
            assert (await stack.place(Side.BUY, "0.05")).status is OrderStatus.FILLED

        # The limit is lowered under the position; a restart on the same store and account.
        restarted, _ = known_book_paper(store, tmp_path)
        risk = {"max_position_size": {"default": "0.01"}}
        async with trading_stack(store, restarted, risk=risk, price=warmup[-1]) as stack:
            assert (await stack.position()).quantity == Decimal("0.05")
            sell = await stack.place(Side.SELL, "0.02")
            assert sell.status is OrderStatus.FILLED, sell.error
            assert (await stack.position()).quantity == Decimal("0.03")
            buy = await stack.place(Side.BUY, "0.001")
            assert buy.status is OrderStatus.REJECTED
            assert buy.error is not None and "max_position_size" in buy.error


async def test_an_exchange_rejection_is_recorded_with_its_reason(store: AsyncStore, tmp_path: Path) -> None:
    exchange, warmup = known_book_paper(store, tmp_path)
    with trio.fail_after(10):
        async with trading_stack(store, exchange, price=warmup[-1]) as stack:
            order = await stack.place(Side.BUY, "1")
            assert order.status is OrderStatus.REJECTED
            assert order.error is not None
            assert "insufficient balance" in order.error
            assert "20031.5115" in order.error
            assert await event_kinds(store, order) == ["order.created", "order.submitted", "order.rejected"]
            assert await store.get_order(order.client_order_id) == order
            assert await exchange.balances() == START_BALANCES

            with pytest.raises(RequestFailed, match="price: a limit order needs a limit price"):
                await stack.place(Side.BUY, "0.01", order_type=OrderType.LIMIT)


async def test_plugins_hear_every_status_change_and_fill(store: AsyncStore, tmp_path: Path) -> None:
    recorder = Recorder()
    host = plugin_host(("broken", Broken()), ("rec", recorder))
    assert {p.name: p.status for p in host.plugins}["rec"] == "ok"
    exchange, warmup = known_book_paper(store, tmp_path, min_notional="100")
    with trio.fail_after(10):
        async with trading_stack(store, exchange, plugins=host, price=warmup[-1]) as stack:
            filled = await stack.place(Side.BUY, "0.02", strategy="sma")
            rejected = await stack.place(Side.BUY, "0.001", strategy="sma")

    assert filled.status is OrderStatus.FILLED  # the broken plugin changed nothing
    assert [(e.order.client_order_id, e.previous_status, e.order.status) for e in recorder.updates] == [
        (filled.client_order_id, None, OrderStatus.CREATED),
        (filled.client_order_id, OrderStatus.CREATED, OrderStatus.SUBMITTED),
        (filled.client_order_id, OrderStatus.SUBMITTED, OrderStatus.FILLED),
        (rejected.client_order_id, None, OrderStatus.CREATED),
        (rejected.client_order_id, OrderStatus.CREATED, OrderStatus.REJECTED),
    ]
    assert recorder.updates[2].order == filled
    (event,) = recorder.fills
    assert event.order == filled
    assert (event.fill.client_order_id, event.fill.quantity, event.fill.price) == (
        filled.client_order_id,
        Decimal("0.02"),
        BEST_ASK,
    )
    assert event.strategy == "sma"


async def test_a_bad_request_is_answered_and_the_order_manager_keeps_running(
    store: AsyncStore, tmp_path: Path
) -> None:
    exchange, warmup = known_book_paper(store, tmp_path)
    with trio.fail_after(10):
        async with trading_stack(store, exchange, price=warmup[-1]) as stack:
            with pytest.raises(RequestFailed) as unknown:
                await stack.place(Side.BUY, "0.01", symbol="DOGEUSDT")
            assert isinstance(unknown.value.__cause__, BadRequest)
            assert "DOGEUSDT" in str(unknown.value.__cause__)

            with pytest.raises(RequestFailed) as elsewhere:
                await stack.place(Side.BUY, "0.01", exchange="bybit")
            assert isinstance(elsewhere.value.__cause__, BadRequest)
            assert "bybit" in str(elsewhere.value.__cause__)
            assert "paper" in str(elsewhere.value.__cause__)

            # Nothing was stored for them, and the next order is handled as usual.
            assert await store.list_orders() == []
            assert (await stack.place(Side.BUY, "0.01")).status is OrderStatus.FILLED
