"""The order routes of a running bot's API: cancel, amend and cancel-all, with the token, and their
errors naming what was wrong."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import trio

from marketmaestro.messages import PlaceOrderMsg
from marketmaestro.model import Order, OrderType, Side
from marketmaestro.runtime import BotContext
from tests.runtime.conftest import load, running_bot, wait_for, write_settings

TOKEN = "orders-api-token-9d1f"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HOLDS = """
def settings():
    return {"interval": "1m"}

def on_kline(kline):
    set_state("klines", get_state("klines", 0) + 1)
"""


def settings(folder: Path) -> Path:
    strategy = folder / "holds.star"
    strategy.write_text(HOLDS)
    paper = {
        "options": {"seed": 42, "kline_seconds": 0.02, "warmup": 100},
        "pairs": [{"symbol": "BTCUSDT", "strategies": [{"name": "holds", "file": str(strategy)}]}],
    }
    api = {"host": "127.0.0.1", "port": 0, "token": TOKEN}
    return write_settings(folder, exchanges={"paper": paper}, api=api)


async def place(bot: BotContext, order_type: OrderType, **prices: str) -> Order:
    values = {name: Decimal(value) for name, value in prices.items()}
    msg = PlaceOrderMsg("paper", "BTCUSDT", Side.BUY, order_type, Decimal("0.01"), "manual", **values)
    order: Order = await bot.order_managers["paper"].request(msg, 5)
    return order


async def post(client: httpx.AsyncClient, path: str, body: Any = None) -> tuple[int, Any]:
    response = await client.post(path, json=body, headers=AUTH)
    return response.status_code, response.json()


async def test_cancel_amend_and_cancel_all_through_the_api(tmp_path: Path) -> None:
    config, host = load(settings(tmp_path))
    with trio.fail_after(30):
        async with running_bot(config, host) as bot:
            # The router gives each kline to the order manager before the strategy: once the strategy saw
            # one, the order manager has a market price.
            await wait_for(lambda: bot.store.strategy_state("paper", "BTCUSDT", "holds"), "a first kline")
            limit = await place(bot, OrderType.LIMIT, price="1000")
            stop = await place(bot, OrderType.STOP_MARKET, stop_price="1000000")
            other = await place(bot, OrderType.STOP_MARKET, stop_price="2000000")
            async with httpx.AsyncClient(base_url=bot.api_urls[0], timeout=10) as client:
                unauthorised = await client.post(f"/api/v1/orders/paper/{stop.client_order_id}/cancel")
                assert unauthorised.status_code == 401

                listed = (await client.get("/api/v1/orders", headers=AUTH)).json()
                # The limit rests on the paper exchange itself (native limit orders); the stops are emulated.
                assert {o["client_order_id"]: o["emulated"] for o in listed} == {
                    limit.client_order_id: False,
                    stop.client_order_id: True,
                    other.client_order_id: True,
                }

                code, amended = await post(
                    client, f"/api/v1/orders/paper/{limit.client_order_id}/amend", {"price": 1500}
                )
                assert code == 200
                assert (amended["client_order_id"], Decimal(amended["price"])) == (
                    limit.client_order_id,
                    1500,
                )
                code, error = await post(
                    client, f"/api/v1/orders/paper/{limit.client_order_id}/amend", {"quantity": "x"}
                )
                assert (code, error) == (400, {"error": "quantity: got 'x'; expected a positive number"})
                code, error = await post(
                    client, f"/api/v1/orders/paper/{stop.client_order_id}/amend", {"price": 5}
                )
                assert code == 400 and "price: a stop_market order has no limit price" in error["error"]

                code, cancelled = await post(client, f"/api/v1/orders/paper/{stop.client_order_id}/cancel")
                assert (code, cancelled["status"]) == (200, "cancelled")
                code, error = await post(client, f"/api/v1/orders/paper/{stop.client_order_id}/cancel")
                assert (
                    code == 400 and f"order {stop.client_order_id} is cancelled, not open" in error["error"]
                )
                code, error = await post(client, "/api/v1/orders/nope/x/cancel")
                assert (code, error) == (400, {"error": "exchange 'nope' is not running (running: paper)"})

                code, body = await post(client, "/api/v1/orders/cancel-all", {"strategy": "manual"})
                assert code == 200
                assert sorted(o["client_order_id"] for o in body["cancelled"]["paper"]) == sorted(
                    [limit.client_order_id, other.client_order_id]
                )
                assert await bot.store.list_open_orders(exchange="paper") == []
