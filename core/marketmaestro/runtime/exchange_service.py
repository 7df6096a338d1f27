"""One exchange's subtree: its adapter, components and strategies, supervised together.

::

    exchange:<name>                      (supervised by the bot; restarts the whole subtree on escalation)
    ├── settings, portfolio, risk_manager, order_manager      (components, each supervised)
    ├── rebalance:<script> ...                                (the rebalance scripts configured for it)
    ├── strategy:<name>:<symbol> ...                          (one runner per configured strategy and pair)
    ├── feed                                                  (adapter.stream -> market channel)
    ├── private                                  (adapter.private_stream: orders, fills -> order manager)
    ├── reconcile                        (every reconcile.interval: the order manager checks the exchange)
    └── router                                                (market channel -> order manager, strategies)

A failure inside this subtree never reaches another exchange's: the bot supervises each exchange apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import trio

from marketmaestro.config.schema import ReconcileConfig
from marketmaestro.exchanges import (
    AccountEvent,
    Exchange,
    ExchangeContext,
    FatalExchangeError,
    FillUpdate,
    OrderUpdate,
    Subscription,
)
from marketmaestro.exchanges.modes import effective_mode
from marketmaestro.exchanges.public import public_exchange_factory
from marketmaestro.logs import log_event
from marketmaestro.messages import (
    CheckRiskLimitsMsg,
    MarketDataMsg,
    ReconcileMsg,
    SnapshotEquityMsg,
    TradeDataMsg,
)
from marketmaestro.orders import OrderManager
from marketmaestro.portfolio import Portfolio
from marketmaestro.rebalance import RebalanceComponent
from marketmaestro.risk import RiskManager, RuleBook
from marketmaestro.settings import SettingsComponent
from marketmaestro.strategy import StrategyRunner
from marketmaestro.supervision import Component, Mailbox, supervise

if TYPE_CHECKING:
    from marketmaestro.runtime.bot import BotContext

MARKET_CHANNEL_SIZE = 1024


async def run_exchange_service(
    bot: BotContext, name: str, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    prefix = f"exchange:{name}"
    bot.health.remove_prefix(prefix + "/")
    config = bot.config.exchanges[name]
    entry = bot.plugins.registry.exchanges[config.plugin_name]
    context = ExchangeContext(
        name,
        config,
        bot.config.exchange_options(name),
        bot.store,
        bot.config.config_dir,
        mode=effective_mode(config, entry),
        build_public=public_exchange_factory(
            bot.plugins.registry,
            bot.store,
            bot.config.config_dir,
            name=name,
            symbols=[pair.symbol for pair in config.pairs],
        ),
    )
    try:
        adapter = entry.factory(context)
        await adapter.connect()
    except FatalExchangeError as exc:
        # Restarting cannot fix a configuration or credential problem: report it and leave the others running.
        log_event("exchange.fatal", level="error", exchange=name, error=str(exc))
        await bot.store.add_event("exchange.fatal", exchange=name, component=prefix, data={"error": str(exc)})
        bot.health.set_state(prefix, "failed", detail=str(exc))
        task_status.started()
        bot.health.set_state(prefix, "failed", detail=str(exc))
        await trio.sleep_forever()
    bot.exchanges[name] = adapter
    try:
        await _run_subtree(bot, name, prefix, adapter, task_status)
    finally:
        bot.exchanges.pop(name, None)
        bot.order_managers.pop(name, None)
        bot.mailboxes.pop(name, None)
        with trio.CancelScope(shield=True), trio.move_on_after(2):
            await adapter.disconnect()


async def _run_subtree(
    bot: BotContext, name: str, prefix: str, adapter: Exchange, task_status: trio.TaskStatus[None]
) -> None:
    config = bot.config.exchanges[name]
    timeout = bot.config.supervision.request_timeout
    instruments = await adapter.instruments()
    boxes = {
        kind: Mailbox(f"{prefix}/{kind}")
        for kind in ("settings", "portfolio", "risk_manager", "order_manager")
    }
    rules = RuleBook(bot.plugins.registry, bot.config.risk, config)
    components: dict[str, Component] = {
        "settings": SettingsComponent(boxes["settings"], exchange=name, store=bot.store),
        "portfolio": Portfolio(
            boxes["portfolio"],
            exchange=name,
            store=bot.store,
            instruments=instruments,
            valuation_currency=bot.config.portfolio.valuation_currency,
        ),
        "risk_manager": RiskManager(
            boxes["risk_manager"],
            exchange=name,
            rules=rules,
            portfolio=boxes["portfolio"],
            request_timeout=timeout,
            store=bot.store,
            instruments=instruments,
        ),
        "order_manager": OrderManager(
            boxes["order_manager"],
            exchange=name,
            adapter=adapter,
            instruments=instruments,
            store=bot.store,
            risk=boxes["risk_manager"],
            portfolio=boxes["portfolio"],
            plugins=bot.plugins,
            request_timeout=timeout,
            reconcile=bot.config.reconcile,
        ),
    }
    runners: list[StrategyRunner] = []
    for pair in config.pairs:
        for spec in pair.strategies:
            if not spec.enabled:
                continue
            health_name = f"{prefix}/strategy:{spec.name}:{pair.symbol}"
            runners.append(
                StrategyRunner(
                    Mailbox(health_name),
                    exchange=name,
                    symbol=pair.symbol,
                    spec=spec,
                    registry=bot.plugins.registry,
                    store=bot.store,
                    adapter=adapter,
                    orders=boxes["order_manager"],
                    portfolio=boxes["portfolio"],
                    health=bot.health,
                    health_name=health_name,
                    request_timeout=timeout,
                    settings=boxes["settings"],
                )
            )

    async with trio.open_nursery() as nursery:
        start = partial(_start, nursery, bot)
        for kind, component in components.items():
            await start(f"{prefix}/{kind}", component.run)
        bot.order_managers[name] = boxes["order_manager"]
        await start(f"{prefix}/private", partial(_private, adapter, boxes["order_manager"]))
        # Before any strategy trades: the stored orders, fills, balances and positions against the
        # exchange's (the exchange is the truth for balances: the portfolio starts from what it reports).
        reconcile = bot.config.reconcile
        for runner in runners:  # the news of their orders (fills reconciliation records too) wait for them
            await boxes["order_manager"].send(runner.follow_orders())
        await boxes["order_manager"].request(ReconcileMsg(name, startup=True), reconcile.timeout)
        await nursery.start(_run_strategies, bot, runners)
        rebalancers = _rebalancers(bot, name, prefix, adapter, instruments, boxes)
        for component in rebalancers:
            await start(component.health_name, component.run)
        await start(f"{prefix}/reconcile", partial(_reconcile, name, boxes["order_manager"], reconcile))
        await start(
            f"{prefix}/equity_snapshots",
            partial(_snapshots, name, boxes, bot.config.portfolio.snapshot_interval, timeout),
        )
        bot.mailboxes[name] = {
            "settings": boxes["settings"],
            "portfolio": boxes["portfolio"],
            "risk_manager": boxes["risk_manager"],
            **{component.name: component.mailbox for component in rebalancers},
        }
        live = [r for r in runners if r.script is not None]
        subscription = Subscription(
            klines=frozenset((r.symbol, r.interval) for r in live if r.wants("on_kline")),
            tickers=frozenset(r.symbol for r in live if r.wants("on_ticker")),
            orderbooks=frozenset(r.symbol for r in live if r.wants("on_orderbook")),
        )
        send, receive = trio.open_memory_channel[MarketDataMsg](MARKET_CHANNEL_SIZE)
        route = partial(_route, receive, boxes["order_manager"], runners, portfolio=boxes["portfolio"])
        await start(f"{prefix}/router", route)
        await start(f"{prefix}/feed", partial(_feed, adapter, subscription, send))
        log_event(
            "exchange.started",
            exchange=name,
            strategies=[r.health_name for r in runners],
            klines=sorted(f"{s}@{i}" for s, i in subscription.klines),
        )
        task_status.started()


def _rebalancers(
    bot: BotContext,
    name: str,
    prefix: str,
    adapter: Exchange,
    instruments: dict[str, Any],
    boxes: dict[str, Mailbox],
) -> list[RebalanceComponent]:
    """The rebalance scripts configured for exchange ``name`` (none unless ``rebalance.scripts`` has one)."""
    section = bot.config.rebalance
    return [
        RebalanceComponent(
            Mailbox(f"{prefix}/rebalance:{entry.script}"),
            exchange=name,
            file=section.file(entry),
            spec=entry,
            registry=bot.plugins.registry,
            store=bot.store,
            adapter=adapter,
            instruments=instruments,
            settings=boxes["settings"],
            orders=boxes["order_manager"],
            portfolio=boxes["portfolio"],
            health=bot.health,
            health_name=f"{prefix}/rebalance:{entry.script}",
            request_timeout=bot.config.supervision.request_timeout,
        )
        for entry in section.scripts
        if entry.enabled and entry.exchange == name
    ]


async def _run_strategies(
    bot: BotContext,
    runners: list[StrategyRunner],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The strategy runners in a nursery of their own, so a graceful shutdown can stop them first."""
    stopped = trio.Event()
    bot.strategies_stopped.append(stopped)
    try:
        async with trio.open_nursery() as strategies:
            # Started side by side: each starts a worker process (about half a second), so one after the other
            # would make start-up grow with the number of strategies.
            async with trio.open_nursery() as starting:
                for runner in runners:
                    starting.start_soon(_start, strategies, bot, runner.health_name, runner.run)
            task_status.started()
            await bot.stop_strategies.wait()
            strategies.cancel_scope.cancel()
    finally:
        stopped.set()
        bot.strategies_stopped.remove(stopped)


