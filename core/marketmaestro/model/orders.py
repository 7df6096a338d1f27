"""Orders and fills. Money is ``Decimal``; every quantity and price is on the instrument's grid."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from decimal import Decimal

from marketmaestro.model.time import now_ms


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: the direction a fill moves a position."""
        return 1 if self is Side.BUY else -1


class OrderType(enum.StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"
    TAKE_PROFIT = "take_profit"
    """A market order triggered when the price reaches ``stop_price`` in the position's favour."""
    TAKE_PROFIT_LIMIT = "take_profit_limit"
    """A limit order at ``price`` placed when the price reaches ``stop_price`` in the position's favour."""


class TimeInForce(enum.StrEnum):
    """How long a limit order rests: until cancelled, immediate-or-cancel, or fill-or-kill."""

    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(enum.StrEnum):
    """The lifecycle of an order. ``created`` is written to the database before anything is sent.

    The allowed changes are :data:`marketmaestro.orders.lifecycle.TRANSITIONS`. Two statuses exist for
    orders MarketMaestro holds itself: ``pending`` (a bracket's stop loss or take profit waiting for its
    entry to fill) and ``triggered`` (an emulated order whose trigger price was reached, its real order
    being sent). An emulated order waiting for its trigger is ``accepted``: accepted locally.
    """

    CREATED = "created"
    PENDING = "pending"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    TRIGGERED = "triggered"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED})


@dataclass(frozen=True, slots=True)
class Order:
    """An order as MarketMaestro knows it. ``client_order_id`` is ours and the idempotency key;
    ``venue_order_id`` is the exchange's, known once the exchange accepted the order."""

    client_order_id: str
    exchange: str
    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    strategy: str = ""
    reason: str = ""
    status: OrderStatus = OrderStatus.CREATED
    stop_price: Decimal | None = None
    """The trigger price of a stop order."""
    trail_percent: Decimal | None = None
    """How far (percent) a trailing stop follows the best price."""
    trail_amount: Decimal | None = None
    """How far (in quote currency) a trailing stop follows the best price; instead of ``trail_percent``."""
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    """Rejected instead of taking liquidity (limit orders)."""
    reduce_only: bool = False
    """May only reduce a position (derivatives)."""
    venue_order_id: str | None = None
    filled_quantity: Decimal = Decimal(0)
    average_price: Decimal | None = None
    error: str | None = None
    emulated: bool = False
    """Held and triggered by MarketMaestro from market data rather than resting on the exchange."""
    watermark: Decimal | None = None
    """An emulated trailing stop's best price so far: the highest for a sell, the lowest for a buy."""
    parent_order_id: str | None = None
    """A bracket's stop loss or take profit: the entry order that activates it when it fills."""
    oco_group: str | None = None
    """Orders sharing a group cancel each other: once one fills (even partly), the others are cancelled."""
    replaces: str | None = None
    """The order this one replaced (an amendment by cancel and replace)."""
    created_at: int = field(default_factory=now_ms)
    updated_at: int = field(default_factory=now_ms)

    def with_status(self, status: OrderStatus, **changes: object) -> Order:
        """A copy in ``status`` (and any other ``changes``), stamped with the time of the change."""
        return replace(self, status=status, updated_at=now_ms(), **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of (part of) an order. ``fee`` is in ``fee_currency``."""

    fill_id: str
    client_order_id: str
    exchange: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    timestamp: int
    strategy: str = ""
    received_at: int = field(default_factory=now_ms)
