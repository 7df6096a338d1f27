"""The order manager: turns a strategy's request into an order on the exchange, and records its life.

For each ``PlaceOrderMsg``::

    round to the instrument's grid ──> store (created) ──> minimums, risk manager ──> native or emulated?
        native:   store (submitted) ──> exchange.place_order ──> store each fill with the order
        emulated: store (accepted, emulated) ──> watch market data ──> trigger ──> store (triggered)
                  ──> exchange.place_order (market, or limit at the order's price) ──> fills as above

The order is written before anything is sent, so a crash never leaves an order on the exchange that the
database does not know. Every status change follows :mod:`marketmaestro.orders.lifecycle`, is stored,
recorded as an event and announced to plugins (``on_order_updated``); every fill too
(``on_order_filled``), once: fills are keyed by their id, whichever way they arrive (the answer to
``place_order``, the private stream, before or after the acknowledgement).

Groups: a bracket's stop loss and take profit are stored ``pending`` with the entry as their parent and
become active when it fills; the legs of an OCO (and a bracket's exits) share an ``oco_group``: the first
fill of one cancels the others. Emulated orders, their trailing water marks and group links are columns
of the order, so :meth:`OrderManager.on_start` picks them up again after a restart.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import trio

from marketmaestro.config.schema import ReconcileConfig
from marketmaestro.exchanges import (
    Exchange,
    ExchangeError,
    FillUpdate,
    OrderRejected,
    OrderResult,
    OrderUpdate,
    RetryableError,
)
from marketmaestro.logs import log_event
from marketmaestro.messages import (
    AmendOrderMsg,
    CancelAllOrdersMsg,
    CancelOrderMsg,
    CancelOrdersMsg,
    FollowOrdersMsg,
    GetPositionMsg,
    GetStatusMsg,
    HaltTradingMsg,
    KlineDataMsg,
    LiftKillMsg,
    OrderBookDataMsg,
    OrderFilledMsg,
    OrderUpdatedMsg,
    PlaceOrderMsg,
    ReconcileMsg,
    ResetRiskHaltMsg,
    TickerDataMsg,
    TradeDataMsg,
    UpdateBalanceMsg,
    ValidateOrderMsg,
)
from marketmaestro.model import Fill, Instrument, Order, OrderStatus, OrderType, Side, TimeInForce
from marketmaestro.orders import emulation, reconcile
from marketmaestro.orders.lifecycle import OPEN_STATUSES, InvalidTransition, can_transition
from marketmaestro.plugins.manager import PluginHost
from marketmaestro.storage import AsyncStore
from marketmaestro.supervision import BadRequest, Component, Mailbox, RequestFailed, RequestTimeout

__all__ = ["OPEN_STATUSES", "OrderManager", "new_client_order_id"]

SUBMIT_ATTEMPTS = 3
SUBMIT_BACKOFF = 0.5
FILL_STATUSES = (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED)
LOCAL_STATUSES = (OrderStatus.CREATED, OrderStatus.PENDING, OrderStatus.SUBMITTED, OrderStatus.TRIGGERED)
"""Statuses only MarketMaestro gives an order; the exchange's word on them is no news."""
KILL_REASON = "kill switch"
KILL_RULE = "kill_switch"
"""The rule of the risk halt the kill switch stores: it keeps the order manager halted across restarts."""


def new_client_order_id() -> str:
    """A unique id we choose before sending; the exchange echoes it, which makes retries idempotent."""
    return f"mm-{uuid.uuid4().hex}"


