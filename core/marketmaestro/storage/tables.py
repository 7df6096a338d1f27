"""The database schema as SQLModel tables, and the conversions to and from the domain model.

Rows are mutable ORM objects and never leave the storage package: the rest of MarketMaestro sees the
frozen dataclasses of :mod:`marketmaestro.model`. Conventions:

- money columns are :class:`~marketmaestro.storage.types.DecimalText` (exact ``Decimal`` as text);
- timestamps are UTC epoch milliseconds in ``BIGINT`` columns;
- enums (side, type, status) are stored as their string values, without a ``CHECK`` constraint, so a
  new status needs no table rebuild on SQLite;
- JSON values (settings, strategy state, event data) are ``TEXT``; :mod:`marketmaestro.storage.store`
  encodes and decodes them;
- every constraint and index has an explicit name, because SQLite migrations rebuild tables
  (alembic's batch mode) and can only recreate what they can name.

The hand-written migrations in ``migrations/versions`` must create exactly this schema; a test
compares the two.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ForeignKeyConstraint, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from marketmaestro.model import Balance, Fill, Order, OrderStatus, OrderType, Position, Side, TimeInForce
from marketmaestro.storage.types import DecimalText


class SettingRow(SQLModel, table=True):
    """One setting of one component (``value`` is JSON)."""

    __tablename__ = "settings"
    __table_args__ = (UniqueConstraint("component", "key", name="uq_settings_component_key"),)

    id: int | None = Field(default=None, primary_key=True)
    component: str
    key: str
    value: str = Field(sa_type=Text)
    created_at: int = Field(sa_type=BigInteger)
    updated_at: int = Field(sa_type=BigInteger)


class OrderRow(SQLModel, table=True):
    """The latest known state of an order, keyed by our ``client_order_id``."""

    __tablename__ = "orders"

    client_order_id: str = Field(primary_key=True)
    venue_order_id: str | None = Field(default=None, index=True)
    exchange: str
    symbol: str
    strategy: str
    side: str
    type: str
    quantity: Decimal = Field(sa_type=DecimalText)
    price: Decimal | None = Field(default=None, sa_type=DecimalText)
    stop_price: Decimal | None = Field(default=None, sa_type=DecimalText)
    trail_percent: Decimal | None = Field(default=None, sa_type=DecimalText)
    trail_amount: Decimal | None = Field(default=None, sa_type=DecimalText)
    time_in_force: str = Field(default="gtc")
    post_only: bool = Field(default=False)
    reduce_only: bool = Field(default=False)
    status: str = Field(index=True)
    filled_quantity: Decimal = Field(sa_type=DecimalText)
    average_price: Decimal | None = Field(default=None, sa_type=DecimalText)
    reason: str
    error: str | None = None
    emulated: bool = Field(default=False)
    watermark: Decimal | None = Field(default=None, sa_type=DecimalText)
    parent_order_id: str | None = Field(default=None, index=True)
    oco_group: str | None = Field(default=None, index=True)
    replaces: str | None = None
    # Indexed because order lists are read newest first.
    created_at: int = Field(sa_type=BigInteger, index=True)
    updated_at: int = Field(sa_type=BigInteger)

    @staticmethod
    def values_of(order: Order) -> dict[str, Any]:
        """Column values for ``order``; ``ValueError`` naming the field if an amount is not a Decimal."""
        values = {
            "client_order_id": order.client_order_id,
            "venue_order_id": order.venue_order_id,
            "exchange": order.exchange,
            "symbol": order.symbol,
            "strategy": order.strategy,
            "side": order.side.value,
            "type": order.type.value,
            "quantity": order.quantity,
            "price": order.price,
            "stop_price": order.stop_price,
            "trail_percent": order.trail_percent,
            "trail_amount": order.trail_amount,
            "time_in_force": order.time_in_force.value,
            "post_only": order.post_only,
            "reduce_only": order.reduce_only,
            "status": order.status.value,
            "filled_quantity": order.filled_quantity,
            "average_price": order.average_price,
            "reason": order.reason,
            "error": order.error,
            "emulated": order.emulated,
            "watermark": order.watermark,
            "parent_order_id": order.parent_order_id,
            "oco_group": order.oco_group,
            "replaces": order.replaces,
            "created_at": order.created_at,
            "updated_at": order.updated_at,
        }
        money = (
            "quantity",
            "price",
            "stop_price",
            "trail_percent",
            "trail_amount",
            "filled_quantity",
            "average_price",
            "watermark",
        )
        return _checked(f"order {order.client_order_id!r}", values, money)

    def to_order(self) -> Order:
        """This row as the domain model's :class:`~marketmaestro.model.Order`."""
        return Order(
            client_order_id=self.client_order_id,
            venue_order_id=self.venue_order_id,
            exchange=self.exchange,
            symbol=self.symbol,
            strategy=self.strategy,
            side=Side(self.side),
            type=OrderType(self.type),
            quantity=self.quantity,
            price=self.price,
            stop_price=self.stop_price,
            trail_percent=self.trail_percent,
            trail_amount=self.trail_amount,
            time_in_force=TimeInForce(self.time_in_force),
            post_only=self.post_only,
            reduce_only=self.reduce_only,
            status=OrderStatus(self.status),
            filled_quantity=self.filled_quantity,
            average_price=self.average_price,
            reason=self.reason,
            error=self.error,
            emulated=self.emulated,
            watermark=self.watermark,
            parent_order_id=self.parent_order_id,
            oco_group=self.oco_group,
            replaces=self.replaces,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )


