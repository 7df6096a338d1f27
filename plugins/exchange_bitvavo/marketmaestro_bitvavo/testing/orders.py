"""The fake Bitvavo's checks of order requests, with the real error codes and messages."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from marketmaestro_bitvavo.testing.engine import ApiError, Exchange
from marketmaestro_bitvavo.testing.state import LIMIT_TYPES, TRIGGER_TYPES, FakeMarket, FakeOrder

ORDER_TYPES = frozenset({"market", "limit", *TRIGGER_TYPES})
MAX_OPEN_PER_MARKET = 100
NO_ORDER = (
    "No order found. Please be aware that simultaneously updating the same order may return this error."
)


def _bad(param: str) -> ApiError:
    return ApiError(400, 205, f"{param} parameter is invalid.")


def _missing(param: str) -> ApiError:
    return ApiError(400, 203, f"{param} parameter is required.")


def decimal_param(body: dict[str, Any], name: str) -> Decimal | None:
    raw = body.get(name)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise _bad(name)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise _bad(name) from None
    if not value.is_finite() or value <= 0 or "e" in raw.lower():
        raise _bad(name)
    return value


def operator_id(source: dict[str, Any]) -> int:
    raw = source.get("operatorId")
    if raw is None:
        raise _missing("operatorId")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise _bad("operatorId") from None
    if value < 1 or isinstance(raw, bool):
        raise _bad("operatorId")
    return value


def check_amount(market: FakeMarket, amount: Decimal) -> None:
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > market.quantity_decimals:
        raise ApiError(
            400, 429, f"amount has too many decimals; {market.market} allows {market.quantity_decimals}."
        )
    if amount < market.min_base:
        raise ApiError(400, 212, f"amount is below the market minimum of {market.min_base} {market.base}.")


def check_price(market: FakeMarket, price: Decimal, name: str = "price") -> None:
    problem = market.price_error(price)
    if problem:
        raise ApiError(400, problem[0], problem[1] if name == "price" else f"{name}: {problem[1]}")


def new_order_spec(exchange: Exchange, body: dict[str, Any]) -> dict[str, Any]:
    """The FakeOrder fields of a valid ``POST /order`` body; ApiError otherwise."""
    for required in ("market", "side", "orderType"):
        if required not in body:
            raise _missing(required)
    market = exchange.markets.get(str(body["market"]))
    if market is None:
        raise _bad("market")
    if market.status != "trading":
        raise ApiError(409, 431, f"The market {market.market} is not trading.")
    side, kind = body["side"], body["orderType"]
    if side not in ("buy", "sell"):
        raise _bad("side")
    if kind not in ORDER_TYPES:
        raise _bad("orderType")
    operator = operator_id(body)
    if "amountQuote" in body:
        raise ApiError(400, 202, "amountQuote is not supported by this fake; use amount.")
    amount = decimal_param(body, "amount")
    if amount is None:
        raise _missing("amount")
    check_amount(market, amount)
    price = decimal_param(body, "price")
    if kind in LIMIT_TYPES:
        if price is None:
            raise _missing("price")
        check_price(market, price)
    elif price is not None:
        raise ApiError(400, 202, f"price is not allowed for orderType {kind}.")
    trigger = decimal_param(body, "triggerAmount")
    if kind in TRIGGER_TYPES:
        if trigger is None or body.get("triggerType") != "price":
            raise ApiError(400, 237, "triggerAmount and triggerType are required for stop orders.")
        if body.get("triggerReference", "lastTrade") not in ("lastTrade", "bestBid", "bestAsk", "midPrice"):
            raise _bad("triggerReference")
        check_price(market, trigger, "triggerAmount")
    reference = price or trigger or exchange.last_price.get(market.market)
    if reference is not None and amount * reference < market.min_quote:
        raise ApiError(
            400, 217, f"amountQuote is below the market minimum of {market.min_quote} {market.quote}."
        )
    tif = body.get("timeInForce", "GTC")
    if tif not in ("GTC", "IOC", "FOK"):
        raise _bad("timeInForce")
    if kind not in LIMIT_TYPES and ("timeInForce" in body or "postOnly" in body):
        raise ApiError(400, 202, f"timeInForce and postOnly are not allowed for orderType {kind}.")
    post_only = body.get("postOnly", False)
    if not isinstance(post_only, bool) or (post_only and tif != "GTC"):
        raise _bad("postOnly")
    client_id = body.get("clientOrderId")
    if client_id is not None:
        try:
            uuid.UUID(str(client_id))
        except ValueError:
            raise _bad("clientOrderId") from None
        if any(o.client_order_id == client_id and o.is_open for o in exchange.orders.values()):
            raise ApiError(400, 220, "The clientOrderId is already in use by an open order.")
    open_here = sum(1 for o in exchange.orders.values() if o.market == market.market and o.is_open)
    if open_here >= MAX_OPEN_PER_MARKET:
        raise ApiError(400, 235, "You reached the maximum of 100 open orders in this market.")
    return {
        "market": market.market,
        "side": side,
        "order_type": kind,
        "amount": amount,
        "operator_id": operator,
        "client_order_id": client_id,
        "price": price,
        "trigger_amount": trigger,
        "trigger_reference": body.get("triggerReference", "lastTrade"),
        "time_in_force": tif,
        "post_only": post_only,
    }


def find_order(exchange: Exchange, source: dict[str, Any]) -> FakeOrder:
    """The order named by ``orderId`` or ``clientOrderId`` (which wins) in ``market``; 240 otherwise."""
    market = source.get("market")
    if market is None:
        raise _missing("market")
    client_id, order_id = source.get("clientOrderId"), source.get("orderId")
    if client_id is None and order_id is None:
        raise _missing("orderId")
    candidates = [o for o in exchange.orders.values() if o.market == market]
    if client_id is not None:
        found = [o for o in candidates if o.client_order_id == client_id]
        # Open orders first: a clientOrderId is unique among open orders, and may be reused after.
        found.sort(key=lambda o: (o.is_open, o.created))
    else:
        found = [o for o in candidates if o.order_id == order_id]
    if not found:
        raise ApiError(
            404,
            240,
            NO_ORDER,
        )
    return found[-1]


def update_order(exchange: Exchange, body: dict[str, Any]) -> FakeOrder:
    operator_id(body)
    order = find_order(exchange, body)
    if not order.is_open:
        raise ApiError(
            400, 233, "Order must be in status new, partiallyFilled or awaitingTrigger to be updated."
        )
    if order.order_type == "market":
        raise ApiError(400, 234, "Market orders cannot be updated.")
    market = exchange.markets[order.market]
    amount = decimal_param(body, "amount")
    remaining = decimal_param(body, "amountRemaining")
    if amount is not None and remaining is not None:
        raise ApiError(400, 236, "amount and amountRemaining cannot be combined.")
    if remaining is not None:
        amount = order.filled_amount + remaining
    if amount is not None:
        check_amount(market, amount)
        if amount <= order.filled_amount:
            raise ApiError(400, 236, "amount must be above the filled amount.")
    price = decimal_param(body, "price")
    if price is not None:
        if order.order_type not in LIMIT_TYPES:
            raise ApiError(400, 202, f"price is not allowed for orderType {order.order_type}.")
        check_price(market, price)
    trigger = decimal_param(body, "triggerAmount")
    if trigger is not None:
        check_price(market, trigger, "triggerAmount")
    changes = (amount, price, trigger)
    if all(c is None for c in changes) or (
        amount in (None, order.amount)
        and price in (None, order.price)
        and trigger in (None, order.trigger_amount)
    ):
        raise ApiError(400, 232, "No change: the order was not updated.")
    exchange.update(order, amount, price, trigger)
    return order
