"""Reconciliation on the Bybit plugin's fake spot market (127.0.0.1) with a real SQLite file: orders the
store has as open resolved from the exchange, fills missed while nobody listened recorded once, foreign
orders reported, and unexplained differences halting every order until acknowledged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial

import pytest
import trio

from marketmaestro.exchanges import Exchange
from marketmaestro.messages import GetBalancesMsg, GetStatusMsg, ReconcileMsg, ResetRiskHaltMsg
from marketmaestro.model import Order, OrderStatus, OrderType, Side
from marketmaestro.orders import OrderManager
from marketmaestro.orders.reconcile import ReconcileReport
from marketmaestro.portfolio import Portfolio
from marketmaestro.risk import RiskManager
from marketmaestro.risk.manager import build_rules
from marketmaestro.runtime.exchange_service import _private
from marketmaestro.storage import AsyncStore
from marketmaestro.supervision import Mailbox, RequestFailed
from marketmaestro_bybit import BybitExchange
from marketmaestro_bybit.testing import FakeBybit, running_fake
from marketmaestro_bybit.testing.kit import TEST_KEY, TEST_SECRET, fake_context
from tests.orders.conftest import kinds, place, see
from tests.trading.conftest import TIMEOUT, TradingStack, plugin_host

LIMIT = 30.0
"""Seconds any one test may take (the machine is shared)."""


@asynccontextmanager
async def service_stack(store: AsyncStore, exchange: Exchange) -> AsyncIterator[TradingStack]:
    """The portfolio, risk manager and order manager of ``exchange`` built as the exchange service builds
    them (the portfolio knows the instruments, the risk manager keeps its halts in the store)."""
    await exchange.connect()
    instruments = await exchange.instruments()
    host = plugin_host()
    boxes = {kind: Mailbox(f"{exchange.name}/{kind}") for kind in ("portfolio", "risk", "orders")}
    portfolio = Portfolio(boxes["portfolio"], exchange=exchange.name, store=store, instruments=instruments)
    rules = build_rules(host.registry, {}, {})
    risk = RiskManager(
        boxes["risk"], exchange=exchange.name, rules=rules, portfolio=boxes["portfolio"],
        request_timeout=TIMEOUT, store=store, instruments=instruments,
    )  # fmt: skip
    orders = OrderManager(
        boxes["orders"], exchange=exchange.name, adapter=exchange, instruments=instruments, store=store,
        risk=boxes["risk"], portfolio=boxes["portfolio"], plugins=host, request_timeout=TIMEOUT,
    )  # fmt: skip
    async with trio.open_nursery() as nursery:
        for component in (portfolio, risk, orders):
            await nursery.start(component.run)
        yield TradingStack(
            exchange.name, store, exchange, instruments, host, portfolio, risk, orders, nursery
        )
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def spot_stack(
    store: AsyncStore, *, stream: bool = False
) -> AsyncIterator[tuple[TradingStack, FakeBybit]]:
    """The trading path on the fake spot market at 30000, reconciled once as at start-up; the private
    stream only when ``stream``."""
    async with running_fake() as fake:
        fake.add_account(TEST_KEY, TEST_SECRET, {"USDT": Decimal(100_000)})
        fake.set_price("BTCUSDT", Decimal(30000))
        exchange = BybitExchange(fake_context(fake, store))
        try:
            async with service_stack(store, exchange) as stack:
                assert (await reconcile(stack, startup=True)).unexplained == []
                if stream:
                    await stack.nursery.start(partial(_private, exchange, stack.order_manager.mailbox))
                await see(stack, "30000")
                yield stack, fake
        finally:
            await exchange.disconnect()


async def reconcile(stack: TradingStack, startup: bool = False) -> ReconcileReport:
    report: ReconcileReport = await stack.order_manager.mailbox.request(
        ReconcileMsg(stack.name, startup=startup), TIMEOUT
    )
    return report


async def current(store: AsyncStore, order: Order) -> Order:
    found = await store.get_order(order.client_order_id)
    assert found is not None
    return found


def stored(order: Order, status: OrderStatus, **changes: object) -> Order:
    return order.with_status(status, **changes)


def manual(client_order_id: str, side: Side, quantity: str, price: str | None = None) -> Order:
    kind = OrderType.MARKET if price is None else OrderType.LIMIT
    return Order(
        client_order_id, "bybit", "BTCUSDT", side, kind, Decimal(quantity), Decimal(price) if price else None
    )


async def test_a_fill_missed_while_nobody_listened_is_recorded_once(store: AsyncStore) -> None:
    with trio.fail_after(LIMIT):
        async with spot_stack(store) as (stack, fake):
            order = await place(stack, Side.BUY, "0.01", OrderType.LIMIT, price="29000")
            assert order.status is OrderStatus.ACCEPTED
            fake.set_price("BTCUSDT", Decimal(28900))  # it fills; no private stream tells the bot

            report = await reconcile(stack)
            after = await current(store, order)
            assert (after.status, after.filled_quantity) == (OrderStatus.FILLED, Decimal("0.01"))
            fills = await store.list_fills(client_order_id=order.client_order_id)
            assert [f.fill_id for f in fills] == [e["execId"] for e in fake.executions(TEST_KEY)]
            assert report.fills == [fills[0].fill_id] and report.resolved == [order.client_order_id]
            assert report.unexplained == [] and report.halted is False
            status = await stack.portfolio.mailbox.request(GetStatusMsg(), TIMEOUT)
            assert status["fills_applied"] == 1
            assert "reconcile.order_resolved" in await kinds(store, order)

            again = await reconcile(stack)
            assert (again.fills, again.resolved, again.unexplained) == ([], [], [])
            assert len(await store.list_fills(client_order_id=order.client_order_id)) == 1


async def test_a_fill_heard_on_the_private_stream_is_not_counted_again(store: AsyncStore) -> None:
    with trio.fail_after(LIMIT):
        async with spot_stack(store, stream=True) as (stack, fake):
            order = await place(stack, Side.BUY, "0.01", OrderType.LIMIT, price="29000")
            fake.set_price("BTCUSDT", Decimal(28900))

            for _ in range(200):  # the stream's fill, within LIMIT
                if (await current(store, order)).status is OrderStatus.FILLED:
                    break
                await trio.sleep(0.05)
            assert (await current(store, order)).status is OrderStatus.FILLED
            report = await reconcile(stack)
            assert (report.fills, report.unexplained) == ([], [])
            assert len(await store.list_fills(client_order_id=order.client_order_id)) == 1


async def test_an_order_stored_but_never_sent_is_cancelled_here_and_never_sent(store: AsyncStore) -> None:
    with trio.fail_after(LIMIT):
        async with spot_stack(store) as (stack, fake):
            created = manual("mm-never-sent-1", Side.BUY, "0.01")
            submitted = stored(manual("mm-never-sent-2", Side.BUY, "0.01", "29000"), OrderStatus.SUBMITTED)
            for order in (created, submitted):
                await store.save_order(order)

            report = await reconcile(stack)
            for order in (created, submitted):
                after = await current(store, order)
                assert after.status is OrderStatus.CANCELLED
                assert after.error == "never reached the exchange (restart)"
                assert "reconcile.order_never_sent" in await kinds(store, order)
            assert sorted(report.resolved) == ["mm-never-sent-1", "mm-never-sent-2"]
            assert report.unexplained == []
            assert fake.orders(TEST_KEY) == []


async def test_an_order_sent_before_it_was_recorded_as_sent_is_found_by_its_id(store: AsyncStore) -> None:
    with trio.fail_after(LIMIT):
        async with spot_stack(store) as (stack, fake):
            order = manual("mm-sent-then-killed", Side.BUY, "0.01")
            await store.save_order(order)  # created: then the bot sent it and stopped before the answer
            await stack.exchange.place_order(order)

            report = await reconcile(stack)
            after = await current(store, order)
            assert (after.status, after.filled_quantity) == (OrderStatus.FILLED, Decimal("0.01"))
            assert after.venue_order_id == fake.orders(TEST_KEY)[0]["orderId"]
            assert [f.fill_id for f in await store.list_fills(client_order_id=order.client_order_id)] == [
                e["execId"] for e in fake.executions(TEST_KEY)
            ]
            assert report.unexplained == [] and len(fake.orders(TEST_KEY)) == 1


async def test_an_acknowledged_order_the_exchange_does_not_know_halts_until_acknowledged(
    store: AsyncStore,
) -> None:
    with trio.fail_after(LIMIT):
        async with spot_stack(store) as (stack, fake):
            ghost = stored(
                manual("mm-ghost", Side.BUY, "0.01", "29000"), OrderStatus.ACCEPTED, venue_order_id="v-404"
            )
            await store.save_order(ghost)

            report = await reconcile(stack)
            assert report.halted is True
            assert report.unexplained == ["mm-ghost (accepted) is unknown to the exchange"]
            assert (await current(store, ghost)).status is OrderStatus.ACCEPTED  # left for the operator
            assert "reconcile.order_unknown" in await kinds(store, ghost)
            risk = await stack.risk_manager.mailbox.request(GetStatusMsg(), TIMEOUT)
            assert risk["halted"]["rule"] == "reconcile"
            halt = await store.get_risk_halt(stack.name)  # kept across restarts
            assert halt is not None and halt.rule == "reconcile"

            denied = await place(stack, Side.SELL, "0.001")  # even an order that could only reduce
            assert denied.status is OrderStatus.REJECTED
            assert denied.error is not None and denied.error.startswith("risk rule reconcile: trading halted")

            assert await stack.risk_manager.mailbox.request(ResetRiskHaltMsg(stack.name, by="test"), TIMEOUT)
            events = await store.list_events(kind="reconcile.acknowledged")
            assert [(e.exchange, e.data["by"]) for e in events] == [("bybit", "test")]
            assert await store.get_risk_halt(stack.name) is None
            allowed = await place(stack, Side.BUY, "0.001")
            assert allowed.status is OrderStatus.FILLED
            assert len(fake.orders(TEST_KEY)) == 1


async def test_a_balance_no_fill_explains_halts_and_the_exchange_wins(store: AsyncStore) -> None:
    with trio.fail_after(LIMIT):
        async with spot_stack(store) as (stack, fake):
            fake.set_balance(TEST_KEY, "USDT", Decimal(90_000))

            report = await reconcile(stack)
            assert report.balance_differences["USDT"]["difference"] == "-10000"
            assert report.halted is True and len(report.unexplained) == 1
            balances = await stack.portfolio.mailbox.request(GetBalancesMsg(stack.name), TIMEOUT)
            assert {b.asset: b.total for b in balances}["USDT"] == Decimal(90_000)
            assert [
                e.data["asset"] for e in await store.list_events(kind="reconcile.balance_difference")
            ] == ["USDT"]


async def test_an_order_placed_by_hand_is_reported_and_left_alone(store: AsyncStore) -> None:
    with trio.fail_after(LIMIT):
        async with spot_stack(store) as (stack, fake):
            await stack.exchange.place_order(manual("by-hand-1", Side.BUY, "0.01", "25000"))

            report = await reconcile(stack)
            [venue] = fake.orders(TEST_KEY)
            assert report.foreign_orders == [venue["orderId"]]
            assert report.unexplained == [] and report.halted is False
            assert venue["orderStatus"] == "New"  # not cancelled
            events = await store.list_events(kind="reconcile.foreign_order")
            assert [e.data["client_order_id"] for e in events] == ["by-hand-1"]
            assert await store.get_order("by-hand-1") is None  # not adopted


async def test_a_position_opened_by_hand_on_derivatives_is_taken_from_the_exchange(store: AsyncStore) -> None:
    with trio.fail_after(LIMIT):
        async with running_fake() as fake:
            fake.add_account(TEST_KEY, TEST_SECRET, {"USDT": Decimal(100_000)})
            fake.set_price("BTCUSDT", Decimal(30000), "linear")
            exchange = BybitExchange(fake_context(fake, store, category="linear"))
            try:
                async with service_stack(store, exchange) as stack:
                    assert (await reconcile(stack, startup=True)).unexplained == []
                    await exchange.place_order(manual("by-hand-2", Side.BUY, "0.01"))

                    report = await reconcile(stack)
                    assert report.position_differences == {"BTCUSDT": {"ours": "0", "on_exchange": "0.010"}}
                    assert report.foreign_fills == [e["execId"] for e in fake.executions(TEST_KEY)]
                    assert report.unexplained == [] and report.halted is False
                    position = await stack.position()
                    assert position.quantity == Decimal("0.01")  # the exchange wins
                    [event] = await store.list_events(kind="reconcile.position_difference")
                    assert event.data["explained_by"] == "foreign fills"
            finally:
                await exchange.disconnect()


async def test_an_exchange_that_does_not_answer_fails_the_reconciliation_not_the_order_manager(
    store: AsyncStore,
) -> None:
    with trio.fail_after(LIMIT):
        async with spot_stack(store) as (stack, fake):
            fake.revoke_key(TEST_KEY)
            with pytest.raises(RequestFailed) as failed:
                await reconcile(stack)
            assert "reconciliation of bybit failed" in str(failed.value.__cause__)
            [event] = await store.list_events(kind="reconcile.failed")
            assert event.data["error"] == str(failed.value.__cause__)
            status = await stack.order_manager.mailbox.request(GetStatusMsg(), TIMEOUT)  # still running
            assert status["halted"] is False


class NoFillsHistory(BybitExchange):
    """A venue that cannot list past executions: fills come only with answers and on the private stream."""

    capabilities = {**BybitExchange.capabilities, "fills_history": False}


async def test_without_fills_history_a_fill_not_heard_yet_halts_only_at_start_up(store: AsyncStore) -> None:
    with trio.fail_after(LIMIT):
        async with running_fake() as fake:
            fake.add_account(TEST_KEY, TEST_SECRET, {"USDT": Decimal(100_000)})
            fake.set_price("BTCUSDT", Decimal(30000))
            exchange = NoFillsHistory(fake_context(fake, store))
            try:
                async with service_stack(store, exchange) as stack:
                    await see(stack, "30000")
                    order = await place(stack, Side.BUY, "0.01", OrderType.LIMIT, price="29000")
                    fake.set_price("BTCUSDT", Decimal(28900))  # filled; the stream would tell, in time

                    periodic = await reconcile(stack)
                    assert (periodic.unexplained, periodic.halted) == ([], False)
                    [event] = await store.list_events(kind="reconcile.fills_missing")
                    assert event.data["explained_by"] == "private stream"
                    assert (await current(store, order)).status is OrderStatus.ACCEPTED  # no fill, no guess

                    at_start = await reconcile(stack, startup=True)  # nothing will come after a restart
                    assert at_start.halted is True
                    assert at_start.unexplained == [
                        f"{order.client_order_id} filled 0.010000 on the exchange, 0 in fills we could fetch"
                    ]
            finally:
                await exchange.disconnect()
