"""The worked signature examples of the protocol reference (A2, A3), and how payloads are built."""

from __future__ import annotations

import json

from marketmaestro_bybit.signing import body_string, query_string, rest_signature, ws_auth_signature

KEY = "BYBITTESTKEY0001"
SECRET = "bybitTestSecret0123456789ABCDEF"
TS = "1700000000000"
RECV = "5000"
ORDER = {
    "category": "linear",
    "symbol": "BTCUSDT",
    "side": "Buy",
    "orderType": "Limit",
    "qty": "0.001",
    "price": "30000",
    "timeInForce": "GTC",
    "orderLinkId": "bot-0001",
}


def test_get_example() -> None:
    query = query_string({"symbol": "BTCUSDT", "category": "linear"})
    assert query == "category=linear&symbol=BTCUSDT"
    assert (
        rest_signature(SECRET, TS, KEY, RECV, query)
        == "1eec537f5e4d842830addff28a4cb9b52a188a4b34f307c20324027b08d81dc6"
    )


def test_post_example_with_the_compact_body_sent() -> None:
    body = body_string(ORDER)
    assert body == (
        '{"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.001",'
        '"price":"30000","timeInForce":"GTC","orderLinkId":"bot-0001"}'
    )
    assert (
        rest_signature(SECRET, TS, KEY, RECV, body)
        == "7726408930cfe8b4ec962f512b73cab1108bf173abe32d8525448ac906a12442"
    )


def test_post_example_signs_whatever_bytes_are_sent() -> None:
    spaced = json.dumps(ORDER)  # Python's default separators, as pybit sends
    assert (
        rest_signature(SECRET, TS, KEY, RECV, spaced)
        == "bf29a05287bcffd2abb79cd20b612d2a8c6868aeefc2cf2ea0d56a19f26ba2b9"
    )


def test_websocket_auth_example() -> None:
    assert (
        ws_auth_signature(SECRET, 1700000010000)
        == "dbad19bd22b5e8e286b1ccd135d708e4ef85b88f5850abdb2de65a7cc8fa3643"
    )


def test_query_string_sorts_drops_none_and_leaves_cursors_as_bybit_sent_them() -> None:
    params = {"limit": 50, "cursor": "offset%3D50", "symbol": None, "category": "spot", "openOnly": 0}
    assert query_string(params) == "category=spot&cursor=offset%3D50&limit=50&openOnly=0"
    assert query_string({"reduceOnly": True}) == "reduceOnly=true"
    assert query_string({}) == ""


def test_body_string_drops_none_and_keeps_types() -> None:
    assert body_string({"a": "1", "b": None, "c": 2, "d": True}) == '{"a":"1","c":2,"d":true}'
