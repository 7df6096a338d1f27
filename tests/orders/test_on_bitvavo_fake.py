"""The order manager on the Bitvavo plugin's fake exchange (a real HTTP server on 127.0.0.1): native
limits, stops and take profits rest on the exchange and are amended and cancelled there; a trailing
stop (which Bitvavo lacks) is emulated and sends a real market order when it triggers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial
from pathlib import Path

import trio

from marketmaestro.config import ExchangeConfig
from marketmaestro.exchanges import ExchangeContext
from marketmaestro.messages import AmendOrderMsg, CancelAllOrdersMsg
from marketmaestro.model import OrderStatus, OrderType, Side
from marketmaestro.runtime.exchange_service import _private
from marketmaestro.storage import AsyncStore
from marketmaestro_bitvavo import BitvavoExchange, BitvavoOptions
from marketmaestro_bitvavo.testing import API_KEY, API_SECRET, FakeBitvavo, serve_fake
from tests.orders.conftest import place, see
from tests.trading.conftest import TIMEOUT, TradingStack, trading_stack


@asynccontextmanager
async def bitvavo_stack(
    store: AsyncStore, folder: Path, *, private: bool = False
) -> AsyncIterator[tuple[TradingStack, FakeBitvavo]]:
    """The trading path on a fake Bitvavo trading BTC-EUR at 30000; with ``private``, the adapter's private
    stream feeds the order manager as the exchange service wires it."""
    fake = FakeBitvavo()
    fake.set_price("BTC-EUR", "30000")
    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_fake, fake)
        options = {"rest_url": server.rest_url, "ws_url": server.ws_url, "live_orders": True}
        config = ExchangeConfig.model_validate(
            {
                "plugin": "bitvavo",
                "mode": "live",
                "api_key": API_KEY,
                "api_secret": API_SECRET,
                "options": options,
                "pairs": [{"symbol": "BTCEUR"}],
            }
        )
        validated = BitvavoOptions.model_validate(options)
        exchange = BitvavoExchange(ExchangeContext("bitvavo", config, validated, store, folder, mode="live"))
        try:
            async with trading_stack(store, exchange) as stack:
                if private:
                    await stack.nursery.start(partial(_private, exchange, stack.order_manager.mailbox))
                await see(stack, "30000", symbol="BTCEUR")
                yield stack, fake
        finally:
            await exchange.disconnect()
            nursery.cancel_scope.cancel()


def open_on_fake(fake: FakeBitvavo) -> list[tuple[str, str, Decimal | None, Decimal | None]]:
    return sorted(
        (o.order_type, o.side, o.price, o.trigger_amount)
        for o in fake.exchange.orders.values()
        if o.status in ("new", "awaitingTrigger", "partiallyFilled")
    )


async def test_native_orders_rest_on_bitvavo_and_are_amended_and_cancelled_there(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(20):
        async with bitvavo_stack(store, tmp_path) as (stack, fake):
            limit = await place(stack, Side.BUY, "0.01", OrderType.LIMIT, price="29000", symbol="BTCEUR")
            take = await place(
                stack, Side.BUY, "0.01", OrderType.TAKE_PROFIT, stop_price="28000", symbol="BTCEUR"
            )
            for order in (limit, take):
                assert (order.status, order.emulated) == (OrderStatus.ACCEPTED, False)
                assert order.venue_order_id
            assert open_on_fake(fake) == [
                ("limit", "buy", Decimal("29000"), None),
                ("takeProfit", "buy", None, Decimal("28000")),
            ]
            amended = await stack.order_manager.mailbox.request(
                AmendOrderMsg(stack.name, limit.client_order_id, price=Decimal("29500")), TIMEOUT
            )
            assert (amended.client_order_id, amended.price) == (limit.client_order_id, Decimal("29500"))
            assert ("limit", "buy", Decimal("29500"), None) in open_on_fake(fake)
            ended = await stack.order_manager.mailbox.request(
                CancelAllOrdersMsg(stack.name, symbol="BTCEUR", reason="done"), TIMEOUT
            )
            assert {o.status for o in ended} == {OrderStatus.CANCELLED}
            assert open_on_fake(fake) == []


async def test_an_emulated_trailing_stop_sends_a_market_order_to_bitvavo_when_it_triggers(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(20):
        async with bitvavo_stack(store, tmp_path) as (stack, fake):
            trail = await place(
                stack, Side.BUY, "0.01", OrderType.TRAILING_STOP, trail_percent="1", symbol="BTCEUR"
            )
            assert (trail.status, trail.emulated) == (OrderStatus.ACCEPTED, True)
            assert open_on_fake(fake) == []  # nothing on the exchange while emulated
            await see(stack, "29000", "29200", symbol="BTCEUR")
            held = await store.get_order(trail.client_order_id)
            assert held is not None and (held.watermark, held.stop_price) == (
                Decimal("29000"),
                Decimal("29290"),
            )
            await see(stack, "29300", symbol="BTCEUR")
            done = await store.get_order(trail.client_order_id)
            assert done is not None
            assert (done.status, done.filled_quantity) == (OrderStatus.FILLED, Decimal("0.01"))
            [market] = [o for o in fake.exchange.orders.values()]
            assert (market.order_type, market.side, market.status) == ("market", "buy", "filled")
            fills = await store.list_fills(client_order_id=trail.client_order_id)
            assert sum(f.quantity for f in fills) == Decimal("0.01")
            assert {f.fee_currency for f in fills} == {"EUR"}


async def test_a_bracket_on_bitvavo_holds_its_exits_and_sends_the_one_that_triggers(
    store: AsyncStore, tmp_path: Path
) -> None:
    # Two native sells of the same coins cannot rest together on a spot exchange (Bitvavo refuses the
    # second for insufficient balance), so the exits are emulated even though Bitvavo has native ones.
    with trio.fail_after(20):
        async with bitvavo_stack(store, tmp_path, private=True) as (stack, fake):
            entry = await place(
                stack, Side.BUY, "0.01", stop_loss="29000", take_profit="31000", symbol="BTCEUR"
            )
            assert entry.status is OrderStatus.FILLED
            exits = await store.list_open_orders(parent_order_id=entry.client_order_id)
            assert {(o.type, o.status, o.emulated) for o in exits} == {
                (OrderType.TAKE_PROFIT, OrderStatus.ACCEPTED, True),
                (OrderType.STOP_MARKET, OrderStatus.ACCEPTED, True),
            }
            assert open_on_fake(fake) == []
            fake.set_price("BTC-EUR", "28900")
            await see(stack, "28900", symbol="BTCEUR")
            by_type = {o.type: o for o in await store.list_orders(limit=10) if o.parent_order_id}
            assert by_type[OrderType.STOP_MARKET].status is OrderStatus.FILLED
            assert by_type[OrderType.TAKE_PROFIT].status is OrderStatus.CANCELLED
            sells = [o for o in fake.exchange.orders.values() if o.side == "sell"]
            assert [(o.order_type, o.status) for o in sells] == [("market", "filled")]
            assert (await stack.position(strategy="s1")).quantity == 0
