"""What the fake accepts in an order: Bybit's parameter checks, grids, minimums and balance checks.

Each refusal is a :class:`VenueError` with the retCode and message Bybit gives for it (spot and linear
differ: spot has its own 170xxx codes).
"""

from __future__ import annotations

import re
import uuid
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from marketmaestro_bybit.testing.accounts import LEVERAGE, FakeAccount, FakeOrder
from marketmaestro_bybit.testing.marketdata import FakeMarket, fmt

__all__ = ["Rules", "VenueError"]

Levels = list[tuple[Decimal, Decimal]]
_LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
TIME_IN_FORCE = ("GTC", "IOC", "FOK", "PostOnly")


class VenueError(Exception):
    """A refused request: Bybit's ``retCode`` and ``retMsg``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def number(body: dict[str, Any], key: str, *, required: bool = False) -> Decimal | None:
    """A positive decimal field sent as a string (as Bybit requires), or None when absent."""
    raw = body.get(key)
    if raw is None or raw == "" or (raw == "0" and not required):
        if required:
            raise VenueError(10001, f"params error: {key} is required")
        return None
    if not isinstance(raw, str):
        raise VenueError(10001, f"params error: {key} must be a string, got {type(raw).__name__}")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise VenueError(10001, f"params error: {key} invalid: {raw!r}") from None
    if not value.is_finite() or value <= 0:
        raise VenueError(10001, f"params error: {key} must be positive, got {raw!r}")
    return value


class Rules:
    """Bybit's order checks against one market and one account."""

    def new_order(
        self,
        account: FakeAccount,
        body: dict[str, Any],
        market: FakeMarket,
        now: int,
        levels: tuple[Levels, Levels],
    ) -> FakeOrder:
        instrument = market.instrument
        category = instrument.category
        spot = category == "spot"
        side, order_type = body.get("side"), body.get("orderType")
        if side not in ("Buy", "Sell"):
            raise VenueError(10001, f"params error: side invalid: {side!r}")
        if order_type not in ("Market", "Limit"):
            raise VenueError(10001, f"params error: orderType invalid: {order_type!r}")
        link_id = str(body.get("orderLinkId") or "")
        if link_id and not _LINK_ID.match(link_id):
            raise VenueError(10001, "params error: orderLinkId must be 1-36 of A-Z a-z 0-9 _ -")
        if link_id and (category, link_id) in account.by_link:
            raise VenueError(
                170141 if spot else 110072,
                "Duplicate clientOrderId." if spot else "OrderLinkedID is duplicate",
            )
        tif = "IOC" if order_type == "Market" else str(body.get("timeInForce") or "GTC")
        if tif not in TIME_IN_FORCE:
            raise VenueError(10001, f"params error: timeInForce invalid: {tif!r}")
        qty = number(body, "qty", required=True)
        price = number(body, "price", required=order_type == "Limit") if order_type == "Limit" else None
        trigger = number(body, "triggerPrice")
        assert qty is not None
        if (
            spot
            and order_type == "Market"
            and side == "Buy"
            and body.get("marketUnit", "quoteCoin") != "baseCoin"
        ):
            # A quote-amount market buy: the fake converts it into the base quantity the book gives for it
            # (and reports that quantity as the order's qty).
            qty = _base_for_quote(qty, levels[1], instrument.step)
            if qty <= 0:
                raise VenueError(170140, "Order value exceeded lower limit.")
        self._grid(qty, instrument.step, "qty", spot)
        for name, value in (("price", price), ("triggerPrice", trigger)):
            if value is not None:
                self._grid(value, instrument.tick, name, spot)
        if qty < instrument.min_qty:
            raise VenueError(170136 if spot else 10001, "Order quantity exceeded lower limit.")
        valued_at = price or trigger or market.last
        if qty * valued_at < instrument.min_notional:
            if spot:
                raise VenueError(170140, "Order value exceeded lower limit.")
            raise VenueError(
                110094, f"Order does not meet minimum order value {fmt(instrument.min_notional)}USDT"
            )
        order = FakeOrder(
            order_id=str(uuid.uuid4()),
            link_id=link_id,
            account=account.api_key,
            category=category,
            symbol=instrument.symbol,
            side=side,
            order_type=order_type,
            qty=qty,
            price=price,
            time_in_force=tif,
            created=now,
            updated=now,
        )
        if trigger is not None:
            self._conditional(order, body, trigger, market.last, spot)
        reduce_only = bool(body.get("reduceOnly"))
        if reduce_only:
            if spot:
                raise VenueError(10001, "params error: reduceOnly is for derivatives only")
            self._reduce_only(account, order)
        self._funds(account, order, market, levels, valued_at)
        return order

    def _grid(self, value: Decimal, step: Decimal, name: str, spot: bool) -> None:
        if value % step != 0:
            if spot:
                code, what = (170137, "quantity") if name == "qty" else (170134, "price")
                raise VenueError(code, f"Order {what} has too many decimals.")
            raise VenueError(10001, f"params error: {name} {fmt(value)} is not a multiple of {fmt(step)}")

    def _conditional(
        self, order: FakeOrder, body: dict[str, Any], trigger: Decimal, last: Decimal, spot: bool
    ) -> None:
        if spot:
            order.order_filter = str(body.get("orderFilter") or "Order")
            if order.order_filter not in ("StopOrder", "tpslOrder"):
                raise VenueError(
                    10001, "params error: a spot triggerPrice needs orderFilter StopOrder or tpslOrder"
                )
            direction = 1 if trigger > last else 2
        else:
            raw = body.get("triggerDirection")
            if raw not in (1, 2):
                raise VenueError(10001, f"params error: triggerDirection must be 1 or 2, got {raw!r}")
            direction = int(raw)
            if direction == 1 and trigger <= last:
                raise VenueError(
                    110092, f"expect Rising, but trigger_price[{fmt(trigger)}] <= current[{fmt(last)}]"
                )
            if direction == 2 and trigger >= last:
                raise VenueError(
                    110093, f"expect Falling, but trigger_price[{fmt(trigger)}] >= current[{fmt(last)}]"
                )
        order.trigger_price = trigger
        order.trigger_direction = direction
        order.status = "Untriggered"

    def _reduce_only(self, account: FakeAccount, order: FakeOrder) -> None:
        position = account.positions.get(order.symbol)
        size = position.size if position else Decimal(0)
        if size == 0 or (size > 0) == (order.side == "Buy"):
            raise VenueError(
                110017, "current position is zero or on the same side, cannot fix reduce-only order qty"
            )
        order.reduce_only = True
        order.qty = min(order.qty, abs(size))

    def _funds(
        self,
        account: FakeAccount,
        order: FakeOrder,
        market: FakeMarket,
        levels: tuple[Levels, Levels],
        value_at: Decimal,
    ) -> None:
        instrument = market.instrument
        if instrument.category == "linear":
            if order.reduce_only:
                return
            margin = order.qty * value_at / LEVERAGE + order.qty * value_at * Decimal("0.00055")
            if account.available(instrument.quote) < margin:
                raise VenueError(110007, "ab not enough for new order")
            return
        if order.side == "Buy":
            if order.order_type == "Market" and order.trigger_price is None:
                cost = _cost(order.qty, levels[1])
            else:
                cost = order.qty * (order.price or value_at)
            if account.available(instrument.quote) < cost:
                raise VenueError(170131, "Insufficient balance.")
            if order.order_type == "Limit" and order.trigger_price is None:
                order.locked, order.locked_coin = cost, instrument.quote
        else:
            if account.available(instrument.base) < order.qty:
                raise VenueError(170131, "Insufficient balance.")
            if order.order_type == "Limit" and order.trigger_price is None:
                order.locked, order.locked_coin = order.qty, instrument.base

    def amend(self, account: FakeAccount, order: FakeOrder, body: dict[str, Any], market: FakeMarket) -> None:
        instrument = market.instrument
        spot = instrument.category == "spot"
        qty, price, trigger = number(body, "qty"), number(body, "price"), number(body, "triggerPrice")
        if qty is None and price is None and trigger is None:
            raise VenueError(
                10001, "The order remains unchanged as the parameters entered match the existing ones."
            )
        if qty is not None:
            self._grid(qty, instrument.step, "qty", spot)
            if qty <= order.cum_qty:
                raise VenueError(
                    10001, f"params error: qty {fmt(qty)} must exceed the filled {fmt(order.cum_qty)}"
                )
        if price is not None:
            if order.order_type != "Limit":
                raise VenueError(10001, "params error: a market order has no price to amend")
            self._grid(price, instrument.tick, "price", spot)
        if trigger is not None:
            if order.status != "Untriggered":
                raise VenueError(10001, "params error: triggerPrice can only be amended before the trigger")
            self._grid(trigger, instrument.tick, "triggerPrice", spot)
        new_qty, new_price = qty or order.qty, price or order.price
        if order.locked_coin:
            need = (
                (new_qty - order.cum_qty) * (new_price or Decimal(0))
                if order.side == "Buy"
                else new_qty - order.cum_qty
            )
            if account.available(order.locked_coin) + order.locked < need:
                raise VenueError(170131, "Insufficient balance.")
            order.locked = need
        order.qty, order.price = new_qty, new_price
        if trigger is not None:
            order.trigger_price = trigger


def _cost(qty: Decimal, asks: Levels) -> Decimal:
    """What buying ``qty`` at the book's asks costs (of what the book holds)."""
    cost, left = Decimal(0), qty
    for price, size in asks:
        take = min(left, size)
        cost += take * price
        left -= take
        if left <= 0:
            break
    return cost


def _base_for_quote(amount: Decimal, asks: Levels, step: Decimal) -> Decimal:
    """The base quantity (down to ``step``) that ``amount`` of quote buys at the asks."""
    base, left = Decimal(0), amount
    for price, size in asks:
        affordable = min(size, left / price)
        base += affordable
        left -= affordable * price
        if left <= 0:
            break
    return (base / step).to_integral_value(rounding=ROUND_DOWN) * step
