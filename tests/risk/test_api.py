"""The portfolio and risk API of a running bot: a breached drawdown halts the paper account, the halt shows
in GET /risk and is lifted by POST /risk/<exchange>/reset; bad parameters and unknown exchanges are refused
with a message; every route needs the token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import trio
import yaml

from tests.runtime.conftest import load, paper_exchange, running_bot, wait_for, write_settings

TOKEN = "risk-api-token-0b7c"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def settings(tmp_path: Path) -> Path:
    path = write_settings(
        tmp_path,
        exchanges={"paper": paper_exchange(kline_seconds=0.02)},
        api={"host": "127.0.0.1", "port": 0, "token": TOKEN},
    )
    config = yaml.safe_load(path.read_text())
    # Any fall below the peak (a fee is enough) breaches this drawdown limit.
    config["risk"] = {"max_drawdown": {"percent": "0.000001"}}
    config["portfolio"] = {"snapshot_interval": 0.1}
    path.write_text(yaml.safe_dump(config))
    return path


async def test_a_halt_shows_in_the_api_and_an_operator_resets_it(tmp_path: Path) -> None:
    config, host = load(settings(tmp_path))
    with trio.fail_after(30):
        async with (
            running_bot(config, host) as bot,
            httpx.AsyncClient(base_url=bot.api_urls[0], timeout=5) as client,
        ):

            async def halted() -> dict[str, Any] | None:
                answer = (await client.get("/api/v1/risk", headers=AUTH)).json()["paper"]
                return answer if answer.get("halted") else None

            risk = await wait_for(halted, "the drawdown limit to halt the account", within=20)
            assert risk["halted"]["rule"] == "max_drawdown"
            assert risk["rules"] == ["max_drawdown"]
            assert (
                float(risk["metrics"]["current_drawdown"]) > 0 or float(risk["metrics"]["max_drawdown"]) > 0
            )
            stored = await bot.store.get_risk_halt("paper")
            assert stored is not None and stored.rule == "max_drawdown"

            refused = await client.post("/api/v1/risk/paper/reset")
            assert refused.status_code == 401
            reset = await client.post("/api/v1/risk/paper/reset", headers=AUTH)
            assert reset.status_code == 200 and reset.json() == {"exchange": "paper", "reset": True}
            (event,) = await bot.store.list_events(kind="risk.halt_reset")
            assert event.data == {"rule": "max_drawdown", "by": "api"}
            unknown = await client.post("/api/v1/risk/nowhere/reset", headers=AUTH)
            assert unknown.status_code == 404 and "nowhere" in unknown.json()["error"]

            equity = await client.get(
                "/api/v1/equity", params={"exchange": "paper", "limit": "5"}, headers=AUTH
            )
            assert equity.status_code == 200 and 1 <= len(equity.json()) <= 5
            for params, problem in (
                ({}, "exchange: missing"),
                ({"exchange": "paper", "limit": "0"}, "limit: got '0'"),
                ({"exchange": "paper", "since": "yesterday"}, "since: got 'yesterday'"),
            ):
                bad = await client.get("/api/v1/equity", params=params, headers=AUTH)
                assert bad.status_code == 400 and problem in bad.json()["error"], params
            for path in ("/api/v1/portfolio", "/api/v1/pnl", "/api/v1/equity", "/api/v1/risk"):
                assert (await client.get(path)).status_code == 401, path
            missing = await client.get("/api/v1/pnl", params={"exchange": "nowhere"}, headers=AUTH)
            assert missing.status_code == 404
