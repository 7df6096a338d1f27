"""The paper venue's own records of its orders and fills, as stored in the ``settings`` table.

They are the venue's view, kept apart from the order manager's ``orders`` and ``fills`` tables exactly as a
real exchange keeps its books apart from ours: reconciliation compares the two, so they must not be one
table (and the order manager stores a fill only once by its id, so a venue writing there first would make
it skip the fill).

Each order is one setting of component ``paper_exchange:<name>:orders``, keyed by its ``client_order_id``:
``{"order": {...}, "fills": [{...}, ...]}`` with amounts as exact decimal strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from marketmaestro.model import Fill, Order, OrderStatus, OrderType, Side, TimeInForce

__all__ = ["VenueRecord", "fill_from_json", "fill_to_json", "order_from_json", "order_to_json"]

_ORDER_DECIMALS = ("quantity", "price", "stop_price", "trail_percent", "filled_quantity", "average_price")
_ORDER_ENUMS: dict[str, type[Any]] = {
    "side": Side,
    "type": OrderType,
    "status": OrderStatus,
    "time_in_force": TimeInForce,
}
_FILL_DECIMALS = ("quantity", "price", "fee")


def _to_json(value: Any, decimals: tuple[str, ...], enums: dict[str, type[Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for each in fields(value):
        item = getattr(value, each.name)
        if each.name in decimals and item is not None:
            item = str(item)
        elif each.name in enums:
            item = item.value
        data[each.name] = item
    return data


def _from_json(
    data: dict[str, Any], decimals: tuple[str, ...], enums: dict[str, type[Any]]
) -> dict[str, Any]:
    values = dict(data)
    for name in decimals:
        if values.get(name) is not None:
            values[name] = Decimal(values[name])
    for name, kind in enums.items():
        if name in values:
            values[name] = kind(values[name])
    return values


def order_to_json(order: Order) -> dict[str, Any]:
    """``order`` as JSON-able data (amounts as exact decimal strings)."""
    return _to_json(order, _ORDER_DECIMALS, _ORDER_ENUMS)


def order_from_json(data: dict[str, Any]) -> Order:
    """The :class:`Order` that :func:`order_to_json` made ``data`` from."""
    return Order(**_from_json(data, _ORDER_DECIMALS, _ORDER_ENUMS))


def fill_to_json(fill: Fill) -> dict[str, Any]:
    """``fill`` as JSON-able data (amounts as exact decimal strings)."""
    return _to_json(fill, _FILL_DECIMALS, {"side": Side})


def fill_from_json(data: dict[str, Any]) -> Fill:
    """The :class:`Fill` that :func:`fill_to_json` made ``data`` from."""
    return Fill(**_from_json(data, _FILL_DECIMALS, {"side": Side}))


@dataclass(frozen=True)
class VenueRecord:
    """One order as the paper venue knows it, with its fills."""

    order: Order
    fills: tuple[Fill, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {"order": order_to_json(self.order), "fills": [fill_to_json(f) for f in self.fills]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VenueRecord:
        return cls(order_from_json(data["order"]), tuple(fill_from_json(f) for f in data["fills"]))
