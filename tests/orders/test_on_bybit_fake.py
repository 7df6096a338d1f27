"""The order manager on the Bybit plugin's fake linear (derivatives) market, on 127.0.0.1: a bracket's
exits rest natively as reduce-only stop and take-profit orders; when the exchange triggers one, its fill
arrives through the private stream and the other is cancelled on the exchange."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial
from typing import Any

import trio

from marketmaestro.model import OrderStatus, OrderType, Side
from marketmaestro.runtime.exchange_service import _private
from marketmaestro.storage import AsyncStore
from marketmaestro.testing import wait_until
from marketmaestro_bybit import BybitExchange
from marketmaestro_bybit.testing import FakeBybit, running_fake
from marketmaestro_bybit.testing.kit import TEST_KEY, TEST_SECRET, fake_context
from tests.orders.conftest import place, see
from tests.trading.conftest import TradingStack, trading_stack


@asynccontextmanager
async def linear_stack(store: AsyncStore) -> AsyncIterator[tuple[TradingStack, FakeBybit]]:
    async with running_fake() as fake:
        fake.add_account(TEST_KEY, TEST_SECRET, {"USDT": Decimal(100_000)})
        fake.set_price("BTCUSDT", Decimal(30000), "linear")
        exchange = BybitExchange(fake_context(fake, store, category="linear", pairs=("BTCUSDT",)))
        try:
            async with trading_stack(store, exchange) as stack:
                await stack.nursery.start(partial(_private, exchange, stack.order_manager.mailbox))
                await see(stack, "30000")
                yield stack, fake
        finally:
            await exchange.disconnect()


def resting(fake: FakeBybit) -> list[dict[str, Any]]:
    return [
        o for o in fake.orders(TEST_KEY) if o.get("orderStatus") in ("New", "Untriggered", "PartiallyFilled")
    ]


async def test_a_bracket_rests_natively_and_the_exchange_trigger_cancels_the_other_exit(
    store: AsyncStore,
) -> None:
    with trio.fail_after(30):
        async with linear_stack(store) as (stack, fake):
            entry = await place(stack, Side.BUY, "0.01", stop_loss="29000", take_profit="31000")
            assert entry.status is OrderStatus.FILLED
            exits = await store.list_open_orders(parent_order_id=entry.client_order_id)
            assert {(o.type, o.status, o.emulated, o.reduce_only) for o in exits} == {
                (OrderType.TAKE_PROFIT, OrderStatus.ACCEPTED, False, True),
                (OrderType.STOP_MARKET, OrderStatus.ACCEPTED, False, True),
            }
            assert len(resting(fake)) == 2
            fake.set_price("BTCUSDT", Decimal(28900), "linear")  # the exchange triggers the stop loss

            async def exits_ended() -> bool:
                await stack.settle()
                return await store.list_open_orders(parent_order_id=entry.client_order_id) == []

            for _ in range(400):  # within the fail_after above
                if await exits_ended():
                    break
                await trio.sleep(0.05)
            by_type = {o.type: o for o in await store.list_orders(limit=10) if o.parent_order_id}
            assert by_type[OrderType.STOP_MARKET].status is OrderStatus.FILLED
            assert by_type[OrderType.TAKE_PROFIT].status is OrderStatus.CANCELLED
            await wait_until(lambda: resting(fake) == [], "no order left on the exchange")
