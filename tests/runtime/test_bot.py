"""The real bot in-process: its REST API on an ephemeral port, and the plugins' lifecycle and order hooks.

The bot trades on a fast paper market (simple_sma on BTCUSDT, one kline every 20 ms), so orders fill
within a second or two; every test is bounded by ``trio.fail_after``.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import trio

import marketmaestro
from marketmaestro.messages import OrderFilledMsg, OrderUpdatedMsg
from marketmaestro.model import OrderStatus, Position
from marketmaestro.runtime import BotContext
from tests.runtime.conftest import (
    HookRecorder,
    filled_at_least,
    filled_orders,
    load,
    paper_exchange,
    running_bot,
    wait_for,
    write_settings,
)

TOKEN = "runtime-test-token-5c0ffee"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DEADLINE = 10.0


def paper_settings(tmp_path: Path, *, api: bool = False) -> Path:
    return write_settings(
        tmp_path,
        exchanges={"paper": paper_exchange(kline_seconds=0.02)},
        api={"host": "127.0.0.1", "port": 0, "token": TOKEN} if api else None,
    )


class BrokenPlugin:
    """A plugin whose every hook raises (one of them from a coroutine)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    @marketmaestro.hookimpl
    def on_startup(self, bot: BotContext) -> None:
        self.calls["on_startup"] += 1
        raise RuntimeError("broken plugin: on_startup")

    @marketmaestro.hookimpl
    def on_order_updated(self, event: OrderUpdatedMsg) -> None:
        self.calls["on_order_updated"] += 1
        raise RuntimeError("broken plugin: on_order_updated")

    @marketmaestro.hookimpl
    async def on_order_filled(self, event: OrderFilledMsg) -> None:
        self.calls["on_order_filled"] += 1
        raise RuntimeError("broken plugin: on_order_filled")


