"""The order manager: turns a strategy's request into an order on the exchange, and records its life.

For each ``PlaceOrderMsg``::

    round to the instrument's step ──> check minimums ──> store (created) ──> risk manager
        ──> store (submitted) ──> exchange.place_order ──> store each fill with the order (one transaction)
        ──> portfolio (OrderFilledMsg) and balances (UpdateBalanceMsg)

The order is written before anything is sent, so a crash never leaves an order on the exchange that the
database does not know. Every status change is stored, recorded as an event and announced to plugins
(``on_order_updated``); every fill too (``on_order_filled``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import trio

from marketmaestro.exchanges import Exchange, ExchangeError, OrderRejected, RetryableError
from marketmaestro.logs import log_event
from marketmaestro.messages import (
    CancelOrdersMsg,
    GetStatusMsg,
    KlineDataMsg,
    OrderBookDataMsg,
    OrderFilledMsg,
    OrderUpdatedMsg,
    PlaceOrderMsg,
    TickerDataMsg,
    UpdateBalanceMsg,
    ValidateOrderMsg,
)
from marketmaestro.model import Instrument, Order, OrderStatus
from marketmaestro.plugins.manager import PluginHost
from marketmaestro.storage import AsyncStore
from marketmaestro.supervision import BadRequest, Component, Mailbox, RequestFailed, RequestTimeout

SUBMIT_ATTEMPTS = 3
OPEN_STATUSES = (OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)
SUBMIT_BACKOFF = 0.5


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

    async def handle(self, msg: Any) -> Any:
        match msg:
            case KlineDataMsg(kline=kline):
                self.last_price[kline.symbol] = Decimal(repr(kline.close))
            case TickerDataMsg(ticker=ticker):
                self.last_price[ticker.symbol] = Decimal(repr(ticker.last))
            case OrderBookDataMsg(orderbook=book):
                if book.mid is not None:
                    self.last_price[book.symbol] = Decimal(repr(book.mid))
            case PlaceOrderMsg():
                return await self._place(msg)
            case CancelOrdersMsg():
                return await self._cancel_all(msg)
            case GetStatusMsg():
                return {"orders": dict(self.counts)}
            case _:
                return await super().handle(msg)
        return None

    async def _transition(self, order: Order, status: OrderStatus, **changes: Any) -> Order:
        updated = order.with_status(status, **changes)
        await self._store(updated, previous=order.status)
        return updated

    async def _store(self, order: Order, *, previous: OrderStatus | None) -> None:
        await self.store.save_order(order)
        await self._announce(order, previous)

    async def _announce(self, order: Order, previous: OrderStatus | None) -> None:
        self.counts[order.status.value] = self.counts.get(order.status.value, 0) + 1
        await self.store.add_event(
            f"order.{order.status.value}",
            exchange=order.exchange,
            symbol=order.symbol,
            strategy=order.strategy or None,
            component=self.component,
            data={
                "client_order_id": order.client_order_id,
                "side": order.side.value,
                "quantity": str(order.quantity),
                "error": order.error,
            },
        )
        log_event(
            f"order.{order.status.value}",
            level="warning" if order.status is OrderStatus.REJECTED else "info",
            client_order_id=order.client_order_id,
            side=order.side.value,
            type=order.type.value,
            quantity=order.quantity,
            price=order.average_price or order.price,
            error=order.error,
        )
        await self.plugins.notify("on_order_updated", event=OrderUpdatedMsg(order, previous))

    async def _place(self, msg: PlaceOrderMsg) -> Order:
        instrument = self.instruments.get(msg.symbol)
        if instrument is None:
            raise BadRequest(f"symbol {msg.symbol!r} is not traded on {self.exchange}")
        if msg.exchange != self.exchange:
            raise BadRequest(f"order for exchange {msg.exchange!r} sent to {self.exchange!r}")
        quantity = instrument.round_quantity(msg.quantity)
        price = instrument.round_price(msg.price) if msg.price is not None else None
        stop_price = instrument.round_price(msg.stop_price) if msg.stop_price is not None else None
        order = Order(
            client_order_id=self.id_factory(),
            exchange=msg.exchange,
            symbol=msg.symbol,
            side=msg.side,
            type=msg.type,
            quantity=quantity,
            price=price,
            strategy=msg.strategy,
            reason=msg.reason,
            stop_price=stop_price,
            trail_percent=msg.trail_percent,
        )
        await self._store(order, previous=None)
        reference = price if price is not None else self.last_price.get(msg.symbol)
        if reference is None:
            return await self._transition(
                order, OrderStatus.REJECTED, error=f"no market price for {msg.symbol} yet"
            )
        problem = instrument.check_order(quantity, reference)
        if problem is not None:
            return await self._transition(order, OrderStatus.REJECTED, error=problem)
        try:
            verdict = await self.risk.request(ValidateOrderMsg(order, reference), self.request_timeout)
        except (RequestFailed, RequestTimeout) as exc:
            # Without a risk verdict nothing is sent: fail closed.
            return await self._transition(order, OrderStatus.REJECTED, error=f"risk check failed: {exc}")
        if not verdict.approved:
            return await self._transition(
                order, OrderStatus.REJECTED, error=f"risk rule {verdict.rule}: {verdict.reason}"
            )
        order = await self._transition(order, OrderStatus.SUBMITTED)
        return await self._submit(order)

    async def _cancel_all(self, msg: CancelOrdersMsg) -> list[Order]:
        """Cancel the strategy's open orders on the symbol; each ends cancelled, or as the exchange says."""
        results = []
        for status in OPEN_STATUSES:
            for order in await self.store.list_orders(
                exchange=msg.exchange, symbol=msg.symbol, strategy=msg.strategy, status=status, limit=1000
            ):
                try:
                    cancelled = await self.adapter.cancel_order(order)
                except ExchangeError as exc:
                    log_event(
                        "order.cancel_failed",
                        level="warning",
                        client_order_id=order.client_order_id,
                        error=str(exc),
                    )
                    continue
                results.append(await self._transition(order, cancelled.status, error=msg.reason or None))
        return results

    async def _submit(self, order: Order) -> Order:
        for attempt in range(1, SUBMIT_ATTEMPTS + 1):
            try:
                result = await self.adapter.place_order(order)
                break
            except OrderRejected as exc:
                return await self._transition(order, OrderStatus.REJECTED, error=exc.reason)
            except RetryableError as exc:
                log_event(
                    "order.retry",
                    level="warning",
                    client_order_id=order.client_order_id,
                    attempt=attempt,
                    error=str(exc),
                )
                if attempt == SUBMIT_ATTEMPTS:
                    return await self._transition(
                        order, OrderStatus.REJECTED, error=f"gave up after {attempt} attempts: {exc}"
                    )
                await trio.sleep(SUBMIT_BACKOFF * attempt)
            except ExchangeError as exc:
                return await self._transition(
                    order, OrderStatus.REJECTED, error=f"{type(exc).__name__}: {exc}"
                )
        current = order
        filled_so_far = Decimal(0)
        for fill in result.fills:
            filled_so_far += fill.quantity
            done = filled_so_far >= order.quantity
            status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
            after = current.with_status(
                status,
                venue_order_id=result.order.venue_order_id,
                filled_quantity=filled_so_far,
                average_price=result.order.average_price if done else fill.price,
            )
            if await self.store.record_fill(after, fill):
                await self._announce(after, current.status)
                event = OrderFilledMsg(fill, after)
                await self.portfolio.send(event)
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
            current = after
        if current.status is not result.order.status:
            current = await self._transition(
                current,
                result.order.status,
                venue_order_id=result.order.venue_order_id,
                filled_quantity=result.order.filled_quantity,
                average_price=result.order.average_price,
            )
        if result.fills:
            balances = await self.adapter.balances()
            await self.portfolio.send(UpdateBalanceMsg(order.exchange, tuple(balances)))
        return current