class OrderManager(Component):
    component = "order_manager"

    def __init__(
        self,
        mailbox: Mailbox,
        *,
        exchange: str,
        adapter: Exchange,
        instruments: dict[str, Instrument],
        store: AsyncStore,
        risk: Mailbox,
        portfolio: Mailbox,
        plugins: PluginHost,
        request_timeout: float,
        id_factory: Callable[[], str] = new_client_order_id,
        reconcile: ReconcileConfig | None = None,
    ) -> None:
        super().__init__(mailbox, exchange=exchange)
        self.adapter = adapter
        self.instruments = instruments
        self.store = store
        self.risk = risk
        self.portfolio = portfolio
        self.plugins = plugins
        self.request_timeout = request_timeout
        self.id_factory = id_factory
        self.last_price: dict[str, Decimal] = {}
        self.counts: dict[str, int] = {}
        self.watching: dict[str, Order] = {}
        """Emulated orders waiting for a price, by client order id (their stored state)."""
        self.halted = False
        """Set by the kill switch: new orders are rejected until an operator lifts it (``LiftKillMsg``); kept
        as a risk halt (``KILL_RULE``), so a restarted order manager starts halted."""
        self.reconcile_config = reconcile or ReconcileConfig()
        self.followers: dict[tuple[str, str], Callable[[OrderUpdatedMsg | OrderFilledMsg], None]] = {}
        """Where the news of a strategy's orders go, by (symbol, strategy): its runner."""

    @property
    def capabilities(self) -> dict[str, bool]:
        return dict(self.adapter.capabilities)

    async def on_start(self) -> None:
        """Watch the emulated orders the store holds (after a restart: with their water marks)."""
        assert self.exchange is not None
        halt = await self.store.get_risk_halt(self.exchange)
        if halt is not None and halt.rule == KILL_RULE:
            self.halted = True
            log_event("order.halted", level="warning", reason=halt.reason, restored=True)
        open_orders = await self.store.list_open_orders(exchange=self.exchange)
        self.watching = {order.client_order_id: order for order in open_orders if self._watched(order)}
        if self.watching:
            log_event("order.emulation_resumed", orders=sorted(self.watching))
        for order in open_orders:
            if self._held(order) and not self._watched(order):
                log_event(
                    "order.emulation_unwatched",
                    level="warning",
                    client_order_id=order.client_order_id,
                    error=f"{order.symbol} is not traded here any more; cancel the order",
                )

    def _watched(self, order: Order) -> bool:
        """Whether ``order`` is held here and its symbol's market data reach this order manager."""
        return order.symbol in self.instruments and self._held(order)

    def _held(self, order: Order) -> bool:
        """Whether ``order`` is held here (an emulated order not on the exchange)."""
        if not order.emulated:
            return False
        if order.status is OrderStatus.ACCEPTED:
            return True
        # Triggered, and its limit emulated too because the exchange has no limit orders.
        return (
            order.status is OrderStatus.TRIGGERED
            and order.type in emulation.LIMIT_TYPES
            and not self.capabilities.get("limit_orders", False)
        )

    async def handle(self, msg: Any) -> Any:
        match msg:
            case KlineDataMsg(kline=kline):
                await self._on_price(kline.symbol, Decimal(repr(kline.close)))
            case TickerDataMsg(ticker=ticker):
                await self._on_price(ticker.symbol, Decimal(repr(ticker.last)))
            case OrderBookDataMsg(orderbook=book):
                if book.mid is not None:
                    await self._on_price(book.symbol, Decimal(repr(book.mid)))
            case TradeDataMsg(trade=trade):
                await self._on_price(trade.symbol, trade.price)
            case PlaceOrderMsg():
                return await self._place(msg)
            case CancelOrdersMsg():
                return await self._cancel_all(msg.symbol, msg.strategy, msg.reason)
            case CancelAllOrdersMsg():
                self._check_exchange(msg.exchange)
                if msg.halt:
                    await self._halt(msg.reason or KILL_REASON)
                return await self._cancel_all(msg.symbol, msg.strategy, msg.reason)
            case LiftKillMsg():
                self._check_exchange(msg.exchange)
                return await self._lift(msg.by)
            case CancelOrderMsg():
                self._check_exchange(msg.exchange)
                return await self._cancel(await self._open_order(msg.client_order_id), msg.reason)
            case AmendOrderMsg():
                self._check_exchange(msg.exchange)
                return await self._amend(msg)
            case OrderUpdate(order=order):
                await self._on_exchange_order(order)
            case FillUpdate(fill=fill):
                await self._on_fill(fill)
            case ReconcileMsg():
                self._check_exchange(msg.exchange)
                return await reconcile.reconcile(self, self.reconcile_config, msg)
            case FollowOrdersMsg():
                self._check_exchange(msg.exchange)
                self.followers[(msg.symbol, msg.strategy)] = msg.deliver
            case GetStatusMsg():
                return {"orders": dict(self.counts), "emulated": len(self.watching), "halted": self.halted}
            case _:
                return await super().handle(msg)
        return None

    async def _halt(self, reason: str) -> None:
        """The kill switch: refuse new orders, and keep the halt in the store (a risk halt that only an
        operator's lift ends) so a restart does not end it."""
        assert self.exchange is not None
        self.halted = True
        log_event("order.halted", level="warning", reason=reason)
        await self.risk.request(HaltTradingMsg(self.exchange, KILL_RULE, reason), self.request_timeout)

    async def _lift(self, by: str) -> bool:
        """Lift the kill switch's halt (here and in the store); whether one was in force."""
        assert self.exchange is not None
        stored = await self.store.get_risk_halt(self.exchange)
        if stored is not None and stored.rule == KILL_RULE:
            await self.risk.request(ResetRiskHaltMsg(self.exchange, by=by), self.request_timeout)
        lifted, self.halted = self.halted, False
        if lifted:
            log_event("order.halt_lifted", by=by)
        return lifted

    def _check_exchange(self, exchange: str) -> None:
        if exchange != self.exchange:
            raise BadRequest(f"request for exchange {exchange!r} sent to {self.exchange!r}")

    # --- storing and announcing ---------------------------------------------------------------------------

    async def _transition(self, order: Order, status: OrderStatus, **changes: Any) -> Order:
        """``order`` in ``status``, stored and announced; :class:`InvalidTransition` (recorded as an event,
        nothing stored) when the lifecycle does not allow it."""
        if not can_transition(order.status, status):
            error = InvalidTransition(order, status)
            await self._warn(
                order, "order.invalid_transition", {"from": order.status.value, "to": status.value}, error
            )
            raise error
        updated = order.with_status(status, **changes)
        await self._store(updated, previous=order.status)
        return updated

    async def _warn(self, order: Order, kind: str, data: dict[str, Any], error: Exception) -> None:
        """Log and record a problem with ``order`` (an event of ``kind`` with ``data`` and the error)."""
        log_event(kind, level="warning", client_order_id=order.client_order_id, error=str(error))
        await self._event(order, kind, {**data, "error": str(error)})

    async def _event(self, order: Order, kind: str, data: dict[str, Any]) -> None:
        """Record an event of ``kind`` about ``order`` (its client order id and ``data``)."""
        await self.store.add_event(
            kind,
            exchange=order.exchange,
            symbol=order.symbol,
            strategy=order.strategy or None,
            component=self.component,
            data={"client_order_id": order.client_order_id, **data},
        )

    async def _store(self, order: Order, *, previous: OrderStatus | None) -> None:
        await self.store.save_order(order)
        await self._announce(order, previous)

    async def _announce(self, order: Order, previous: OrderStatus | None, kind: str | None = None) -> None:
        kind = kind or f"order.{order.status.value}"
        if kind == f"order.{order.status.value}":
            self.counts[order.status.value] = self.counts.get(order.status.value, 0) + 1
        await self._event(
            order,
            kind,
            {
                "side": order.side.value,
                "type": order.type.value,
                "quantity": str(order.quantity),
                "price": None if order.price is None else str(order.price),
                "stop_price": None if order.stop_price is None else str(order.stop_price),
                "previous": None if previous is None else previous.value,
                "emulated": order.emulated,
                "error": order.error,
            },
        )
        log_event(
            kind,
            level="warning" if order.status is OrderStatus.REJECTED else "info",
            client_order_id=order.client_order_id,
            side=order.side.value,
            type=order.type.value,
            quantity=order.quantity,
            price=order.average_price or order.price,
            emulated=order.emulated,
            error=order.error,
        )
        if kind in (f"order.{order.status.value}", "order.amended"):
            event = OrderUpdatedMsg(order, previous)
            self._tell_strategy(event)
            if kind != "order.amended":
                await self.plugins.notify("on_order_updated", event=event)

    def _tell_strategy(self, event: OrderUpdatedMsg | OrderFilledMsg) -> None:
        """Hand the news of an order to the runner of the strategy it belongs to (none for orders without
        a strategy: rebalancing, the API's)."""
        deliver = self.followers.get((event.order.symbol, event.order.strategy))
        if deliver is not None:
            deliver(event)

    def _remember(self, order: Order) -> Order:
        """Keep ``watching`` in step with the stored state of ``order``."""
        if self._watched(order):
            self.watching[order.client_order_id] = order
        else:
            self.watching.pop(order.client_order_id, None)
        return order

    # --- placing ------------------------------------------------------------------------------------------

    async def _place(self, msg: PlaceOrderMsg) -> Order:
        instrument = self.instruments.get(msg.symbol)
        if instrument is None:
            raise BadRequest(f"symbol {msg.symbol!r} is not traded on {self.exchange}")
        self._check_exchange(msg.exchange)
        _check_request(msg)
        if msg.oco:
            return await self._place_oco(msg, instrument)
        order = self._new_order(msg, instrument, msg.type, msg.price, msg.stop_price)
        order = await self._open(order, instrument)
        if msg.stop_loss is not None or msg.take_profit is not None:
            await self._attach_exits(order, msg, instrument)
        return await self._latest(order)

    def _new_order(
        self,
        msg: PlaceOrderMsg,
        instrument: Instrument,
        order_type: OrderType,
        price: Decimal | None,
        stop_price: Decimal | None,
        **links: Any,
    ) -> Order:
        trail_amount = msg.trail_amount if order_type is OrderType.TRAILING_STOP else None
        return Order(
            client_order_id=self.id_factory(),
            exchange=msg.exchange,
            symbol=msg.symbol,
            side=links.pop("side", msg.side),
            type=order_type,
            quantity=instrument.round_quantity(msg.quantity),
            price=instrument.round_price(price) if price is not None else None,
            strategy=msg.strategy,
            reason=links.pop("reason", msg.reason),
            stop_price=instrument.round_price(stop_price) if stop_price is not None else None,
            trail_percent=msg.trail_percent if order_type is OrderType.TRAILING_STOP else None,
            trail_amount=instrument.round_price(trail_amount) if trail_amount is not None else None,
            time_in_force=msg.time_in_force,
            post_only=msg.post_only,
            reduce_only=msg.reduce_only,
            **links,
        )

    async def _open(self, order: Order, instrument: Instrument, *, held: bool = False) -> Order:
        """Store ``order`` (created), check it, then send or hold it; ``held`` leaves it ``pending``."""
        order = await self._create(order)
        if order.status.is_final:
            return order
        if held:
            return await self._transition(order, OrderStatus.PENDING)
        return await self._admit(order)

    async def _create(self, order: Order) -> Order:
        """Store ``order`` as created, native or emulated; rejected at once when neither can be."""
        try:
            native = emulation.is_native(order, self.capabilities)
            # On spot, each native leg of a group would reserve the same coins and the exchange would
            # refuse the second: the legs are held here, and only the one that triggers is sent.
            if order.oco_group is not None and not self.capabilities.get("derivatives", False):
                native = False
            order = replace(order, emulated=not native)
        except emulation.UnsupportedOrder as exc:
            await self._store(order, previous=None)
            return await self._transition(order, OrderStatus.REJECTED, error=str(exc))
        await self._store(order, previous=None)
        return order

    async def _admit(self, order: Order) -> Order:
        """Reject ``order`` if it may not trade, else activate it."""
        if self.halted:
            return await self._end(order, OrderStatus.REJECTED, "trading is halted by the kill switch")
        problem = await self._admission_problem(order, self.instruments[order.symbol])
        if problem is not None:
            return await self._end(order, OrderStatus.REJECTED, problem)
        return await self._activate(order)

    async def _admission_problem(self, order: Order, instrument: Instrument) -> str | None:
        """Why ``order`` may not trade (minimums, reduce-only, the risk manager), or None."""
        reference = order.price or order.stop_price or self.last_price.get(order.symbol)
        if reference is None:
            return f"no market price for {order.symbol} yet"
        problem = instrument.check_order(order.quantity, reference)
        if problem is not None:
            return problem
        if order.reduce_only and not self.capabilities.get("reduce_only", False):
            problem = await self._reduce_only_problem(order)
            if problem is not None:
                return problem
        return await self._risk_problem(order, reference)

    async def _risk_problem(self, order: Order, reference: Decimal) -> str | None:
        """The risk manager's denial of ``order`` at ``reference``, or None when it approves."""
        try:
            verdict = await self.risk.request(ValidateOrderMsg(order, reference), self.request_timeout)
        except (RequestFailed, RequestTimeout) as exc:
            # Without a risk verdict nothing is sent: fail closed.
            return f"risk check failed: {exc}"
        if not verdict.approved:
            return f"risk rule {verdict.rule}: {verdict.reason}"
        return None

    async def _reduce_only_problem(self, order: Order) -> str | None:
        """Emulated reduce-only: the strategy's position must be on the other side and at least as big."""
        try:
            position = await self.portfolio.request(
                GetPositionMsg(order.exchange, order.symbol, order.strategy), self.request_timeout
            )
        except (RequestFailed, RequestTimeout) as exc:
            return f"reduce_only: the position is unknown ({exc})"
        reducible = -order.side.sign * position.quantity
        if reducible < order.quantity:
            return (
                f"reduce_only: a {order.side.value} of {order.quantity} would not only reduce the position "
                f"of {position.quantity} {order.symbol}"
            )
        return None

    async def _activate(self, order: Order) -> Order:
        """Send a native order; hold an emulated one (accepted locally) and check it against the price."""
        if not order.emulated:
            order = await self._transition(order, OrderStatus.SUBMITTED)
            return await self._send(order, order)
        if order.type is OrderType.LIMIT and order.time_in_force is not TimeInForce.GTC:
            return await self._immediate(order)
        order = self._remember(await self._transition(order, OrderStatus.ACCEPTED))
        price = self.last_price.get(order.symbol)
        if price is not None:
            await self._evaluate(order.client_order_id, price)
        return await self._latest(order)

    async def _immediate(self, order: Order) -> Order:
        """An emulated IOC/FOK limit: a market order now if the price is at the limit, else expired."""
        price = self.last_price.get(order.symbol)
        if price is None or not emulation.marketable(order, price):
            error = f"{order.time_in_force.value}: the market ({price}) is not at the limit {order.price}"
            return await self._end(order, OrderStatus.EXPIRED, error)
        order = await self._transition(order, OrderStatus.SUBMITTED)
        return await self._send(order, emulation.executed_as(order, as_limit=False))

    async def _place_oco(self, msg: PlaceOrderMsg, instrument: Instrument) -> Order:
        """Two legs on ``msg.side``, one cancelling the other: a take profit and a stop market."""
        group = f"oco-{uuid.uuid4().hex[:12]}"
        legs = [
            self._new_order(msg, instrument, OrderType.TAKE_PROFIT, None, msg.take_profit, oco_group=group),
            self._new_order(msg, instrument, OrderType.STOP_MARKET, None, msg.stop_loss, oco_group=group),
        ]
        # Both stored before either is active, so a leg that fills at once finds its sibling to cancel.
        created = [await self._create(leg) for leg in legs]
        for leg in created:
            current = await self._latest(leg)
            if current.status is OrderStatus.CREATED:
                await self._admit(current)
        placed = [await self._latest(leg) for leg in created]
        if any(leg.status.is_final and leg.filled_quantity == 0 for leg in placed):
            # One leg alone is no OCO: cancel what did open (nothing when a leg filled: it did that).
            await self._cancel_group(group, except_id=None, reason="the other OCO leg was not placed")
        return placed[0]

    async def _attach_exits(self, entry: Order, msg: PlaceOrderMsg, instrument: Instrument) -> None:
        """A bracket: the stop loss and take profit on the other side, pending until the entry fills."""
        if entry.status in (OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.EXPIRED):
            return
        exit_side = Side.SELL if msg.side is Side.BUY else Side.BUY
        group = f"bracket-{entry.client_order_id}"
        exits = [
            (OrderType.TAKE_PROFIT, msg.take_profit, "take profit"),
            (OrderType.STOP_MARKET, msg.stop_loss, "stop loss"),
        ]
        for order_type, trigger, label in exits:
            if trigger is None:
                continue
            # Where the exchange has reduce-only orders (derivatives), an exit must not open the other side.
            reduce_only = msg.reduce_only or self.capabilities.get("reduce_only", False)
            child = self._new_order(
                replace(msg, post_only=False, time_in_force=TimeInForce.GTC, reduce_only=reduce_only),
                instrument,
                order_type,
                None,
                trigger,
                side=exit_side,
                reason=f"{label} of {entry.client_order_id}",
                parent_order_id=entry.client_order_id,
                oco_group=group,
            )
            await self._open(child, instrument, held=True)
        latest = await self._latest(entry)
        if _releases_exits(latest):
            await self._release_children(latest)

    async def _latest(self, order: Order) -> Order:
        return await self.store.get_order(order.client_order_id) or order

    # --- sending ------------------------------------------------------------------------------------------

    async def _send(self, order: Order, wire: Order) -> Order:
        """Send ``wire`` (``order`` as the exchange should see it) with retries; apply the answer."""
        for attempt in range(1, SUBMIT_ATTEMPTS + 1):
            try:
                result = await self.adapter.place_order(wire)
                break
            except OrderRejected as exc:
                return await self._end(order, OrderStatus.REJECTED, exc.reason)
            except RetryableError as exc:
                log_event(
                    "order.retry",
                    level="warning",
                    client_order_id=order.client_order_id,
                    attempt=attempt,
                    error=str(exc),
                )
                if attempt == SUBMIT_ATTEMPTS:
                    return await self._end(
                        order, OrderStatus.REJECTED, f"gave up after {attempt} attempts: {exc}"
                    )
                await trio.sleep(SUBMIT_BACKOFF * attempt)
            except ExchangeError as exc:
                return await self._end(order, OrderStatus.REJECTED, f"{type(exc).__name__}: {exc}")
        return await self._apply_result(order, result)

    async def _end(self, order: Order, status: OrderStatus, error: str | None) -> Order:
        """``order`` ends in ``status`` (a final one); its group and children follow."""
        ended = self._remember(await self._transition(order, status, error=error))
        await self._after(ended)
        return ended

    async def _apply_result(self, order: Order, result: OrderResult) -> Order:
        venue = result.order
        current = await self._latest(order)
        if venue.venue_order_id and current.venue_order_id != venue.venue_order_id:
            current = replace(current, venue_order_id=venue.venue_order_id)
            await self.store.save_order(current)
        for fill in result.fills:
            await self._on_fill(fill)
        current = await self._latest(current)
        current = await self._apply_exchange_status(current, venue)
        if result.fills:
            balances = await self.adapter.balances()
            await self.portfolio.send(UpdateBalanceMsg(order.exchange, tuple(balances)))
        return current

    async def _apply_exchange_status(self, current: Order, venue: Order) -> Order:
        """Take the exchange's status of the order where it moves the order forward. Fill statuses come
        from the fills themselves (counted once each), so a late acknowledgement ("accepted" after a fill
        already arrived) or a status without its fills changes nothing that was counted."""
        status = venue.status
        if status is current.status or status in LOCAL_STATUSES:
            return current
        if status in FILL_STATUSES:
            if current.filled_quantity > 0:
                return current  # the fills moved it already
            # The exchange says it traded but sent no fill yet: accepted until the fills arrive.
            status = OrderStatus.ACCEPTED
        if status is current.status or not can_transition(current.status, status):
            return current  # stale news, e.g. the acknowledgement after the first fill
        updated = await self._transition(
            current, status, venue_order_id=venue.venue_order_id or current.venue_order_id, error=venue.error
        )
        self._remember(updated)
        if updated.status.is_final:
            await self._after(updated)
        return updated

    async def _on_exchange_order(self, venue: Order) -> None:
        """The private stream's news of one of our orders."""
        current = await self.store.get_order(venue.client_order_id)
        if current is None or current.exchange != self.exchange:
            log_event("order.unknown_update", level="warning", client_order_id=venue.client_order_id)
            return
        await self._apply_exchange_status(current, venue)

    async def _on_fill(self, fill: Fill) -> None:
        """Record ``fill`` once with its order's new state; announce it, then let its group react."""
        order = await self.store.get_order(fill.client_order_id)
        if order is None:
            # Not ours (placed by hand on the account?): reconciliation deals with it.
            log_event("order.unknown_fill", level="warning", fill_id=fill.fill_id)
            await self.store.add_event(
                "order.unknown_fill",
                exchange=fill.exchange,
                symbol=fill.symbol,
                component=self.component,
                data={"fill_id": fill.fill_id, "client_order_id": fill.client_order_id},
            )
            return
        filled = order.filled_quantity + fill.quantity
        paid = (order.average_price or Decimal(0)) * order.filled_quantity + fill.price * fill.quantity
        average = paid / filled
        instrument = self.instruments.get(order.symbol)
        if instrument is not None:
            average = average.quantize(instrument.tick_size * Decimal("0.0001")).normalize()
        if order.status.is_final:
            # A fill after the order ended (filled before the cancel reached the exchange): counted, and
            # the status stays as it is.
            status = order.status
        else:
            status = OrderStatus.FILLED if filled >= order.quantity else OrderStatus.PARTIALLY_FILLED
            if not can_transition(order.status, status):
                status = order.status
        after = order.with_status(status, filled_quantity=filled, average_price=average)
        if not await self.store.record_fill(after, fill):
            return  # already counted
        self._remember(after)
        # A fill of an order that already ended is news of the fill, not a change of status.
        await self._announce(after, order.status, kind="order.late_fill" if order.status.is_final else None)
        event = OrderFilledMsg(fill, after)
        await self.portfolio.send(event)
        self._tell_strategy(event)
        log_event(
            "order.fill",
            fill_id=fill.fill_id,
            client_order_id=fill.client_order_id,
            side=fill.side.value,
            quantity=fill.quantity,
            price=fill.price,
            fee=fill.fee,
            fee_currency=fill.fee_currency,
        )
        await self.plugins.notify("on_order_filled", event=event)
        await self._after(after)

    async def _after(self, order: Order) -> None:
        """Group effects of ``order``'s new state: an OCO sibling is cancelled at the first fill; a
        bracket's exits are released when the entry fills and cancelled when it ends unfilled."""
        if order.oco_group is not None and order.filled_quantity > 0:
            await self._cancel_group(
                order.oco_group, except_id=order.client_order_id, reason=f"{order.client_order_id} filled"
            )
        if _releases_exits(order):
            await self._release_children(order)
        elif order.status.is_final:
            for child in await self.store.list_open_orders(parent_order_id=order.client_order_id):
                await self._cancel(child, f"entry {order.client_order_id} {order.status.value}")

    async def _release_children(self, entry: Order) -> None:
        """Activate the entry's pending exits, for the quantity the entry filled."""
        for child in await self.store.list_open_orders(parent_order_id=entry.client_order_id):
            if child.status is not OrderStatus.PENDING:
                continue
            if child.quantity != entry.filled_quantity:
                child = replace(child, quantity=entry.filled_quantity)
                await self.store.save_order(child)
            await self._admit(child)

    async def _cancel_group(self, group: str, *, except_id: str | None, reason: str) -> None:
        for sibling in await self.store.list_open_orders(oco_group=group):
            if sibling.client_order_id != except_id:
                await self._cancel(sibling, reason)

    # --- emulation ----------------------------------------------------------------------------------------

    async def _on_price(self, symbol: str, price: Decimal) -> None:
        self.last_price[symbol] = price
        for client_order_id in [o.client_order_id for o in self.watching.values() if o.symbol == symbol]:
            await self._evaluate(client_order_id, price)

    async def _evaluate(self, client_order_id: str, price: Decimal) -> None:
        """Move a trailing stop's water mark; trigger the emulated order when ``price`` reaches it."""
        order = self.watching.get(client_order_id)
        if order is None:
            return  # ended meanwhile (by another order's group effects)
        if emulation.waits_for_price(order):
            if emulation.marketable(order, price):
                order = await self._transition_if(order, OrderStatus.TRIGGERED)
                await self._send(order, emulation.executed_as(order, as_limit=False))
            return
        if order.type is OrderType.TRAILING_STOP:
            moved = emulation.follow(order, price, self.instruments[order.symbol])
            if moved != order:
                await self.store.save_order(moved)
                order = self._remember(moved)
        if not emulation.triggers(order, price):
            return
        order = self._remember(await self._transition(order, OrderStatus.TRIGGERED, error=None))
        # Checked again now: the position and limits may have changed since the order was placed.
        problem = await self._risk_problem(order, price)
        if problem is not None:
            await self._end(order, OrderStatus.REJECTED, problem)
            return
        if order.type in emulation.LIMIT_TYPES and not self.capabilities.get("limit_orders", False):
            await self._evaluate(order.client_order_id, price)  # the limit is emulated too
            return
        await self._send(order, emulation.executed_as(order, as_limit=order.type in emulation.LIMIT_TYPES))

    async def _transition_if(self, order: Order, status: OrderStatus) -> Order:
        return order if order.status is status else await self._transition(order, status)

    # --- cancel, amend ------------------------------------------------------------------------------------

    async def _open_order(self, client_order_id: str) -> Order:
        order = await self.store.get_order(client_order_id)
        if order is None or order.exchange != self.exchange:
            raise BadRequest(f"no order {client_order_id!r} on {self.exchange}")
        if order.status not in OPEN_STATUSES:
            raise BadRequest(f"order {client_order_id} is {order.status.value}, not open")
        return order

    async def _cancel_all(self, symbol: str | None, strategy: str | None, reason: str) -> list[Order]:
        """Cancel the open orders (native and emulated) of ``symbol``/``strategy`` (all when None)."""
        results = []
        for order in await self.store.list_open_orders(
            exchange=self.exchange, symbol=symbol, strategy=strategy
        ):
            current = await self._latest(order)  # an earlier cancel may have ended it (its group)
            if current.status in OPEN_STATUSES:
                results.append(await self._cancel(current, reason))
        return results

    async def _cancel(self, order: Order, reason: str) -> Order:
        """Cancel ``order``: locally when the exchange does not hold it, else on the exchange. An order the
        exchange refuses to cancel is left as it is (the refusal is logged and recorded)."""
        if order.status in (OrderStatus.CREATED, OrderStatus.PENDING) or self._held(order):
            # Never sent, or held here: nothing to ask the exchange.
            return await self._end(order, OrderStatus.CANCELLED, reason or None)
        try:
            cancelled = await self.adapter.cancel_order(order)
        except ExchangeError as exc:
            await self._warn(order, "order.cancel_failed", {}, exc)
            return order
        current = await self._latest(order)
        status = cancelled.status if cancelled.status.is_final else OrderStatus.CANCELLED
        if status is OrderStatus.FILLED or not can_transition(current.status, status):
            return current  # its fills arrive on their own
        return await self._end(current, status, reason or None)

    async def _amend(self, msg: AmendOrderMsg) -> Order:
        order = await self._open_order(msg.client_order_id)
        instrument = self.instruments[order.symbol]
        quantity = instrument.round_quantity(msg.quantity) if msg.quantity is not None else None
        price = instrument.round_price(msg.price) if msg.price is not None else None
        if quantity is None and price is None:
            raise BadRequest("amend: give a quantity, a price or both")
        if price is not None and order.type not in emulation.LIMIT_TYPES:
            raise BadRequest(f"amend: price: a {order.type.value} order has no limit price")
        if quantity is not None and quantity <= order.filled_quantity:
            raise BadRequest(
                f"amend: quantity {quantity} is not above the {order.filled_quantity} already filled"
            )
        changes = {k: v for k, v in (("quantity", quantity), ("price", price)) if v is not None}
        if order.status is OrderStatus.PENDING or self._held(order):
            amended = self._remember(replace(order, **changes))  # type: ignore[arg-type]
            await self.store.save_order(amended)
            await self._announce(amended, order.status, kind="order.amended")
            return amended
        if self.capabilities.get("amend", False):
            try:
                venue = await self.adapter.amend_order(order, quantity=quantity, price=price)
            except ExchangeError as exc:
                raise BadRequest(f"amend refused by {self.exchange}: {exc}") from exc
            amended = replace(
                order,
                quantity=venue.quantity,
                price=venue.price,
                venue_order_id=venue.venue_order_id or order.venue_order_id,
            )
            await self.store.save_order(amended)
            await self._announce(amended, order.status, kind="order.amended")
            return amended
        return await self._cancel_replace(order, changes)

    async def _cancel_replace(self, order: Order, changes: dict[str, Decimal]) -> Order:
        """Amend by cancelling ``order`` and placing the rest as a new order (``replaces`` links them)."""
        cancelled = await self._cancel(order, "amended: cancel and replace")
        if cancelled.status is not OrderStatus.CANCELLED:
            raise BadRequest(
                f"amend: {order.client_order_id} could not be cancelled (now {cancelled.status.value}); "
                "nothing replaced it"
            )
        quantity = changes.get("quantity", order.quantity) - cancelled.filled_quantity
        replacement = replace(
            order,
            client_order_id=self.id_factory(),
            status=OrderStatus.CREATED,
            quantity=quantity,
            price=changes.get("price", order.price),
            venue_order_id=None,
            filled_quantity=Decimal(0),
            average_price=None,
            error=None,
            replaces=order.client_order_id,
            reason=f"{order.reason} (replaces {order.client_order_id})".strip(),
        )
        replaced = await self._open(replacement, self.instruments[order.symbol])
        await self._event(order, "order.replaced", {"replaced_by": replaced.client_order_id})
        return replaced


