"""Reconciliation: the stored orders, fills, balances and positions of one exchange against the exchange's.

It runs inside the order manager (a :class:`~marketmaestro.messages.ReconcileMsg`), so no order is being
placed meanwhile: at start-up before any strategy trades, then every ``reconcile.interval`` seconds::

    1. each order the store has as possibly on the exchange (created, submitted, accepted, triggered,
       partially filled; not those held here) is looked up by client_order_id (open orders, get_order,
       order history) and resolved from what the exchange says: its fills, then its status. One the
       exchange does not know was never sent if we never heard back (created/submitted without a venue
       id: cancelled here; an emulated trigger: watched again), else the difference is unexplained.
    2. the account's fills since the last reconciliation: ours are recorded (once each, by fill id, as the
       private stream's are), others are reported as foreign.
    3. open orders on the exchange the store does not know (placed by hand or another bot): reported, or
       cancelled when ``reconcile.foreign_orders`` is ``cancel``; one the store has as ended is unexplained.
    4. balances (and, on derivatives, positions): the exchange wins; a balance difference foreign fills do
       not explain, and any position difference, is unexplained.

Every difference is an event ``reconcile.*``. An unexplained one halts every order on the exchange (a
persisted risk halt of rule ``reconcile``) until an operator acknowledges it, unless
``reconcile.halt_on_unexplained`` is false. A difference once acknowledged is still recorded when seen
again, but halts no more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from marketmaestro.config.schema import ReconcileConfig
from marketmaestro.exchanges import ExchangeError
from marketmaestro.logs import log_event
from marketmaestro.messages import HaltTradingMsg, ReconcileMsg, TakePositionsMsg, UpdateBalanceMsg
from marketmaestro.model import Fill, Order, OrderStatus, now_ms
from marketmaestro.portfolio.valuation import balance_changes
from marketmaestro.supervision import BadRequest

if TYPE_CHECKING:
    from marketmaestro.orders.manager import OrderManager

__all__ = [
    "ACKNOWLEDGED_EVENT",
    "COMPLETED_EVENT",
    "RECONCILE_RULE",
    "ReconcileFailed",
    "ReconcileReport",
    "reconcile",
]

COMPLETED_EVENT = "reconcile.completed"
ACKNOWLEDGED_EVENT = "reconcile.acknowledged"
RECONCILE_RULE = "reconcile"
"""The rule of the risk halt reconciliation sets (``marketmaestro.risk.manager.RECONCILE_RULE``)."""


@dataclass
class ReconcileReport:
    """What one reconciliation found; ``unexplained`` lists the differences that halt trading."""

    exchange: str
    startup: bool
    resolved: list[str] = field(default_factory=list)
    """Client order ids whose stored state changed to the exchange's."""
    fills: list[str] = field(default_factory=list)
    """Fill ids recorded here that the bot had missed."""
    foreign_orders: list[str] = field(default_factory=list)
    foreign_fills: list[str] = field(default_factory=list)
    balance_differences: dict[str, dict[str, str]] = field(default_factory=dict)
    position_differences: dict[str, dict[str, str]] = field(default_factory=dict)
    unexplained: list[str] = field(default_factory=list)
    halted: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "startup": self.startup,
            "resolved": self.resolved,
            "fills": self.fills,
            "foreign_orders": self.foreign_orders,
            "foreign_fills": self.foreign_fills,
            "balance_differences": self.balance_differences,
            "position_differences": self.position_differences,
            "unexplained": self.unexplained,
            "halted": self.halted,
        }


