"""Bybit V5 request signing (HMAC-SHA256, lowercase hex).

REST: the signature covers ``timestamp + api_key + recv_window + payload``, where the payload is the query
string exactly as sent (GET) or the JSON body exactly as sent (POST). The server checks the bytes it
received, so callers sign the very string they put on the wire and never let the HTTP library re-encode it.

WebSocket: ``auth`` signs ``"GET/realtime" + expires`` (epoch ms in the future).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["body_string", "query_string", "rest_signature", "ws_auth_signature"]


def rest_signature(secret: str, timestamp: str, api_key: str, recv_window: str, payload: str) -> str:
    """The ``X-BAPI-SIGN`` header of a request whose query string or body is ``payload``."""
    prehash = f"{timestamp}{api_key}{recv_window}{payload}"
    return hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).hexdigest()


def ws_auth_signature(secret: str, expires: int) -> str:
    """The signature of a private WebSocket ``auth`` request valid until ``expires`` (ms)."""
    return hmac.new(secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()


def query_string(params: Mapping[str, Any]) -> str:
    """``k=v`` pairs sorted by key and joined with ``&``; ``None`` values are left out.

    Values are Bybit symbols, numbers, enums and cursors; a cursor may hold ``%`` escapes or ``=``, which
    Bybit hands out ready to send, so nothing is escaped again (escaping would change what is signed).
    """
    parts = []
    for key in sorted(params):
        value = params[key]
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        parts.append(f"{key}={value}")
    return "&".join(parts)


def body_string(params: Mapping[str, Any]) -> str:
    """The compact JSON body of a POST, ``None`` values left out. The same string is signed and sent."""
    return json.dumps({k: v for k, v in params.items() if v is not None}, separators=(",", ":"))
