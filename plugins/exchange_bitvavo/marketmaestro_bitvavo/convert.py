"""Bitvavo's JSON objects as MarketMaestro's model, and MarketMaestro's orders as Bitvavo request bodies.

Client order ids: Bitvavo wants a UUID in ``clientOrderId``. The core's ids are ``mm-`` and 32 hex digits, a
UUID already, so they are sent as that UUID and read back to the same id: the id stays the idempotency key
across restarts. Any other id is sent as ``uuid5(CLIENT_ID_NAMESPACE, id)`` (stable, so a retry reuses it) and
read back through the table of ids this process sent; an unknown UUID is reported as it is.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

from marketmaestro.exchanges import OrderRejected
from marketmaestro.model import Fill, Kline, Order, OrderStatus, OrderType, Side, TimeInForce
from marketmaestro_bitvavo.markets import Market, plain

CLIENT_ID_NAMESPACE = uuid.UUID("5b0f5a8e-2d4c-4c8e-9b0e-6d1f0a3c7e21")
_CORE_ID = re.compile(r"mm-([0-9a-f]{32})")

ORDER_TYPES = {
    OrderType.MARKET: "market",
    OrderType.LIMIT: "limit",
    OrderType.STOP_MARKET: "stopLoss",
    OrderType.STOP_LIMIT: "stopLossLimit",
    OrderType.TAKE_PROFIT: "takeProfit",
    OrderType.TAKE_PROFIT_LIMIT: "takeProfitLimit",
}
"""Core order type -> Bitvavo ``orderType``. Trailing stops have no Bitvavo counterpart."""
_CORE_TYPES = {value: key for key, value in ORDER_TYPES.items()}
_WITH_PRICE = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT})
_TRIGGERED = frozenset(
    {OrderType.STOP_MARKET, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT}
)

STATUSES = {
    "new": OrderStatus.ACCEPTED,
    "awaitingTrigger": OrderStatus.ACCEPTED,
    "partiallyFilled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}
"""Bitvavo status -> core status; every ``canceled*`` status is CANCELLED."""


def core_status(status: str) -> OrderStatus:
    if status.startswith("canceled"):
        return OrderStatus.CANCELLED
    return STATUSES.get(status, OrderStatus.ACCEPTED)


class ClientIds:
    """The two-way map between the core's client order ids and Bitvavo's ``clientOrderId`` UUIDs."""

    def __init__(self) -> None:
        self._ours: dict[str, str] = {}

    def to_venue(self, client_order_id: str) -> str:
        match = _CORE_ID.fullmatch(client_order_id)
        venue = (
            str(uuid.UUID(hex=match.group(1)))
            if match
            else str(uuid.uuid5(CLIENT_ID_NAMESPACE, client_order_id))
        )
        self._ours[venue] = client_order_id
        return venue

    def to_core(self, venue_id: str | None, order_id: str) -> str:
        """Our id for Bitvavo's ``clientOrderId`` (for an order placed without one: ``bitvavo-<orderId>``)."""
        if not venue_id:
            return f"bitvavo-{order_id}"
        known = self._ours.get(venue_id)
        if known is not None:
            return known
        try:
            parsed = uuid.UUID(venue_id)
        except ValueError:
            return venue_id
        return f"mm-{parsed.hex}" if parsed.version == 4 else venue_id


def order_body(order: Order, market: Market, venue_client_id: str, operator_id: int) -> dict[str, Any]:
    """The ``POST /order`` body for ``order``; OrderRejected for what Bitvavo cannot do natively."""
    if order.type not in ORDER_TYPES:
        raise OrderRejected(f"Bitvavo has no {order.type.value} orders (no native trailing stop)")
    if order.reduce_only:
        raise OrderRejected("Bitvavo is spot only: reduce-only orders are not supported")
    if order.post_only and order.type is not OrderType.LIMIT:
        raise OrderRejected(f"post-only applies to limit orders on Bitvavo, not {order.type.value} orders")
    if order.time_in_force is not TimeInForce.GTC and order.type not in _WITH_PRICE:
        raise OrderRejected(f"time in force {order.time_in_force.value} needs a limit price on Bitvavo")
    amount = market.round_amount(order.quantity)
    if amount != order.quantity:
        raise OrderRejected(
            f"quantity {plain(order.quantity)} is not on {market.market}'s "
            f"{market.quantity_decimals} decimals"
        )
    body: dict[str, Any] = {
        "market": market.market,
        "side": order.side.value,
        "orderType": ORDER_TYPES[order.type],
        "amount": plain(amount),
    }
    if order.type in _WITH_PRICE:
        if order.price is None:
            raise OrderRejected(f"a {order.type.value} order needs a price")
        problem = market.price_problem(order.price)
        if problem:
            raise OrderRejected(problem)
        body["price"] = plain(order.price)
    if order.type in _TRIGGERED:
        if order.stop_price is None:
            raise OrderRejected(f"a {order.type.value} order needs a stop (trigger) price")
        problem = market.price_problem(order.stop_price)
        if problem:
            raise OrderRejected(f"stop {problem}")
        body.update(triggerAmount=plain(order.stop_price), triggerType="price", triggerReference="lastTrade")
    body["clientOrderId"] = venue_client_id
    body["operatorId"] = operator_id
    if order.type in _WITH_PRICE:
        body["timeInForce"] = order.time_in_force.value.upper()
        if order.post_only:
            body["postOnly"] = True
    return body


