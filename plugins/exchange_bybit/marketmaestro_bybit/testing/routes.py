"""The fake's REST endpoints (Bybit V5 paths), each a plain function of the venue and the parameters.

GET parameters arrive as the decoded query (strings); POST parameters as the decoded JSON body. A handler
returns Bybit's ``result`` object or raises :class:`~marketmaestro_bybit.testing.rules.VenueError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from marketmaestro_bybit.testing.accounts import FakeAccount, FakePosition
from marketmaestro_bybit.testing.marketdata import INTERVAL_MS, MINUTE_MS, bucket_start, fmt
from marketmaestro_bybit.testing.rules import VenueError
from marketmaestro_bybit.testing.venue import FEES, Venue

__all__ = ["ROUTES", "Route"]

WEEK_MS = 7 * 86_400_000
Params = dict[str, Any]
Result = dict[str, Any]


@dataclass(frozen=True)
class Route:
    handler: Callable[[Venue, Params, FakeAccount | None], Result]
    signed: bool
    order_entry: bool = False


def _int(params: Params, key: str, default: int, low: int, high: int) -> int:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise VenueError(10001, f"params error: {key} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise VenueError(10001, f"params error: {key} must be {low}-{high}, got {value}")
    return value


def _category(
    params: Params, allowed: tuple[str, ...] = ("spot", "linear"), default: str | None = None
) -> str:
    category = params.get("category") or default
    if category not in allowed:
        raise VenueError(10001, f"params error: category {category!r} must be one of {', '.join(allowed)}")
    return str(category)


def _page(items: list[Any], params: Params, default: int, maximum: int) -> tuple[list[Any], str]:
    """One page and the cursor of the next (``""`` at the end). Cursors arrive percent-encoded, as Bybit's."""
    limit = _int(params, "limit", default, 1, maximum)
    cursor = str(params.get("cursor") or "")
    offset = 0
    if cursor:
        name, _, value = cursor.partition("=")
        if name != "offset" or not value.isdigit():
            raise VenueError(10001, f"params error: cursor {cursor!r} invalid")
        offset = int(value)
    page = items[offset : offset + limit]
    more = offset + limit < len(items)
    return page, f"offset%3D{offset + limit}" if more else ""


def _window(venue: Venue, params: Params) -> tuple[int, int]:
    """``startTime``..``endTime``: at most 7 days, the last 7 days by default."""
    start = _int(params, "startTime", -1, -1, 2**62)
    end = _int(params, "endTime", -1, -1, 2**62)
    if start < 0 and end < 0:
        end = venue.now()
        start = end - WEEK_MS
    elif start < 0:
        start = end - WEEK_MS
    elif end < 0:
        end = start + WEEK_MS
    if end < start or end - start > WEEK_MS:
        raise VenueError(10001, "params error: the time span must be between 0 and 7 days")
    return start, end


# --- market -----------------------------------------------------------------------------------------------


def server_time(venue: Venue, params: Params, account: FakeAccount | None) -> Result:
    now = venue.now()
    return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}


def instruments_info(venue: Venue, params: Params, account: FakeAccount | None) -> Result:
    category = _category(params)
    items = [i.info() for i in venue.instruments(category) if params.get("symbol") in (None, "", i.symbol)]
    if category == "spot":
        return {"category": category, "list": items, "nextPageCursor": ""}
    page, cursor = _page(items, params, 500, 1000)
    return {"category": category, "list": page, "nextPageCursor": cursor}