class FillRow(SQLModel, table=True):
    """One execution. ``timestamp`` is the exchange's event time, ``received_at`` when we heard of it."""

    __tablename__ = "fills"
    __table_args__ = (
        ForeignKeyConstraint(
            ["client_order_id"], ["orders.client_order_id"], name="fk_fills_client_order_id_orders"
        ),
    )

    fill_id: str = Field(primary_key=True)
    client_order_id: str = Field(index=True)
    exchange: str
    symbol: str
    strategy: str
    side: str
    quantity: Decimal = Field(sa_type=DecimalText)
    price: Decimal = Field(sa_type=DecimalText)
    fee: Decimal = Field(sa_type=DecimalText)
    fee_currency: str
    # Indexed because fill lists are read newest first.
    timestamp: int = Field(sa_type=BigInteger, index=True)
    received_at: int = Field(sa_type=BigInteger)

    @staticmethod
    def values_of(fill: Fill) -> dict[str, Any]:
        """Column values for ``fill``; ``ValueError`` naming the field if an amount is not a Decimal."""
        values = {
            "fill_id": fill.fill_id,
            "client_order_id": fill.client_order_id,
            "exchange": fill.exchange,
            "symbol": fill.symbol,
            "strategy": fill.strategy,
            "side": fill.side.value,
            "quantity": fill.quantity,
            "price": fill.price,
            "fee": fill.fee,
            "fee_currency": fill.fee_currency,
            "timestamp": fill.timestamp,
            "received_at": fill.received_at,
        }
        return _checked(f"fill {fill.fill_id!r}", values, ("quantity", "price", "fee"))

    def to_fill(self) -> Fill:
        """This row as the domain model's :class:`~marketmaestro.model.Fill`."""
        return Fill(
            fill_id=self.fill_id,
            client_order_id=self.client_order_id,
            exchange=self.exchange,
            symbol=self.symbol,
            strategy=self.strategy,
            side=Side(self.side),
            quantity=self.quantity,
            price=self.price,
            fee=self.fee,
            fee_currency=self.fee_currency,
            timestamp=self.timestamp,
            received_at=self.received_at,
        )


class PositionRow(SQLModel, table=True):
    """Net holding of a symbol per strategy; ``strategy`` is ``""`` for the whole account."""

    __tablename__ = "positions"
    __table_args__ = (
        UniqueConstraint("exchange", "symbol", "strategy", name="uq_positions_exchange_symbol_strategy"),
    )

    id: int | None = Field(default=None, primary_key=True)
    exchange: str
    symbol: str
    strategy: str
    quantity: Decimal = Field(sa_type=DecimalText)
    average_price: Decimal = Field(sa_type=DecimalText)
    realized_pnl: Decimal = Field(sa_type=DecimalText)
    fees: Decimal = Field(default=Decimal(0), sa_type=DecimalText)
    updated_at: int = Field(sa_type=BigInteger)

    @staticmethod
    def values_of(position: Position, updated_at: int) -> dict[str, Any]:
        """Column values for ``position``, stamped ``updated_at``; ``ValueError`` for a bad amount."""
        values = {
            "exchange": position.exchange,
            "symbol": position.symbol,
            "strategy": position.strategy,
            "quantity": position.quantity,
            "average_price": position.average_price,
            "realized_pnl": position.realized_pnl,
            "fees": position.fees,
            "updated_at": updated_at,
        }
        owner = f"position {position.exchange}/{position.symbol}/{position.strategy or '(account)'}"
        return _checked(owner, values, ("quantity", "average_price", "realized_pnl", "fees"))

    def to_position(self) -> Position:
        """This row as the domain model's :class:`~marketmaestro.model.Position`."""
        return Position(
            exchange=self.exchange,
            symbol=self.symbol,
            strategy=self.strategy,
            quantity=self.quantity,
            average_price=self.average_price,
            realized_pnl=self.realized_pnl,
            fees=self.fees,
        )


