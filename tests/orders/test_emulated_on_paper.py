"""Emulated orders on the paper exchange (which fills market orders only): every trigger with its side's
semantics, the trailing water mark, limits and IOC/FOK, the state kept across a restart."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import trio

from marketmaestro.model import OrderStatus, OrderType, Side, TimeInForce
from marketmaestro.storage import AsyncStore
from tests.exchanges.conftest import BEST_ASK, BEST_BID, known_book_paper
from tests.orders.conftest import kinds, paper_stack, place, see
from tests.trading.conftest import trading_stack

WITH_BTC = {"balances": {"USDT": Decimal("20000"), "BTC": Decimal("1")}}


async def test_a_sell_stop_waits_below_the_market_and_fills_once_the_price_falls_to_it(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(10):
        async with paper_stack(store, tmp_path, **WITH_BTC) as stack:
            stop = await place(stack, Side.SELL, "0.01", OrderType.STOP_MARKET, stop_price="19000.2")
            assert (stop.status, stop.emulated, stop.stop_price) == (
                OrderStatus.ACCEPTED,
                True,
                Decimal("19000.0"),
            )
            await see(stack, "19500", "19000.5", "21000")
            assert (await store.get_order(stop.client_order_id)).status is OrderStatus.ACCEPTED  # type: ignore[union-attr]
            await see(stack, "18999")
            done = await store.get_order(stop.client_order_id)
            assert done is not None
            assert (done.status, done.filled_quantity, done.average_price) == (
                OrderStatus.FILLED,
                Decimal("0.01"),
                BEST_BID,
            )
            assert await kinds(store, stop) == [
                "order.created",
                "order.accepted",
                "order.triggered",
                "order.filled",
            ]
            assert (await stack.position(strategy="s1")).quantity == Decimal("-0.01")


async def test_a_buy_stop_triggers_above_and_a_buy_take_profit_below(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(10):
        async with paper_stack(store, tmp_path) as stack:
            stop = await place(stack, Side.BUY, "0.01", OrderType.STOP_MARKET, stop_price="20500")
            take = await place(stack, Side.BUY, "0.01", OrderType.TAKE_PROFIT, stop_price="19500")
            await see(stack, "20400", "19600")
            for order in (stop, take):
                assert (await store.get_order(order.client_order_id)).status is OrderStatus.ACCEPTED  # type: ignore[union-attr]
            await see(stack, "20500")
            assert (await store.get_order(stop.client_order_id)).status is OrderStatus.FILLED  # type: ignore[union-attr]
            assert (await store.get_order(take.client_order_id)).status is OrderStatus.ACCEPTED  # type: ignore[union-attr]
            await see(stack, "19499.5")
            taken = await store.get_order(take.client_order_id)
            assert taken is not None and taken.status is OrderStatus.FILLED
            assert taken.average_price == BEST_ASK


async def test_a_trailing_stop_by_amount_follows_the_high_and_survives_a_restart(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(15):
        async with paper_stack(store, tmp_path, **WITH_BTC) as stack:
            trail = await place(stack, Side.SELL, "0.01", OrderType.TRAILING_STOP, trail_amount="100")
            await see(stack, "20000", "20300.2", "20250")
            held = await store.get_order(trail.client_order_id)
            assert held is not None
            assert (held.status, held.watermark, held.stop_price) == (
                OrderStatus.ACCEPTED,
                Decimal("20300.2"),
                Decimal("20200.0"),
            )
        # A new order manager on the same database: the emulated order, its mark and stop come back.
        async with paper_stack(store, tmp_path, warm=False, **WITH_BTC) as stack:
            assert list(stack.order_manager.watching) == [trail.client_order_id]
            await see(stack, "20200.5")
            assert (await store.get_order(trail.client_order_id)).status is OrderStatus.ACCEPTED  # type: ignore[union-attr]
            await see(stack, "20200")
            done = await store.get_order(trail.client_order_id)
            assert done is not None and done.status is OrderStatus.FILLED
            assert done.watermark == Decimal("20300.2")


async def test_a_buy_trailing_stop_by_percent_follows_the_low(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(10):
        async with paper_stack(store, tmp_path) as stack:
            trail = await place(stack, Side.BUY, "0.01", OrderType.TRAILING_STOP, trail_percent="1")
            await see(stack, "20000", "19000", "19100")
            held = await store.get_order(trail.client_order_id)
            assert held is not None
            assert (held.watermark, held.stop_price) == (Decimal("19000"), Decimal("19190.0"))
            await see(stack, "19190")
            assert (await store.get_order(trail.client_order_id)).status is OrderStatus.FILLED  # type: ignore[union-attr]


async def test_an_emulated_limit_waits_for_its_price_and_ioc_fok_never_rest(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(10):
        async with paper_stack(
            store, tmp_path, limit_orders=False
        ) as stack:  # a market-only paper venue: limits are emulated
            limit = await place(stack, Side.BUY, "0.01", OrderType.LIMIT, price="19800")
            assert (limit.status, limit.emulated) == (OrderStatus.ACCEPTED, True)
            await see(stack, "19850")
            assert (await store.get_order(limit.client_order_id)).status is OrderStatus.ACCEPTED  # type: ignore[union-attr]
            await see(stack, "19800")
            assert (await store.get_order(limit.client_order_id)).status is OrderStatus.FILLED  # type: ignore[union-attr]

            away = await place(
                stack, Side.BUY, "0.01", OrderType.LIMIT, price="19000", time_in_force=TimeInForce.IOC
            )
            assert away.status is OrderStatus.EXPIRED
            assert away.error is not None and "ioc" in away.error
            at = await place(
                stack, Side.BUY, "0.01", OrderType.LIMIT, price="20000", time_in_force=TimeInForce.FOK
            )
            assert (at.status, at.filled_quantity) == (OrderStatus.FILLED, Decimal("0.01"))


async def test_a_stop_limit_triggers_then_waits_for_its_limit(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(10):
        async with paper_stack(
            store, tmp_path, limit_orders=False, **WITH_BTC
        ) as stack:  # a market-only paper venue: limits are emulated
            order = await place(
                stack, Side.SELL, "0.01", OrderType.STOP_LIMIT, stop_price="19500", price="19600"
            )
            await see(stack, "19400")  # triggered, but below its limit: a sell limit waits for >= 19600
            held = await store.get_order(order.client_order_id)
            assert held is not None and held.status is OrderStatus.TRIGGERED
            await see(stack, "19600")
            assert (await store.get_order(order.client_order_id)).status is OrderStatus.FILLED  # type: ignore[union-attr]


async def test_post_only_cannot_be_emulated_and_is_rejected_with_the_reason(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(10):
        async with paper_stack(
            store, tmp_path, limit_orders=False
        ) as stack:  # a market-only paper venue: limits are emulated
            order = await place(stack, Side.BUY, "0.01", OrderType.LIMIT, price="19000", post_only=True)
            assert order.status is OrderStatus.REJECTED
            assert order.error is not None and order.error.startswith("post_only:")


async def test_reduce_only_is_checked_against_the_strategy_position(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(10):
        async with paper_stack(store, tmp_path) as stack:
            refused = await place(stack, Side.SELL, "0.01", reduce_only=True)
            assert refused.status is OrderStatus.REJECTED
            assert refused.error is not None and "reduce_only" in refused.error
            await place(stack, Side.BUY, "0.02")
            await stack.settle()
            reduced = await place(stack, Side.SELL, "0.01", reduce_only=True)
            assert reduced.status is OrderStatus.FILLED


async def test_a_triggered_order_is_checked_by_the_risk_manager_again(
    store: AsyncStore, tmp_path: Path
) -> None:
    exchange, warmup = known_book_paper(store, tmp_path)
    risk = {"max_position_size": {"default": "0.015"}}
    with trio.fail_after(10):
        async with trading_stack(store, exchange, risk=risk, price=warmup[-1]) as stack:
            stop = await place(stack, Side.BUY, "0.01", OrderType.STOP_MARKET, stop_price="20500")
            assert stop.status is OrderStatus.ACCEPTED  # flat: 0.01 is within the limit
            assert (await place(stack, Side.BUY, "0.01")).status is OrderStatus.FILLED
            await see(stack, "20500")  # the stop would now make the position 0.02
            denied = await store.get_order(stop.client_order_id)
            assert denied is not None and denied.status is OrderStatus.REJECTED
            assert denied.error is not None and denied.error.startswith("risk rule max_position_size")
            assert (await stack.position(strategy="s1")).quantity == Decimal("0.01")
