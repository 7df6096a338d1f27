"""Helpers for the runtime tests: settings for a fast paper market, an exchange plugin that fails on
demand, and the real bot (``run_bot``) run in a nursery for the length of an ``async with`` block."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trio
import trio.lowlevel
import yaml

import marketmaestro
from marketmaestro.config import Config, load_config
from marketmaestro.exchanges import (
    Exchange,
    ExchangeContext,
    OrderRejected,
    OrderResult,
    RetryableError,
    Subscription,
)
from marketmaestro.messages import KlineDataMsg, MarketDataMsg, OrderFilledMsg, OrderUpdatedMsg
from marketmaestro.model import (
    Balance,
    Fill,
    Instrument,
    Kline,
    Order,
    OrderStatus,
    OrderType,
    Side,
    now_ms,
)
from marketmaestro.plugins.manager import PluginHost, load_plugins
from marketmaestro.plugins.registry import RegisterExchange
from marketmaestro.runtime import BotContext, run_bot
from tests.conftest import STRATEGIES

T = TypeVar("T")

SIMPLE_SMA = STRATEGIES / "simple_sma.star"
FLAKY_PRICE = Decimal("50000.00")
WAIT_SECONDS = 6.0
"""How long a test waits for something the bot should do within a second or two."""


def paper_exchange(kline_seconds: float = 0.02) -> dict[str, Any]:
    """The settings of a paper exchange trading BTCUSDT with simple_sma, fast enough to fill in a second."""
    return {
        "options": {"seed": 42, "kline_seconds": kline_seconds, "warmup": 100},
        "pairs": [
            {
                "symbol": "BTCUSDT",
                "strategies": [
                    {"name": "simple_sma", "file": str(SIMPLE_SMA), "config": {"position_size": 0.01}}
                ],
            }
        ],
    }


def write_settings(
    folder: Path,
    *,
    exchanges: dict[str, Any],
    api: dict[str, Any] | None = None,
    supervision: dict[str, Any] | None = None,
) -> Path:
    """Write ``folder/settings.yaml`` (database ``bot.db`` in ``folder``; API off unless given)."""
    settings: dict[str, Any] = {
        "database": {"path": "bot.db"},
        "api": api if api is not None else {"enabled": False},
        "exchanges": exchanges,
    }
    if supervision is not None:
        settings["supervision"] = supervision
    path = folder / "settings.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def load(settings: Path, *plugins: tuple[str, object]) -> tuple[Config, PluginHost]:
    """The plugins (built-ins, the indicators plugin and ``plugins``) and the configuration, as ``mm run``
    loads them, isolated from the developer's environment."""
    host = load_plugins(environ={"MM_LOAD_PLUGINS": "indicators"}, extra=plugins)
    broken = [(p.name, p.error) for p in host.plugins if p.status != "ok"]
    assert not broken, broken
    config = load_config(settings, environ={}, exchange_options=host.registry.exchange_options_models())
    return config, host


@asynccontextmanager
async def running_bot(config: Config, host: PluginHost) -> AsyncIterator[BotContext]:
    """Start the bot; leaving the block cancels it, the way an embedding application stops it."""
    async with trio.open_nursery() as nursery:
        bot: BotContext = await nursery.start(partial(run_bot, config, host, handle_signals=False))
        yield bot
        nursery.cancel_scope.cancel()


async def wait_for(check: Callable[[], Awaitable[T]], what: str, within: float = WAIT_SECONDS) -> T:
    """Poll ``check`` until it returns something true, and return that; fail the test after ``within`` s."""
    with trio.move_on_after(within):
        while True:
            result = await check()
            if result:
                return result
            await trio.sleep(0.05)
    pytest.fail(f"timed out after {within:g} s waiting for {what}")


async def filled_orders(bot: BotContext, exchange: str = "paper") -> list[Order]:
    """The filled orders of ``exchange`` in the database, newest first."""
    return await bot.store.list_orders(exchange=exchange, status=OrderStatus.FILLED, limit=1000)


async def filled_at_least(bot: BotContext, count: int, exchange: str = "paper") -> bool:
    """Whether ``exchange`` has ``count`` filled orders or more (a ``wait_for`` check)."""
    return len(await filled_orders(bot, exchange)) >= count


class HookRecorder:
    """A plugin recording every lifecycle and order hook call; two of its hooks are coroutines."""

    def __init__(self) -> None:
        self.startups: list[tuple[BotContext, list[str]]] = []
        self.shutdowns: list[BotContext] = []
        self.updates: list[OrderUpdatedMsg] = []
        self.fills: list[OrderFilledMsg] = []

    @marketmaestro.hookimpl
    def on_startup(self, bot: BotContext) -> None:
        self.startups.append((bot, sorted(bot.exchanges)))

    @marketmaestro.hookimpl
    async def on_shutdown(self, bot: BotContext) -> None:
        await trio.lowlevel.checkpoint()
        self.shutdowns.append(bot)

    @marketmaestro.hookimpl
    def on_order_updated(self, event: OrderUpdatedMsg) -> None:
        self.updates.append(event)

    @marketmaestro.hookimpl
    async def on_order_filled(self, event: OrderFilledMsg) -> None:
        await trio.lowlevel.checkpoint()
        self.fills.append(event)


