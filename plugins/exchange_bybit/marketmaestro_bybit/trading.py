"""Order entry and the account's order and execution records over Bybit's signed REST endpoints.

Bybit answers ``order/create``, ``order/amend`` and ``order/cancel`` with an acknowledgement only; the
order's state comes from ``order/realtime`` (open, and with ``openOnly=1`` recently closed orders) or
``order/history``, and its fills from ``execution/list``. ``place`` therefore reads the order back, and for
orders that end at once (market, IOC, FOK) waits up to ``fill_wait`` seconds for them to end, so the
caller learns the fills right away.

The client order id is Bybit's ``orderLinkId``, unique per account: sending the same order again (a retry
after a timeout) gets "duplicate orderLinkId", which is read as "already placed", so a retry never places
a second order.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import trio

from marketmaestro.exchanges import OrderResult
from marketmaestro.model import Fill, Instrument, Order, OrderStatus, OrderType, TimeInForce, now_ms
from marketmaestro_bybit.convert import parse_fill, parse_order, plain
from marketmaestro_bybit.errors import (
    ALREADY_CLOSED,
    DUPLICATE_CLIENT_ID,
    NOT_FOUND,
    BybitRejected,
)
from marketmaestro_bybit.orders import CONDITIONAL, order_request
from marketmaestro_bybit.rest import JSON, BybitRest

__all__ = ["HISTORY_WINDOW_MS", "Trading"]

HISTORY_WINDOW_MS = 7 * 86_400_000
"""Bybit's longest ``startTime``..``endTime`` span for order history and executions."""
POLL_INTERVAL = 0.1


