"""The fake's HTTP and WebSocket app (quart-trio): Bybit's envelope, signatures, rate limits, faults.

A REST request goes through, in order: injected faults (ban, delay, HTTP error, rate limit), the route
table, authentication of signed routes (headers, key, timestamp within the receive window, HMAC over the
raw query string or raw body exactly as received), the per-endpoint rate limit, then the handler.

``/fake/control`` (POST, JSON ``{"action": ..., ...}``) and ``/fake/state`` (GET) let another process
drive the fake (see :meth:`marketmaestro_bybit.testing.FakeBybit.control`).
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import trio
from quart import Response, request, websocket
from quart_trio import QuartTrio

from marketmaestro_bybit.ratelimit import ENDPOINT_LIMITS
from marketmaestro_bybit.signing import rest_signature
from marketmaestro_bybit.testing.accounts import FakeAccount
from marketmaestro_bybit.testing.routes import ROUTES, Route
from marketmaestro_bybit.testing.rules import VenueError

if TYPE_CHECKING:
    from marketmaestro_bybit.testing.fake import FakeBybit

__all__ = ["create_app"]

Reply = Callable[[int, str, "dict[str, Any] | None", "dict[str, str] | None"], Response]


def envelope(code: int, message: str, result: dict[str, Any] | None, now: int) -> dict[str, Any]:
    return {"retCode": code, "retMsg": message, "result": result or {}, "retExtInfo": {}, "time": now}


class RateLimits:
    """Bybit's per-UID, per-endpoint rolling second."""

    def __init__(self) -> None:
        self.windows: dict[tuple[str, str], deque[float]] = {}

    def check(self, key: str, path: str, category: str) -> tuple[bool, int, int, float]:
        """(allowed, limit, remaining, seconds until a slot frees)."""
        limit = ENDPOINT_LIMITS.get((path, category)) or ENDPOINT_LIMITS.get((path, "*"))
        if limit is None:
            return True, 0, 0, 0.0
        now = time.monotonic()
        window = self.windows.setdefault((key, path), deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= limit:
            return False, limit, 0, window[0] + 1.0 - now
        window.append(now)
        return True, limit, limit - len(window), 0.0


def create_app(fake: FakeBybit) -> QuartTrio:
    app = QuartTrio("marketmaestro_bybit.testing")
    limits = RateLimits()

    def reply(
        code: int, message: str, result: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        fake.faults.count("ok" if code == 0 else "refused")
        body = json.dumps(envelope(code, message, result, fake.venue.now()), separators=(",", ":"))
        return Response(body, status=200, content_type="application/json", headers=headers or {})

    def rate_limited(http_429: bool, reset_ms: int, limit: int = 0) -> Response:
        fake.faults.count("rate_limited")
        headers = {
            "X-Bapi-Limit": str(limit),
            "X-Bapi-Limit-Status": "0",
            "X-Bapi-Limit-Reset-Timestamp": str(fake.venue.now() + reset_ms),
        }
        if http_429:
            return Response("Too Many Requests", status=429, headers=headers)
        body = json.dumps(envelope(10006, "Too many visits!", None, fake.venue.now()))
        return Response(body, status=200, content_type="application/json", headers=headers)

    def authenticate(payload: str) -> FakeAccount | Response:
        headers = request.headers
        key, stamp = headers.get("X-BAPI-API-KEY"), headers.get("X-BAPI-TIMESTAMP")
        sign, recv = headers.get("X-BAPI-SIGN"), headers.get("X-BAPI-RECV-WINDOW", "5000")
        if not key or not stamp or not sign:
            fake.faults.count("refused")
            return Response("missing auth headers", status=401)
        account = fake.venue.accounts.get(key)
        if account is None:
            return reply(10003, "API key is invalid.")
        now = fake.venue.now()
        if not stamp.isdigit() or not recv.isdigit() or not (now - int(recv) <= int(stamp) < now + 1000):
            return reply(
                10002,
                f"invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{stamp}],server_timestamp[{now}],recv_window[{recv}]",
            )
        if rest_signature(account.api_secret, stamp, key, recv, payload) != sign:
            # Bybit echoes the string it signed; it holds the API key (the client must keep it out of logs).
            return reply(10004, f"error sign! origin_string[{stamp}{key}{recv}{payload}]")
        return account

    @app.route("/v5/<path:rest>", methods=["GET", "POST"])
    async def v5(rest: str) -> Response:
        path = "/v5/" + rest
        if fake.faults.banned():
            fake.faults.count("banned")
            headers = {"Retry-After": str(fake.faults.ban_retry_after)} if fake.faults.ban_retry_after else {}
            return Response("access too frequent", status=403, headers=headers)
        for fault in fake.faults.take(path):
            if fault.kind == "delay":
                await trio.sleep(fault.seconds)
            elif fault.kind == "status":
                fake.faults.count("status")
                return Response(f"<html><body>{fault.status} Bad Gateway</body></html>", status=fault.status)
            elif fault.kind == "rate_limit":
                return rate_limited(fault.http_429, fault.reset_ms)
        route = ROUTES.get((request.method, path))
        if route is None:
            return Response("404 page not found", status=404)
        raw_query = request.query_string.decode()
        data = await request.get_data() if request.method == "POST" else b""
        raw_body = data.decode() if isinstance(data, bytes) else data
        account = None
        if route.signed:
            found = authenticate(raw_query if request.method == "GET" else raw_body)
            if isinstance(found, Response):
                return found
            account = found
        try:
            params = _params(request.method, raw_query, raw_body)
        except VenueError as exc:
            return reply(exc.code, exc.message)
        limit_headers: dict[str, str] = {}
        if account is not None and fake.enforce_rate_limits:
            allowed, limit, left, wait = limits.check(account.api_key, path, str(params.get("category", "")))
            if not allowed:
                return rate_limited(False, max(1, int(wait * 1000)), limit)
            if limit:
                limit_headers = {
                    "X-Bapi-Limit": str(limit),
                    "X-Bapi-Limit-Status": str(left),
                    "X-Bapi-Limit-Reset-Timestamp": str(fake.venue.now()),
                }
        return _run(route, params, account, reply, limit_headers, fake)

    @app.route("/fake/control", methods=["POST"])
    async def control() -> Response:
        payload = await request.get_json(force=True)
        try:
            result = fake.control(payload)
        except (KeyError, TypeError, ValueError, VenueError) as exc:
            return Response(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}), status=400,
                            content_type="application/json")  # fmt: skip
        return Response(json.dumps({"ok": True, "result": result}), content_type="application/json")

    @app.route("/fake/state", methods=["GET"])
    async def state() -> Response:
        return Response(json.dumps(fake.state(request.args.get("key"))), content_type="application/json")

    @app.websocket("/v5/public/<category>")
    async def public(category: str) -> None:
        if category not in ("spot", "linear"):
            return
        await websocket.accept()
        await fake.hub.serve(category, websocket.send, websocket.receive)

    @app.websocket("/v5/private")
    async def private() -> None:
        await websocket.accept()
        await fake.hub.serve("private", websocket.send, websocket.receive)

    return app


def _params(method: str, raw_query: str, raw_body: str) -> dict[str, Any]:
    if method == "GET":
        return dict(parse_qsl(raw_query, keep_blank_values=True))
    try:
        body = json.loads(raw_body or "{}")
    except json.JSONDecodeError:
        raise VenueError(10001, "params error: the body is not JSON") from None
    if not isinstance(body, dict):
        raise VenueError(10001, "params error: the body must be a JSON object")
    return body


def _run(
    route: Route,
    params: dict[str, Any],
    account: FakeAccount | None,
    reply: Reply,
    headers: dict[str, str],
    fake: FakeBybit,
) -> Response:
    try:
        result = route.handler(fake.venue, params, account)
    except VenueError as exc:
        return reply(exc.code, exc.message, None, headers)
    return reply(0, "OK", result, headers)