class FlakyPlugin:
    """A plugin registering the exchange ``flaky``, which fails the way the test asks.

    The counters live here rather than on the adapter because the exchange service builds a new adapter
    each time it restarts.
    """

    def __init__(
        self,
        *,
        stream_failures: int | None = 0,
        connect_error: type[Exception] | None = None,
        failure_delay: float = 0.05,
    ) -> None:
        self.stream_failures = stream_failures
        """How many runs of ``stream`` raise, ``failure_delay`` seconds after starting; None: every run."""
        self.connect_error = connect_error
        """Raised by every ``connect`` when set."""
        self.failure_delay = failure_delay
        self.connects = 0
        self.streams = 0

    @marketmaestro.hookimpl
    def register_exchanges(self, register: RegisterExchange) -> None:
        register("flaky", self.build, description="An exchange that fails on demand (tests only).")

    def build(self, context: ExchangeContext) -> FlakyExchange:
        return FlakyExchange(context, self)


class FlakyExchange(Exchange):
    """One market, BTCUSDT at a fixed price, whose connection and feed fail as its plugin says."""

    def __init__(self, context: ExchangeContext, plugin: FlakyPlugin) -> None:
        super().__init__(context)
        self.plugin = plugin
        self._connected = False
        self._balances = {"BTC": Decimal(0), "USDT": Decimal(1000)}
        self._instrument = Instrument(
            symbol="BTCUSDT",
            base="BTC",
            quote="USDT",
            tick_size=Decimal("0.01"),
            step_size=Decimal("0.0001"),
            min_quantity=Decimal("0.0001"),
        )

    async def connect(self) -> None:
        self.plugin.connects += 1
        if self.plugin.connect_error is not None:
            raise self.plugin.connect_error(f"{self.name}: login refused (attempt {self.plugin.connects})")
        self._connected = True

    async def disconnect(self) -> None:
        self._connected = False

    def is_connected(self) -> bool:
        return self._connected

    async def instruments(self) -> dict[str, Instrument]:
        return {self._instrument.symbol: self._instrument}

    async def stream(
        self,
        subscription: Subscription,
        send: trio.MemorySendChannel[MarketDataMsg],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        self.plugin.streams += 1
        run = self.plugin.streams
        task_status.started()
        failures = self.plugin.stream_failures
        if failures is None or run <= failures:
            await trio.sleep(self.plugin.failure_delay)
            raise RuntimeError(f"flaky feed broke (run {run})")
        # Healthy: a flat kline per subscribed pair and interval every second, until cancelled.
        async with trio.open_nursery() as nursery:
            for symbol, interval in subscription.klines:
                nursery.start_soon(self._klines, symbol, interval, send)
            await trio.sleep_forever()  # a feed ends only when cancelled, even with nothing subscribed

    async def _klines(self, symbol: str, interval: str, send: trio.MemorySendChannel[MarketDataMsg]) -> None:
        price = float(FLAKY_PRICE)
        while True:
            await trio.sleep(1)
            kline = Kline(symbol, interval, now_ms(), price, price, price, price, 1.0, closed=True)
            await send.send(KlineDataMsg(self.name, kline))

    async def place_order(self, order: Order) -> OrderResult:
        if not self._connected:
            raise RetryableError(f"{self.name} is not connected")
        if order.symbol != self._instrument.symbol:
            raise OrderRejected(f"unknown symbol {order.symbol!r} on {self.name}")
        if order.type is not OrderType.MARKET:
            raise OrderRejected(f"{self.name} fills market orders only, not {order.type.value} orders")
        notional = order.quantity * FLAKY_PRICE
        if order.side is Side.BUY and self._balances["USDT"] < notional:
            raise OrderRejected(f"insufficient balance: {notional} USDT needed")
        if order.side is Side.SELL and self._balances["BTC"] < order.quantity:
            raise OrderRejected(f"insufficient balance: {order.quantity} BTC needed")
        self._balances["BTC"] += order.side.sign * order.quantity
        self._balances["USDT"] -= order.side.sign * notional
        venue_order_id = f"flaky-{uuid.uuid4().hex[:12]}"
        fill = Fill(
            fill_id=f"{venue_order_id}-1",
            client_order_id=order.client_order_id,
            exchange=self.name,
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            price=FLAKY_PRICE,
            fee=Decimal(0),
            fee_currency="USDT",
            timestamp=now_ms(),
            strategy=order.strategy,
        )
        filled = order.with_status(
            OrderStatus.FILLED,
            venue_order_id=venue_order_id,
            filled_quantity=order.quantity,
            average_price=FLAKY_PRICE,
        )
        return OrderResult(filled, (fill,))

    async def cancel_order(self, order: Order) -> Order:
        raise OrderRejected(f"order {order.client_order_id} is not open on {self.name} (market orders only)")

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return []

    async def balances(self) -> list[Balance]:
        return [Balance(asset, amount) for asset, amount in sorted(self._balances.items())]