class BalanceRow(SQLModel, table=True):
    """The balance of one asset on one exchange."""

    __tablename__ = "balances"
    __table_args__ = (UniqueConstraint("exchange", "asset", name="uq_balances_exchange_asset"),)

    id: int | None = Field(default=None, primary_key=True)
    exchange: str
    asset: str
    free: Decimal = Field(sa_type=DecimalText)
    locked: Decimal = Field(sa_type=DecimalText)
    updated_at: int = Field(sa_type=BigInteger)

    @staticmethod
    def values_of(exchange: str, balance: Balance, updated_at: int) -> dict[str, Any]:
        """Column values for ``balance`` on ``exchange``, stamped ``updated_at``; ``ValueError`` for a
        bad amount."""
        values = {
            "exchange": exchange,
            "asset": balance.asset,
            "free": balance.free,
            "locked": balance.locked,
            "updated_at": updated_at,
        }
        return _checked(f"balance {exchange}/{balance.asset}", values, ("free", "locked"))

    def to_balance(self) -> Balance:
        """This row as the domain model's :class:`~marketmaestro.model.Balance`."""
        return Balance(asset=self.asset, free=self.free, locked=self.locked)


class StrategyStateRow(SQLModel, table=True):
    """One value a strategy keeps between runs (``value`` is JSON)."""

    __tablename__ = "strategy_state"
    __table_args__ = (
        UniqueConstraint(
            "exchange", "symbol", "strategy", "key", name="uq_strategy_state_exchange_symbol_strategy_key"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    exchange: str
    symbol: str
    strategy: str
    key: str
    value: str = Field(sa_type=Text)
    updated_at: int = Field(sa_type=BigInteger)


class EventRow(SQLModel, table=True):
    """The audit trail: something that happened (``kind`` like ``"order.filled"``), ``data`` JSON."""

    __tablename__ = "events"
    # AUTOINCREMENT: ids never get reused, even after old events are pruned, so id order is time order.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    timestamp: int = Field(sa_type=BigInteger, index=True)
    kind: str = Field(index=True)
    exchange: str | None = None
    symbol: str | None = None
    strategy: str | None = None
    component: str | None = None
    data: str = Field(sa_type=Text)


class EquitySnapshotRow(SQLModel, table=True):
    """The value of an account (``strategy=""``) or of one strategy at one time, in the portfolio's
    valuation currency. For a strategy ``equity`` is its net P&L (see docs/portfolio.md)."""

    __tablename__ = "equity_snapshots"
    __table_args__ = (
        Index("ix_equity_snapshots_exchange_strategy_timestamp", "exchange", "strategy", "timestamp"),
    )

    id: int | None = Field(default=None, primary_key=True)
    exchange: str
    strategy: str
    timestamp: int = Field(sa_type=BigInteger)
    equity: Decimal = Field(sa_type=DecimalText)
    realized_pnl: Decimal = Field(sa_type=DecimalText)
    unrealized_pnl: Decimal = Field(sa_type=DecimalText)
    fees: Decimal = Field(sa_type=DecimalText)
    exposure: Decimal = Field(sa_type=DecimalText)


class RiskHaltRow(SQLModel, table=True):
    """A breached hard limit that blocks risk-increasing orders on an exchange until ``until`` (epoch ms,
    the next UTC midnight) or an operator's reset."""

    __tablename__ = "risk_halts"
    __table_args__ = (UniqueConstraint("exchange", name="uq_risk_halts_exchange"),)

    id: int | None = Field(default=None, primary_key=True)
    exchange: str
    rule: str
    reason: str
    since: int = Field(sa_type=BigInteger)
    until: int = Field(sa_type=BigInteger)


def _checked(owner: str, values: dict[str, Any], money: tuple[str, ...]) -> dict[str, Any]:
    """``values`` after checking that each ``money`` field is a finite ``Decimal`` (or ``None``), so bad
    input is reported with its field here rather than as a SQL error from :class:`DecimalText`."""
    for name in money:
        value = values[name]
        if value is None:
            continue
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError(f"{owner} {name} is {value!r}; expected a finite Decimal")
    return values