def kline(venue: Venue, params: Params, account: FakeAccount | None) -> Result:
    category = _category(params, default="linear")
    symbol = str(params.get("symbol") or "")
    interval = str(params.get("interval") or "")
    if interval not in INTERVAL_MS:
        raise VenueError(10001, f"params error: interval {interval!r} invalid")
    market = venue.market(category, symbol)
    limit = _int(params, "limit", 200, 1, 1000)
    start = _int(params, "start", 0, 0, 2**62)
    end = _int(params, "end", 2**62, 0, 2**62)
    span = INTERVAL_MS[interval] * MINUTE_MS
    now = venue.now()
    # The running candle is served only while it is current (a real exchange's always is); on the fake's
    # lagging timeline it is not, so every candle served is closed.
    running_start = bucket_start(market.running.start, interval)
    current = running_start <= now < running_start + span
    candles = market.aggregate(interval, include_running=current)
    rows = [c.row() for c in reversed(candles) if start <= c.start <= end][:limit]
    return {"category": category, "symbol": symbol, "list": rows}


def orderbook(venue: Venue, params: Params, account: FakeAccount | None) -> Result:
    category = _category(params)
    symbol = str(params.get("symbol") or "")
    limit = _int(params, "limit", 1 if category == "spot" else 25, 1, 1000)
    bids, asks = venue.levels(category, symbol)
    snapshot = venue.book_snapshot(category, symbol, 1000)
    return {
        "s": symbol,
        "b": [[fmt(p), fmt(q)] for p, q in bids[:limit]],
        "a": [[fmt(p), fmt(q)] for p, q in asks[:limit]],
        "ts": snapshot["ts"],
        "u": snapshot["data"]["u"],
        "seq": snapshot["data"]["seq"],
        "cts": snapshot["cts"],
    }


def tickers(venue: Venue, params: Params, account: FakeAccount | None) -> Result:
    category = _category(params)
    symbol = params.get("symbol")
    items = [
        venue.market(category, i.symbol).ticker(*venue.levels(category, i.symbol))
        for i in venue.instruments(category)
        if symbol in (None, "", i.symbol)
    ]
    if symbol and not items:
        raise VenueError(10001, f"params error: symbol {symbol} invalid")
    return {"category": category, "list": items}


# --- orders -----------------------------------------------------------------------------------------------


def _account(account: FakeAccount | None) -> FakeAccount:
    assert account is not None, "signed routes always have an account"
    return account


def create(venue: Venue, params: Params, account: FakeAccount | None) -> Result:
    return venue.place(_account(account), params)


def amend(venue: Venue, params: Params, account: FakeAccount | None) -> Result:
    return venue.amend(_account(account), params)


def cancel(venue: Venue, params: Params, account: FakeAccount | None) -> Result:
    return venue.cancel(_account(account), params)


def cancel_all(venue: Venue, params: Params, account: FakeAccount | None) -> Result:
    return venue.cancel_all(_account(account), params)


def _orders(account: FakeAccount, params: Params, category: str) -> list[Any]:
    symbol, order_id, link_id = params.get("symbol"), params.get("orderId"), params.get("orderLinkId")
    wanted_filter = params.get("orderFilter")
    found = []
    for order in account.orders.values():
        if order.category != category or (symbol and order.symbol != symbol):
            continue
        if (order_id and order.order_id != order_id) or (link_id and order.link_id != link_id):
            continue
        if wanted_filter and category == "spot" and order.order_filter != wanted_filter:
            continue
        found.append(order)
    return sorted(found, key=lambda o: (o.created, o.order_id), reverse=True)


def realtime(venue: Venue, params: Params, account: FakeAccount | None) -> Result:
    category = _category(params)
    if category == "linear" and not (
        params.get("symbol") or params.get("settleCoin") or params.get("baseCoin")
    ):
        raise VenueError(
            10001, "Missing some parameters that must be filled in, symbol or settleCoin or baseCoin"
        )
    open_only = _int(params, "openOnly", 0, 0, 2)
    orders = [o for o in _orders(_account(account), params, category) if o.is_open == (open_only == 0)]
    if open_only:
        orders = orders[:500]
    page, cursor = _page([o.json() for o in orders], params, 20, 50)
    return {"category": category, "list": page, "nextPageCursor": cursor}