async def get(client: httpx.AsyncClient, path: str, **params: str) -> Any:
    """The JSON of an authorised GET that must succeed."""
    response = await client.get(path, params=params, headers=AUTH)
    assert response.status_code == 200, (path, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


async def test_health_requires_the_token_and_reports_status_version_uptime_and_components(
    tmp_path: Path,
) -> None:
    config, host = load(paper_settings(tmp_path, api=True))

    with trio.fail_after(DEADLINE):
        async with running_bot(config, host) as bot:
            [url] = bot.api_urls
            assert url.startswith("http://127.0.0.1:") and not url.endswith(":0"), url
            async with httpx.AsyncClient(base_url=url, timeout=5) as client:
                anonymous = await client.get("/api/v1/health")
                wrong = await client.get("/api/v1/health", headers={"Authorization": "Bearer nope"})
                not_bearer = await client.get("/api/v1/health", headers={"Authorization": TOKEN})

                async def all_running() -> dict[str, Any]:
                    health: dict[str, Any] = await get(client, "/api/v1/health")
                    return health if health["status"] == "ok" else {}

                health = await wait_for(all_running, "every component to run")

    for response in (anonymous, wrong, not_bearer):
        assert response.status_code == 401
        assert "Authorization: Bearer <token>" in response.json()["error"]
    assert set(health) == {"status", "version", "uptime_seconds", "restarts", "components", "exchanges"}
    assert health["version"] == marketmaestro.__version__
    assert 0 <= health["uptime_seconds"] < DEADLINE
    assert health["restarts"] == 0
    for name in ("api", "exchange:paper", "exchange:paper/feed", "exchange:paper/order_manager"):
        assert health["components"][name]["state"] == "running", name
        assert health["components"][name]["restarts"] == 0
    assert health["exchanges"]["paper"]["connected"] is True


async def test_orders_fills_positions_and_balances_are_json_with_decimals_as_exact_strings(
    tmp_path: Path,
) -> None:
    config, host = load(paper_settings(tmp_path, api=True))

    with trio.fail_after(DEADLINE):
        async with running_bot(config, host) as bot:
            await wait_for(lambda: _filled_and_positioned(bot), "a filled paper order and its position")
            stored_orders = await filled_orders(bot)
            stored_fills = await bot.store.list_fills(exchange="paper", limit=1000)
            async with httpx.AsyncClient(base_url=bot.api_urls[0], timeout=5) as client:
                orders_response = await client.get(
                    "/api/v1/orders", params={"exchange": "paper"}, headers=AUTH
                )
                orders = {o["client_order_id"]: o for o in await get(client, "/api/v1/orders", limit="1000")}
                fills = {f["fill_id"]: f for f in await get(client, "/api/v1/fills", limit="1000")}

                # Positions and balances change with every fill: compare API and store until they agree.
                async def positions_agree() -> bool:
                    served = await get(client, "/api/v1/positions", exchange="paper")
                    stored = await bot.store.list_positions(exchange="paper")
                    return bool(stored) and served == [_position_json(p) for p in stored]

                async def balances_agree() -> bool:
                    served = await get(client, "/api/v1/balances")
                    stored = await bot.store.list_balances("paper")
                    expected = [
                        {"asset": b.asset, "free": str(b.free), "locked": str(b.locked)} for b in stored
                    ]
                    return bool(stored) and served == {"paper": expected}

                await wait_for(positions_agree, "/positions to match the stored positions")
                await wait_for(balances_agree, "/balances to match the stored balances")

    assert orders_response.status_code == 200
    assert '"quantity": "0.010000"' in orders_response.text, "the Decimal as stored, trailing zeros kept"
    for order in stored_orders:
        served = orders[order.client_order_id]
        assert served["status"] == "filled" and served["exchange"] == "paper"
        assert served["quantity"] == str(order.quantity) == "0.010000"
        assert served["filled_quantity"] == str(order.filled_quantity)
        assert served["average_price"] == str(order.average_price)
        assert isinstance(served["created_at"], int)
    for fill in stored_fills:
        served = fills[fill.fill_id]
        assert (served["quantity"], served["price"], served["fee"]) == (
            str(fill.quantity),
            str(fill.price),
            str(fill.fee),
        )
        assert Decimal(served["price"]) == fill.price
        assert served["side"] == fill.side.value


async def test_a_bad_limit_is_answered_400_naming_limit(tmp_path: Path) -> None:
    config, host = load(paper_settings(tmp_path, api=True))

    with trio.fail_after(DEADLINE):
        async with running_bot(config, host) as bot:
            await wait_for(lambda: filled_at_least(bot, 2), "two filled paper orders")
            async with httpx.AsyncClient(base_url=bot.api_urls[0], timeout=5) as client:
                bad = {
                    (path, raw): await client.get(path, params={"limit": raw}, headers=AUTH)
                    for path in ("/api/v1/orders", "/api/v1/fills")
                    for raw in ("abc", "0", "1001", "-1", "2.5")
                }
                one_order = await get(client, "/api/v1/orders", limit="1")
                one_fill = await get(client, "/api/v1/fills", limit="1")

    for (path, raw), response in bad.items():
        assert response.status_code == 400, (path, raw)
        error = response.json()["error"]
        assert error.startswith(f"limit: got {raw!r}"), error
        assert "expected a whole number from 1 to 1000" in error
    assert len(one_order) == 1 and len(one_fill) == 1


async def test_plugins_hear_startup_and_every_change_and_fill_of_paper_orders(tmp_path: Path) -> None:
    recorder = HookRecorder()
    config, host = load(paper_settings(tmp_path), ("recorder", recorder))

    with trio.fail_after(DEADLINE):
        async with running_bot(config, host) as bot:
            await wait_for(lambda: _announced(recorder, 2), "two on_order_filled calls")
            fills = list(recorder.fills)
            updates = list(recorder.updates)
            stored = {f.fill_id: f for f in await bot.store.list_fills(exchange="paper", limit=1000)}

    assert recorder.startups == [(bot, ["paper"])], "once, after the exchanges started"
    for event in fills:
        assert event.fill.exchange == "paper" and event.fill.strategy == "simple_sma"
        assert event.fill == stored[event.fill.fill_id], "announced after it was stored"
        assert event.order.client_order_id == event.fill.client_order_id
        assert event.order.status is OrderStatus.FILLED
        life = [
            (u.previous_status, u.order.status)
            for u in updates
            if u.order.client_order_id == event.order.client_order_id
        ]
        assert life == [
            (None, OrderStatus.CREATED),
            (OrderStatus.CREATED, OrderStatus.SUBMITTED),
            (OrderStatus.SUBMITTED, OrderStatus.FILLED),
        ]


async def test_plugins_hear_on_shutdown_when_the_bot_is_stopped(tmp_path: Path) -> None:
    recorder = HookRecorder()
    config, host = load(paper_settings(tmp_path), ("recorder", recorder))

    with trio.fail_after(DEADLINE):
        async with running_bot(config, host) as bot:
            await wait_for(lambda: filled_at_least(bot, 1), "a filled paper order")
            assert recorder.shutdowns == []
        # Leaving the block cancels run_bot: the way to stop a bot run without signal handling.

    assert recorder.shutdowns == [bot]


async def test_a_plugin_hook_that_raises_stops_neither_trading_nor_the_other_plugins(tmp_path: Path) -> None:
    broken, recorder = BrokenPlugin(), HookRecorder()
    config, host = load(paper_settings(tmp_path), ("broken", broken), ("recorder", recorder))
    for hook in (host.pm.hook.on_startup, host.pm.hook.on_order_updated, host.pm.hook.on_order_filled):
        # The broken implementation is called first, so the recorder proves the next one still runs.
        assert [impl.plugin_name for impl in hook.get_hookimpls()] == ["broken", "recorder"]

    with trio.fail_after(DEADLINE):
        async with running_bot(config, host) as bot:
            await wait_for(lambda: _announced(recorder, 3), "three fills announced")
            filled = await filled_orders(bot)
            components = bot.health.snapshot()["components"]

    assert broken.calls["on_startup"] == 1 and len(recorder.startups) == 1
    assert broken.calls["on_order_filled"] >= 3
    assert broken.calls["on_order_updated"] >= 3 * 3
    assert len(filled) >= 3
    assert {name: entry["restarts"] for name, entry in components.items() if entry["restarts"]} == {}


def _position_json(position: Position) -> dict[str, Any]:
    return {
        "exchange": position.exchange,
        "symbol": position.symbol,
        "quantity": str(position.quantity),
        "average_price": str(position.average_price),
        "realized_pnl": str(position.realized_pnl),
        "strategy": position.strategy,
        "fees": str(position.fees),
    }


async def _filled_and_positioned(bot: BotContext) -> bool:
    return await filled_at_least(bot, 1) and bool(await bot.store.list_positions(exchange="paper"))


async def _announced(recorder: HookRecorder, count: int) -> bool:
    return len(recorder.fills) >= count
