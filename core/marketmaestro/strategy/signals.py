"""Turning what a callback returned into trading signals, or a clear error.

A callback returns ``None`` (hold), a signal dict, or a list of them::

    {"action": "buy", "quantity": 0.01, "type": "market", "reason": "fast SMA crossed above slow"}
    {"action": "sell", "quantity": 0.01, "type": "limit", "price": 61000}
    {"action": "sell", "quantity": 0.01, "type": "trailing_stop", "trail_percent": 1.5}
    {"action": "close"}                      # the whole position (or "quantity" of it)
    {"action": "cancel"}                     # every open order of this strategy on this symbol

Which fields an order type needs:

=============  =====================================  ==================================
type           required                               not allowed
=============  =====================================  ==================================
market         quantity                               price, stop_price, trail_percent
limit          quantity, price                        stop_price, trail_percent
stop_market    quantity, stop_price                   price, trail_percent
stop_limit     quantity, price, stop_price            trail_percent
trailing_stop  quantity, trail_percent (0 < p < 100)  price, stop_price
=============  =====================================  ==================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ACTIONS = ("buy", "sell", "hold", "close", "cancel")
ORDER_TYPES = ("market", "limit", "stop_market", "stop_limit", "trailing_stop")
FIELDS = ("action", "quantity", "type", "price", "stop_price", "trail_percent", "reason")
PRICE_FIELDS = ("price", "stop_price", "trail_percent")
REQUIRED: dict[str, tuple[str, ...]] = {
    "market": (),
    "limit": ("price",),
    "stop_market": ("stop_price",),
    "stop_limit": ("price", "stop_price"),
    "trailing_stop": ("trail_percent",),
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


def _parse_one(item: Any, where: str) -> Signal | None:
    if item is None:
        return None
    if not isinstance(item, dict):
        raise SignalError(f"{where}: a signal must be a dict or None, got {type(item).__name__} {item!r}")
    unknown = sorted(set(item) - set(FIELDS))
    if unknown:
        raise SignalError(f"{where}: unknown field(s) {', '.join(unknown)}; expected {', '.join(FIELDS)}")
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
    values = {field: _number(item, field, where) for field in PRICE_FIELDS}
    for field in REQUIRED[order_type]:
        if values[field] is None:
            raise SignalError(f"{where}: field {field!r} got nothing; a {order_type} order needs it")
    for field in PRICE_FIELDS:
        if field not in REQUIRED[order_type] and values[field] is not None:
            raise SignalError(
                f"{where}: field {field!r} got {item[field]!r}; a {order_type} order does not take it"
            )
    trail = values["trail_percent"]
    if trail is not None and trail >= 100:
        raise SignalError(
            f"{where}: field 'trail_percent' got {item['trail_percent']!r}; expected 0 < p < 100"
        )
    return Signal(action, quantity, order_type, reason, values["price"], values["stop_price"], trail)
