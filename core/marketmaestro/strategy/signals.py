"""Turning what a callback returned into trading signals, or a clear error.

A callback returns ``None`` (hold), a signal dict, or a list of them::

    {"action": "buy", "quantity": 0.01, "type": "market", "reason": "fast SMA crossed above slow"}
    {"action": "sell", "quantity": 0.01, "type": "limit", "price": 61000}
    {"action": "sell", "quantity": 0.01, "type": "trailing_stop", "trail_percent": 1.5}
    {"action": "close"}                      # the whole position (or "quantity" of it)
    {"action": "cancel"}                     # every open order of this strategy on this symbol

    {"action": "buy", "quantity": 0.01, "type": "limit", "price": 60000, "time_in_force": "ioc"}
    {"action": "buy", "quantity": 0.01, "type": "limit", "price": 60000, "post_only": True}
    {"action": "sell", "quantity": 0.01, "type": "take_profit", "stop_price": 65000}
    {"action": "sell", "quantity": 0.01, "type": "trailing_stop", "trail_amount": 500}
    {"action": "buy", "quantity": 0.01, "stop_loss": 58000, "take_profit": 65000}   # a bracket
    {"action": "sell", "quantity": 0.01, "type": "oco", "stop_loss": 58000, "take_profit": 65000}

Which fields an order type needs:

=================  ===========================================  ========================================
type               required                                     optional
=================  ===========================================  ========================================
market             quantity                                     stop_loss, take_profit (a bracket)
limit              quantity, price                              time_in_force, post_only, stop_loss,
                                                                take_profit
stop_market        quantity, stop_price
stop_limit         quantity, price, stop_price                  time_in_force
take_profit        quantity, stop_price
take_profit_limit  quantity, price, stop_price                  time_in_force
trailing_stop      quantity, trail_percent (0 < p < 100) or
                   trail_amount (one of them)
oco                quantity, stop_loss, take_profit
=================  ===========================================  ========================================

``reduce_only`` (a bool) goes with any type; any other field a type does not list is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ACTIONS = ("buy", "sell", "hold", "close", "cancel")
ORDER_TYPES = (
    "market",
    "limit",
    "stop_market",
    "stop_limit",
    "take_profit",
    "take_profit_limit",
    "trailing_stop",
    "oco",
)
PRICE_FIELDS = ("price", "stop_price", "trail_percent", "trail_amount", "stop_loss", "take_profit")
FLAG_FIELDS = ("post_only", "reduce_only")
FIELDS = ("action", "quantity", "type", "reason", "time_in_force", *PRICE_FIELDS, *FLAG_FIELDS)
TIMES_IN_FORCE = ("gtc", "ioc", "fok")
REQUIRED: dict[str, tuple[str, ...]] = {
    "market": (),
    "limit": ("price",),
    "stop_market": ("stop_price",),
    "stop_limit": ("price", "stop_price"),
    "take_profit": ("stop_price",),
    "take_profit_limit": ("price", "stop_price"),
    "trailing_stop": (),
    "oco": ("stop_loss", "take_profit"),
}
OPTIONAL: dict[str, tuple[str, ...]] = {
    "market": ("stop_loss", "take_profit"),
    "limit": ("stop_loss", "take_profit", "time_in_force", "post_only"),
    "stop_limit": ("time_in_force",),
    "take_profit_limit": ("time_in_force",),
    "trailing_stop": ("trail_percent", "trail_amount"),
}


class SignalError(ValueError):
    """A malformed signal. It never reaches the order manager."""


@dataclass(frozen=True)
class Signal:
    action: str
    quantity: Decimal | None = None
    """None for ``cancel``, and for ``close`` of the whole position."""
    type: str = "market"
    reason: str = ""
    price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_percent: Decimal | None = None
    trail_amount: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    time_in_force: str = "gtc"
    post_only: bool = False
    reduce_only: bool = False


def parse_signals(value: Any, *, where: str) -> list[Signal]:
    """``where`` names the strategy file and callback, for the error message."""
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    signals = []
    for index, item in enumerate(items):
        label = where if len(items) == 1 else f"{where}, signal {index}"
        signal = _parse_one(item, label)
        if signal is not None:
            signals.append(signal)
    return signals


def _number(item: dict[str, Any], field: str, where: str) -> Decimal | None:
    raw = item.get(field)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw) or raw <= 0:
        raise SignalError(f"{where}: field {field!r} got {raw!r}; expected a positive number")
    return Decimal(repr(raw))


def checked_dict(
    item: Any, fields: tuple[str, ...], *, where: str, noun: str, error: type[ValueError]
) -> dict[str, Any]:
    """``item`` when it is a dict of known ``fields`` (what a script returned), else ``error`` naming the
    problem; shared by strategies' signals and rebalance scripts' trades."""
    if not isinstance(item, dict):
        raise error(f"{where}: a {noun}, got {type(item).__name__} {item!r}")
    unknown = sorted(set(item) - set(fields))
    if unknown:
        raise error(f"{where}: unknown field(s) {', '.join(unknown)}; expected {', '.join(fields)}")
    return item


def _parse_one(item: Any, where: str) -> Signal | None:
    if item is None:
        return None
    item = checked_dict(item, FIELDS, where=where, noun="signal must be a dict or None", error=SignalError)
    action = item.get("action")
    if action not in ACTIONS:
        raise SignalError(f"{where}: field 'action' got {action!r}; expected one of {', '.join(ACTIONS)}")
    reason = item.get("reason", "")
    if not isinstance(reason, str):
        raise SignalError(f"{where}: field 'reason' got {reason!r}; expected a string")
    if action == "hold":
        return None
    if action == "cancel":
        extra = sorted(set(item) - {"action", "reason"})
        if extra:
            raise SignalError(f"{where}: field(s) {', '.join(extra)} do not apply to 'cancel'")
        return Signal("cancel", reason=reason)
    order_type = item.get("type", "market")
    if order_type not in ORDER_TYPES:
        raise SignalError(
            f"{where}: field 'type' got {order_type!r}; expected one of {', '.join(ORDER_TYPES)}"
        )
    quantity = _number(item, "quantity", where)
    if quantity is None and action != "close":
        raise SignalError(f"{where}: field 'quantity' got nothing; a {action} needs a positive number")
    allowed = {*REQUIRED[order_type], *OPTIONAL.get(order_type, ()), "reduce_only"}
    for field in (*PRICE_FIELDS, *FLAG_FIELDS, "time_in_force"):
        if field in item and item[field] is not None and field not in allowed:
            raise SignalError(
                f"{where}: field {field!r} got {item[field]!r}; a {order_type} order does not take it"
            )
    values = {field: _number(item, field, where) for field in PRICE_FIELDS}
    for field in REQUIRED[order_type]:
        if values[field] is None:
            raise SignalError(f"{where}: field {field!r} got nothing; a {order_type} order needs it")
    trail = values["trail_percent"]
    if order_type == "trailing_stop" and (trail is None) == (values["trail_amount"] is None):
        raise SignalError(
            f"{where}: field 'trail_percent' or 'trail_amount': a trailing_stop order needs exactly one"
        )
    if trail is not None and trail >= 100:
        raise SignalError(
            f"{where}: field 'trail_percent' got {item['trail_percent']!r}; expected 0 < p < 100"
        )
    flags = {field: _flag(item, field, where) for field in FLAG_FIELDS}
    time_in_force = item.get("time_in_force", "gtc")
    if time_in_force not in TIMES_IN_FORCE:
        expected = ", ".join(TIMES_IN_FORCE)
        raise SignalError(f"{where}: field 'time_in_force' got {time_in_force!r}; expected one of {expected}")
    if flags["post_only"] and time_in_force != "gtc":
        raise SignalError(f"{where}: field 'post_only' cannot go with time_in_force {time_in_force!r}")
    if action == "close" and (order_type == "oco" or values["stop_loss"] or values["take_profit"]):
        raise SignalError(f"{where}: field 'type' got {order_type!r}; a close has no stop_loss/take_profit")
    _check_exits(action, order_type, values["stop_loss"], values["take_profit"], where)
    return Signal(
        action,
        quantity,
        order_type,
        reason,
        values["price"],
        values["stop_price"],
        trail,
        values["trail_amount"],
        values["stop_loss"],
        values["take_profit"],
        time_in_force,
        flags["post_only"],
        flags["reduce_only"],
    )


def _flag(item: dict[str, Any], field: str, where: str) -> bool:
    raw = item.get(field, False)
    if not isinstance(raw, bool):
        raise SignalError(f"{where}: field {field!r} got {raw!r}; expected True or False")
    return raw


def _check_exits(
    action: str, order_type: str, stop_loss: Decimal | None, take_profit: Decimal | None, where: str
) -> None:
    """A long (a buy's bracket, a sell OCO) takes profit above its stop loss; a short below it."""
    if stop_loss is None or take_profit is None:
        return
    long = (action == "buy") != (order_type == "oco")
    if long and take_profit <= stop_loss:
        raise SignalError(
            f"{where}: field 'take_profit' got {take_profit}; it must be above stop_loss {stop_loss} "
            "when the position is long"
        )
    if not long and take_profit >= stop_loss:
        raise SignalError(
            f"{where}: field 'take_profit' got {take_profit}; it must be below stop_loss {stop_loss} "
            "when the position is short"
        )
