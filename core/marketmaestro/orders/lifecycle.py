"""The order lifecycle: which status may follow which. One table; everything else asks it.

::

    created ──> submitted ──> accepted ──> partially_filled ──> filled
       │            │            │  ▲              │
       │            │            ▼  │              └──> cancelled / expired
       │            │        triggered (emulated: trigger reached, real order being sent)
       │            └──> rejected / cancelled / expired / partially_filled / filled
       ├──> accepted (emulated: held locally until its trigger)
       ├──> pending (a bracket's exit, until its entry fills) ──> accepted / submitted / cancelled
       └──> rejected / cancelled

A final status (filled, cancelled, rejected, expired) has no way out. The order manager refuses any
other change with :class:`InvalidTransition`, records an ``order.invalid_transition`` event and leaves
the stored order as it was.
"""

from __future__ import annotations

from marketmaestro.model import Order, OrderStatus
from marketmaestro.supervision import BadRequest

S = OrderStatus

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.CREATED: frozenset({S.SUBMITTED, S.ACCEPTED, S.PENDING, S.REJECTED, S.CANCELLED, S.EXPIRED}),
    S.PENDING: frozenset({S.SUBMITTED, S.ACCEPTED, S.REJECTED, S.CANCELLED}),
    S.SUBMITTED: frozenset({S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.REJECTED, S.CANCELLED, S.EXPIRED}),
    S.ACCEPTED: frozenset(
        {S.TRIGGERED, S.SUBMITTED, S.PARTIALLY_FILLED, S.FILLED, S.REJECTED, S.CANCELLED, S.EXPIRED}
    ),
    S.TRIGGERED: frozenset({S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.REJECTED, S.CANCELLED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}
"""For each status, the statuses that may follow it. ``partially_filled`` may follow itself (another
fill); no other status may."""

OPEN_STATUSES = (
    S.PENDING,
    S.SUBMITTED,
    S.ACCEPTED,
    S.TRIGGERED,
    S.PARTIALLY_FILLED,
)
"""Statuses of orders that may still trade or be cancelled (``created`` is not open: it was not sent)."""


class InvalidTransition(BadRequest):
    """A status change the lifecycle does not allow; nothing was stored."""

    def __init__(self, order: Order, status: OrderStatus) -> None:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[order.status])) or "none (final)"
        super().__init__(
            f"order {order.client_order_id} cannot go from {order.status.value} to {status.value} "
            f"(allowed: {allowed})"
        )
        self.order = order
        self.status = status


def can_transition(current: OrderStatus, status: OrderStatus) -> bool:
    return status in TRANSITIONS[current]


def check_transition(order: Order, status: OrderStatus) -> None:
    """Raise :class:`InvalidTransition` unless ``order`` may go to ``status``."""
    if not can_transition(order.status, status):
        raise InvalidTransition(order, status)
