"""The persistent state of MarketMaestro in one SQLite file: orders, fills, positions, balances,
settings, strategy state and the event log.

:class:`Store` is synchronous and every method is its own transaction. Trading code runs on trio and
uses :class:`AsyncStore`, which runs the same methods in a worker thread, one at a time, so the event
loop never waits on the disk and writes never interleave.

Writes are single upsert statements, or start with one (:meth:`Store.record_fill`): a transaction
that writes first takes SQLite's write lock at once and waits for it under ``busy_timeout``, whereas
one that reads first can fail with "database is locked" when it later tries to write.

JSON values (settings, strategy state, event data) may contain ``Decimal``: it is stored as its exact
string, so it reads back as a ``str``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar, TypeVarTuple, Unpack

import trio
from sqlalchemy import func, literal_column
from sqlalchemy.dialects.sqlite import Insert, insert
from sqlmodel import Session, SQLModel, col, delete, select

from marketmaestro.model import Balance, Fill, Order, OrderStatus, Position, now_ms
from marketmaestro.storage import migrate as _migrate
from marketmaestro.storage.tables import (
    BalanceRow,
    EquitySnapshotRow,
    EventRow,
    FillRow,
    OrderRow,
    PositionRow,
    RiskHaltRow,
    SettingRow,
    StrategyStateRow,
    _checked,
)

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One entry of the event log. ``timestamp`` is epoch milliseconds; ``id`` grows with time."""

    id: int
    timestamp: int
    kind: str
    exchange: str | None = None
    symbol: str | None = None
    strategy: str | None = None
    component: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EquitySnapshot:
    """The value of an account (``strategy=""``) or one strategy at ``timestamp`` (epoch ms), in the
    portfolio's valuation currency."""

    exchange: str
    strategy: str
    timestamp: int
    equity: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    exposure: Decimal


@dataclass(frozen=True, slots=True)
class RiskHalt:
    """A breached hard risk limit: risk-increasing orders on ``exchange`` are denied until ``until``."""

    exchange: str
    rule: str
    reason: str
    since: int
    until: int


_SNAPSHOT_MONEY = ("equity", "realized_pnl", "unrealized_pnl", "fees", "exposure")


class _AlreadyRecorded(Exception):
    """Rolls back :meth:`Store.record_fill` when the fill is already stored."""


