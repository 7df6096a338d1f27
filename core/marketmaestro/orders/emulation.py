"""Which orders the exchange holds natively and which MarketMaestro emulates, and when an emulated order
triggers. Pure functions of an order, the adapter's ``capabilities`` and a price: the order manager
keeps the state (in the database), these decide.

Trigger rules, for a market price ``p`` (the last trade, kline close or book mid the exchange service
routes to the order manager):

=================  ==============================  ==============================
type               a buy triggers when             a sell triggers when
=================  ==============================  ==============================
limit (emulated)   p <= price                      p >= price
stop_market/limit  p >= stop_price                 p <= stop_price
take_profit(_lim)  p <= stop_price                 p >= stop_price
trailing_stop      p >= low-water mark + trail     p <= high-water mark - trail
=================  ==============================  ==============================

A trailing stop's trail is ``trail_amount`` (quote currency) or ``trail_percent`` of the water mark.
Once triggered, a ``*_limit`` type becomes a limit order at ``price`` (itself emulated where the
exchange has no limit orders); the others become market orders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from marketmaestro.model import Instrument, Order, OrderStatus, OrderType, Side, TimeInForce

HUNDRED = Decimal(100)

STOP_TYPES = frozenset({OrderType.STOP_MARKET, OrderType.STOP_LIMIT})
TAKE_PROFIT_TYPES = frozenset({OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT})
TRIGGERED_TYPES = STOP_TYPES | TAKE_PROFIT_TYPES | {OrderType.TRAILING_STOP}
"""Types that wait for a trigger price before they trade."""
LIMIT_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT})
"""Types that trade at ``price`` (after any trigger)."""


class UnsupportedOrder(ValueError):
    """The exchange can neither hold the order nor can MarketMaestro emulate it faithfully."""


def is_native(order: Order, capabilities: Mapping[str, bool]) -> bool:
    """Whether ``order`` goes to the exchange as it is (True) or is held and triggered locally (False).

    Raises :class:`UnsupportedOrder` for a flag that cannot be emulated: post-only on an exchange without
    it (an emulated order takes liquidity when it triggers).
    """
    if order.post_only and not capabilities.get("post_only", False):
        raise UnsupportedOrder("post_only: this exchange has no post-only orders and they cannot be emulated")
    match order.type:
        case OrderType.MARKET:
            return True
        case OrderType.LIMIT:
            limit_ok = capabilities.get("limit_orders", False)
            if order.time_in_force is not TimeInForce.GTC:
                return limit_ok and capabilities.get("time_in_force", False)
            return limit_ok
        case OrderType.STOP_MARKET | OrderType.STOP_LIMIT:
            native = capabilities.get("native_stop_orders", False)
        case OrderType.TAKE_PROFIT | OrderType.TAKE_PROFIT_LIMIT:
            native = capabilities.get("native_take_profit", False)
        case OrderType.TRAILING_STOP:
            # Adapters take the trail as a percentage; a trail by amount is always emulated.
            native = capabilities.get("native_trailing_stop", False) and order.trail_amount is None
    if native and order.type in LIMIT_TYPES:
        native = capabilities.get("limit_orders", False)
    return native and (order.time_in_force is TimeInForce.GTC or capabilities.get("time_in_force", False))


def marketable(order: Order, price: Decimal) -> bool:
    """Whether a limit at ``order.price`` would trade at once against the market price ``price``."""
    assert order.price is not None
    return price <= order.price if order.side is Side.BUY else price >= order.price


def trail_distance(order: Order, mark: Decimal) -> Decimal:
    if order.trail_amount is not None:
        return order.trail_amount
    assert order.trail_percent is not None
    return mark * order.trail_percent / HUNDRED


def follow(order: Order, price: Decimal, instrument: Instrument) -> Order:
    """A trailing stop after seeing ``price``: its water mark moved in its favour, and its ``stop_price``
    with it (rounded to the tick). The same order when nothing moved."""
    mark = order.watermark
    if mark is None:
        mark = price
    elif order.side is Side.SELL:
        mark = max(mark, price)
    else:
        mark = min(mark, price)
    if mark == order.watermark and order.stop_price is not None:
        return order
    distance = trail_distance(order, mark)
    stop = mark - distance if order.side is Side.SELL else mark + distance
    return replace(order, watermark=mark, stop_price=instrument.round_price(stop))


def triggers(order: Order, price: Decimal) -> bool:
    """Whether the emulated trigger of ``order`` (a type of :data:`TRIGGERED_TYPES`, its trailing state
    already moved by :func:`follow`) is reached at ``price``."""
    stop = order.stop_price
    assert stop is not None
    buy = order.side is Side.BUY
    if order.type in TAKE_PROFIT_TYPES:
        return price <= stop if buy else price >= stop
    # stop_market, stop_limit and trailing_stop: against the position.
    return price >= stop if buy else price <= stop


def waits_for_price(order: Order) -> bool:
    """Whether the emulated ``order`` now waits for the market to reach its limit ``price`` (an emulated
    limit, or a triggered stop/take-profit limit on an exchange without limit orders)."""
    return order.status is OrderStatus.TRIGGERED or order.type is OrderType.LIMIT


def executed_as(order: Order, *, as_limit: bool) -> Order:
    """What to send to the exchange once ``order`` triggered: a limit at ``price`` when ``as_limit``,
    else a market order; same client order id, so the exchange's answer and fills name our order."""
    kind = OrderType.LIMIT if as_limit else OrderType.MARKET
    return replace(
        order,
        type=kind,
        price=order.price if kind is OrderType.LIMIT else None,
        stop_price=None,
        trail_percent=None,
        trail_amount=None,
    )