async def _start(
    nursery: trio.Nursery, bot: BotContext, name: str, target: Callable[..., Awaitable[None]]
) -> Any:
    return await nursery.start(
        partial(
            supervise,
            name,
            target,
            policy=bot.restart_policy,
            health=bot.health,
            on_restart=bot.record_restart,
        )
    )


async def _snapshots(
    exchange: str,
    boxes: dict[str, Mailbox],
    interval: float,
    request_timeout: float,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Every ``interval`` seconds: store the equity of the account and each strategy, then have the risk
    manager check the hard limits against it."""
    task_status.started()
    while True:
        await trio.sleep(interval)
        await boxes["portfolio"].request(SnapshotEquityMsg(exchange), request_timeout)
        await boxes["risk_manager"].request(CheckRiskLimitsMsg(exchange), request_timeout)


async def _reconcile(
    exchange: str,
    orders: Mailbox,
    config: ReconcileConfig,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Every ``reconcile.interval`` seconds: reconcile the exchange (the first ran at start-up)."""
    task_status.started()
    while True:
        await trio.sleep(config.interval)
        await orders.request(ReconcileMsg(exchange), config.timeout)


async def _feed(
    adapter: Exchange,
    subscription: Subscription,
    send: trio.MemorySendChannel[MarketDataMsg],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The adapter's market data stream. A stream only ends by failing: one that returns is treated as a
    failure, so it is restarted (and shows in the health report) instead of going quiet."""
    await adapter.stream(subscription, send, task_status=task_status)
    raise ConnectionError(f"the market data stream of {adapter.name!r} ended")


async def _private(
    adapter: Exchange, orders: Mailbox, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """The account's order and fill updates to the order manager (fills before the acknowledgement
    included: it counts each fill once, by id)."""
    send, receive = trio.open_memory_channel[AccountEvent](MARKET_CHANNEL_SIZE)
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(adapter.private_stream, send))
        task_status.started()
        async for event in receive:
            if isinstance(event, OrderUpdate | FillUpdate):
                await orders.send(event)


async def _route(
    receive: trio.MemoryReceiveChannel[MarketDataMsg],
    orders: Mailbox,
    runners: list[StrategyRunner],
    *,
    portfolio: Mailbox | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Deliver each market data message to the order manager and the portfolio (prices) and the runners of
    its symbol.

    Public trades go to the order manager only: no strategy callback takes them (yet)."""
    by_symbol: dict[str, list[StrategyRunner]] = {}
    for runner in runners:
        if runner.script is not None:
            by_symbol.setdefault(runner.symbol, []).append(runner)
    task_status.started()
    async for msg in receive:
        await orders.send(msg)
        if portfolio is not None and not isinstance(msg, TradeDataMsg):
            await portfolio.send(msg)
        if isinstance(msg, TradeDataMsg):
            continue
        for runner in by_symbol.get(msg.symbol, ()):
            await runner.mailbox.send(msg)