def history(venue: Venue, params: Params, account: FakeAccount | None) -> Result:
    category = _category(params)
    start, end = _window(venue, params)
    status = params.get("orderStatus")
    orders = [
        o
        for o in _orders(_account(account), params, category)
        if start <= (o.updated or o.created) <= end and (not status or o.status == status)
    ]
    page, cursor = _page([o.json() for o in orders], params, 20, 50)
    return {"category": category, "list": page, "nextPageCursor": cursor}


def executions(venue: Venue, params: Params, account: FakeAccount | None) -> Result:
    category = _category(params)
    start, end = _window(venue, params)
    found = [
        e
        for e in reversed(_account(account).executions)
        if e["category"] == category
        and start <= int(e["execTime"]) <= end
        and all(
            not params.get(k) or e[k] == params[k] for k in ("symbol", "orderId", "orderLinkId", "execType")
        )
    ]
    page, cursor = _page(found, params, 50, 100)
    return {"category": category, "list": page, "nextPageCursor": cursor}


# --- account ----------------------------------------------------------------------------------------------


def wallet(venue: Venue, params: Params, account: FakeAccount | None) -> Result:
    if params.get("accountType") != "UNIFIED":
        raise VenueError(10001, f"params error: accountType {params.get('accountType')!r} must be UNIFIED")
    item = _account(account).wallet_json(venue.marks())
    coins = [c for c in str(params.get("coin") or "").split(",") if c]
    if coins:
        item["coin"] = [c for c in item["coin"] if c["coin"] in coins]
    return {"list": [item]}


def positions(venue: Venue, params: Params, account: FakeAccount | None) -> Result:
    _category(params, ("linear",))
    symbol, settle = params.get("symbol"), params.get("settleCoin")
    if not (symbol or settle):
        raise VenueError(10001, "Missing some parameters that must be filled in, symbol or settleCoin")
    held = _account(account).positions
    items = []
    if symbol:
        venue.market("linear", str(symbol))
        items = [held.get(str(symbol)) or FakePosition(str(symbol))]
    else:
        items = [p for _, p in sorted(held.items()) if p.size != 0]
    rows = [p.json(venue.market("linear", p.symbol).last, websocket=False) for p in items]
    page, cursor = _page(rows, params, 20, 200)
    return {"category": "linear", "list": page, "nextPageCursor": cursor}


def fee_rate(venue: Venue, params: Params, account: FakeAccount | None) -> Result:
    category = _category(params)
    symbol = params.get("symbol")
    return {
        "list": [
            {
                "symbol": i.symbol,
                "takerFeeRate": fmt(FEES[(category, False)]),
                "makerFeeRate": fmt(FEES[(category, True)]),
            }
            for i in venue.instruments(category)
            if symbol in (None, "", i.symbol)
        ]
    }


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/v5/market/time"): Route(server_time, signed=False),
    ("GET", "/v5/market/instruments-info"): Route(instruments_info, signed=False),
    ("GET", "/v5/market/kline"): Route(kline, signed=False),
    ("GET", "/v5/market/orderbook"): Route(orderbook, signed=False),
    ("GET", "/v5/market/tickers"): Route(tickers, signed=False),
    ("POST", "/v5/order/create"): Route(create, signed=True, order_entry=True),
    ("POST", "/v5/order/amend"): Route(amend, signed=True, order_entry=True),
    ("POST", "/v5/order/cancel"): Route(cancel, signed=True, order_entry=True),
    ("POST", "/v5/order/cancel-all"): Route(cancel_all, signed=True, order_entry=True),
    ("GET", "/v5/order/realtime"): Route(realtime, signed=True),
    ("GET", "/v5/order/history"): Route(history, signed=True),
    ("GET", "/v5/execution/list"): Route(executions, signed=True),
    ("GET", "/v5/account/wallet-balance"): Route(wallet, signed=True),
    ("GET", "/v5/position/list"): Route(positions, signed=True),
    ("GET", "/v5/account/fee-rate"): Route(fee_rate, signed=True),
}
"""(method, path) -> handler; every other path is HTTP 404."""
