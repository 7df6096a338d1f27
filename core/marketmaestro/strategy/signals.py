"""Turning what a callback returned into trading signals, or a clear error.

A callback returns ``None`` (hold), a signal dict, or a list of them::

    {"action": "buy", "quantity": 0.01, "type": "market", "reason": "fast SMA crossed above slow"}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ACTIONS = ("buy", "sell", "hold", "close")
ORDER_TYPES = ("market",)
"""Order types the runner sends today; limit, stop and trailing orders come with the trading core."""
FIELDS = {"action", "quantity", "type", "price", "reason"}


class SignalError(ValueError):
    """A malformed signal. It never reaches the order manager."""


@dataclass(frozen=True)
class Signal:
    action: str
    quantity: Decimal
    type: str = "market"
    reason: str = ""


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


def _parse_one(item: Any, where: str) -> Signal | None:
    if item is None:
        return None
    if not isinstance(item, dict):
        raise SignalError(f"{where}: a signal must be a dict or None, got {type(item).__name__} {item!r}")
    unknown = sorted(set(item) - FIELDS)
    if unknown:
        raise SignalError(
            f"{where}: unknown field(s) {', '.join(unknown)}; expected {', '.join(sorted(FIELDS))}"
        )
    action = item.get("action")
    if action not in ACTIONS:
        raise SignalError(f"{where}: field 'action' got {action!r}; expected one of {', '.join(ACTIONS)}")
    if action == "hold":
        return None
    order_type = item.get("type", "market")
    if order_type not in ORDER_TYPES:
        raise SignalError(
            f"{where}: field 'type' got {order_type!r}; the runner sends {', '.join(ORDER_TYPES)} orders"
        )
    reason = item.get("reason", "")
    if not isinstance(reason, str):
        raise SignalError(f"{where}: field 'reason' got {reason!r}; expected a string")
    raw = item.get("quantity")
    if action == "close" and raw is None:
        return Signal(action, Decimal(0), order_type, reason)
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw) or raw <= 0:
        raise SignalError(f"{where}: field 'quantity' got {raw!r}; expected a positive number")
    return Signal(action, Decimal(repr(raw)), order_type, reason)