def _releases_exits(entry: Order) -> bool:
    """Whether a bracket entry's exits become active: it filled, or it ended after filling in part."""
    return entry.status is OrderStatus.FILLED or (entry.status.is_final and entry.filled_quantity > 0)


def _check_request(msg: PlaceOrderMsg) -> None:
    """``BadRequest`` naming the field when ``msg`` lacks what its type needs or has what it cannot use."""
    kind = msg.type
    if msg.oco:
        if msg.take_profit is None or msg.stop_loss is None:
            raise BadRequest("oco: needs both take_profit and stop_loss")
        _check_exit_prices(msg.side, msg.take_profit, msg.stop_loss, against="position")
        return
    if kind in emulation.LIMIT_TYPES and msg.price is None:
        raise BadRequest(f"price: a {kind.value} order needs a limit price")
    if kind not in emulation.LIMIT_TYPES and msg.price is not None:
        raise BadRequest(f"price: a {kind.value} order does not take a limit price")
    needs_stop = kind in emulation.STOP_TYPES | emulation.TAKE_PROFIT_TYPES
    if needs_stop != (msg.stop_price is not None):
        raise BadRequest(f"stop_price: a {kind.value} order {'needs' if needs_stop else 'does not take'} one")
    trails = (msg.trail_percent is not None) + (msg.trail_amount is not None)
    if kind is OrderType.TRAILING_STOP and trails != 1:
        raise BadRequest("trail_percent/trail_amount: a trailing_stop needs exactly one of them")
    if kind is not OrderType.TRAILING_STOP and trails:
        raise BadRequest(f"trail_percent/trail_amount: a {kind.value} order does not trail")
    if msg.trail_percent is not None and not 0 < msg.trail_percent < 100:
        raise BadRequest(f"trail_percent: got {msg.trail_percent}; expected 0 < p < 100")
    if msg.trail_amount is not None and msg.trail_amount <= 0:
        raise BadRequest(f"trail_amount: got {msg.trail_amount}; expected a positive amount")
    if msg.post_only and kind is not OrderType.LIMIT:
        raise BadRequest(f"post_only: only limit orders can be post-only, not {kind.value}")
    if msg.time_in_force is not TimeInForce.GTC and kind not in emulation.LIMIT_TYPES:
        raise BadRequest(
            f"time_in_force: {msg.time_in_force.value} applies to limit orders, not {kind.value}"
        )
    if msg.post_only and msg.time_in_force is not TimeInForce.GTC:
        raise BadRequest(f"post_only: a post-only order rests, so it cannot be {msg.time_in_force.value}")
    if msg.stop_loss is not None or msg.take_profit is not None:
        if kind not in (OrderType.MARKET, OrderType.LIMIT):
            raise BadRequest(f"stop_loss/take_profit: a bracket's entry is market or limit, not {kind.value}")
        _check_exit_prices(msg.side, msg.take_profit, msg.stop_loss, against="entry")


def _check_exit_prices(
    side: Side, take_profit: Decimal | None, stop_loss: Decimal | None, against: str
) -> None:
    """For a buy entry (or a sell OCO closing a long) the take profit is above the stop loss."""
    if take_profit is None or stop_loss is None:
        return
    # A bracket's side is the entry's; an OCO's is the exit's, which is the other way round.
    long = (side is Side.BUY) == (against == "entry")
    if long and take_profit <= stop_loss:
        raise BadRequest(
            f"take_profit: {take_profit} must be above stop_loss {stop_loss} for a long position"
        )
    if not long and take_profit >= stop_loss:
        raise BadRequest(
            f"take_profit: {take_profit} must be below stop_loss {stop_loss} for a short position"
        )
