"""Fills: partial fills, fees in their own currency, a fill before the acknowledgement, the same fill
from two sources (the answer to place_order and the private stream): each counted once, by fill id."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from pathlib import Path

import trio
import trio.testing

from marketmaestro.exchanges import FillUpdate, OrderResult, OrderUpdate
from marketmaestro.messages import CancelOrderMsg
from marketmaestro.model import Fill, Order, OrderStatus, OrderType, Side, now_ms
from marketmaestro.runtime.exchange_service import _private
from marketmaestro.storage import AsyncStore
from tests.exchanges.conftest import known_book_paper
from tests.orders.conftest import kinds, place, venue_stack
from tests.strategy.test_signal_actions import RestingLimitPaper
from tests.trading.conftest import TradingStack, trading_stack


class AckAfterFillPaper(RestingLimitPaper):
    """Limit orders rest; the acknowledgement of one says "filled" before any fill was reported (the
    exchange matched it at once but sends executions separately, as private streams do)."""

    async def place_order(self, order: Order) -> OrderResult:
        if order.type is not OrderType.LIMIT:
            return await super().place_order(order)
        return OrderResult(order.with_status(OrderStatus.FILLED, venue_order_id="v-1"))


def fill(order: Order, fill_id: str, quantity: str, price: str, fee: str, currency: str) -> Fill:
    return Fill(
        fill_id=fill_id,
        client_order_id=order.client_order_id,
        exchange=order.exchange,
        symbol=order.symbol,
        side=order.side,
        quantity=Decimal(quantity),
        price=Decimal(price),
        fee=Decimal(fee),
        fee_currency=currency,
        timestamp=now_ms(),
        strategy=order.strategy,
    )


async def stream(stack: TradingStack, *events: FillUpdate | OrderUpdate) -> None:
    """Deliver account events to the order manager as the private stream forwarder does, then settle."""
    for event in events:
        await stack.order_manager.mailbox.send(event)
    await stack.settle()


async def test_partial_fills_add_up_once_each_with_fees_in_their_own_currency(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(10):
        async with venue_stack(store, tmp_path, RestingLimitPaper) as stack:
            order = await place(stack, Side.BUY, "0.03", OrderType.LIMIT, price="19000")
            first = fill(order, "f1", "0.01", "19000", "0.00001", "BNB")
            second = fill(order, "f2", "0.02", "18999.5", "0.3", "USDT")
            await stream(stack, FillUpdate(first), FillUpdate(first))  # the same fill twice
            partly = await store.get_order(order.client_order_id)
            assert partly is not None
            assert (partly.status, partly.filled_quantity) == (OrderStatus.PARTIALLY_FILLED, Decimal("0.01"))
            # A stale "accepted" after the first fill changes nothing.
            await stream(stack, OrderUpdate(order.with_status(OrderStatus.ACCEPTED)), FillUpdate(second))
            done = await store.get_order(order.client_order_id)
            assert done is not None
            assert (done.status, done.filled_quantity) == (OrderStatus.FILLED, Decimal("0.03"))
            assert done.average_price == Decimal("18999.66667"), "rounded to a ten-thousandth of the tick"
            fills = await store.list_fills(client_order_id=order.client_order_id)
            assert {(f.fill_id, f.fee, f.fee_currency) for f in fills} == {
                ("f1", Decimal("0.00001"), "BNB"),
                ("f2", Decimal("0.3"), "USDT"),
            }
            assert (await stack.position(strategy="s1")).quantity == Decimal("0.03")
            # A late repeat after the order is filled is still counted once.
            await stream(stack, FillUpdate(second))
            assert (await store.get_order(order.client_order_id)).filled_quantity == Decimal("0.03")  # type: ignore[union-attr]


async def test_an_acknowledgement_that_says_filled_waits_for_its_fill(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(10):
        async with venue_stack(store, tmp_path, AckAfterFillPaper) as stack:
            order = await place(stack, Side.BUY, "0.01", OrderType.LIMIT, price="19000")
            # Filled per the exchange, but nothing counted yet: accepted, with the exchange's id.
            assert (order.status, order.filled_quantity, order.venue_order_id) == (
                OrderStatus.ACCEPTED,
                Decimal(0),
                "v-1",
            )
            await stream(stack, FillUpdate(fill(order, "f1", "0.01", "19000", "0.19", "USDT")))
            done = await store.get_order(order.client_order_id)
            assert done is not None
            assert (done.status, done.filled_quantity, done.average_price) == (
                OrderStatus.FILLED,
                Decimal("0.01"),
                Decimal("19000"),
            )


async def test_a_fill_before_the_acknowledgement_is_not_undone_by_it(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(10):
        async with venue_stack(store, tmp_path, RestingLimitPaper) as stack:
            order = await place(stack, Side.BUY, "0.02", OrderType.LIMIT, price="19000")
            # The stream's fill, then the (older) acknowledgement "accepted": the fill stands.
            await stream(
                stack,
                FillUpdate(fill(order, "f1", "0.02", "19000", "0.38", "USDT")),
                OrderUpdate(order.with_status(OrderStatus.ACCEPTED)),
            )
            done = await store.get_order(order.client_order_id)
            assert done is not None and done.status is OrderStatus.FILLED


async def test_the_private_stream_repeats_a_market_fill_and_it_is_counted_once(
    store: AsyncStore, tmp_path: Path
) -> None:
    paper, warmup = known_book_paper(store, tmp_path)
    with trio.fail_after(10):
        async with trading_stack(store, paper, price=warmup[-1]) as stack:
            await stack.nursery.start(partial(_private, paper, stack.order_manager.mailbox))
            order = await place(stack, Side.BUY, "0.01")
            assert order.status is OrderStatus.FILLED
            await trio.testing.wait_all_tasks_blocked()
            await stack.settle()
            [only] = await store.list_fills(client_order_id=order.client_order_id)
            assert (await store.get_order(order.client_order_id)).filled_quantity == only.quantity  # type: ignore[union-attr]
            assert (await stack.position(strategy="s1")).quantity == Decimal("0.01")
            filled_events = await store.list_events(kind="order.filled")
            assert len(filled_events) == 1


async def test_after_a_restart_a_resting_entry_fill_releases_its_pending_exits(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(10):
        async with venue_stack(store, tmp_path, RestingLimitPaper) as stack:
            entry = await place(
                stack,
                Side.BUY,
                "0.02",
                OrderType.LIMIT,
                price="19000",
                stop_loss="18000",
                take_profit="21000",
            )
            assert (entry.status, entry.emulated) == (OrderStatus.ACCEPTED, False)
        async with venue_stack(store, tmp_path, RestingLimitPaper) as stack:
            assert (
                stack.order_manager.watching == {}
            )  # the exits are pending, the entry rests on the exchange
            await stream(stack, FillUpdate(fill(entry, "f1", "0.02", "19000", "0.38", "USDT")))
            exits = await store.list_open_orders(parent_order_id=entry.client_order_id)
            assert {(o.type, o.status, o.emulated, o.quantity) for o in exits} == {
                (OrderType.TAKE_PROFIT, OrderStatus.ACCEPTED, True, Decimal("0.02")),
                (OrderType.STOP_MARKET, OrderStatus.ACCEPTED, True, Decimal("0.02")),
            }
            assert set(stack.order_manager.watching) == {o.client_order_id for o in exits}


async def test_a_fill_after_the_cancel_is_counted_and_the_order_stays_cancelled(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(10):
        async with venue_stack(store, tmp_path, RestingLimitPaper) as stack:
            order = await place(stack, Side.BUY, "0.02", OrderType.LIMIT, price="19000")
            await stack.order_manager.mailbox.request(CancelOrderMsg(stack.name, order.client_order_id), 5)
            await stream(stack, FillUpdate(fill(order, "f1", "0.01", "19000", "0.19", "USDT")))
            after = await store.get_order(order.client_order_id)
            assert after is not None
            assert (after.status, after.filled_quantity) == (OrderStatus.CANCELLED, Decimal("0.01"))
            assert (await kinds(store, order))[-2:] == ["order.cancelled", "order.late_fill"]
            assert (await stack.position(strategy="s1")).quantity == Decimal("0.01")
