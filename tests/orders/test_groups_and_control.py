"""OCO and bracket groups, cancel, cancel-all, amend (local, native, cancel-replace), the kill-switch
halt and the lifecycle's refusals, on the paper exchange and a store on disk."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from pathlib import Path

import pytest
import trio

from marketmaestro.messages import (
    AmendOrderMsg,
    CancelAllOrdersMsg,
    CancelOrderMsg,
    GetStatusMsg,
    LiftKillMsg,
)
from marketmaestro.model import OrderStatus, OrderType, Side
from marketmaestro.orders.lifecycle import TRANSITIONS, InvalidTransition, check_transition
from marketmaestro.storage import AsyncStore
from marketmaestro.supervision import RequestFailed
from tests.exchanges.conftest import known_book_paper
from tests.orders.conftest import kinds, paper_stack, place, see, venue_stack
from tests.reconcile.test_reconcile import service_stack
from tests.strategy.test_signal_actions import RestingLimitPaper
from tests.trading.conftest import TIMEOUT, TradingStack


class RestingNoAmendPaper(RestingLimitPaper):
    """Resting limit orders on a venue that cannot amend them (the paper exchange itself can)."""

    capabilities = {**RestingLimitPaper.capabilities, "amend": False}


async def test_an_oco_fills_one_leg_and_cancels_the_other(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(10):
        async with paper_stack(store, tmp_path) as stack:
            await place(stack, Side.BUY, "0.01")
            take = await place(stack, Side.SELL, "0.01", oco=True, take_profit="20500", stop_loss="19500")
            [stop] = [o for o in await store.list_open_orders(oco_group=take.oco_group) if o != take]
            assert (take.type, stop.type) == (OrderType.TAKE_PROFIT, OrderType.STOP_MARKET)
            assert take.status is stop.status is OrderStatus.ACCEPTED
            await see(stack, "20499", "20500")
            assert (await store.get_order(take.client_order_id)).status is OrderStatus.FILLED  # type: ignore[union-attr]
            other = await store.get_order(stop.client_order_id)
            assert other is not None and other.status is OrderStatus.CANCELLED
            assert other.error == f"{take.client_order_id} filled"
            assert (await stack.position(strategy="s1")).quantity == 0


async def test_an_oco_leg_that_triggers_at_once_still_cancels_its_sibling(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(10):
        async with paper_stack(store, tmp_path) as stack:
            await place(stack, Side.BUY, "0.01")
            # The market (20001.3) is already above the take profit: that leg fills as it is placed.
            take = await place(stack, Side.SELL, "0.01", oco=True, take_profit="19900", stop_loss="19000")
            assert take.status is OrderStatus.FILLED
            legs = [o for o in await store.list_orders(limit=10) if o.oco_group == take.oco_group]
            assert {(o.type, o.status) for o in legs} == {
                (OrderType.TAKE_PROFIT, OrderStatus.FILLED),
                (OrderType.STOP_MARKET, OrderStatus.CANCELLED),
            }
            assert await store.list_open_orders() == []


async def test_a_bracket_activates_its_exits_when_the_entry_fills(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(10):
        async with paper_stack(store, tmp_path) as stack:
            entry = await place(stack, Side.BUY, "0.01", stop_loss="19500", take_profit="20500")
            assert entry.status is OrderStatus.FILLED
            exits = await store.list_open_orders(parent_order_id=entry.client_order_id)
            assert {(o.type, o.side, o.status) for o in exits} == {
                (OrderType.TAKE_PROFIT, Side.SELL, OrderStatus.ACCEPTED),
                (OrderType.STOP_MARKET, Side.SELL, OrderStatus.ACCEPTED),
            }
            stop = next(o for o in exits if o.type is OrderType.STOP_MARKET)
            assert await kinds(store, stop) == ["order.created", "order.pending", "order.accepted"]
            await see(stack, "19400")
            assert (await store.get_order(stop.client_order_id)).status is OrderStatus.FILLED  # type: ignore[union-attr]
            assert await store.list_open_orders(parent_order_id=entry.client_order_id) == []
            assert (await stack.position(strategy="s1")).quantity == 0


async def test_a_bracket_whose_entry_is_cancelled_cancels_its_pending_exits(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(10):
        async with paper_stack(
            store, tmp_path, limit_orders=False
        ) as stack:  # a market-only paper venue: limits are emulated
            entry = await place(
                stack,
                Side.BUY,
                "0.01",
                OrderType.LIMIT,
                price="19000",
                stop_loss="18500",
                take_profit="19800",
            )
            exits = await store.list_open_orders(parent_order_id=entry.client_order_id)
            assert [o.status for o in exits] == [OrderStatus.PENDING, OrderStatus.PENDING]
            await see(stack, "18400")  # pending exits do not trigger before their entry fills...
            # ...but the entry (an emulated buy limit at 19000) did fill, releasing them at 18400.
            assert (await store.get_order(entry.client_order_id)).status is OrderStatus.FILLED  # type: ignore[union-attr]
            entry2 = await place(
                stack,
                Side.BUY,
                "0.01",
                OrderType.LIMIT,
                price="18000",
                stop_loss="17500",
                take_profit="18800",
            )
            cancelled = await stack.order_manager.mailbox.request(
                CancelOrderMsg(stack.name, entry2.client_order_id, "no longer wanted"), TIMEOUT
            )
            assert cancelled.status is OrderStatus.CANCELLED and cancelled.error == "no longer wanted"
            for child in await store.list_orders(limit=100):
                if child.parent_order_id == entry2.client_order_id:
                    assert child.status is OrderStatus.CANCELLED
                    assert child.error == f"entry {entry2.client_order_id} cancelled"


async def test_cancel_all_narrows_to_a_strategy_or_a_symbol_and_cancels_emulated_orders_locally(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(10):
        async with paper_stack(store, tmp_path) as stack:
            a = await place(stack, Side.BUY, "0.01", OrderType.STOP_MARKET, stop_price="21000", strategy="a")
            b = await place(stack, Side.BUY, "0.01", OrderType.STOP_MARKET, stop_price="21000", strategy="b")
            ended = await stack.order_manager.mailbox.request(
                CancelAllOrdersMsg(stack.name, strategy="a", reason="a stops"), TIMEOUT
            )
            assert [o.client_order_id for o in ended] == [a.client_order_id]
            assert ended[0].status is OrderStatus.CANCELLED
            assert (await store.get_order(b.client_order_id)).status is OrderStatus.ACCEPTED  # type: ignore[union-attr]
            await see(stack, "21500")  # a is no longer watched
            assert (await store.get_order(a.client_order_id)).status is OrderStatus.CANCELLED  # type: ignore[union-attr]
            assert (await store.get_order(b.client_order_id)).status is OrderStatus.FILLED  # type: ignore[union-attr]


async def test_the_halt_cancels_everything_and_refuses_new_orders(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(10):
        async with paper_stack(store, tmp_path) as stack:
            await place(stack, Side.BUY, "0.01", OrderType.LIMIT, price="19000", stop_loss="18000")
            ended = await stack.order_manager.mailbox.request(
                CancelAllOrdersMsg(stack.name, reason="kill switch", halt=True), TIMEOUT
            )
            assert {o.status for o in ended} == {OrderStatus.CANCELLED}
            assert await store.list_open_orders() == []
            refused = await place(stack, Side.BUY, "0.01")
            assert refused.status is OrderStatus.REJECTED
            assert refused.error == "trading is halted by the kill switch"


async def test_the_halt_outlives_a_restart_until_an_operator_lifts_it(
    store: AsyncStore, tmp_path: Path
) -> None:
    def restarted() -> AbstractAsyncContextManager[TradingStack]:
        # Components as the exchange service builds them (the risk manager keeps its halts in the store).
        exchange, _ = known_book_paper(store, tmp_path)
        return service_stack(store, exchange)

    with trio.fail_after(10):
        async with restarted() as stack:
            await see(stack, "20001.3")
            halt = CancelAllOrdersMsg(stack.name, reason="kill switch", halt=True)
            await stack.order_manager.mailbox.request(halt, TIMEOUT)
    stored = await store.get_risk_halt("paper")
    assert stored is not None and (stored.rule, stored.reason) == ("kill_switch", "kill switch")
    with trio.fail_after(10):
        async with restarted() as stack:
            await see(stack, "20001.3")
            status = await stack.order_manager.mailbox.request(GetStatusMsg(), TIMEOUT)
            assert status["halted"] is True
            refused = await place(stack, Side.BUY, "0.01")
            assert refused.error == "trading is halted by the kill switch"
            assert await stack.order_manager.mailbox.request(LiftKillMsg(stack.name), TIMEOUT) is True
            assert await store.get_risk_halt("paper") is None
            assert (await place(stack, Side.BUY, "0.01")).status is OrderStatus.FILLED
            assert await stack.order_manager.mailbox.request(LiftKillMsg(stack.name), TIMEOUT) is False
    with trio.fail_after(10):
        async with restarted() as stack:
            await see(stack, "20001.3")
            assert (await place(stack, Side.BUY, "0.01")).status is OrderStatus.FILLED


async def test_amending_an_emulated_order_is_local_and_keeps_its_id(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(10):
        async with paper_stack(
            store, tmp_path, limit_orders=False
        ) as stack:  # a market-only paper venue: limits are emulated
            limit = await place(stack, Side.BUY, "0.01", OrderType.LIMIT, price="19000")
            amended = await stack.order_manager.mailbox.request(
                AmendOrderMsg(stack.name, limit.client_order_id, price=Decimal("19500.2")), TIMEOUT
            )
            assert (amended.client_order_id, amended.price, amended.status) == (
                limit.client_order_id,
                Decimal("19500.0"),
                OrderStatus.ACCEPTED,
            )
            assert "order.amended" in await kinds(store, limit)
            await see(stack, "19500")
            assert (await store.get_order(limit.client_order_id)).status is OrderStatus.FILLED  # type: ignore[union-attr]


async def test_amending_on_an_exchange_without_amend_cancels_and_replaces(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(10):
        async with venue_stack(store, tmp_path, RestingNoAmendPaper) as stack:
            exchange = stack.exchange
            assert isinstance(exchange, RestingLimitPaper)
            limit = await place(stack, Side.BUY, "0.01", OrderType.LIMIT, price="19000")
            assert (limit.status, limit.emulated) == (OrderStatus.ACCEPTED, False)
            new = await stack.order_manager.mailbox.request(
                AmendOrderMsg(stack.name, limit.client_order_id, quantity=Decimal("0.02")), TIMEOUT
            )
            assert new.client_order_id != limit.client_order_id
            assert (new.replaces, new.quantity, new.price, new.status) == (
                limit.client_order_id,
                Decimal("0.02"),
                Decimal("19000"),
                OrderStatus.ACCEPTED,
            )
            old = await store.get_order(limit.client_order_id)
            assert old is not None and old.status is OrderStatus.CANCELLED
            assert old.error == "amended: cancel and replace"
            [replaced] = await store.list_events(kind="order.replaced")
            assert replaced.data["client_order_id"] == limit.client_order_id
            assert replaced.data["replaced_by"] == new.client_order_id
            assert list(exchange.resting) == [new.client_order_id]


async def test_cancelling_a_closed_order_or_an_unknown_one_is_refused_by_name(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(10):
        async with paper_stack(store, tmp_path) as stack:
            filled = await place(stack, Side.BUY, "0.01")
            with pytest.raises(RequestFailed, match=f"order {filled.client_order_id} is filled, not open"):
                await stack.order_manager.mailbox.request(
                    CancelOrderMsg(stack.name, filled.client_order_id), TIMEOUT
                )
            with pytest.raises(RequestFailed, match="no order 'nope' on paper"):
                await stack.order_manager.mailbox.request(CancelOrderMsg(stack.name, "nope"), TIMEOUT)
            with pytest.raises(RequestFailed, match="stop_price: a stop_market order needs one"):
                await place(stack, Side.BUY, "0.01", OrderType.STOP_MARKET)
            with pytest.raises(RequestFailed, match="take_profit: 19000 must be above stop_loss 19500"):
                await place(stack, Side.BUY, "0.01", stop_loss="19500", take_profit="19000")


def test_every_final_status_is_final_and_the_refusal_names_the_allowed_ones() -> None:
    for status, following in TRANSITIONS.items():
        assert status.is_final == (not following), status
    from marketmaestro.model import Order

    order = Order(
        "c1", "paper", "BTCUSDT", Side.BUY, OrderType.LIMIT, Decimal(1), status=OrderStatus.ACCEPTED
    )
    check_transition(order, OrderStatus.TRIGGERED)
    with pytest.raises(InvalidTransition, match="cannot go from accepted to created"):
        check_transition(order, OrderStatus.CREATED)
    filled = order.with_status(OrderStatus.FILLED)
    with pytest.raises(InvalidTransition, match=r"from filled to cancelled \(allowed: none \(final\)\)"):
        check_transition(filled, OrderStatus.CANCELLED)


async def test_an_invalid_transition_is_recorded_and_changes_nothing(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(10):
        async with paper_stack(store, tmp_path) as stack:
            filled = await place(stack, Side.BUY, "0.01")
            with pytest.raises(InvalidTransition):
                await stack.order_manager._transition(filled, OrderStatus.ACCEPTED)
            [event] = await store.list_events(kind="order.invalid_transition")
            assert event.data["from"] == "filled" and event.data["to"] == "accepted"
            assert await store.get_order(filled.client_order_id) == filled
