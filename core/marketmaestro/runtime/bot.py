"""The bot: the root of the supervision tree, and the way it stops.

::

    bot
    ├── signals                 SIGINT/SIGTERM: graceful shutdown; a second signal forces the exit
    └── services
        ├── api                 the web server (API and UI), supervised
        └── exchange:<name>     one per enabled exchange, supervised apart (see exchange_service)

A graceful shutdown first stops the strategies (each gets ``on_stop`` while the order manager and portfolio
still run, so what ``on_stop`` returns is still traded), then cancels the other services: every component
stops in its ``finally`` (database writes already started finish, because they are never abandoned), then the
plugins' ``on_shutdown`` runs, then the store closes. All within ``supervision.shutdown_timeout`` seconds
(default 10); a watchdog ends the process with exit code 1 if the shutdown hangs past that.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import trio

from marketmaestro import __version__
from marketmaestro.config import Config
from marketmaestro.exchanges import Exchange
from marketmaestro.logs import log_event
from marketmaestro.plugins.manager import PluginHost
from marketmaestro.storage import AsyncStore, Store
from marketmaestro.supervision import EscalationError, HealthRegistry, Mailbox, RestartPolicy, supervise
from marketmaestro.supervision.health import describe

FORCED_EXIT_CODE = 130


@dataclass
class BotContext:
    """What the services of a running bot share: read-mostly handles, never trading state."""

    config: Config
    plugins: PluginHost
    store: AsyncStore
    health: HealthRegistry = field(default_factory=HealthRegistry)
    exchanges: dict[str, Exchange] = field(default_factory=dict)
    order_managers: dict[str, Mailbox] = field(default_factory=dict)
    """The order manager of each running exchange, for the API's cancel, amend and kill switch."""
    mailboxes: dict[str, dict[str, Mailbox]] = field(default_factory=dict)
    """Exchange -> component name (``settings``, ``rebalance:<script>``) -> mailbox, for the API."""
    api_urls: list[str] = field(default_factory=list)
    api_token: str | None = None
    version: str = __version__
    stop_strategies: trio.Event = field(default_factory=trio.Event)
    """Set first in a graceful shutdown: strategies stop while the rest of the tree still runs."""
    strategies_stopped: list[trio.Event] = field(default_factory=list)
    """One per running exchange subtree, set once its strategies have stopped."""
    services_scope: trio.CancelScope = field(default_factory=trio.CancelScope)

    @property
    def restart_policy(self) -> RestartPolicy:
        s = self.config.supervision
        return RestartPolicy(s.max_restarts, s.restart_window, s.backoff_initial, s.backoff_max)

    async def record_restart(self, name: str, error: BaseException, count: int) -> None:
        await self.store.add_event(
            "component.restarted",
            component=name,
            data={"error": describe(error), "restarts": count},
        )

    def health_report(self) -> dict[str, Any]:
        report = self.health.snapshot()
        return {
            "status": report["status"],
            "version": self.version,
            "uptime_seconds": report["uptime_seconds"],
            "restarts": report["restarts"],
            "components": report["components"],
            "exchanges": {name: adapter.describe() for name, adapter in sorted(self.exchanges.items())},
        }


async def run_bot(
    config: Config,
    plugins: PluginHost,
    *,
    handle_signals: bool = True,
    task_status: trio.TaskStatus[BotContext] = trio.TASK_STATUS_IGNORED,
) -> int:
    """Run until a signal (or cancellation); return the process exit code (0 after a graceful stop)."""
    store = AsyncStore(await trio.to_thread.run_sync(Store, config.database.path))
    bot = BotContext(config, plugins, store)
    exit_code = 0
    try:
        async with trio.open_nursery() as root:
            if handle_signals:
                root.start_soon(_watch_signals, bot, root)
            with bot.services_scope:
                try:
                    await _run_services(bot, task_status)
                except* EscalationError as group:
                    exit_code = 1
                    for exc in group.exceptions:
                        cause = describe(exc.__cause__) if exc.__cause__ else None
                        log_event("bot.escalation", level="error", error=str(exc), cause=cause)
            root.cancel_scope.cancel()
    finally:
        # However the bot stops (a signal, an escalation, or its caller cancelling it), plugins hear of it
        # and the store is closed.
        bot.health.stopping = True
        with trio.CancelScope(shield=True):
            with trio.move_on_after(config.supervision.shutdown_timeout / 2):
                await plugins.notify("on_shutdown", bot=bot)
            await trio.to_thread.run_sync(store.store.close)
        log_event("bot.stopped", exit_code=exit_code)
    return exit_code


async def _run_services(bot: BotContext, task_status: trio.TaskStatus[BotContext]) -> None:
    from marketmaestro.api import serve_api

    start = partial(supervise, policy=bot.restart_policy, health=bot.health, on_restart=bot.record_restart)
    async with trio.open_nursery() as services:
        # Keeps the bot up with no service configured, until a signal stops it.
        services.start_soon(trio.sleep_forever)
        if bot.config.api.enabled:
            bot.api_urls = await services.start(partial(start, "api", partial(serve_api, bot)))
            log_event("api.listening", urls=bot.api_urls)
        for name, exchange in bot.config.exchanges.items():
            if exchange.enabled:
                await services.start(partial(start, f"exchange:{name}", partial(_exchange, bot, name)))
        await bot.plugins.notify("on_startup", bot=bot)
        log_event("bot.started", version=bot.version, exchanges=sorted(bot.exchanges))
        task_status.started(bot)


async def _exchange(bot: BotContext, name: str, *, task_status: trio.TaskStatus[None]) -> None:
    from marketmaestro.runtime.exchange_service import run_exchange_service

    await run_exchange_service(bot, name, task_status=task_status)


async def stop_gracefully(bot: BotContext) -> None:
    """Stop the strategies first (bounded by half the shutdown deadline), then everything else; ``run_bot``
    then returns 0. What SIGINT and SIGTERM do; programs embedding the bot may call it too."""
    bot.health.stopping = True
    bot.stop_strategies.set()
    with trio.move_on_after(bot.config.supervision.shutdown_timeout / 2):
        for stopped in list(bot.strategies_stopped):
            await stopped.wait()
    bot.services_scope.cancel()


async def _watch_signals(bot: BotContext, nursery: trio.Nursery) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            if not bot.health.stopping:
                log_event(
                    "bot.stopping",
                    signal=signal.Signals(signum).name,
                    deadline_seconds=bot.config.supervision.shutdown_timeout,
                )
                _start_watchdog(bot.config.supervision.shutdown_timeout)
                nursery.start_soon(stop_gracefully, bot)
            else:
                log_event("bot.forced_exit", level="warning", signal=signal.Signals(signum).name)
                os._exit(FORCED_EXIT_CODE)


def _start_watchdog(timeout: float) -> None:
    """End the process if the graceful shutdown has not finished within ``timeout`` seconds."""

    def watchdog() -> None:
        time.sleep(timeout)
        log_event("bot.shutdown_timeout", level="error", timeout_seconds=timeout)
        os._exit(1)

    threading.Thread(target=watchdog, name="shutdown-watchdog", daemon=True).start()
