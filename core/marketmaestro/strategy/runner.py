"""The strategy runner: one ``.star`` strategy on one symbol of one exchange, run in a worker process.

The runner is the strategy's component: it receives market data, asks the portfolio for the call context,
has the worker (:mod:`marketmaestro.strategy.isolation`) run the callback, stores what the strategy stored,
and turns what it returned into orders. The strategy's code never runs in the bot's process, so a runaway
loop or a memory bomb costs only its own worker. The runner handles its worker's failures itself, never
escalating them to the exchange's subtree::

    running ──worker killed or died──▶ restarting ──new worker loaded, state from the store──▶ running
       │                                    └── max_failures within failure_window ──▶ disabled
       └── max_consecutive_errors runtime errors in a row ──▶ paused
    any of them ──the file changed and the new version loads──▶ running (the new version, same state)

While restarting, paused or disabled the runner still drains its mailbox: klines are added to the history
(the next worker gets them) but no callback runs, and status requests are answered.

With a settings mailbox, the runner declares the strategy's configuration (every key of ``settings()`` but
``interval``, typed by its value) as the runtime settings of component ``strategy:<name>:<symbol>``. A
stored value overrides the configuration file's; a change (``SettingChangedMsg``) loads the file with the
new configuration in a new worker and swaps to it with the state, as an edit of the file does.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import trio

from marketmaestro.logs import log_event
from marketmaestro.messages import (
    CancelOrdersMsg,
    DeclareSettingsMsg,
    FollowOrdersMsg,
    GetBalancesMsg,
    GetPositionMsg,
    GetStatusMsg,
    KlineDataMsg,
    OrderBookDataMsg,
    OrderFilledMsg,
    OrderUpdatedMsg,
    PlaceOrderMsg,
    SettingChangedMsg,
    TickerDataMsg,
)
from marketmaestro.model import Kline, Order, OrderType, Side, TimeInForce
from marketmaestro.strategy.engine import (
    DEFAULT_HISTORY,
    fill_dict,
    kline_dict,
    order_dict,
    orderbook_dict,
    ticker_dict,
)
from marketmaestro.strategy.isolation import (
    CallAnswer,
    FailureWindow,
    FileStamp,
    LoadedStrategy,
    WorkerClient,
    WorkerFailed,
    WorkerLimits,
    WorkerPlugins,
    WorkerPolicy,
)
from marketmaestro.strategy.sandbox import StrategyLoadError
from marketmaestro.strategy.signals import Signal, SignalError, parse_signals
from marketmaestro.supervision import BadRequest, Component, RequestFailed, RequestTimeout
from marketmaestro.supervision.mailbox import reply, reply_failure

if TYPE_CHECKING:
    # Types only: every worker process imports this package, and these pull in the database and config.
    from marketmaestro.config import StrategyConfig
    from marketmaestro.exchanges import Exchange
    from marketmaestro.plugins.registry import Registry
    from marketmaestro.storage import AsyncStore
    from marketmaestro.supervision import HealthRegistry, Mailbox

STOP_TIMEOUT = 2.0
MAX_ORDER_EVENT_ROUNDS = 10
ORDER_CALLBACKS = ("on_order", "on_fill")
Mode = Literal["running", "restarting", "paused", "disabled", "stopped"]


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
        history_max: int = DEFAULT_HISTORY,
        policy: WorkerPolicy | None = None,
        settings: Mailbox | None = None,
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
        self.policy = policy or WorkerPolicy()
        self.settings = settings
        self.runtime_config: dict[str, Any] = {}
        """Configuration changed at runtime (the settings component), over the file's ``config``."""
        self.limits = WorkerLimits(spec.memory_mb, spec.callback_timeout)
        self.plugins = WorkerPlugins.from_registry(registry)
        self.history: deque[Kline] = deque(maxlen=history_max)
        self.loaded: LoadedStrategy | None = None
        """What the running version of the file defines; None when it never loaded."""
        self.load_error: str | None = None
        self.mode: Mode = "running"
        self.worker: WorkerClient | None = None
        self.signals = 0
        self.errors = 0
        self.consecutive_errors = 0
        self.worker_restarts = 0
        self._failures = self._new_failure_window()
        self._workers: set[WorkerClient] = set()  # every live process this runner started, to kill at stop
        self._lock = trio.Lock()  # one callback or worker swap at a time
        self._nursery: trio.Nursery | None = None
        self._restart_scope: trio.CancelScope | None = None
        self._appended = 0  # klines ever added to the history
        self._synced = 0  # ... of which the current worker has
        self._stopping = False
        self._warned_missing = False
        # The news of the strategy's orders, from the order manager (``FollowOrdersMsg``): unbounded, so the
        # manager never waits for a runner that is waiting for it; read by this runner's own task only.
        self._news_send, self._news_receive = trio.open_memory_channel[OrderUpdatedMsg | OrderFilledMsg](
            math.inf
        )
        self._news_pinged = False  # an _OrderNews is in the mailbox
        self._delivering = False
        self._chained = 0  # orders placed from on_order/on_fill since the last other callback
        self._chain_cut = False

    def follow_orders(self) -> FollowOrdersMsg:
        """The message that has the order manager send this runner the news of its strategy's orders."""
        assert self.exchange is not None
        return FollowOrdersMsg(self.exchange, self.symbol, self.name, self._order_news)

    def _order_news(self, event: OrderUpdatedMsg | OrderFilledMsg) -> None:
        """Called by the order manager (never blocks): keep the news and wake the runner."""
        if self.load_error is not None:
            return  # the file never loaded: no callback will ever hear it
        self._news_send.send_nowait(event)
        if not self._news_pinged:
            try:
                self.mailbox.send_nowait(_OrderNews())
                self._news_pinged = True
            except trio.WouldBlock:
                pass  # the mailbox is full: the news are read before the next message is handled

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def interval(self) -> str:
        if self.loaded is not None:
            return self.loaded.interval
        return str(self.spec.config.get("interval", "1m"))

    @property
    def script(self) -> LoadedStrategy | None:
        """The loaded strategy (None when its file did not load); the exchange service routes by it."""
        return self.loaded

    def wants(self, callback: str) -> bool:
        return self.loaded is not None and callback in self.loaded.callbacks

    # --- lifetime -----------------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.mode, self.consecutive_errors, self._stopping = "running", 0, False
        self._failures = self._new_failure_window()
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                stamp = FileStamp.of(self.spec.file)
                try:
                    await self._first_load()
                except StrategyLoadError as exc:
                    await self._load_failed(exc, task_status)
                    return
                nursery.start_soon(self._watch_file, stamp)
                await super().run(task_status=task_status)
        finally:
            self._nursery = None
            for worker in list(self._workers):
                await self._discard(worker)
            self.worker = None

    async def _first_load(self) -> None:
        """Start the first worker; a worker failure is retried like any other, a load error is final."""
        while True:
            started = trio.current_time()
            try:
                self.worker, self.loaded = await self._open_worker()
            except WorkerFailed as exc:
                if await self._report_failure(exc, "load", trio.current_time() - started):
                    raise StrategyLoadError(
                        f"{self.spec.file}: the worker failed {self._failures.count} times while loading "
                        f"the file; last: {exc.reason}"
                    ) from None
                await trio.sleep(self._failures.next_backoff())
            else:
                return  # on_start hands it the state and the history

    async def _load_failed(self, exc: StrategyLoadError, task_status: trio.TaskStatus[None]) -> None:
        # Restarting cannot fix a broken file: report it and stay out of the way of the others.
        self.load_error, self.loaded = str(exc), None
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
                reply_failure(envelope, BadRequest(f"strategy {self.name} is not loaded: {self.load_error}"))

    @property
    def settings_name(self) -> str:
        """The component name of this strategy's runtime settings."""
        return f"strategy:{self.name}:{self.symbol}"

    @property
    def overrides(self) -> dict[str, Any]:
        """What the strategy's ``settings()`` defaults are overridden with: the file's, then runtime ones."""
        return {**self.spec.config, **self.runtime_config}

    async def _declare_settings(self, worker: WorkerClient) -> None:
        """Declare the strategy's configuration as runtime settings; load stored changes into ``worker``."""
        # Imported here: the settings package brings the database layer, which worker processes do not need.
        from marketmaestro.settings import spec_from_default

        if self.settings is None or self.loaded is None:
            return
        config = self.loaded.config
        specs = tuple(
            spec_from_default(key, value, f"{self.spec.file.name} settings(): {key}")
            for key, value in sorted(config.items())
            if key != "interval"  # the market data subscription changes only when the bot restarts
        )
        try:
            values = await self.settings.request(
                DeclareSettingsMsg(self.settings_name, specs, self.mailbox), self.request_timeout
            )
        except (RequestFailed, RequestTimeout) as exc:
            # The strategy runs on its file's configuration; only runtime changes are unavailable.
            log_event(
                "strategy.settings_unavailable",
                level="warning",
                strategy=self.name,
                symbol=self.symbol,
                error=str(exc),
            )
            return
        self.runtime_config = {key: value for key, value in values.items() if value != config.get(key)}
        if self.runtime_config:
            self.loaded = await worker.load(
                self.spec.file, self.overrides, self.history.maxlen or DEFAULT_HISTORY
            )

    async def on_start(self) -> None:
        worker = self.worker
        assert self.exchange is not None and worker is not None
        await self.orders.send(self.follow_orders())
        if not self.history:
            for kline in await self.adapter.klines(self.symbol, self.interval, self.history.maxlen or 0):
                self._remember(kline)
        started = trio.current_time()
        try:
            await self._declare_settings(worker)
            await self._install(worker, self.loaded)
        except WorkerFailed as exc:
            await self._worker_failed(worker, exc, "start", trio.current_time() - started)
        log_event(
            "strategy.started",
            strategy=self.name,
            symbol=self.symbol,
            interval=self.interval,
            callbacks=sorted(self.loaded.callbacks) if self.loaded else [],
            warmup=len(self.history),
            pid=self.worker.pid if self.worker else None,
            memory_limit_mb=self.worker.limit_kb // 1024 if self.worker else None,
        )
        if self.wants("on_start"):
            await self._invoke("on_start")

    async def on_stop(self) -> None:
        self._stopping = True
        if self.wants("on_stop"):
            with trio.move_on_after(STOP_TIMEOUT):
                await self._invoke("on_stop")

    # --- data ---------------------------------------------------------------------------------------------

    async def handle(self, msg: Any) -> Any:
        # News of the strategy's orders first: they happened before this message was handled.
        await self._deliver_order_news()
        match msg:
            case _OrderNews():
                pass
            case KlineDataMsg(kline=kline) if kline.symbol == self.symbol and kline.interval == self.interval:
                self._remember(kline)
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
            case SettingChangedMsg(key=key, value=value):
                self.runtime_config[key] = value
                await self._reload()
            case _:
                return await super().handle(msg)
        return None

    def _remember(self, kline: Kline) -> None:
        self.history.append(kline)
        self._appended += 1

    def _new_klines(self) -> tuple[list[Kline], bool]:
        """The klines the current worker has not seen, and whether they replace its whole history."""
        new, self._synced = self._appended - self._synced, self._appended
        if new >= len(self.history):
            return list(self.history), True
        return [self.history[i] for i in range(-new, 0)], False

    def _status(self) -> dict[str, Any]:
        return {
            "signals": self.signals,
            "errors": self.errors,
            "interval": self.interval,
            "load_error": self.load_error,
            "state": self.mode,
            "consecutive_errors": self.consecutive_errors,
            "worker_restarts": self.worker_restarts,
            "pid": self.worker.pid if self.worker is not None else None,
            "config": dict(self.loaded.config) if self.loaded is not None else None,
        }

    async def _invoke(self, callback: str, *args: Any, timestamp: int = 0) -> None:
        assert self.exchange is not None
        if self.mode != "running":
            return
        if callback not in ORDER_CALLBACKS:
            self._chained, self._chain_cut = 0, False
        position = await self.portfolio.request(
            GetPositionMsg(self.exchange, self.symbol, self.name), self.request_timeout
        )
        balances = await self.portfolio.request(GetBalancesMsg(self.exchange), self.request_timeout)
        context = {
            "position": {
                "quantity": float(position.quantity),
                "average_price": float(position.average_price),
                "realized_pnl": float(position.realized_pnl),
            },
            "balances": {b.asset: float(b.free) for b in balances},
            "timestamp": timestamp,
            "open_orders": await self._open_orders() if self.loaded and self.loaded.uses_open_orders else (),
        }
        async with self._lock:
            worker = self.worker
            if worker is None or self.mode != "running":
                return  # it failed or paused while we asked the portfolio
            history, replace = self._new_klines()
            started = trio.current_time()
            try:
                answer = await worker.call(callback, args, context, history, replace_history=replace)
            except WorkerFailed as exc:
                await self._worker_failed(worker, exc, callback, trio.current_time() - started)
                return
            await self._flush(answer)
        await self._act_on(callback, answer, position.quantity)

    async def _act_on(self, callback: str, answer: CallAnswer, position: Decimal) -> None:
        if answer.error is not None:
            log_event(
                "strategy.error",
                level="error",
                strategy=self.name,
                symbol=self.symbol,
                error=f"{self.spec.file.name}: {answer.error}",
                starlark_stack=answer.backtrace,
            )
            await self._count_error(answer.error)
            return
        try:
            signals = parse_signals(answer.result, where=f"{self.spec.file.name} {callback}()")
        except SignalError as exc:
            log_event(
                "strategy.bad_signal", level="error", strategy=self.name, symbol=self.symbol, error=str(exc)
            )
            await self._count_error(str(exc))
            return
        self.consecutive_errors = 0
        for signal in signals:
            if callback in ORDER_CALLBACKS:
                if self._chained >= MAX_ORDER_EVENT_ROUNDS:
                    self._cut_chain()
                    break
                self._chained += 1
            await self._act(signal, position)
        await self._deliver_order_news()

    async def _flush(self, answer: CallAnswer) -> None:
        """Emit what the callback logged and store the state it changed."""
        for kind, text in answer.lines:
            log_event(f"strategy.{kind}", strategy=self.name, symbol=self.symbol, message=text)
        assert self.exchange is not None
        for key, value in answer.dirty.items():
            await self.store.set_strategy_state(self.exchange, self.symbol, self.name, key, value)

    # --- the worker ---------------------------------------------------------------------------------------

    def _new_failure_window(self) -> FailureWindow:
        p = self.policy
        return FailureWindow(p.max_failures, p.failure_window, p.backoff_initial, p.backoff_max)

    async def _open_worker(self) -> tuple[WorkerClient, LoadedStrategy]:
        """A new worker with the file loaded (as it is now), or ``WorkerFailed`` / ``StrategyLoadError``."""
        client = await WorkerClient.start(self.limits, self.plugins)
        self._workers.add(client)
        try:
            loaded = await client.load(self.spec.file, self.overrides, self.history.maxlen or DEFAULT_HISTORY)
        except BaseException:
            await self._discard(client)
            raise
        missing = sorted(set(self.registry.functions) - client.functions)
        if missing and not self._warned_missing:
            self._warned_missing = True
            log_event(
                "strategy.functions_unavailable",
                level="warning",
                strategy=self.name,
                symbol=self.symbol,
                functions=missing,
                error="registered in this process by a plugin the worker process cannot load",
            )
        return client, loaded

    async def _discard(self, client: WorkerClient) -> None:
        self._workers.discard(client)
        await client.aclose()

    async def _install(self, client: WorkerClient, loaded: LoadedStrategy | None) -> None:
        """Give ``client`` the state (from the store) and history, and make it the running worker."""
        try:
            async with self._lock:
                # No callback runs while we hold the lock, so the store has what the last one stored.
                assert self.exchange is not None
                state = await self.store.strategy_state(self.exchange, self.symbol, self.name)
                await client.set_state(state)
                appended, history = self._appended, list(self.history)
                await client.set_history(history, replace=True)
                previous, self.worker, self._synced = self.worker, client, appended
                if loaded is not None:
                    self.loaded = loaded
                self.mode, self.consecutive_errors = "running", 0
                if previous is not None and previous is not client:
                    await self._discard(previous)
        except BaseException:
            if self.worker is not client:
                await self._discard(client)
            raise
        self.health.set_state(self.health_name, "running")
        self.health.get(self.health_name).detail = None

    async def _report_failure(self, exc: WorkerFailed, callback: str, elapsed: float) -> bool:
        """Log, store and count a worker failure; True when it is one too many (disable the strategy)."""
        limit_reached = self._failures.add(trio.current_time())
        self.health.record_restart(self.health_name, exc)
        self.health.set_state(self.health_name, "restarting", detail=exc.reason)
        fields = {
            "reason": exc.reason,
            "callback": callback,
            "exit_code": exc.exit_code,
            "elapsed_seconds": round(elapsed, 3),
            "failures": self._failures.count,
            "stderr": exc.stderr_summary,
        }
        log_event(
            "strategy.worker_failed",
            level="error",
            strategy=self.name,
            symbol=self.symbol,
            **fields,
        )
        await self.store.add_event(
            "strategy.worker_failed",
            exchange=self.exchange,
            symbol=self.symbol,
            strategy=self.name,
            component=self.health_name,
            data=fields,
        )
        return limit_reached

    async def _worker_failed(
        self, worker: WorkerClient | None, exc: WorkerFailed, callback: str, elapsed: float
    ) -> None:
        if worker is not None:
            if self.worker is worker:
                self.worker = None
            await self._discard(worker)
        limit_reached = await self._report_failure(exc, callback, elapsed)
        if self.worker is not None:
            return  # an edit of the file was loaded and took over meanwhile
        if self._stopping:
            self.mode = "stopped"
        elif limit_reached:
            await self._set_mode(
                "disabled",
                f"disabled after {self._failures.count} worker failures within "
                f"{self._failures.window:g} s; last: {exc.reason}",
            )
        else:
            self.mode = "restarting"
            assert self._nursery is not None
            self._restart_scope = trio.CancelScope()
            self._nursery.start_soon(self._restart, self._restart_scope, self._failures.next_backoff())

    async def _restart(self, scope: trio.CancelScope, backoff: float) -> None:
        with scope:
            await trio.sleep(backoff)
            started = trio.current_time()
            try:
                client, loaded = await self._open_worker()
                await self._install(client, loaded)
            except StrategyLoadError as exc:
                if self.worker is None:  # else an edit was loaded and took over meanwhile
                    await self._set_mode("disabled", f"disabled: restarting it, the file did not load: {exc}")
                return
            except WorkerFailed as exc:
                await self._worker_failed(None, exc, "load", trio.current_time() - started)
                return
            self.worker_restarts += 1
            log_event(
                "strategy.restarted",
                strategy=self.name,
                symbol=self.symbol,
                pid=client.pid,
                backoff_seconds=backoff,
            )

    async def _count_error(self, error: str) -> None:
        self.errors += 1
        self.consecutive_errors += 1
        if self.consecutive_errors >= self.spec.max_consecutive_errors and self.mode == "running":
            async with self._lock:
                worker, self.worker = self.worker, None
                if worker is not None:
                    await self._discard(worker)
            await self._set_mode(
                "paused",
                f"paused after {self.consecutive_errors} errors in a row; edit {self.spec.file.name} "
                f"or restart the bot to resume. Last: {error}",
            )

    async def _set_mode(self, mode: Literal["paused", "disabled"], detail: str) -> None:
        """Stop delivering callbacks and report why (health, log, database event)."""
        self.mode = mode
        self.health.set_state(self.health_name, "failed", detail=detail)
        log_event(f"strategy.{mode}", level="error", strategy=self.name, symbol=self.symbol, error=detail)
        await self.store.add_event(
            f"strategy.{mode}",
            exchange=self.exchange,
            symbol=self.symbol,
            strategy=self.name,
            component=self.health_name,
            data={"error": detail},
        )

    # --- hot reload ---------------------------------------------------------------------------------------

    async def _watch_file(self, stamp: FileStamp) -> None:
        """Reload the strategy when its file changes (modification time, size or inode)."""
        while True:
            await trio.sleep(self.policy.reload_interval)
            current = FileStamp.of(self.spec.file)
            if current != stamp:
                stamp = current
                await self._reload()

    async def _reload(self) -> None:
        """Load the file in a new worker; swap to it with the state if it loads, else keep the old one."""
        try:
            client, loaded = await self._open_worker()
        except StrategyLoadError as exc:
            await self._reload_failed(str(exc))
            return
        except WorkerFailed as exc:
            await self._reload_failed(f"{self.spec.file}: loading it, the worker failed: {exc.reason}")
            return
        if loaded.interval != self.interval:
            await self._discard(client)
            await self._reload_failed(
                f"{self.spec.file}: interval got {loaded.interval!r}, the running version has "
                f"{self.interval!r}; the market data subscription changes only when the bot restarts"
            )
            return
        if self._restart_scope is not None:
            self._restart_scope.cancel()
        previous = self.mode
        try:
            await self._install(client, loaded)
        except WorkerFailed as exc:
            await self._reload_failed(
                f"{self.spec.file}: handing over the state, the worker failed: {exc.reason}"
            )
            return
        self._failures.reset()
        fields: dict[str, Any] = {
            "previous_state": previous,
            "pid": client.pid,
            "callbacks": sorted(loaded.callbacks),
        }
        log_event("strategy.reloaded", strategy=self.name, symbol=self.symbol, **fields)
        await self.store.add_event(
            "strategy.reloaded", exchange=self.exchange, symbol=self.symbol, strategy=self.name, data=fields
        )

    async def _reload_failed(self, error: str) -> None:
        log_event(
            "strategy.reload_failed", level="error", strategy=self.name, symbol=self.symbol, error=error
        )
        await self.store.add_event(
            "strategy.reload_failed",
            exchange=self.exchange,
            symbol=self.symbol,
            strategy=self.name,
            data={"error": error, "running": self.mode},
        )

    # --- orders -------------------------------------------------------------------------------------------

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
        oco = signal.type == "oco"
        place = PlaceOrderMsg(
            self.exchange,
            self.symbol,
            side,
            OrderType.MARKET if oco else OrderType(signal.type),
            quantity,
            self.name,
            price=signal.price,
            reason=signal.reason,
            stop_price=signal.stop_price,
            trail_percent=signal.trail_percent,
            trail_amount=signal.trail_amount,
            time_in_force=TimeInForce(signal.time_in_force),
            post_only=signal.post_only,
            reduce_only=signal.reduce_only,
            stop_loss=signal.stop_loss,
            take_profit=signal.take_profit,
            oco=oco,
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

    async def _open_orders(self) -> tuple[dict[str, Any], ...]:
        # Imported here: the order manager brings the database layer, which worker processes do not need.
        from marketmaestro.orders.manager import OPEN_STATUSES

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
        log_event(
            "strategy.cancelled",
            strategy=self.name,
            symbol=self.symbol,
            orders=[o.client_order_id for o in orders],
        )

    async def _deliver_order_news(self) -> None:
        """Tell the strategy what became of its orders (``on_order``) and their fills (``on_fill``), in the
        order the order manager announced them.

        Runs before each message and after each callback (so the news of the orders a callback placed come
        right after it); not nested: news of orders placed from ``on_order``/``on_fill`` wait for the loop.
        """
        if self._delivering:
            return
        self._delivering = True
        try:
            while True:
                try:
                    event = self._news_receive.receive_nowait()
                except trio.WouldBlock:
                    self._news_pinged = False
                    return
                if isinstance(event, OrderUpdatedMsg):
                    if self.wants("on_order"):
                        await self._invoke("on_order", order_dict(event.order))
                elif self.wants("on_fill"):
                    await self._invoke("on_fill", fill_dict(event.fill))
        finally:
            self._delivering = False

    def _cut_chain(self) -> None:
        """A strategy answering every order with another must not keep its runner (and the exchange) busy:
        after ``MAX_ORDER_EVENT_ROUNDS`` orders from ``on_order``/``on_fill`` the rest are not placed."""
        if self._chain_cut:
            return
        self._chain_cut = True
        self.errors += 1
        log_event(
            "strategy.error",
            level="error",
            strategy=self.name,
            symbol=self.symbol,
            error=f"{self.spec.file.name}: orders placed from on_order/on_fill more than "
            f"{MAX_ORDER_EVENT_ROUNDS} rounds deep since the last market data; the rest are not placed",
        )


@dataclass(frozen=True, slots=True)
class _OrderNews:
    """Wakes the runner: the order manager left news of the strategy's orders."""