class Store:
    """Synchronous access to the database file at ``path``.

    With ``migrate`` (the default) the schema is upgraded to the newest revision first; without it
    the file must already be at that revision, otherwise a
    :class:`~marketmaestro.storage.migrate.MigrationError` says so. Safe to share between threads;
    close it when done (or use it as a context manager).
    """

    def __init__(self, path: Path, *, migrate: bool = True) -> None:
        self.path = Path(path)
        if migrate:
            _migrate.upgrade(self.path)
        else:
            _migrate.check_current(self.path)
        self._engine = _migrate.sqlite_engine(self.path)
        self._closed = False

    # -- orders and fills -------------------------------------------------------------------------

    def save_order(self, order: Order) -> None:
        """Insert ``order``, or replace the stored order with the same ``client_order_id``."""
        with self._transaction() as session:
            session.exec(_upsert(OrderRow, OrderRow.values_of(order), ["client_order_id"]))

    def get_order(self, client_order_id: str) -> Order | None:
        """The order with ``client_order_id``, or ``None``."""
        with self._transaction() as session:
            row = session.get(OrderRow, client_order_id)
            return row.to_order() if row is not None else None

    def list_orders(
        self,
        *,
        exchange: str | None = None,
        symbol: str | None = None,
        strategy: str | None = None,
        status: OrderStatus | None = None,
        limit: int = 100,
    ) -> list[Order]:
        """Up to ``limit`` orders matching every filter given, newest (by ``created_at``) first."""
        statement = _where(
            select(OrderRow),
            OrderRow,
            exchange=exchange,
            symbol=symbol,
            strategy=strategy,
            status=None if status is None else OrderStatus(status).value,
        )
        # rowid breaks ties in insertion order: an upsert keeps the row's rowid.
        statement = statement.order_by(
            col(OrderRow.created_at).desc(), literal_column("orders.rowid").desc()
        ).limit(_check_limit(limit))
        with self._transaction() as session:
            return [row.to_order() for row in session.exec(statement)]

    def list_open_orders(
        self,
        *,
        exchange: str | None = None,
        symbol: str | None = None,
        strategy: str | None = None,
        parent_order_id: str | None = None,
        oco_group: str | None = None,
    ) -> list[Order]:
        """Every order not in a final status (``created`` ones included: they may or may not have been
        sent) matching every filter given, oldest first. What the order manager loads at start-up."""
        final = [status.value for status in OrderStatus if status.is_final]
        statement = _where(
            select(OrderRow),
            OrderRow,
            exchange=exchange,
            symbol=symbol,
            strategy=strategy,
            parent_order_id=parent_order_id,
            oco_group=oco_group,
        ).where(col(OrderRow.status).not_in(final))
        statement = statement.order_by(col(OrderRow.created_at), literal_column("orders.rowid"))
        with self._transaction() as session:
            return [row.to_order() for row in session.exec(statement)]

    def record_fill(self, order: Order, fill: Fill) -> bool:
        """Store ``fill`` and ``order`` (its state after the fill) in one transaction.

        Returns ``False`` and changes nothing when a fill with this ``fill_id`` is already stored, so
        a fill the exchange reports twice is applied once.
        """
        if fill.client_order_id != order.client_order_id:
            raise ValueError(
                f"fill {fill.fill_id!r} has client_order_id {fill.client_order_id!r}, "
                f"expected the order's {order.client_order_id!r}"
            )
        try:
            with self._transaction() as session:
                # The order first: the fill's foreign key needs it, and writing first takes the lock.
                session.exec(_upsert(OrderRow, OrderRow.values_of(order), ["client_order_id"]))
                inserted = session.exec(
                    insert(FillRow)
                    .values(FillRow.values_of(fill))
                    .on_conflict_do_nothing(index_elements=["fill_id"])
                )
                if inserted.rowcount == 0:
                    raise _AlreadyRecorded
        except _AlreadyRecorded:
            return False
        return True

    def list_fills(
        self,
        *,
        exchange: str | None = None,
        symbol: str | None = None,
        client_order_id: str | None = None,
        limit: int = 100,
    ) -> list[Fill]:
        """Up to ``limit`` fills matching every filter given, newest (by event ``timestamp``) first."""
        statement = _where(
            select(FillRow), FillRow, exchange=exchange, symbol=symbol, client_order_id=client_order_id
        )
        statement = statement.order_by(
            col(FillRow.timestamp).desc(), literal_column("fills.rowid").desc()
        ).limit(_check_limit(limit))
        with self._transaction() as session:
            return [row.to_fill() for row in session.exec(statement)]

    def list_fills_after_balances(self, exchange: str) -> list[Fill]:
        """The fills of ``exchange`` received after its stored balances were last reported (so not in
        them), oldest first; every stored fill when no balances are stored."""
        with self._transaction() as session:
            reported = session.exec(
                select(func.max(BalanceRow.updated_at)).where(BalanceRow.exchange == exchange)
            ).first()
            statement = select(FillRow).where(FillRow.exchange == exchange)
            if reported is not None:
                statement = statement.where(col(FillRow.received_at) > reported)
            statement = statement.order_by(col(FillRow.received_at), literal_column("fills.rowid"))
            return [row.to_fill() for row in session.exec(statement)]

    # -- positions and balances -------------------------------------------------------------------

    def save_position(self, position: Position) -> None:
        """Insert or replace the position of (exchange, symbol, strategy)."""
        values = PositionRow.values_of(position, now_ms())
        with self._transaction() as session:
            session.exec(_upsert(PositionRow, values, ["exchange", "symbol", "strategy"]))

    def list_positions(self, *, exchange: str | None = None) -> list[Position]:
        """Every stored position (of ``exchange`` if given), by exchange, symbol and strategy."""
        statement = select(PositionRow)
        if exchange is not None:
            statement = statement.where(PositionRow.exchange == exchange)
        statement = statement.order_by(
            col(PositionRow.exchange), col(PositionRow.symbol), col(PositionRow.strategy)
        )
        with self._transaction() as session:
            return [row.to_position() for row in session.exec(statement)]

    def save_balances(self, exchange: str, balances: Iterable[Balance], *, replace: bool = False) -> None:
        """Insert or replace the balance of each asset in ``balances``. Other assets are kept, unless
        ``replace`` is true: then ``balances`` is the exchange's whole account and the others are deleted,
        in the same transaction."""
        updated_at = now_ms()
        balances = tuple(balances)
        with self._transaction() as session:
            for balance in balances:
                values = BalanceRow.values_of(exchange, balance, updated_at)
                session.exec(_upsert(BalanceRow, values, ["exchange", "asset"]))
            if replace:
                listed = [balance.asset for balance in balances]
                session.exec(
                    delete(BalanceRow).where(
                        col(BalanceRow.exchange) == exchange, col(BalanceRow.asset).not_in(listed)
                    )
                )

    def list_balances(self, exchange: str) -> list[Balance]:
        """The stored balances of ``exchange``, by asset."""
        statement = select(BalanceRow).where(BalanceRow.exchange == exchange).order_by(col(BalanceRow.asset))
        with self._transaction() as session:
            return [row.to_balance() for row in session.exec(statement)]

    # -- equity snapshots and risk halts ----------------------------------------------------------

    def add_equity_snapshots(self, snapshots: Iterable[EquitySnapshot]) -> None:
        """Append ``snapshots`` in one transaction."""
        rows = [
            _checked(f"equity snapshot {s.exchange}/{s.strategy or '(account)'}", asdict(s), _SNAPSHOT_MONEY)
            for s in snapshots
        ]
        if not rows:
            return
        with self._transaction() as session:
            session.exec(insert(EquitySnapshotRow).values(rows))

    def list_equity_snapshots(
        self, exchange: str, *, strategy: str = "", since: int | None = None, limit: int = 1000
    ) -> list[EquitySnapshot]:
        """The latest ``limit`` snapshots of ``exchange``'s account (or ``strategy``), taken at or after
        ``since`` if given, oldest first."""
        statement = select(EquitySnapshotRow).where(
            EquitySnapshotRow.exchange == exchange, EquitySnapshotRow.strategy == strategy
        )
        if since is not None:
            statement = statement.where(col(EquitySnapshotRow.timestamp) >= since)
        statement = statement.order_by(
            col(EquitySnapshotRow.timestamp).desc(), col(EquitySnapshotRow.id).desc()
        ).limit(_check_limit(limit))
        with self._transaction() as session:
            found = [
                EquitySnapshot(**{name: getattr(row, name) for name in EquitySnapshot.__slots__})
                for row in session.exec(statement)
            ]
        return found[::-1]

    def set_risk_halt(self, halt: RiskHalt) -> None:
        """Record (or replace) the halt of ``halt.exchange``."""
        with self._transaction() as session:
            session.exec(_upsert(RiskHaltRow, asdict(halt), ["exchange"]))

    def get_risk_halt(self, exchange: str) -> RiskHalt | None:
        """The recorded halt of ``exchange``, if any (it may have expired: see ``until``)."""
        with self._transaction() as session:
            row = session.exec(select(RiskHaltRow).where(RiskHaltRow.exchange == exchange)).first()
            if row is None:
                return None
            return RiskHalt(row.exchange, row.rule, row.reason, row.since, row.until)

    def clear_risk_halt(self, exchange: str) -> bool:
        """Remove the halt of ``exchange``; whether there was one."""
        with self._transaction() as session:
            result = session.exec(delete(RiskHaltRow).where(col(RiskHaltRow.exchange) == exchange))
            return bool(result.rowcount)

    # -- settings and strategy state --------------------------------------------------------------

    def set_setting(self, component: str, key: str, value: Any) -> None:
        """Store the JSON-serialisable ``value`` of ``component``'s setting ``key``."""
        self.set_settings([(component, key, value)])

    def set_settings(self, items: Iterable[tuple[str, str, Any]]) -> None:
        """Store several ``(component, key, value)`` settings in one transaction: all of them or none."""
        now = now_ms()
        rows = [
            {
                "component": component,
                "key": key,
                "value": _dump_json(value, f"setting {component!r}/{key!r}"),
                "created_at": now,
                "updated_at": now,
            }
            for component, key, value in items
        ]
        with self._transaction() as session:
            for values in rows:
                session.exec(_upsert(SettingRow, values, ["component", "key"], keep=["created_at"]))

    def get_setting(self, component: str, key: str, default: Any = None) -> Any:
        """The value of ``component``'s setting ``key``, or ``default`` when it was never set."""
        statement = select(SettingRow.value).where(SettingRow.component == component, SettingRow.key == key)
        with self._transaction() as session:
            text = session.exec(statement).first()
        return default if text is None else json.loads(text)

    def settings(self, component: str) -> dict[str, Any]:
        """Every setting of ``component``, by key."""
        statement = (
            select(SettingRow.key, SettingRow.value)
            .where(SettingRow.component == component)
            .order_by(col(SettingRow.key))
        )
        with self._transaction() as session:
            return {key: json.loads(text) for key, text in session.exec(statement)}

    def set_strategy_state(self, exchange: str, symbol: str, strategy: str, key: str, value: Any) -> None:
        """Store the JSON-serialisable ``value`` under ``key`` for a strategy on a symbol."""
        values = {
            "exchange": exchange,
            "symbol": symbol,
            "strategy": strategy,
            "key": key,
            "value": _dump_json(value, f"strategy state {strategy!r} on {exchange}/{symbol} key {key!r}"),
            "updated_at": now_ms(),
        }
        with self._transaction() as session:
            session.exec(_upsert(StrategyStateRow, values, ["exchange", "symbol", "strategy", "key"]))

    def strategy_state(self, exchange: str, symbol: str, strategy: str) -> dict[str, Any]:
        """Everything stored for a strategy on a symbol, by key."""
        statement = (
            select(StrategyStateRow.key, StrategyStateRow.value)
            .where(
                StrategyStateRow.exchange == exchange,
                StrategyStateRow.symbol == symbol,
                StrategyStateRow.strategy == strategy,
            )
            .order_by(col(StrategyStateRow.key))
        )
        with self._transaction() as session:
            return {key: json.loads(text) for key, text in session.exec(statement)}

    # -- events -----------------------------------------------------------------------------------

    def add_event(
        self,
        kind: str,
        *,
        exchange: str | None = None,
        symbol: str | None = None,
        strategy: str | None = None,
        component: str | None = None,
        data: Mapping[str, Any] | None = None,
        timestamp: int | None = None,
    ) -> None:
        """Append an event of ``kind`` (e.g. ``"order.filled"``) to the log, at ``timestamp`` or now."""
        if data is not None and not isinstance(data, Mapping):
            raise ValueError(f"event {kind!r} data is {type(data).__name__}; expected a mapping or None")
        values = {
            "timestamp": now_ms() if timestamp is None else timestamp,
            "kind": kind,
            "exchange": exchange,
            "symbol": symbol,
            "strategy": strategy,
            "component": component,
            "data": _dump_json(dict(data or {}), f"event {kind!r} data"),
        }
        with self._transaction() as session:
            session.exec(insert(EventRow).values(values))

    def list_events(self, *, kind: str | None = None, limit: int = 100) -> list[EventRecord]:
        """Up to ``limit`` events (of ``kind`` if given), newest first."""
        statement = select(EventRow)
        if kind is not None:
            statement = statement.where(EventRow.kind == kind)
        statement = statement.order_by(col(EventRow.timestamp).desc(), col(EventRow.id).desc()).limit(
            _check_limit(limit)
        )
        with self._transaction() as session:
            return [_event_record(row) for row in session.exec(statement)]

    # -- lifetime ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection. The store cannot be used afterwards; closing twice is fine."""
        self._closed = True
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """A session in a transaction, committed when the block ends without an exception."""
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        with Session(self._engine) as session, session.begin():
            yield session