class _Run:
    """One reconciliation of ``manager``'s exchange."""

    def __init__(self, manager: OrderManager, config: ReconcileConfig, msg: ReconcileMsg) -> None:
        self.manager = manager
        self.adapter = manager.adapter
        self.store = manager.store
        assert manager.exchange is not None
        self.exchange: str = manager.exchange
        self.config = config
        self.capabilities = manager.capabilities
        self.report = ReconcileReport(self.exchange, msg.startup)
        self.lookback_ms = int(config.lookback * 1000)
        self.acknowledged: set[str] = set()
        self.foreign: list[Fill] = []

    async def event(self, kind: str, data: dict[str, Any], *, symbol: str | None = None) -> None:
        log_event(kind, level="warning", exchange=self.exchange, **data)
        await self.store.add_event(
            kind, exchange=self.exchange, symbol=symbol, component="reconcile", data=data
        )

    async def unexplained(self, kind: str, data: dict[str, Any], why: str, symbol: str | None = None) -> None:
        """A difference nothing explains: recorded, and trading halts after this run (if configured) unless
        an operator already acknowledged this very difference."""
        if why in self.acknowledged:
            await self.event(kind, {**data, "acknowledged": why}, symbol=symbol)
            return
        await self.event(kind, {**data, "unexplained": why}, symbol=symbol)
        self.report.unexplained.append(why)

    async def _acknowledged(self) -> set[str]:
        """The unexplained differences reported before the operator's last acknowledgement."""
        acks = [
            e.timestamp
            for e in await self.store.list_events(kind=ACKNOWLEDGED_EVENT, limit=50)
            if e.exchange == self.exchange
        ]
        if not acks:
            return set()
        return {
            why
            for e in await self.store.list_events(kind=COMPLETED_EVENT, limit=1000)
            if e.exchange == self.exchange and e.timestamp <= max(acks)
            for why in e.data.get("unexplained", ())
        }

    async def run(self) -> ReconcileReport:
        self.acknowledged = await self._acknowledged()
        since = await self._since()
        open_on_exchange = {o.client_order_id: o for o in await self.adapter.open_orders()}
        for order in await self.store.list_open_orders(exchange=self.exchange):
            if order.status is not OrderStatus.PENDING and not self.manager._held(order):
                await self._order(order, open_on_exchange.get(order.client_order_id))
        await self._fills(since)
        await self._foreign_orders(open_on_exchange)
        await self._balances(since)
        await self._positions()
        if self.report.unexplained and self.config.halt_on_unexplained:
            reason = "reconciliation: " + "; ".join(self.report.unexplained)
            await self.manager.risk.request(
                HaltTradingMsg(self.exchange, RECONCILE_RULE, reason), self.manager.request_timeout
            )
            self.report.halted = True
        summary = self.report.summary()
        log_event(COMPLETED_EVENT, exchange=self.exchange, **summary)
        await self.store.add_event(
            COMPLETED_EVENT, exchange=self.exchange, component="reconcile", data=summary
        )
        return self.report

    async def _since(self) -> int:
        """Fills from here on are fetched: the last reconciliation's time (or the oldest order that may be
        on the exchange, or now at the very first start), less ``lookback``."""
        times = [
            e.timestamp
            for e in await self.store.list_events(kind=COMPLETED_EVENT, limit=50)
            if e.exchange == self.exchange
        ]
        open_orders = await self.store.list_open_orders(exchange=self.exchange)
        start = max(times) if times else now_ms()
        start = min([start, *(o.created_at for o in open_orders if not self.manager._held(o))])
        return start - self.lookback_ms

    # --- orders ---------------------------------------------------------------------------------------------

    async def _venue(self, order: Order, listed: Order | None) -> Order | None:
        """The exchange's view of ``order``: listed as open, else by ``get_order``, else in its history."""
        if listed is not None:
            return listed
        found = await self.adapter.get_order(order)
        if found is not None or not self.capabilities.get("order_history", False):
            return found
        for closed in await self.adapter.order_history(order.symbol, order.created_at - self.lookback_ms):
            if closed.client_order_id == order.client_order_id:
                return closed
        return None

    async def _order(self, order: Order, listed: Order | None) -> None:
        venue = await self._venue(order, listed)
        if venue is None:
            await self._not_on_exchange(order)
            return
        before = order
        if order.status is OrderStatus.CREATED:
            # Stored, then the bot stopped before recording that it sent it: the exchange says it did.
            order = await self.manager._transition(order, OrderStatus.SUBMITTED)
        if self.capabilities.get("fills_history", False):
            for fill in await self.adapter.fills(order.symbol, order.created_at - self.lookback_ms):
                if fill.client_order_id == order.client_order_id:
                    await self._fill(fill)
        current = await self.manager._latest(order)
        if venue.venue_order_id and current.venue_order_id != venue.venue_order_id:
            current = current.with_status(current.status, venue_order_id=venue.venue_order_id)
            await self.store.save_order(current)
        current = await self.manager._apply_exchange_status(current, venue)
        current = await self.manager._latest(current)
        if current.filled_quantity < venue.filled_quantity:
            data = {
                "client_order_id": order.client_order_id,
                "filled_here": str(current.filled_quantity),
                "filled_on_exchange": str(venue.filled_quantity),
            }
            if not self.capabilities.get("fills_history", False) and not self.report.startup:
                # No fills to ask for: the private stream's, maybe waiting behind this run, will come.
                await self.event("reconcile.fills_missing", {**data, "explained_by": "private stream"})
            else:
                await self.unexplained(
                    "reconcile.fills_missing",
                    data,
                    f"{order.client_order_id} filled {venue.filled_quantity} on the exchange, "
                    f"{current.filled_quantity} in fills we could fetch",
                    symbol=order.symbol,
                )
        if (current.status, current.filled_quantity) != (before.status, before.filled_quantity):
            self.report.resolved.append(order.client_order_id)
            await self.event(
                "reconcile.order_resolved",
                {
                    "client_order_id": order.client_order_id,
                    "from": before.status.value,
                    "to": current.status.value,
                    "exchange_status": venue.status.value,
                    "filled_quantity": str(current.filled_quantity),
                },
                symbol=order.symbol,
            )

    async def _not_on_exchange(self, order: Order) -> None:
        """``order`` is open here and unknown to the exchange."""
        data = {"client_order_id": order.client_order_id, "status": order.status.value}
        if order.status is OrderStatus.TRIGGERED and order.emulated:
            # Triggered, then the bot stopped before the real order was sent: watch it again, so it
            # triggers (and is checked by the risk manager) once more at the next price.
            resumed = await self.manager._transition(order, OrderStatus.ACCEPTED)
            self.manager._remember(resumed)
            self.report.resolved.append(order.client_order_id)
            await self.event("reconcile.trigger_resumed", data, symbol=order.symbol)
            return
        never_answered = order.status in (OrderStatus.CREATED, OrderStatus.SUBMITTED)
        if never_answered and order.venue_order_id is None and order.filled_quantity == 0:
            # Stored, then the bot stopped before the exchange had it: it never traded, and sending it now,
            # maybe long after the strategy decided, is not ours to guess.
            await self.manager._end(order, OrderStatus.CANCELLED, "never reached the exchange (restart)")
            self.report.resolved.append(order.client_order_id)
            await self.event("reconcile.order_never_sent", data, symbol=order.symbol)
            return
        await self.unexplained(
            "reconcile.order_unknown",
            {**data, "venue_order_id": order.venue_order_id},
            f"{order.client_order_id} ({order.status.value}) is unknown to the exchange",
            symbol=order.symbol,
        )

    async def _fill(self, fill: Fill) -> None:
        """Record ``fill`` of one of our orders unless it is known (the private stream may have had it)."""
        known = await self.store.list_fills(client_order_id=fill.client_order_id, limit=1000)
        if any(f.fill_id == fill.fill_id for f in known):
            return
        await self.manager._on_fill(fill)
        self.report.fills.append(fill.fill_id)
        await self.event(
            "reconcile.missed_fill",
            {
                "fill_id": fill.fill_id,
                "client_order_id": fill.client_order_id,
                "quantity": str(fill.quantity),
                "price": str(fill.price),
            },
            symbol=fill.symbol,
        )

    async def _fills(self, since: int) -> list[Fill]:
        """The account's fills since ``since``: ours recorded once each; the others reported. Returns the
        foreign ones."""
        if not self.capabilities.get("fills_history", False):
            return []
        foreign = []
        for fill in await self.adapter.fills(None, since):
            order = await self.store.get_order(fill.client_order_id) if fill.client_order_id else None
            if order is not None and order.exchange == self.exchange:
                await self._fill(fill)
                continue
            foreign.append(fill)
            if fill.fill_id not in self.report.foreign_fills:
                self.report.foreign_fills.append(fill.fill_id)
                await self.event(
                    "reconcile.foreign_fill",
                    {"fill_id": fill.fill_id, "side": fill.side.value, "quantity": str(fill.quantity)},
                    symbol=fill.symbol,
                )
        return foreign

    async def _foreign_orders(self, open_on_exchange: dict[str, Order]) -> None:
        for client_order_id, venue in open_on_exchange.items():
            ours = await self.store.get_order(client_order_id) if client_order_id else None
            data = {
                "client_order_id": client_order_id,
                "venue_order_id": venue.venue_order_id,
                "side": venue.side.value,
                "quantity": str(venue.quantity),
            }
            if ours is not None and ours.exchange == self.exchange:
                if ours.status.is_final:
                    await self.unexplained(
                        "reconcile.order_open_on_exchange",
                        {**data, "status": ours.status.value},
                        f"{client_order_id} is {ours.status.value} here but open on the exchange",
                        symbol=venue.symbol,
                    )
                continue
            self.report.foreign_orders.append(venue.venue_order_id or client_order_id)
            if self.config.foreign_orders == "cancel":
                try:
                    await self.adapter.cancel_order(venue)
                    await self.event("reconcile.foreign_order_cancelled", data, symbol=venue.symbol)
                except ExchangeError as exc:
                    await self.event(
                        "reconcile.foreign_order", {**data, "error": str(exc)}, symbol=venue.symbol
                    )
            else:
                await self.event("reconcile.foreign_order", data, symbol=venue.symbol)

    # --- balances and positions ---------------------------------------------------------------------------

    async def _balances(self, since: int) -> None:
        """The exchange's balances to the portfolio; differences foreign fills do not explain are unexplained.

        Fills are fetched again after the balances: one that arrived in between (counted by the exchange's
        balances but not yet here) makes the comparison meaningless, so it waits for the next run."""
        recorded = len(self.report.fills)
        balances = tuple(await self.adapter.balances())
        foreign = self.foreign = await self._fills(since)
        if len(self.report.fills) > recorded:
            log_event("reconcile.balances_deferred", exchange=self.exchange)
            return
        differences: dict[str, dict[str, str]] = await self.manager.portfolio.request(
            UpdateBalanceMsg(self.exchange, balances), self.manager.request_timeout
        )
        if not differences:
            return
        self.report.balance_differences = differences
        explained: dict[str, Decimal] = {}
        for fill in foreign:
            instrument = self.manager.instruments.get(fill.symbol)
            if instrument is not None:
                for asset, change in balance_changes(fill, instrument).items():
                    explained[asset] = explained.get(asset, Decimal(0)) + change
        derivatives = self.capabilities.get("derivatives", False)
        for asset, difference in differences.items():
            left = Decimal(difference["difference"]) - explained.get(asset, Decimal(0))
            data = {
                "asset": asset,
                "ours": difference["ours"],
                "on_exchange": difference["exchange"],
                "difference": difference["difference"],
            }
            if left == 0:
                await self.event("reconcile.balance_difference", {**data, "explained_by": "foreign fills"})
            elif derivatives:
                # Margin moves with funding, fees and P&L that no fill states: the positions are checked.
                await self.event("reconcile.balance_difference", {**data, "explained_by": "margin account"})
            else:
                await self.unexplained(
                    "reconcile.balance_difference",
                    data,
                    f"{asset} is {difference['exchange']} on the exchange, {difference['ours']} by our fills",
                )

    async def _positions(self) -> None:
        """Derivatives: the exchange's positions become the account's; each difference is unexplained (our
        fills should have made the same position)."""
        if not self.capabilities.get("derivatives", False):
            return
        positions = tuple(await self.adapter.positions())
        changed: dict[str, tuple[Decimal, Decimal]] = await self.manager.portfolio.request(
            TakePositionsMsg(self.exchange, positions), self.manager.request_timeout
        )
        for symbol, (ours, theirs) in changed.items():
            difference = {"ours": str(ours), "on_exchange": str(theirs)}
            self.report.position_differences[symbol] = difference
            foreign = sum((f.side.sign * f.quantity for f in self.foreign if f.symbol == symbol), Decimal(0))
            if foreign and theirs - ours == foreign:
                data = {"symbol": symbol, **difference, "explained_by": "foreign fills"}
                await self.event("reconcile.position_difference", data, symbol=symbol)
                continue
            await self.unexplained(
                "reconcile.position_difference",
                {"symbol": symbol, **difference},
                f"{symbol} position: {theirs} on the exchange, {ours} by our fills",
                symbol=symbol,
            )


class ReconcileFailed(BadRequest):
    """The exchange did not answer a reconciliation's questions; nothing was concluded from the silence."""


async def reconcile(manager: OrderManager, config: ReconcileConfig, msg: ReconcileMsg) -> ReconcileReport:
    """Reconcile ``manager``'s exchange (see the module docstring); the report of what was found.

    :class:`ReconcileFailed` (recorded as ``reconcile.failed``) when the exchange cannot be asked: the
    order manager keeps running, and the caller decides (the start-up one fails the exchange's start)."""
    try:
        return await _Run(manager, config, msg).run()
    except ExchangeError as exc:
        error = f"reconciliation of {manager.exchange} failed: {type(exc).__name__}: {exc}"
        log_event("reconcile.failed", level="error", error=error)
        await manager.store.add_event(
            "reconcile.failed", exchange=manager.exchange, component="reconcile", data={"error": error}
        )
        raise ReconcileFailed(error) from exc
