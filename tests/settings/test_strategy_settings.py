"""A strategy's configuration is a runtime setting: changed over the API of a running bot, it applies to
the orders the strategy places next, without a restart, and is kept for the next run."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import trio

from tests.runtime.conftest import filled_orders, load, paper_exchange, running_bot, wait_for, write_settings

TOKEN = "strategy-settings-token-9a8b7c"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
COMPONENT = "strategy:simple_sma:BTCUSDT"


async def test_a_changed_position_size_applies_to_the_next_orders(tmp_path: Path) -> None:
    settings = write_settings(
        tmp_path,
        exchanges={"paper": paper_exchange(kline_seconds=0.02)},
        api={"host": "127.0.0.1", "port": 0, "token": TOKEN},
    )
    config, host = load(settings)
    with trio.fail_after(60):
        async with (
            running_bot(config, host) as bot,
            httpx.AsyncClient(base_url=bot.api_urls[0], timeout=10) as client,
        ):
            listed = (await client.get("/api/v1/settings", headers=AUTH)).json()
            rows = {row["key"]: row for row in listed["paper"] if row["component"] == COMPONENT}
            # Every key of settings() but the interval; position_size as the configuration file sets it.
            assert sorted(rows) == ["long_period", "position_size", "short_period"]
            assert (rows["position_size"]["value"], rows["position_size"]["kind"]) == (0.01, "number")
            assert (rows["long_period"]["value"], rows["long_period"]["kind"]) == (20, "int")

            url = f"/api/v1/settings/paper/{COMPONENT}/position_size"
            refused = await client.put(url, headers=AUTH, json={"value": "a lot"})
            assert refused.status_code == 400
            assert refused.json() == {"error": f'{COMPONENT}.position_size: got "a lot"; expected a number'}
            interval = await client.put(
                f"/api/v1/settings/paper/{COMPONENT}/interval", headers=AUTH, json={"value": "5m"}
            )
            assert interval.status_code == 400 and "no such setting" in interval.json()["error"]

            changed = await client.put(url, headers=AUTH, json={"value": 0.02})
            assert changed.status_code == 200, changed.text

            async def orders_of_the_new_size() -> list[Any]:
                return [o for o in await filled_orders(bot) if o.quantity == Decimal("0.02")]

            await wait_for(orders_of_the_new_size, "an order of the new position size", within=30)
            reloaded = await bot.store.list_events(kind="strategy.reloaded")
            assert reloaded  # the strategy switched to a worker with the new configuration
            assert await bot.store.settings(f"paper/{COMPONENT}") == {"position_size": 0.02}
            before = len(await orders_of_the_new_size())

    # The next run starts with the stored value.
    with trio.fail_after(60):
        async with (
            running_bot(config, host) as bot,
            httpx.AsyncClient(base_url=bot.api_urls[0], timeout=10) as client,
        ):
            listed = (await client.get("/api/v1/settings", headers=AUTH)).json()
            [row] = [
                r for r in listed["paper"] if r["component"] == COMPONENT and r["key"] == "position_size"
            ]
            assert (row["value"], row["default"]) == (0.02, 0.01)

            async def more_orders_of_the_new_size() -> bool:
                return len([o for o in await filled_orders(bot) if o.quantity == Decimal("0.02")]) > before

            await wait_for(
                more_orders_of_the_new_size, "an order of the stored size after the restart", within=30
            )
