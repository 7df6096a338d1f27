"""The fake Bitvavo's API rules: routes, authentication, weights, bans and injected faults.

:class:`FakeBitvavo` is what tests hold: the exchange (``.exchange``), the market controls (``set_price``,
``set_balance``...), the fault switches (``fail_next``, ``ban``, ``slow_next``, ``skip_nonce``,
``drop_connections``, ``malformed_frame``) and a record of every REST request (``requests``).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from marketmaestro_bitvavo.testing.engine import ApiError, Exchange
from marketmaestro_bitvavo.testing.orders import (
    NO_ORDER,
    find_order,
    new_order_spec,
    operator_id,
    update_order,
)
from marketmaestro_bitvavo.testing.state import INTERVAL_MS, FakeMarket, text

API_KEY = "f4k3" * 16
"""The key the fake accepts by default (64 characters, as Bitvavo's)."""
API_SECRET = "FAKE-BITVAVO-SECRET-" + "0123456789abcdef" * 4
"""The secret the fake accepts by default: recognisable, so tests can assert it never reaches a log."""
WINDOW_MS = 60_000
UNSIGNED_BAN_MS = 15 * 60_000

PUBLIC_WEIGHTS = {
    "time": 1,
    "markets": 1,
    "assets": 1,
    "book": 1,
    "candles": 1,
    "trades": 5,
    "ticker/price": 1,
    "ticker/book": 1,
    "ticker/24h": 1,
}
PRIVATE_WEIGHTS = {
    ("POST", "order"): 1,
    ("PUT", "order"): 1,
    ("GET", "order"): 1,
    ("DELETE", "order"): 1,
    ("DELETE", "orders"): 1,
    ("GET", "orders"): 5,
    ("GET", "ordersOpen"): 1,
    ("GET", "trades"): 5,
    ("GET", "balance"): 5,
    ("GET", "account"): 1,
    ("GET", "account/fees"): 1,
}


@dataclass
class Reply:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None
    """Sent instead of the JSON payload (a malformed body)."""


@dataclass
class Fault:
    path: str | None
    count: int
    status: int = 500
    code: int = 101
    message: str = "Unknown error. Operation may or may not have succeeded."
    after: bool = False
    """Answer the error after carrying the request out (the outcome is uncertain to the client)."""
    seconds: float = 0.0


def default_markets() -> list[FakeMarket]:
    return [
        FakeMarket(
            "BTC-EUR",
            "BTC",
            "EUR",
            tick_size=Decimal("1"),
            quantity_decimals=8,
            min_base=Decimal("0.00006"),
            min_quote=Decimal("5"),
        ),
        FakeMarket(
            "ETH-EUR",
            "ETH",
            "EUR",
            tick_size=Decimal("0.01"),
            quantity_decimals=6,
            min_base=Decimal("0.001"),
            min_quote=Decimal("5"),
        ),
        FakeMarket(
            "SHIB-EUR",
            "SHIB",
            "EUR",
            tick_size=None,
            price_precision=5,
            quantity_decimals=2,
            min_base=Decimal("1000"),
            min_quote=Decimal("5"),
        ),
    ]


class FakeBitvavo:
    """A Bitvavo in the test process; serve it with :func:`marketmaestro_bitvavo.testing.serve_fake`."""

    def __init__(
        self,
        *,
        api_key: str = API_KEY,
        api_secret: str = API_SECRET,
        markets: list[FakeMarket] | None = None,
        balances: dict[str, str] | None = None,
        weight_limit: int = 1000,
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.weight_limit = weight_limit
        self.exchange = Exchange()
        for market in markets if markets is not None else default_markets():
            self.exchange.add_market(market)
        for asset, amount in (balances or {"EUR": "10000"}).items():
            self.exchange.set_balance(asset, Decimal(amount))
        self.requests: list[tuple[str, str]] = []
        """(method, path without /v2 and query) of every REST request, in order."""
        self.faults: list[Fault] = []
        self.spent: dict[str, tuple[int, int]] = {}
        """Rate-limit bucket (API key, or ``ip``) -> (weight spent, window end ms)."""
        self.banned_until: dict[str, int] = {}
        self.connection_commands: list[Callable[[str], None]] = []
        """WebSocket connections listen here for ``drop`` and ``malformed``."""
        self.ws_connections = 0
        """WebSocket connections accepted so far."""

    # --- controls ---------------------------------------------------------------------------------------

    def set_price(self, market: str, price: str | Decimal, **kwargs: Any) -> None:
        self.exchange.set_price(market, Decimal(price), **kwargs)

    def set_balance(self, asset: str, amount: str | Decimal) -> None:
        self.exchange.set_balance(asset, Decimal(amount))

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        code: int = 101,
        path: str | None = None,
        after: bool = False,
        message: str | None = None,
    ) -> None:
        """The next ``count`` REST requests (to ``path``, e.g. ``/order``) answer ``status`` with ``code``."""
        fault = Fault(path, count, status, code, after=after)
        if message:
            fault.message = message
        self.faults.append(fault)

    def slow_next(self, seconds: float, count: int = 1, *, path: str | None = None) -> None:
        """The next ``count`` REST requests are carried out, then answered ``seconds`` late."""
        self.faults.append(Fault(path, count, status=0, seconds=seconds))

    def malformed_next(self, count: int = 1, *, path: str | None = None) -> None:
        """The next ``count`` REST requests are answered with a body that is not JSON (HTTP 200)."""
        self.faults.append(Fault(path, count, status=200, code=0))

    def ban(self, seconds: float) -> int:
        """Ban every client (signed and unsigned) for ``seconds``; returns the expiry (epoch ms)."""
        until = self.exchange.now_ms() + int(seconds * 1000)
        for bucket in ("ip", self.api_key):
            self.banned_until[bucket] = until
        return until

    def skip_nonce(self, market: str, count: int = 1) -> None:
        """The next ``count`` book updates of ``market`` change the book but are never sent."""
        self.exchange.skip_nonces[market] = self.exchange.skip_nonces.get(market, 0) + count

    def drop_connections(self) -> None:
        """Close every WebSocket connection now."""
        for command in list(self.connection_commands):
            command("drop")

    def malformed_frame(self) -> None:
        """Send a frame that is not JSON on every WebSocket connection."""
        for command in list(self.connection_commands):
            command("malformed")

    def private_requests(self, *paths: str) -> list[tuple[str, str]]:
        """The requests made to ``paths`` (default: the order endpoints)."""
        wanted = paths or ("/order", "/orders", "/ordersOpen")
        return [r for r in self.requests if r[1] in wanted]

    # --- REST -------------------------------------------------------------------------------------------

    def _take_fault(self, path: str, kinds: Callable[[Fault], bool]) -> Fault | None:
        for fault in self.faults:
            if fault.count > 0 and (fault.path is None or fault.path == path) and kinds(fault):
                fault.count -= 1
                if fault.count == 0:
                    self.faults.remove(fault)
                return fault
        return None

    def handle_rest(self, method: str, raw_target: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one REST request. ``raw_target`` is the path and query as received (``/v2/...?...``)."""
        path, _, query_text = raw_target.partition("?")
        relative = path[3:] if path.startswith("/v2") else path
        self.requests.append((method, relative))
        query = dict(parse_qsl(query_text, keep_blank_values=True))
        bucket, limit_headers = "ip", {}
        try:
            signed = self._authenticate(method, raw_target, headers, body)
            bucket = self.api_key if signed else "ip"
            limit_headers = self._spend(bucket, self._weight(method, relative, query), signed)
            before = self._take_fault(relative, lambda f: f.status >= 400 and not f.after)
            if before:
                raise ApiError(before.status, before.code, before.message)
            payload = self.call(method, relative, query, self._body(method, body), signed)
            after = self._take_fault(relative, lambda f: f.status >= 400 and f.after)
            if after:
                raise ApiError(after.status, after.code, after.message)
            reply = Reply(200, payload, limit_headers)
            slow = self._take_fault(relative, lambda f: f.status == 0)
            if slow:
                reply.delay = slow.seconds
            if self._take_fault(relative, lambda f: f.status == 200):
                reply.raw = b"<html>502 Bad Gateway</html>"
            return reply
        except ApiError as error:
            return Reply(error.status, error.as_json(), limit_headers or self._headers(bucket))

    def _body(self, method: str, body: bytes) -> dict[str, Any] | None:
        if method in ("GET", "DELETE") or not body:
            return None  # Bitvavo ignores bodies of GET and DELETE
        try:
            parsed = json.loads(body)
        except ValueError:
            raise ApiError(400, 102, "The JSON object you sent is invalid.") from None
        if not isinstance(parsed, dict):
            raise ApiError(400, 102, "The JSON object you sent is invalid.")
        return parsed

    def _authenticate(self, method: str, raw_target: str, headers: dict[str, str], body: bytes) -> bool:
        lower = {k.lower(): v for k, v in headers.items()}
        key = lower.get("bitvavo-access-key")
        if key is None:
            return False
        if len(key) != 64:
            raise ApiError(403, 301, "API Key must be of length 64.")
        if key != self.api_key:
            raise ApiError(403, 305, "No active API key found.")
        stamp = lower.get("bitvavo-access-timestamp", "")
        if not stamp.isdigit() or len(stamp) != 13:
            raise ApiError(
                403,
                302,
                "Timestamp is invalid. This must be a timestamp in ms. See Bitvavo-Access-Timestamp header "
                "or timestamp parameter for websocket.",
            )
        window_text = lower.get("bitvavo-access-window", "10000")
        window = int(window_text) if window_text.isdigit() else -1
        if not 100 <= window <= 60_000:
            raise ApiError(403, 303, "Window must be between 100 and 60000 ms.")
        now = self.exchange.now_ms()
        if int(stamp) < now - window or int(stamp) > now + 1000:
            raise ApiError(
                403,
                304,
                "Request was not received within acceptable window (default 30s, or custom with "
                "Bitvavo-Access-Window header) of Bitvavo-Access-Timestamp header (in ms).",
            )
        signature = lower.get("bitvavo-access-signature", "")
        if not self._signed_by(signature, f"{stamp}{method}{raw_target}", body, method in ("POST", "PUT")):
            raise ApiError(403, 309, "The signature is invalid.")
        return True

    def _signed_by(self, signature: str, prefix: str, body: bytes, with_body: bool) -> bool:
        # The raw body first; then its compact re-serialisation, which some SDKs sign while sending spaces.
        candidates = [body.decode("utf-8", "replace") if with_body else ""]
        if body and with_body:
            with contextlib.suppress(ValueError):
                candidates.append(json.dumps(json.loads(body), separators=(",", ":")))
        for text_body in candidates:
            expected = hmac.new(
                self.api_secret.encode(), (prefix + text_body).encode(), hashlib.sha256
            ).hexdigest()
            if hmac.compare_digest(expected, signature):
                return True
        return False

    def _weight(self, method: str, path: str, query: dict[str, str]) -> int:
        parts = path.strip("/").split("/")
        if len(parts) == 2 and "-" in parts[0]:
            return PUBLIC_WEIGHTS.get(parts[1], 1)
        name = "/".join(parts)
        if name in ("ticker/24h", "ordersOpen") and "market" not in query:
            return 25
        return PRIVATE_WEIGHTS.get((method, name), PUBLIC_WEIGHTS.get(name, 1))

    def _headers(self, bucket: str) -> dict[str, str]:
        spent, reset_at = self.spent.get(bucket, (0, 0))
        return {
            "bitvavo-ratelimit-limit": str(self.weight_limit),
            "bitvavo-ratelimit-remaining": str(max(self.weight_limit - spent, 0)),
            "bitvavo-ratelimit-resetat": str(reset_at),
        }

    def _spend(self, bucket: str, weight: int, signed: bool) -> dict[str, str]:
        now = self.exchange.now_ms()
        banned = self.banned_until.get(bucket, 0)
        if now < banned:
            raise self._ban_error(banned)
        spent, reset_at = self.spent.get(bucket, (0, 0))
        if now >= reset_at:
            spent, reset_at = 0, (now // WINDOW_MS + 1) * WINDOW_MS
        if spent + weight > self.weight_limit:
            # Over the limit: signed clients until the end of the next minute, unsigned ones for 15 minutes.
            until = reset_at + WINDOW_MS if signed else now + UNSIGNED_BAN_MS
            self.banned_until[bucket] = until
            raise self._ban_error(until)
        self.spent[bucket] = (spent + weight, reset_at)
        return self._headers(bucket)

    @staticmethod
    def _ban_error(until: int) -> ApiError:
        return ApiError(
            429,
            105,
            "Your account has been temporarily banned for exceeding the rate limit. "
            f"The ban expires at {until}.",
        )

    # --- the endpoints (REST and the WebSocket actions share them) --------------------------------------

    def call(
        self, method: str, path: str, query: dict[str, str], body: dict[str, Any] | None, authed: bool
    ) -> Any:
        ex = self.exchange
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[0] in ex.markets and method == "GET":
            return self._market_data(parts[0], parts[1], query)
        route = (method, "/".join(parts))
        public = {
            ("GET", "time"): lambda: {"time": ex.now_ms(), "timeNs": ex.now_ms() * 1_000_000},
            ("GET", "markets"): lambda: self._one_or_all(query, lambda m: ex.markets[m].as_json()),
            ("GET", "assets"): lambda: [
                {"symbol": a, "name": a, "decimals": 8}
                for a in sorted(
                    {m.base for m in ex.markets.values()} | {m.quote for m in ex.markets.values()}
                )
            ],
            ("GET", "ticker/price"): lambda: self._one_or_all(
                query,
                lambda m: {"market": m, "price": text(ex.last_price[m]) if m in ex.last_price else None},
            ),
            ("GET", "ticker/book"): lambda: self._one_or_all(query, self._ticker_book),
            ("GET", "ticker/24h"): lambda: self._one_or_all(query, ex.ticker24h),
        }
        if route in public:
            return public[route]()
        if route not in PRIVATE_WEIGHTS:
            raise ApiError(404, 110, "Invalid endpoint. Please check url and HTTP method.")
        if not authed:
            raise ApiError(403, 300, "Authentication is required for this endpoint.")
        source = {**query, **(body or {})}
        if route == ("POST", "order"):
            if body is None:
                raise ApiError(400, 203, "market parameter is required.")
            return ex.create_order(new_order_spec(ex, body)).as_json()
        if route == ("PUT", "order"):
            return update_order(ex, body or {}).as_json()
        if route == ("GET", "order"):
            return find_order(ex, source).as_json()
        if route == ("DELETE", "order"):
            operator = operator_id(source)
            order = find_order(ex, source)
            if not order.is_open:
                raise ApiError(
                    404,
                    240,
                    NO_ORDER,
                )
            ex.cancel(order)
            out: dict[str, Any] = {"orderId": order.order_id}
            if order.client_order_id:
                out["clientOrderId"] = order.client_order_id
            return {**out, "operatorId": operator}
        if route == ("DELETE", "orders"):
            operator = operator_id(source)
            cancelled = [
                o for o in ex.orders.values() if o.is_open and source.get("market") in (None, o.market)
            ]
            for order in cancelled:
                ex.cancel(order)
            return [{"orderId": o.order_id, "operatorId": operator} for o in cancelled]
        if route == ("GET", "ordersOpen"):
            return [
                o.as_json()
                for o in ex.orders.values()
                if o.is_open and query.get("market") in (None, o.market)
            ]
        if route == ("GET", "orders"):
            return self._history(
                [o.as_json() for o in ex.orders.values() if o.market == self._market(query)], query, "created"
            )
        if route == ("GET", "trades"):
            return self._history(
                [t for t in ex.user_trades if t["market"] == self._market(query)], query, "timestamp"
            )
        if route == ("GET", "balance"):
            return ex.balance_json(query.get("symbol"))
        fees = {"tier": 0, "volume": "0.00", "maker": text(ex.maker_fee), "taker": text(ex.taker_fee)}
        if route == ("GET", "account"):
            return {"fees": fees, "capabilities": ["buy", "sell", "depositCrypto", "depositFiat"]}
        return {**fees, "tier": "0"}

    def _market(self, query: dict[str, str]) -> str:
        market = query.get("market")
        if market is None:
            raise ApiError(400, 203, "market parameter is required.")
        if market not in self.exchange.markets:
            raise ApiError(400, 205, "market parameter is invalid.")
        return market

    def _one_or_all(self, query: dict[str, str], make: Callable[[str], Any]) -> Any:
        if "market" in query:
            return make(self._market(query))
        return [make(m) for m in self.exchange.markets]

    def _ticker_book(self, market: str) -> dict[str, Any]:
        bids, asks = self.exchange.displayed(market)
        bid, ask = (max(bids) if bids else None), (min(asks) if asks else None)
        return {
            "market": market,
            "bid": text(bid) if bid else None,
            "bidSize": text(bids[bid]) if bid else None,
            "ask": text(ask) if ask else None,
            "askSize": text(asks[ask]) if ask else None,
        }

    @staticmethod
    def _limit(query: dict[str, str], default: int, most: int) -> int:
        raw = query.get("limit", str(default))
        if not raw.isdigit() or not 1 <= int(raw) <= most:
            raise ApiError(400, 205, "limit parameter is invalid.")
        return int(raw)

    def _history(self, items: list[dict[str, Any]], query: dict[str, str], key: str) -> list[dict[str, Any]]:
        limit = self._limit(query, 500, 1000)
        start, end = _bound(query, "start"), _bound(query, "end")
        chosen = [i for i in items if (start is None or i[key] >= start) and (end is None or i[key] <= end)]
        chosen.sort(key=lambda i: i[key], reverse=True)
        return chosen[:limit]

    def _market_data(self, market: str, what: str, query: dict[str, str]) -> Any:
        ex = self.exchange
        if what == "book":
            depth = query.get("depth", "1000")
            return ex.book_json(market, int(depth) if depth.isdigit() and int(depth) > 0 else 1000)
        if what == "trades":
            return self._history([t.as_json() for t in ex.trades[market]], query, "timestamp")
        if what == "candles":
            interval = query.get("interval")
            if interval is None:
                raise ApiError(400, 203, "interval parameter is required.")
            if interval not in INTERVAL_MS and interval != "1M":
                raise ApiError(400, 205, "interval parameter is invalid.")
            limit = self._limit(query, 1440, 1440)
            start, end = _bound(query, "start"), _bound(query, "end")
            rows = [
                r
                for r in ex.candles(market, interval)
                if (start is None or r[0] >= start) and (end is None or r[0] <= end)
            ]
            return list(reversed(rows))[:limit]
        raise ApiError(404, 110, "Invalid endpoint. Please check url and HTTP method.")


def _bound(query: dict[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise ApiError(400, 205, f"{name} parameter is invalid.")
    return int(raw)
