"""The strategy runner: one ``.star`` strategy on one symbol of one exchange.

This is the minimal in-process runner of the foundation: Starlark runs in a worker thread so the event
loop never blocks, one callback at a time. Worker processes with memory and time budgets, hot reload and
the complete builtin set are the strategy engine's work (see docs/architecture.md, "What comes next").
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Any

import trio

from marketmaestro.config import StrategyConfig
from marketmaestro.exchanges import Exchange
from marketmaestro.logs import log_event
from marketmaestro.messages import (
    CancelOrdersMsg,
    GetBalancesMsg,
    GetPositionMsg,
    GetStatusMsg,
    KlineDataMsg,
    OrderBookDataMsg,
    PlaceOrderMsg,
    TickerDataMsg,
)
from marketmaestro.model import Kline, Order, OrderType, Side
from marketmaestro.orders.manager import OPEN_STATUSES
from marketmaestro.plugins.registry import Registry
from marketmaestro.storage import AsyncStore
from marketmaestro.strategy.engine import (
    CallContext,
    StrategyEngine,
    fill_dict,
    kline_dict,
    order_dict,
    orderbook_dict,
    ticker_dict,
)
from marketmaestro.strategy.sandbox import StarlarkScript, StrategyLoadError, StrategyRuntimeError
from marketmaestro.strategy.signals import Signal, SignalError, parse_signals
from marketmaestro.supervision import (
    BadRequest,
    Component,
    HealthRegistry,
    Mailbox,
    RequestFailed,
    RequestTimeout,
)
from marketmaestro.supervision.mailbox import reply, reply_failure

STOP_TIMEOUT = 2.0
MAX_ORDER_EVENT_ROUNDS = 10


class StrategyRunner(Component):
    component = "strategy"

    def __init__(
        self,
        mailbox: Mailbox,
        *,
        exchange: str,
        symbol: str,
        spec: StrategyConfig,
        registry: Registry,
        store: AsyncStore,
        adapter: Exchange,
        orders: Mailbox,
        portfolio: Mailbox,
        health: HealthRegistry,
        health_name: str,
        request_timeout: float,
        history_max: int = 1000,
    ) -> None:
        super().__init__(mailbox, exchange=exchange)
        self.symbol = symbol
        self.spec = spec
        self.strategy = spec.name
        self.registry = registry
        self.store = store
        self.adapter = adapter
        self.orders = orders
        self.portfolio = portfolio
        self.health = health
        self.health_name = health_name
        self.request_timeout = request_timeout
        functions = {name: entry.function for name, entry in registry.functions.items()}
        self.engine = StrategyEngine(spec.file, functions, spec.config, history_max=history_max)
        self.load_error: str | None = None
        self.signals = 0
        self.errors = 0
        self._order_events: list[Order] = []

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def interval(self) -> str:
        return self.engine.interval

    @property
    def script(self) -> StarlarkScript | None:
        return self.engine.script

    @property
    def history(self) -> deque[Kline]:
        return self.engine.history

    def wants(self, callback: str) -> bool:
        return self.engine.wants(callback)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            await trio.to_thread.run_sync(self.engine.load)
        except (StrategyLoadError, StrategyRuntimeError) as exc:
            # Restarting cannot fix a broken file: report it and stay out of the way of the others.
            self.load_error = str(exc)
            log_event(
                "strategy.load_failed", level="error", strategy=self.name, symbol=self.symbol, error=str(exc)
            )
            await self.store.add_event(
                "strategy.load_failed",
                exchange=self.exchange,
                symbol=self.symbol,
                strategy=self.name,
                data={"error": str(exc)},
            )
            task_status.started()
            self.health.set_state(self.health_name, "failed", detail=self.load_error)
            # Keep draining, so senders never block on this mailbox, and answer requests at once.
            async for envelope in self.mailbox.receive_channel:
                if isinstance(envelope.msg, GetStatusMsg):
                    reply(envelope, self._status())
                else:
                    reply_failure(
                        envelope, BadRequest(f"strategy {self.name} is not loaded: {self.load_error}")
                    )
            return
        await super().run(task_status=task_status)

    async def on_start(self) -> None:
        assert self.exchange is not None
        self.engine.state = await self.store.strategy_state(self.exchange, self.symbol, self.name)
        if not self.history:
            for kline in await self.adapter.klines(self.symbol, self.interval, self.history.maxlen or 0):
                self.history.append(kline)
        log_event(
            "strategy.started",
            strategy=self.name,
            symbol=self.symbol,
            interval=self.interval,
            callbacks=sorted(self.script.callbacks) if self.script else [],
            warmup=len(self.history),
        )
        if self.wants("on_start"):
            await self._invoke("on_start")

    async def on_stop(self) -> None:
        if self.wants("on_stop"):
            with trio.move_on_after(STOP_TIMEOUT):
                await self._invoke("on_stop")

    # --- data ---------------------------------------------------------------------------------------------

    async def handle(self, msg: Any) -> Any:
        match msg:
            case KlineDataMsg(kline=kline) if kline.symbol == self.symbol and kline.interval == self.interval:
                self.history.append(kline)
                if self.wants("on_kline"):
                    await self._invoke("on_kline", kline_dict(kline), timestamp=kline.timestamp)
            case TickerDataMsg(ticker=ticker) if ticker.symbol == self.symbol and self.wants("on_ticker"):
                await self._invoke("on_ticker", ticker_dict(ticker), timestamp=ticker.timestamp)
            case OrderBookDataMsg(orderbook=book) if book.symbol == self.symbol and self.wants(
                "on_orderbook"
            ):
                await self._invoke("on_orderbook", orderbook_dict(book), timestamp=book.timestamp)
            case KlineDataMsg() | TickerDataMsg() | OrderBookDataMsg():
                pass
            case GetStatusMsg():
                return self._status()
            case _:
                return await super().handle(msg)
        return None

    def _status(self) -> dict[str, Any]:
        return {
            "signals": self.signals,
            "errors": self.errors,
            "interval": self.interval,
            "load_error": self.load_error,
        }

    async def _invoke(self, callback: str, *args: Any, timestamp: int = 0) -> None:
        assert self.exchange is not None and self.script is not None
        position = await self.portfolio.request(
            GetPositionMsg(self.exchange, self.symbol, self.name), self.request_timeout
        )
        balances = await self.portfolio.request(GetBalancesMsg(self.exchange), self.request_timeout)
        self.engine.context = CallContext(
            {
                "quantity": float(position.quantity),
                "average_price": float(position.average_price),
                "realized_pnl": float(position.realized_pnl),
            },
            {b.asset: float(b.free) for b in balances},
            timestamp,
            await self._open_orders() if self.engine.uses_open_orders else (),
        )
        where = f"{self.spec.file.name} {callback}()"
        try:
            # Abandoned when cancelled (a running script cannot be stopped): shutdown must not wait for a
            # callback that never returns. The script's lock keeps a later call from running beside it.
            result = await trio.to_thread.run_sync(self._call, callback, args, abandon_on_cancel=True)
        except StrategyRuntimeError as exc:
            self.errors += 1
            log_event(
                "strategy.error",
                level="error",
                strategy=self.name,
                symbol=self.symbol,
                error=f"{self.spec.file.name}: {exc}",
                starlark_stack=exc.backtrace,
            )
            return
        finally:
            await self._flush()
        try:
            signals = parse_signals(result, where=where)
        except SignalError as exc:
            self.errors += 1
            log_event(
                "strategy.bad_signal", level="error", strategy=self.name, symbol=self.symbol, error=str(exc)
            )
            return
        for signal in signals:
            await self._act(signal, position.quantity)
        if callback not in ("on_order", "on_fill"):
            await self._deliver_order_events()

    def _call(self, callback: str, args: tuple[Any, ...]) -> Any:
        return self.engine.call(callback, *args)

    async def _flush(self) -> None:
        """Emit what the callback logged and store the state it changed."""
        for kind, text in self.engine.take_lines():
            log_event(f"strategy.{kind}", strategy=self.name, symbol=self.symbol, message=text)
        assert self.exchange is not None
        for key, value in self.engine.take_dirty().items():
            await self.store.set_strategy_state(self.exchange, self.symbol, self.name, key, value)

    async def _act(self, signal: Signal, position: Decimal) -> None:
        assert self.exchange is not None
        if signal.action == "cancel":
            await self._cancel(signal)
            return
        side = Side.BUY if signal.action == "buy" else Side.SELL
        quantity = signal.quantity
        if signal.action == "close":
            if position == 0:
                return
            # The whole position, or the part asked for (never more: a close does not open the other side).
            side = Side.SELL if position > 0 else Side.BUY
            quantity = abs(position) if quantity is None else min(quantity, abs(position))
        assert quantity is not None  # parse_signals requires one for buy and sell
        self.signals += 1
        log_event(
            "strategy.signal",
            strategy=self.name,
            symbol=self.symbol,
            action=signal.action,
            quantity=quantity,
            reason=signal.reason,
        )
        place = PlaceOrderMsg(
            self.exchange,
            self.symbol,
            side,
            OrderType(signal.type),
            quantity,
            self.name,
            price=signal.price,
            reason=signal.reason,
            stop_price=signal.stop_price,
            trail_percent=signal.trail_percent,
        )
        try:
            order = await self.orders.request(place, self.request_timeout)
        except (RequestFailed, RequestTimeout) as exc:
            # The order manager stores whatever became of the order; the strategy carries on either way.
            log_event(
                "strategy.order_failed", level="error", strategy=self.name, symbol=self.symbol, error=str(exc)
            )
            return
        log_event(
            "strategy.order_result",
            strategy=self.name,
            symbol=self.symbol,
            client_order_id=order.client_order_id,
            status=order.status.value,
            error=order.error,
        )
        if self.wants("on_order") or self.wants("on_fill"):
            self._order_events.append(order)

    async def _open_orders(self) -> tuple[dict[str, Any], ...]:
        assert self.exchange is not None
        found: list[Order] = []
        for status in OPEN_STATUSES:
            found += await self.store.list_orders(
                exchange=self.exchange, symbol=self.symbol, strategy=self.name, status=status, limit=1000
            )
        return tuple(order_dict(order) for order in sorted(found, key=lambda o: o.created_at))

    async def _cancel(self, signal: Signal) -> None:
        assert self.exchange is not None
        self.signals += 1
        log_event(
            "strategy.signal", strategy=self.name, symbol=self.symbol, action="cancel", reason=signal.reason
        )
        try:
            orders = await self.orders.request(
                CancelOrdersMsg(self.exchange, self.symbol, self.name, signal.reason), self.request_timeout
            )
        except (RequestFailed, RequestTimeout) as exc:
            log_event(
                "strategy.order_failed", level="error", strategy=self.name, symbol=self.symbol, error=str(exc)
            )
            return
        if self.wants("on_order"):
            self._order_events.extend(orders)

    async def _deliver_order_events(self) -> None:
        """Tell the strategy what became of its orders (``on_order``) and their fills (``on_fill``).

        Runs after the callback that placed them, in rounds: orders placed from ``on_order``/``on_fill`` are
        delivered in the next round, up to ``MAX_ORDER_EVENT_ROUNDS`` (a strategy that answers every order
        with another order must not keep its runner busy forever).
        """
        for _ in range(MAX_ORDER_EVENT_ROUNDS):
            if not self._order_events:
                return
            events, self._order_events = self._order_events, []
            for order in events:
                if self.wants("on_order"):
                    await self._invoke("on_order", order_dict(order))
                if self.wants("on_fill") and order.filled_quantity > 0:
                    fills = await self.store.list_fills(client_order_id=order.client_order_id)
                    for fill in reversed(fills):  # oldest first
                        await self._invoke("on_fill", fill_dict(fill))
        if self._order_events:
            self.errors += 1
            log_event(
                "strategy.error",
                level="error",
                strategy=self.name,
                symbol=self.symbol,
                error=f"{self.spec.file.name}: orders placed from on_order/on_fill more than "
                f"{MAX_ORDER_EVENT_ROUNDS} rounds deep; the rest are not delivered",
            )
            self._order_events.clear()
