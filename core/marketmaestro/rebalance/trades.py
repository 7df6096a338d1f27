"""What ``on_rebalance()`` returns: the trades to make, or a clear error.

``on_rebalance()`` returns ``None`` (nothing to do) or a list of trades, each a dict::

    {"symbol": "BTCUSDT", "side": "buy", "quantity": 0.0125, "reason": "BTC 21% -> 33%"}

``symbol`` must be an instrument of the exchange, ``side`` is ``buy`` or ``sell``, ``quantity`` a positive
number in the base asset (rounded down to the instrument's step before it is placed), ``reason`` optional.
Every trade is a market order; it goes through the risk manager and the order manager like any other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from marketmaestro.model import Side
from marketmaestro.strategy.signals import checked_dict

FIELDS = ("symbol", "side", "quantity", "reason")


class TradeError(ValueError):
    """A malformed trade; none of the run's trades is placed."""


@dataclass(frozen=True)
class RebalanceTrade:
    symbol: str
    side: Side
    quantity: Decimal
    reason: str = ""


def parse_trades(value: Any, *, where: str) -> list[RebalanceTrade]:
    """The trades ``on_rebalance()`` returned; ``where`` (the file) starts each error message."""
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    return [_parse_one(item, f"{where}, trade {index}") for index, item in enumerate(items)]


def _parse_one(item: Any, where: str) -> RebalanceTrade:
    item = checked_dict(item, FIELDS, where=where, noun="trade must be a dict", error=TradeError)
    symbol = item.get("symbol")
    if not isinstance(symbol, str) or not symbol.isalnum():
        raise TradeError(f"{where}: field 'symbol' got {symbol!r}; expected a symbol such as BTCUSDT")
    side = item.get("side")
    if side not in ("buy", "sell"):
        raise TradeError(f"{where}: field 'side' got {side!r}; expected buy or sell")
    quantity = item.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int | float) or not math.isfinite(quantity):
        raise TradeError(f"{where}: field 'quantity' got {quantity!r}; expected a positive number")
    if quantity <= 0:
        raise TradeError(f"{where}: field 'quantity' got {quantity!r}; expected a positive number")
    reason = item.get("reason", "")
    if not isinstance(reason, str):
        raise TradeError(f"{where}: field 'reason' got {reason!r}; expected a string")
    return RebalanceTrade(symbol.upper(), Side(side), Decimal(repr(quantity)), reason)