class Trading:
    """Signed order entry and account records for one category."""

    def __init__(
        self, rest: BybitRest, *, exchange: str, category: str, settle_coin: str, fill_wait: float
    ) -> None:
        self.rest = rest
        self.exchange = exchange
        self.category = category
        self.settle_coin = settle_coin
        self.fill_wait = fill_wait

    # --- order entry --------------------------------------------------------------------------------------

    async def place(self, order: Order, instrument: Instrument, reference: Decimal | None) -> OrderResult:
        body, sent = order_request(order, instrument, self.category, reference)
        try:
            await self.rest.post("/v5/order/create", body)
        except BybitRejected as exc:
            if exc.ret_code not in DUPLICATE_CLIENT_ID:
                raise
            # Placed by an earlier attempt whose answer was lost: carry on with that order.
        immediate = sent.type is OrderType.MARKET or (
            sent.type is OrderType.LIMIT and sent.time_in_force is not TimeInForce.GTC
        )
        venue = await self._settled(sent, wait=self.fill_wait if immediate else 0.0)
        if venue is None:
            raise BybitRejected(f"Bybit acknowledged order {order.client_order_id} but does not list it")
        current = _merge(sent, venue)
        if venue.error == "EC_PostOnlyWillTakeLiquidity" and current.filled_quantity == 0:
            raise BybitRejected(
                f"post-only order {order.client_order_id} would take liquidity at {sent.price}; cancelled"
            )
        fills = await self._fills_of(current) if current.filled_quantity > 0 else []
        return OrderResult(current, tuple(fills))

    async def cancel(self, order: Order) -> Order:
        body = self._ids(order)
        if self.category == "spot" and order.type in CONDITIONAL:
            body["orderFilter"] = "StopOrder"
        try:
            await self.rest.post("/v5/order/cancel", body)
        except BybitRejected as exc:
            if exc.ret_code not in NOT_FOUND | ALREADY_CLOSED:
                raise
        venue = await self._settled(order, wait=self.fill_wait)
        if venue is None:
            raise BybitRejected(f"order {order.client_order_id} is not on Bybit")
        return _merge(order, venue)

    async def amend(
        self, order: Order, instrument: Instrument, quantity: Decimal | None, price: Decimal | None
    ) -> Order:
        body = self._ids(order)
        changed = order
        if quantity is not None:
            rounded = instrument.round_quantity(quantity)
            valued_at = price or order.price or order.stop_price
            problem = instrument.check_order(rounded, valued_at) if valued_at is not None else None
            if problem is not None or rounded <= 0:
                raise BybitRejected(problem or f"quantity {quantity} rounds to zero on {order.symbol}")
            body["qty"] = plain(rounded)
            changed = replace(changed, quantity=rounded)
        if price is not None:
            if order.type not in (OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT):
                raise BybitRejected(f"a {order.type.value} order has no limit price to amend")
            rounded_price = instrument.round_price(price)
            if rounded_price <= 0:
                raise BybitRejected(f"price {price} rounds to {rounded_price} on {order.symbol}'s tick")
            body["price"] = plain(rounded_price)
            changed = replace(changed, price=rounded_price)
        if "qty" not in body and "price" not in body:
            raise BybitRejected("nothing to amend: give a quantity or a price")
        await self.rest.post("/v5/order/amend", body)
        venue = await self.get(changed)
        if venue is None:
            raise BybitRejected(f"order {order.client_order_id} is not on Bybit")
        return _merge(changed, venue)

    def _ids(self, order: Order) -> dict[str, Any]:
        body: dict[str, Any] = {"category": self.category, "symbol": order.symbol}
        # Bybit prefers orderId when both are given; ours is always known, the venue's maybe not.
        if order.venue_order_id:
            body["orderId"] = order.venue_order_id
        else:
            body["orderLinkId"] = order.client_order_id
        return body

    async def _settled(self, order: Order, *, wait: float) -> Order | None:
        """Bybit's view of ``order``, after waiting up to ``wait`` s for it to leave the open states."""
        deadline = trio.current_time() + wait
        while True:
            venue = await self.get(order)
            if venue is None or venue.status.is_final or trio.current_time() >= deadline:
                return venue
            await trio.sleep(POLL_INTERVAL)

    # --- reading orders and fills ---------------------------------------------------------------------------

    async def get(self, order: Order) -> Order | None:
        """One order by client id, open or recently closed, or None."""
        ids = {"orderLinkId": order.client_order_id}
        base = {"category": self.category, "symbol": order.symbol, **ids}
        for path, extra in (
            ("/v5/order/realtime", {"openOnly": 0}),
            ("/v5/order/realtime", {"openOnly": 1}),
            ("/v5/order/history", {}),
        ):
            result = await self.rest.get(path, {**base, **extra}, signed=True)
            for item in result.get("list") or []:
                if item.get("orderLinkId") == order.client_order_id:
                    return parse_order(item, self.exchange)
        return None

    async def open_orders(self, symbol: str | None) -> list[Order]:
        params = {"category": self.category, "openOnly": 0, "limit": 50, **self._scope(symbol)}
        items = await self.rest.paginate("/v5/order/realtime", params)
        return [parse_order(item, self.exchange) for item in items]

    async def history(self, symbol: str | None, since: int | None) -> list[Order]:
        items: list[JSON] = []
        for start, end in self._windows(since):
            params = {"category": self.category, "startTime": start, "endTime": end, "limit": 50}
            items += await self.rest.paginate(
                "/v5/order/history", {**params, **self._scope(symbol, need=False)}
            )
        orders = {o.venue_order_id: o for o in (parse_order(item, self.exchange) for item in items)}
        finals = [
            o for o in orders.values() if o.status.is_final and (since is None or o.updated_at >= since)
        ]
        return sorted(finals, key=lambda o: o.updated_at)

    async def fills(
        self,
        symbol: str | None,
        since: int | None,
        instruments: dict[str, Instrument],
        order_id: str | None = None,
    ) -> list[Fill]:
        items: list[JSON] = []
        windows = [(None, None)] if order_id else self._windows(since)
        for start, end in windows:
            params = {
                "category": self.category,
                "startTime": start,
                "endTime": end,
                "limit": 100,
                "orderId": order_id,
            }
            items += await self.rest.paginate(
                "/v5/execution/list", {**params, **self._scope(symbol, need=False)}
            )
        # Oldest first; executions of one moment keep Bybit's order (its ``seq``).
        unique = {
            item["execId"]: item for item in reversed(items) if item.get("execType", "Trade") == "Trade"
        }
        ordered = sorted(
            unique.values(), key=lambda item: (int(item.get("execTime") or 0), int(item.get("seq") or 0))
        )
        fills = [
            parse_fill(item, self.exchange, instruments.get(str(item.get("symbol")))) for item in ordered
        ]
        return [f for f in fills if since is None or f.timestamp >= since]

    async def _fills_of(self, order: Order) -> list[Fill]:
        """The executions of ``order``; waits up to ``fill_wait`` until they add up to its filled quantity."""
        assert order.venue_order_id is not None
        deadline = trio.current_time() + self.fill_wait
        while True:
            fills = await self.fills(order.symbol, None, {}, order_id=order.venue_order_id)
            if (
                sum((f.quantity for f in fills), Decimal(0)) >= order.filled_quantity
                or trio.current_time() >= deadline
            ):
                return [replace(f, strategy=order.strategy) for f in fills]
            await trio.sleep(POLL_INTERVAL)

    def _scope(self, symbol: str | None, *, need: bool = True) -> dict[str, Any]:
        """``symbol``, or on linear (where a scope is required) the settle coin."""
        if symbol:
            return {"symbol": symbol}
        return {"settleCoin": self.settle_coin} if self.category == "linear" and need else {}

    def _windows(self, since: int | None) -> list[tuple[int | None, int | None]]:
        """``[since, now]`` cut into spans Bybit accepts; without ``since`` Bybit's default (7 days)."""
        if since is None:
            return [(None, None)]
        now = self.rest.server_now()
        windows: list[tuple[int | None, int | None]] = []
        start = since
        while start <= now:
            end = min(start + HISTORY_WINDOW_MS - 1, now)
            windows.append((start, end))
            start = end + 1
        return windows or [(since, since)]


def _merge(ours: Order, venue: Order) -> Order:
    """Our order (type, strategy, reason) with Bybit's state (status, ids, fills)."""
    return replace(
        ours,
        status=venue.status,
        venue_order_id=venue.venue_order_id,
        filled_quantity=venue.filled_quantity,
        average_price=venue.average_price,
        error=venue.error if venue.status is OrderStatus.REJECTED else ours.error,
        quantity=venue.quantity or ours.quantity,
        price=venue.price if ours.price is not None and venue.price is not None else ours.price,
        updated_at=venue.updated_at or now_ms(),
    )
