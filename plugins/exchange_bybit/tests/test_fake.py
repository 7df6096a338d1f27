"""The fake itself, through a plain HTTP client: it checks the bytes it received, not a re-serialisation,
and its control endpoint drives it from another process."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx

from marketmaestro.model import now_ms
from marketmaestro_bybit.signing import rest_signature
from marketmaestro_bybit.testing import FakeBybit
from marketmaestro_bybit.testing.kit import TEST_KEY, TEST_SECRET


def signed_headers(payload: str, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(timestamp or now_ms())
    return {
        "X-BAPI-API-KEY": TEST_KEY,
        "X-BAPI-TIMESTAMP": stamp,
        "X-BAPI-RECV-WINDOW": "5000",
        "X-BAPI-SIGN": rest_signature(TEST_SECRET, stamp, TEST_KEY, "5000", payload),
        "Content-Type": "application/json",
    }


async def test_the_signature_covers_the_body_exactly_as_sent(fake: FakeBybit) -> None:
    order = {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.01",
             "price": "50000", "orderLinkId": "raw-1"}  # fmt: skip
    spaced, compact = json.dumps(order), json.dumps(order, separators=(",", ":"))
    async with httpx.AsyncClient(base_url=fake.rest_url) as client:
        # Signed with spaces, sent compact: the same JSON, other bytes. Bybit (and the fake) refuse it.
        refused = await client.post("/v5/order/create", content=compact, headers=signed_headers(spaced))
        assert refused.json()["retCode"] == 10004
        assert refused.json()["retMsg"].startswith("error sign! origin_string[")
        accepted = await client.post("/v5/order/create", content=spaced, headers=signed_headers(spaced))
        assert accepted.json()["retCode"] == 0 and accepted.json()["result"]["orderLinkId"] == "raw-1"
        # The query in any order, as long as it is signed as sent.
        query = "symbol=BTCUSDT&category=spot&orderLinkId=raw-1"
        listed = await client.get(f"/v5/order/realtime?{query}", headers=signed_headers(query))
        assert [o["orderLinkId"] for o in listed.json()["result"]["list"]] == ["raw-1"]
        assert int(listed.headers["X-Bapi-Limit"]) == 50


async def test_timestamps_outside_the_window_and_missing_headers(fake: FakeBybit) -> None:
    query = "accountType=UNIFIED"
    async with httpx.AsyncClient(base_url=fake.rest_url) as client:
        late = await client.get(
            f"/v5/account/wallet-balance?{query}", headers=signed_headers(query, now_ms() - 6000)
        )
        assert late.json()["retCode"] == 10002
        early = await client.get(
            f"/v5/account/wallet-balance?{query}", headers=signed_headers(query, now_ms() + 2000)
        )
        assert early.json()["retCode"] == 10002
        bare = await client.get(f"/v5/account/wallet-balance?{query}")
        assert bare.status_code == 401


async def test_the_control_endpoint_drives_the_fake(fake: FakeBybit) -> None:
    async with httpx.AsyncClient(base_url=fake.rest_url) as client:
        moved = await client.post(
            "/fake/control",
            json={"action": "set_price", "symbol": "ETHUSDT", "price": "3100", "category": "linear"},
        )
        assert moved.json() == {"ok": True, "result": None}
        assert fake.venue.market("linear", "ETHUSDT").last == Decimal("3100.00")
        await client.post("/fake/control", json={"action": "fail_next", "count": 1, "status": 502})
        assert (await client.get("/v5/market/time")).status_code == 502
        assert (await client.get("/v5/market/time")).json()["retCode"] == 0
        unknown = await client.post("/fake/control", json={"action": "explode"})
        assert unknown.status_code == 400 and "unknown action 'explode'" in unknown.json()["error"]
        state = (await client.get("/fake/state", params={"key": TEST_KEY})).json()
        assert state["wallet"]["USDT"] == "100000" and state["orders"] == []
