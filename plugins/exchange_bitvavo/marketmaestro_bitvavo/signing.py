"""Request signing as Bitvavo specifies it (HMAC-SHA256, lowercase hex).

REST: ``timestamp + METHOD + "/v2" + path[?query] + body`` where ``body`` is the exact JSON text sent (empty
for GET and DELETE). WebSocket ``authenticate``: ``timestamp + "GET" + "/v2/websocket"``.
"""

from __future__ import annotations

import hashlib
import hmac

API_PREFIX = "/v2"
WEBSOCKET_PATH = "/v2/websocket"


def sign(secret: str, timestamp: int, method: str, path: str, body: str = "") -> str:
    """The ``Bitvavo-Access-Signature`` of one request.

    ``path`` is what follows the host, starting with ``/v2`` and including the query string exactly as sent.
    """
    prehash = f"{timestamp}{method.upper()}{path}{body}"
    return hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).hexdigest()


def rest_headers(
    key: str, secret: str, timestamp: int, method: str, path: str, body: str, window: int
) -> dict[str, str]:
    """The four authentication headers of a signed REST request."""
    return {
        "Bitvavo-Access-Key": key,
        "Bitvavo-Access-Timestamp": str(timestamp),
        "Bitvavo-Access-Signature": sign(secret, timestamp, method, path, body),
        "Bitvavo-Access-Window": str(window),
    }


def ws_authenticate(key: str, secret: str, timestamp: int, window: int) -> dict[str, object]:
    """The WebSocket ``authenticate`` action."""
    return {
        "action": "authenticate",
        "key": key,
        "signature": sign(secret, timestamp, "GET", WEBSOCKET_PATH),
        "timestamp": timestamp,
        "window": window,
    }
