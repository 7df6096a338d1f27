"""The rebalance component: one ``rebalance/<name>.star`` script on one exchange's account.

On every ``interval`` (and on ``RunRebalanceMsg``, e.g. ``POST /api/v1/rebalance/<exchange>/<name>/run``)::

    balances (portfolio) + last prices (exchange klines) ──▶ weights of the target's assets
        ── drift <= drift_threshold ──▶ skipped
        ── else ──▶ on_rebalance() in the script's worker process ──▶ trades
            ──▶ sells, then buys: rounded down to the step, skipped under min_trade or the instrument's
                minimums, else PlaceOrderMsg ──▶ order manager ──▶ risk manager ──▶ exchange

The script runs in the same sandbox and worker process machinery as strategies
(:class:`~marketmaestro.strategy.isolation.WorkerClient`, kind ``rebalance``): a runaway loop or a memory
bomb costs its worker, which is killed, and the next run starts a new one. A script that does not load,
raises, or returns malformed trades is reported (log, event, health, the run's report) and the component
keeps running: the next run tries again, reading the file anew.

Its settings (interval, target, drift_threshold, min_trade, quote and the script's own keys) are declared
to the settings component, so they can be changed at runtime; a change reloads the script with the new
values in the same worker, and a new interval restarts the timer.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from marketmaestro.logs import log_event
from marketmaestro.messages import (
    DeclareSettingsMsg,
    GetBalancesMsg,
    GetStatusMsg,
    KlineDataMsg,
    PlaceOrderMsg,
    RunRebalanceMsg,
    SettingChangedMsg,
)
from marketmaestro.model import Instrument, Order, OrderType, Side, now_ms
from marketmaestro.rebalance.allocation import Holdings, drift, rebalance_specs, trade_symbols
from marketmaestro.rebalance.trades import RebalanceTrade, TradeError, parse_trades
from marketmaestro.settings import SettingError, duration_seconds
from marketmaestro.strategy.isolation import (
    FileStamp,
    WorkerClient,
    WorkerFailed,
    WorkerLimits,
    WorkerPlugins,
)
from marketmaestro.strategy.sandbox import StrategyLoadError
from marketmaestro.supervision import Component, RequestFailed, RequestTimeout

if TYPE_CHECKING:
    from marketmaestro.config import RebalanceScriptConfig
    from marketmaestro.exchanges import Exchange
    from marketmaestro.plugins.registry import Registry
    from marketmaestro.storage import AsyncStore
    from marketmaestro.supervision import HealthRegistry, Mailbox

RETRY_SECONDS = 60.0
"""How soon a script that did not load is tried again when no interval is known."""
PRICE_INTERVAL = "1m"


class RebalanceComponent(Component):
    component = "rebalance"

    def __init__(
        self,
        mailbox: Mailbox,
        *,
        exchange: str,
        file: Path,
        spec: RebalanceScriptConfig,
        registry: Registry,
        store: AsyncStore,
        adapter: Exchange,
        instruments: dict[str, Instrument],
        settings: Mailbox,
        orders: Mailbox,
        portfolio: Mailbox,
        health: HealthRegistry,
        health_name: str,
        request_timeout: float,
    ) -> None:
        super().__init__(mailbox, exchange=exchange)
        self.file = file
        self.spec = spec
        self.name = f"rebalance:{file.stem}"
        """The component's name in settings, orders (their ``strategy``), events and logs."""
        self.strategy = self.name
        self.store = store
        self.adapter = adapter
        self.instruments = instruments
        self.settings = settings
        self.orders = orders
        self.portfolio = portfolio
        self.health = health
        self.health_name = health_name
        self.request_timeout = request_timeout
        self.limits = WorkerLimits(spec.memory_mb, spec.callback_timeout)
        self.plugins = WorkerPlugins.from_registry(registry)
        self.worker: WorkerClient | None = None
        self.values: dict[str, Any] = {}
        """The settings in force (after the configuration's and the runtime overrides)."""
        self.applied: dict[str, Any] = {}
        """The configuration the script's worker reported after its last load (``config`` in Starlark)."""
        self.load_error: str | None = None
        self.last_report: dict[str, Any] | None = None
        self.runs = 0
        self._rescheduled = trio.Event()
        self._stamp = FileStamp.of(file)

    # --- lifetime -----------------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._clock)
                await nursery.start(super().run)
                task_status.started()
                if self.load_error is not None:  # after started(): the supervisor marks it running then
                    self.health.set_state(self.health_name, "failed", detail=self.load_error)
        finally:
            if self.worker is not None:
                await self.worker.aclose()
                self.worker = None

    async def on_start(self) -> None:
        await self._load()

    async def _load(self) -> bool:
        """Load the script (a new worker if needed) and declare its settings; report a failure."""
        try:
            await self._open()
        except (StrategyLoadError, SettingError) as exc:
            await self._failed("rebalance.load_failed", f"{self.file}: {exc}")
            return False
        except WorkerFailed as exc:
            await self._failed("rebalance.load_failed", f"{self.file}: loading it, the worker failed: {exc}")
            return False
        except (RequestFailed, RequestTimeout) as exc:  # the settings component; the next run tries again
            await self._failed("rebalance.load_failed", f"{self.file}: its settings are unavailable: {exc}")
            return False
        self.load_error = None
        self.health.set_state(self.health_name, "running")
        self.health.get(self.health_name).detail = None
        log_event("rebalance.loaded", script=self.name, pid=self.worker.pid if self.worker else None)
        return True

    async def _open(self) -> None:
        if self.worker is None or not self.worker.alive:
            self.worker = None
            self.worker = await WorkerClient.start(self.limits, self.plugins)
        self._stamp = FileStamp.of(self.file)
        loaded = await self.worker.load(self.file, self.spec.config, 1, kind="rebalance")
        specs = rebalance_specs(loaded.defaults, loaded.config)
        values = await self.settings.request(
            DeclareSettingsMsg(self.name, specs, self.mailbox), self.request_timeout
        )
        if values != dict(loaded.config):
            loaded = await self.worker.load(self.file, values, 1, kind="rebalance")
        self.values, self.applied = dict(values), dict(loaded.config)
        assert self.exchange is not None
        await self.worker.set_state(await self.store.strategy_state(self.exchange, "", self.name))
        self._rescheduled.set()

    async def _failed(self, kind: str, error: str) -> None:
        self.load_error = error
        self.health.set_state(self.health_name, "failed", detail=error)
        log_event(kind, level="error", script=self.name, error=error)
        await self.store.add_event(
            kind, exchange=self.exchange, component=self.health_name, data={"error": error}
        )

    @property
    def interval_seconds(self) -> float:
        interval = self.values.get("interval")
        return RETRY_SECONDS if interval is None else duration_seconds(interval)

    async def _clock(self) -> None:
        """Ask for a run every ``interval``; a changed interval starts the wait again."""
        assert self.exchange is not None
        while True:
            self._rescheduled = trio.Event()
            with trio.move_on_after(self.interval_seconds):
                await self._rescheduled.wait()
                continue
            await self.mailbox.send(RunRebalanceMsg(self.exchange))

    # --- messages -----------------------------------------------------------------------------------------

    async def handle(self, msg: Any) -> Any:
        match msg:
            case RunRebalanceMsg(force=force):
                return await self._run(force=force)
            case SettingChangedMsg(key=key, value=value):
                await self._apply(key, value)
            case GetStatusMsg():
                return self._status()
            case _:
                return await super().handle(msg)
        return None

    def _status(self) -> dict[str, Any]:
        return {
            "script": str(self.file),
            "name": self.name,
            "settings": dict(self.values),
            "applied": dict(self.applied),
            "load_error": self.load_error,
            "runs": self.runs,
            "pid": self.worker.pid if self.worker is not None and self.worker.alive else None,
            "last": self.last_report,
        }

    async def _apply(self, key: str, value: Any) -> None:
        """A setting changed: reload the script with it, in the same worker."""
        self.values[key] = value
        if self.worker is None or not self.worker.alive or self.load_error is not None:
            return  # the next load reads the settings anew
        try:
            loaded = await self.worker.load(self.file, self.values, 1, kind="rebalance")
            assert self.exchange is not None
            await self.worker.set_state(await self.store.strategy_state(self.exchange, "", self.name))
        except (StrategyLoadError, WorkerFailed) as exc:
            await self._failed("rebalance.load_failed", f"{self.file}: applying {key}: {exc}")
            return
        self.applied = dict(loaded.config)
        if key == "interval":
            self._rescheduled.set()
        log_event("rebalance.setting_applied", script=self.name, key=key, value=value)

    # --- a run ----------------------------------------------------------------------------------------------

    async def _run(self, *, force: bool) -> dict[str, Any]:
        self.runs += 1
        started = now_ms()
        stale = self.load_error is not None or FileStamp.of(self.file) != self._stamp
        if (self.worker is None or not self.worker.alive or stale) and not await self._load():
            report: dict[str, Any] = {"status": "error", "error": self.load_error}
        else:
            try:
                report = await self._rebalance(force=force)
            except (SettingError, TradeError) as exc:
                report = {"status": "error", "error": str(exc)}
            if report["status"] == "error":
                self.health.set_state(self.health_name, "failed", detail=report["error"])
            else:
                self.health.set_state(self.health_name, "running")
                self.health.get(self.health_name).detail = None
        report["timestamp"] = started
        self.last_report = report
        await self.store.add_event(
            f"rebalance.{report['status']}", exchange=self.exchange, component=self.health_name, data=report
        )
        log_event(
            f"rebalance.{report['status']}",
            script=self.name,
            **{k: v for k, v in report.items() if k != "timestamp"},
        )
        return report

    async def _rebalance(self, *, force: bool) -> dict[str, Any]:
        assert self.exchange is not None and self.worker is not None
        target: dict[str, float] = self.values["target"]
        quote: str = self.values["quote"]
        holdings = await self._holdings(target, quote)
        weights = holdings.weights()
        distance = drift(weights, target)
        report: dict[str, Any] = {
            "drift": round(distance, 6),
            "weights": {asset: round(w, 6) for asset, w in weights.items()},
            "portfolio_value": str(holdings.total),
        }
        if holdings.total <= 0:
            return {"status": "skipped", "reason": f"nothing of {', '.join(target)} to rebalance", **report}
        threshold = float(self.values["drift_threshold"])
        if distance <= threshold and not force:
            return {
                "status": "skipped",
                "reason": f"drift {distance:.4f} <= threshold {threshold:g}",
                **report,
            }
        context = {
            "balances": {asset: float(quantity) for asset, quantity in holdings.quantities.items()},
            "prices": {
                holdings.symbols[a]: float(p) for a, p in holdings.prices.items() if a in holdings.symbols
            },
            "portfolio_value": float(holdings.total),
            "timestamp": now_ms(),
        }
        try:
            answer = await self.worker.call("on_rebalance", (), context)
        except WorkerFailed as exc:
            await self.worker.aclose()
            self.worker = None
            # The file is fine: the next run starts a new worker.
            error = f"{self.file.name}: the worker failed: {exc.reason}"
            log_event(
                "rebalance.worker_failed",
                level="error",
                script=self.name,
                error=error,
                stderr=exc.stderr_summary,
            )
            return {"status": "error", "error": error, **report}
        for kind, text in answer.lines:
            log_event(f"rebalance.{kind}", script=self.name, message=text)
        for key, value in answer.dirty.items():
            await self.store.set_strategy_state(self.exchange, "", self.name, key, value)
        if answer.error is not None:
            error = f"{self.file.name}: {answer.error}"
            log_event(
                "rebalance.script_error",
                level="error",
                script=self.name,
                error=error,
                starlark_stack=answer.backtrace,
            )
            return {"status": "error", "error": error, **report}
        trades = parse_trades(answer.result, where=f"{self.file.name} on_rebalance()")
        by_symbol = {symbol: holdings.prices[asset] for asset, symbol in holdings.symbols.items()}
        placed, skipped = await self._trade(trades, by_symbol, distance)
        return {"status": "traded" if placed else "skipped", "orders": placed, "skipped": skipped, **report}

    async def _holdings(self, target: dict[str, float], quote: str) -> Holdings:
        """The balances of the target's assets and their prices now (the last close of each symbol)."""
        assert self.exchange is not None
        symbols = trade_symbols(target, quote, self.instruments)
        balances = await self.portfolio.request(GetBalancesMsg(self.exchange), self.request_timeout)
        quantities = {b.asset: b.total for b in balances}
        prices = {quote: Decimal(1)} if quote in target else {}
        for asset, symbol in symbols.items():
            klines = await self.adapter.klines(symbol, PRICE_INTERVAL, 1)
            if not klines:
                raise SettingError(f"target: no price for {symbol} yet")
            prices[asset] = Decimal(repr(klines[-1].close))
            # The order manager prices market orders from market data: tell it the price valued here.
            await self.orders.send(KlineDataMsg(self.exchange, klines[-1]))
        return Holdings(quantities, prices, symbols)

    async def _trade(
        self, trades: list[RebalanceTrade], prices: dict[str, Decimal], distance: float
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Place the trades, sells first (they free the quote currency the buys spend)."""
        assert self.exchange is not None
        placed: list[dict[str, Any]] = []
        skipped: list[dict[str, Any]] = []
        minimum = Decimal(repr(float(self.values["min_trade"])))
        for trade in sorted(trades, key=lambda t: t.side is not Side.SELL):
            instrument = self.instruments.get(trade.symbol)
            price = prices.get(trade.symbol)
            row: dict[str, Any] = {
                "symbol": trade.symbol,
                "side": trade.side.value,
                "quantity": str(trade.quantity),
            }
            if instrument is None or price is None:
                skipped.append({**row, "reason": f"{trade.symbol} is not a symbol of the target"})
                continue
            quantity = instrument.round_quantity(trade.quantity)
            row["quantity"] = str(quantity)
            problem = instrument.check_order(quantity, price)
            if quantity * price < minimum:
                problem = f"worth {quantity * price:.2f} {self.values['quote']}, under min_trade {minimum}"
            if problem is not None:
                skipped.append({**row, "reason": problem})
                continue
            order = await self._place(trade, quantity, distance)
            if order is None:
                skipped.append({**row, "reason": "the order manager did not answer"})
                continue
            placed.append(
                {
                    **row,
                    "client_order_id": order.client_order_id,
                    "status": order.status.value,
                    "filled_quantity": str(order.filled_quantity),
                    "error": order.error,
                }
            )
        return placed, skipped

    async def _place(self, trade: RebalanceTrade, quantity: Decimal, distance: float) -> Order | None:
        assert self.exchange is not None
        msg = PlaceOrderMsg(
            self.exchange,
            trade.symbol,
            trade.side,
            OrderType.MARKET,
            quantity,
            self.name,
            reason=trade.reason or f"rebalance: drift {distance:.4f}",
        )
        try:
            order: Order = await self.orders.request(msg, self.request_timeout)
        except (RequestFailed, RequestTimeout) as exc:
            log_event(
                "rebalance.order_failed", level="error", script=self.name, symbol=trade.symbol, error=str(exc)
            )
            return None
        return order
