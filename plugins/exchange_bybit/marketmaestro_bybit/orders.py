"""An order as Bybit's ``POST /v5/order/create`` body: what is native, what is refused, and the grid.

=====================  ===============================================================================
MarketMaestro          Bybit
=====================  ===============================================================================
market                 ``orderType: Market`` (always IOC); spot buys ``marketUnit: baseCoin`` so the
                       quantity is in the base coin as everywhere in MarketMaestro
limit gtc / ioc / fok  ``orderType: Limit`` + ``timeInForce`` GTC / IOC / FOK
limit post-only        ``timeInForce: PostOnly`` (cancelled by Bybit if it would take liquidity)
reduce-only            ``reduceOnly: true`` (linear only; spot has no positions)
stop market / limit    ``triggerPrice`` (+ ``triggerDirection`` on linear: a buy fires on a rise, a sell
                       on a fall; spot: ``orderFilter: StopOrder``, direction from the price at placement)
take profit (limit)    the same with the opposite direction
trailing stop          refused: Bybit V5 trails only whole positions (``position/trading-stop``)
=====================  ===============================================================================

Prices and quantities are put on the instrument's grid (price to the nearest tick, quantity down to the
step) and sent as plain decimal strings; what then falls under the minimums is refused before sending.
"""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal
from typing import Any

from marketmaestro.model import Instrument, Order, OrderType, Side, TimeInForce
from marketmaestro_bybit.convert import plain
from marketmaestro_bybit.errors import BybitRejected

__all__ = ["CONDITIONAL", "TAKE_PROFITS", "order_request", "trigger_direction"]

CONDITIONAL = frozenset(
    {OrderType.STOP_MARKET, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT}
)
TAKE_PROFITS = frozenset({OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT})
LIMIT_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT})
_LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")


def trigger_direction(order: Order) -> int:
    """1 when the order fires on a rise to its trigger, 2 on a fall (Bybit's ``triggerDirection``)."""
    rises = order.side is Side.BUY
    if order.type in TAKE_PROFITS:
        rises = not rises
    return 1 if rises else 2


def order_request(
    order: Order, instrument: Instrument, category: str, reference: Decimal | None
) -> tuple[dict[str, Any], Order]:
    """The create-order body for ``order`` and the order as sent (on the grid).

    ``reference`` is the current market price (for the notional of market orders and the side of a
    trigger), or None when unknown. Raises :class:`BybitRejected` with the reason for anything Bybit cannot
    do natively or that does not fit the instrument.
    """
    if order.type is OrderType.TRAILING_STOP:
        raise BybitRejected("Bybit has no trailing stop orders (it trails whole positions only)")
    if not _LINK_ID.match(order.client_order_id):
        raise BybitRejected(
            f"client order id {order.client_order_id!r} is not a Bybit orderLinkId (1-36 of A-Z a-z 0-9 _ -)"
        )
    if order.reduce_only and category == "spot":
        raise BybitRejected("reduce-only orders exist on linear perpetuals only, not on spot")
    limit = order.type in LIMIT_TYPES
    if order.post_only and (not limit or order.time_in_force is not TimeInForce.GTC):
        raise BybitRejected("post-only needs a limit order that rests (time in force gtc)")
    if not limit and order.time_in_force is TimeInForce.FOK:
        raise BybitRejected("Bybit market orders are immediate-or-cancel; fill-or-kill needs a limit price")
    quantity = instrument.round_quantity(order.quantity)
    price = instrument.round_price(order.price) if order.price is not None else None
    trigger = instrument.round_price(order.stop_price) if order.stop_price is not None else None
    if limit and (price is None or price <= 0):
        raise BybitRejected(f"a {order.type.value} order needs a positive price, got {order.price}")
    if order.type in CONDITIONAL and (trigger is None or trigger <= 0):
        raise BybitRejected(f"a {order.type.value} order needs a positive stop price, got {order.stop_price}")
    valued_at = price or trigger or reference
    if valued_at is None:
        raise BybitRejected(f"no market price for {order.symbol} to check the order's notional against")
    problem = instrument.check_order(quantity, valued_at)
    if problem is not None:
        raise BybitRejected(problem)
    if trigger is not None and reference is not None:
        _check_trigger_side(order, trigger, reference)

    body: dict[str, Any] = {
        "category": category,
        "symbol": order.symbol,
        "side": "Buy" if order.side is Side.BUY else "Sell",
        "orderType": "Limit" if limit else "Market",
        "qty": plain(quantity),
        "orderLinkId": order.client_order_id,
    }
    if limit:
        assert price is not None
        body["price"] = plain(price)
        body["timeInForce"] = "PostOnly" if order.post_only else order.time_in_force.value.upper()
    if category == "spot" and not limit and order.side is Side.BUY:
        body["marketUnit"] = "baseCoin"
    if trigger is not None and order.type in CONDITIONAL:
        body["triggerPrice"] = plain(trigger)
        if category == "spot":
            body["orderFilter"] = "StopOrder"
        else:
            body["triggerDirection"] = trigger_direction(order)
            body["triggerBy"] = "LastPrice"
    if category == "linear":
        body["positionIdx"] = 0
        if order.reduce_only:
            body["reduceOnly"] = True
    sent = _on_grid(order, quantity, price if limit else None, trigger if order.type in CONDITIONAL else None)
    return body, sent


def _check_trigger_side(order: Order, trigger: Decimal, reference: Decimal) -> None:
    rises = trigger_direction(order) == 1
    if rises and trigger <= reference:
        raise BybitRejected(
            f"the stop price {trigger} of this {order.side.value} {order.type.value} order must be above "
            f"the market price {reference}"
        )
    if not rises and trigger >= reference:
        raise BybitRejected(
            f"the stop price {trigger} of this {order.side.value} {order.type.value} order must be below "
            f"the market price {reference}"
        )


def _on_grid(order: Order, quantity: Decimal, price: Decimal | None, trigger: Decimal | None) -> Order:
    return replace(order, quantity=quantity, price=price, stop_price=trigger)