class AsyncStore:
    """The methods of :class:`Store` for trio code, each run in a worker thread.

    All calls share one ``trio.CapacityLimiter(1)``: they run one at a time, in the order they got
    the limiter. A call that is cancelled while waiting for the limiter never runs; one that has
    started runs to the end (the thread is not abandoned), which is how writes pending at shutdown
    are flushed. Create one ``AsyncStore`` per :class:`Store`.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._limiter = trio.CapacityLimiter(1)

    async def run(self, fn: Callable[[Unpack[_Ts]], _T], *args: *_Ts) -> _T:
        """Run ``fn(*args)`` (a :class:`Store` method, or any function using it) in the worker."""
        return await trio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    async def save_order(self, order: Order) -> None:
        """See :meth:`Store.save_order`."""
        await self.run(self.store.save_order, order)

    async def get_order(self, client_order_id: str) -> Order | None:
        """See :meth:`Store.get_order`."""
        return await self.run(self.store.get_order, client_order_id)

    async def list_orders(
        self,
        *,
        exchange: str | None = None,
        symbol: str | None = None,
        strategy: str | None = None,
        status: OrderStatus | None = None,
        limit: int = 100,
    ) -> list[Order]:
        """See :meth:`Store.list_orders`."""
        return await self.run(
            partial(
                self.store.list_orders,
                exchange=exchange,
                symbol=symbol,
                strategy=strategy,
                status=status,
                limit=limit,
            )
        )

    async def list_open_orders(
        self,
        *,
        exchange: str | None = None,
        symbol: str | None = None,
        strategy: str | None = None,
        parent_order_id: str | None = None,
        oco_group: str | None = None,
    ) -> list[Order]:
        """See :meth:`Store.list_open_orders`."""
        return await self.run(
            partial(
                self.store.list_open_orders,
                exchange=exchange,
                symbol=symbol,
                strategy=strategy,
                parent_order_id=parent_order_id,
                oco_group=oco_group,
            )
        )

    async def record_fill(self, order: Order, fill: Fill) -> bool:
        """See :meth:`Store.record_fill`."""
        return await self.run(self.store.record_fill, order, fill)

    async def list_fills_after_balances(self, exchange: str) -> list[Fill]:
        """See :meth:`Store.list_fills_after_balances`."""
        return await self.run(self.store.list_fills_after_balances, exchange)

    async def list_fills(
        self,
        *,
        exchange: str | None = None,
        symbol: str | None = None,
        client_order_id: str | None = None,
        limit: int = 100,
    ) -> list[Fill]:
        """See :meth:`Store.list_fills`."""
        return await self.run(
            partial(
                self.store.list_fills,
                exchange=exchange,
                symbol=symbol,
                client_order_id=client_order_id,
                limit=limit,
            )
        )

    async def save_position(self, position: Position) -> None:
        """See :meth:`Store.save_position`."""
        await self.run(self.store.save_position, position)

    async def list_positions(self, *, exchange: str | None = None) -> list[Position]:
        """See :meth:`Store.list_positions`."""
        return await self.run(partial(self.store.list_positions, exchange=exchange))

    async def save_balances(
        self, exchange: str, balances: Iterable[Balance], *, replace: bool = False
    ) -> None:
        """See :meth:`Store.save_balances`."""
        # Materialised here: a generator must not be consumed from the worker thread.
        await self.run(partial(self.store.save_balances, replace=replace), exchange, tuple(balances))

    async def list_balances(self, exchange: str) -> list[Balance]:
        """See :meth:`Store.list_balances`."""
        return await self.run(self.store.list_balances, exchange)

    async def add_equity_snapshots(self, snapshots: Iterable[EquitySnapshot]) -> None:
        """See :meth:`Store.add_equity_snapshots`."""
        await self.run(self.store.add_equity_snapshots, tuple(snapshots))

    async def list_equity_snapshots(
        self, exchange: str, *, strategy: str = "", since: int | None = None, limit: int = 1000
    ) -> list[EquitySnapshot]:
        """See :meth:`Store.list_equity_snapshots`."""
        return await self.run(
            partial(self.store.list_equity_snapshots, strategy=strategy, since=since, limit=limit), exchange
        )

    async def set_risk_halt(self, halt: RiskHalt) -> None:
        """See :meth:`Store.set_risk_halt`."""
        await self.run(self.store.set_risk_halt, halt)

    async def get_risk_halt(self, exchange: str) -> RiskHalt | None:
        """See :meth:`Store.get_risk_halt`."""
        return await self.run(self.store.get_risk_halt, exchange)

    async def clear_risk_halt(self, exchange: str) -> bool:
        """See :meth:`Store.clear_risk_halt`."""
        return await self.run(self.store.clear_risk_halt, exchange)

    async def set_setting(self, component: str, key: str, value: Any) -> None:
        """See :meth:`Store.set_setting`."""
        await self.run(self.store.set_setting, component, key, value)

    async def set_settings(self, items: Iterable[tuple[str, str, Any]]) -> None:
        """See :meth:`Store.set_settings`."""
        # Materialised here: a generator must not be consumed from the worker thread.
        await self.run(self.store.set_settings, tuple(items))

    async def get_setting(self, component: str, key: str, default: Any = None) -> Any:
        """See :meth:`Store.get_setting`."""
        return await self.run(self.store.get_setting, component, key, default)

    async def settings(self, component: str) -> dict[str, Any]:
        """See :meth:`Store.settings`."""
        return await self.run(self.store.settings, component)

    async def set_strategy_state(
        self, exchange: str, symbol: str, strategy: str, key: str, value: Any
    ) -> None:
        """See :meth:`Store.set_strategy_state`."""
        await self.run(self.store.set_strategy_state, exchange, symbol, strategy, key, value)

    async def strategy_state(self, exchange: str, symbol: str, strategy: str) -> dict[str, Any]:
        """See :meth:`Store.strategy_state`."""
        return await self.run(self.store.strategy_state, exchange, symbol, strategy)

    async def add_event(
        self,
        kind: str,
        *,
        exchange: str | None = None,
        symbol: str | None = None,
        strategy: str | None = None,
        component: str | None = None,
        data: Mapping[str, Any] | None = None,
        timestamp: int | None = None,
    ) -> None:
        """See :meth:`Store.add_event`."""
        await self.run(
            partial(
                self.store.add_event,
                kind,
                exchange=exchange,
                symbol=symbol,
                strategy=strategy,
                component=component,
                data=data,
                timestamp=timestamp,
            )
        )

    async def list_events(self, *, kind: str | None = None, limit: int = 100) -> list[EventRecord]:
        """See :meth:`Store.list_events`."""
        return await self.run(partial(self.store.list_events, kind=kind, limit=limit))

    async def close(self) -> None:
        """Wait for the calls already queued, then close the store."""
        await self.run(self.store.close)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def _upsert(
    table: type[SQLModel], values: Mapping[str, Any], keys: list[str], *, keep: Iterable[str] = ()
) -> Insert:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE`` every other column except those in ``keep``."""
    statement = insert(table).values(dict(values))
    unchanged = set(keys).union(keep)
    updates = {name: statement.excluded[name] for name in values if name not in unchanged}
    return statement.on_conflict_do_update(index_elements=keys, set_=updates)


def _dump_json(value: Any, what: str) -> str:
    """``value`` as JSON text, ``Decimal`` as its exact string; ``ValueError`` naming ``what``."""
    try:
        return json.dumps(value, default=_json_default, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{what} is not JSON-serialisable ({exc}); expected str, int, float, bool, None, Decimal, "
            "or lists and string-keyed dicts of them"
        ) from None


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit is {limit!r}; expected a positive integer")
    return limit


def _event_record(row: EventRow) -> EventRecord:
    assert row.id is not None  # a stored row always has its id
    return EventRecord(
        id=row.id,
        timestamp=row.timestamp,
        kind=row.kind,
        exchange=row.exchange,
        symbol=row.symbol,
        strategy=row.strategy,
        component=row.component,
        data=json.loads(row.data),
    )


_Select = TypeVar("_Select")


def _where(statement: _Select, table: type[SQLModel], **filters: object) -> _Select:
    """``statement`` narrowed by each filter that is not None (column == value)."""
    for name, value in filters.items():
        if value is not None:
            statement = statement.where(getattr(table, name) == value)  # type: ignore[attr-defined]
    return statement