def _on_tick(price: Decimal, market: Market) -> Decimal:
    """``price`` written with the tick's decimals (Bitvavo strips trailing zeros: 30000.5 for 30000.50)."""
    tick = market.tick_at(price)
    return price.quantize(tick) if tick < 1 else price


def _dec(raw: Any) -> Decimal | None:
    return Decimal(str(raw)) if raw not in (None, "") else None


def to_order(
    raw: dict[str, Any], market: Market, exchange: str, ids: ClientIds, template: Order | None = None
) -> Order:
    """A Bitvavo order object as a core Order (``template`` keeps strategy and reason of our own orders)."""
    order_id = str(raw["orderId"])
    filled = _dec(raw.get("filledAmount")) or Decimal(0)
    filled_quote = _dec(raw.get("filledAmountQuote")) or Decimal(0)
    amount = _dec(raw.get("amount"))
    kind = _CORE_TYPES.get(str(raw.get("orderType", "")), template.type if template else OrderType.MARKET)
    average = None
    if filled > 0:
        average = market.round_price(filled_quote / filled)
    tif = str(raw.get("timeInForce", "GTC")).lower()
    return Order(
        client_order_id=template.client_order_id
        if template
        else ids.to_core(raw.get("clientOrderId"), order_id),
        exchange=exchange,
        symbol=market.symbol,
        side=Side(str(raw.get("side", "buy"))),
        type=kind,
        quantity=amount if amount is not None else (template.quantity if template else filled),
        price=_dec(raw.get("price")),
        strategy=template.strategy if template else "",
        reason=template.reason if template else "",
        status=core_status(str(raw.get("status", "new"))),
        stop_price=_dec(raw.get("triggerAmount")) or _dec(raw.get("triggerPrice")),
        time_in_force=TimeInForce(tif) if tif in ("gtc", "ioc", "fok") else TimeInForce.GTC,
        post_only=bool(raw.get("postOnly", False)),
        venue_order_id=order_id,
        filled_quantity=filled,
        average_price=average,
        created_at=int(raw.get("created", template.created_at if template else 0)),
        updated_at=int(raw.get("updated", raw.get("created", 0))),
    )


def to_fill(raw: dict[str, Any], market: Market, exchange: str, order: Order | None, ids: ClientIds) -> Fill:
    """A fill: an item of an order's ``fills``, of ``GET /trades``, or a WebSocket ``fill`` event."""
    fill_id = str(raw.get("fillId") or raw["id"])
    fee = _dec(raw.get("fee")) or Decimal(0)
    if order is not None:
        client_order_id, strategy = order.client_order_id, order.strategy
    else:
        client_order_id, strategy = ids.to_core(raw.get("clientOrderId"), str(raw.get("orderId", ""))), ""
    side = raw.get("side") or (order.side.value if order else "buy")
    return Fill(
        fill_id=fill_id,
        client_order_id=client_order_id,
        exchange=exchange,
        symbol=market.symbol,
        side=Side(str(side)),
        quantity=Decimal(str(raw["amount"])).quantize(market.step),
        price=_on_tick(Decimal(str(raw["price"])), market),
        fee=fee,
        fee_currency=str(raw.get("feeCurrency") or market.quote),
        timestamp=int(raw["timestamp"]),
        strategy=strategy,
    )


def to_kline(row: list[Any], symbol: str, interval: str, closed: bool = True) -> Kline:
    """One candle row ``[ms, open, high, low, close, volume]`` (the timestamp may come as text)."""
    stamp, open_, high, low, close, volume = row[:6]
    return Kline(
        symbol,
        interval,
        int(stamp),
        float(open_),
        float(high),
        float(low),
        float(close),
        float(volume),
        closed,
    )
