"""The protocol document's worked signature examples, REST and WebSocket, as the plugin computes them."""

from __future__ import annotations

from marketmaestro_bitvavo.rest import compact_json
from marketmaestro_bitvavo.signing import rest_headers, sign, ws_authenticate

SECRET = "bitvavoTestSecret0123456789"
KEY = "d1ab3d4b7c1c4f1e8a2b9c0d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f"
TS = 1700000000000


def test_the_official_vector() -> None:
    body = '{"market":"BTC-EUR","side":"buy","price":"5000","amount":"1.23","orderType":"limit"}'
    assert (
        sign("bitvavo", 1548172481125, "POST", "/v2/order", body)
        == "44d022723a20973a18f7ee97398b9fdd405d2d019c8d39e24b8cc0dcb39ca016"
    )


def test_get_with_a_query() -> None:
    assert (
        sign(SECRET, TS, "GET", "/v2/ordersOpen?market=BTC-EUR")
        == "8a5b3177642471ea31b340d95d92f101b49ff626b6a8628c91e706ad975867b7"
    )


def test_post_order_signs_the_compact_body_it_sends() -> None:
    body = compact_json(
        {
            "market": "BTC-EUR",
            "side": "buy",
            "orderType": "limit",
            "amount": "0.001",
            "price": "30000",
            "clientOrderId": "6f1c2a4e-0b8d-4c3f-9a57-2d8e1b6c4f90",
            "operatorId": 1001,
            "timeInForce": "GTC",
            "postOnly": True,
        }
    )
    assert " " not in body
    headers = rest_headers(KEY, SECRET, TS, "post", "/v2/order", body, 10000)
    assert headers == {
        "Bitvavo-Access-Key": KEY,
        "Bitvavo-Access-Timestamp": "1700000000000",
        "Bitvavo-Access-Signature": "bfd850293e744825fd9f206b133566c04cb13771dac2d8f56604246a0a56ad49",
        "Bitvavo-Access-Window": "10000",
    }


def test_delete_and_time() -> None:
    path = "/v2/order?market=BTC-EUR&orderId=8f0e7c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b&operatorId=1001"
    assert (
        sign(SECRET, TS, "DELETE", path) == "fc443bc3070712bef2eb463b65eb236e498d0fbbdb6d39fd6fa15997672aac7f"
    )
    assert (
        sign(SECRET, TS, "GET", "/v2/time")
        == "b39c5501e8e6088fec4ebe798b5cefcdecd3750d91bb782ec9f5f4151f62d7e4"
    )


def test_websocket_authenticate() -> None:
    message = ws_authenticate(KEY, SECRET, TS, 10000)
    assert message == {
        "action": "authenticate",
        "key": KEY,
        "signature": "bb99b99da3342729bf699722ca1120063730b4060cf96833c14d187363284d23",
        "timestamp": TS,
        "window": 10000,
    }
    # The docs' WS example (secret "bitvavo", timestamp 1548175200641) in hex, as the SDKs compute it.
    assert (
        sign("bitvavo", 1548175200641, "GET", "/v2/websocket")
        == "653fc0505431c63a043273da4bd2f0927eae83948d796084f313e5d1131b0d6f"
    )
