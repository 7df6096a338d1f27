"""A rebalance script on the real trading path: settings, portfolio, risk manager and order manager on a
real SQLite store, trading on a real paper exchange with BTCUSDT and ETHUSDT, and the script in a real
worker process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from marketmaestro.config import RebalanceScriptConfig
from marketmaestro.exchanges.paper import PaperExchange
from marketmaestro.messages import GetStatusMsg, RunRebalanceMsg, SetSettingMsg
from marketmaestro.rebalance import RebalanceComponent
from marketmaestro.settings import SettingsComponent
from marketmaestro.storage import AsyncStore
from marketmaestro.supervision import HealthRegistry, Mailbox
from tests.conftest import REPO
from tests.exchanges.conftest import make_paper
from tests.exchanges.conftest import store as store
from tests.trading.conftest import TIMEOUT, TradingStack, trading_stack

EQUAL_WEIGHT = REPO / "rebalance" / "equal_weight.star"
HEALTH_NAME = "exchange:paper/rebalance:equal_weight"


def paper(store: AsyncStore, folder: Path, **options: Any) -> PaperExchange:
    """A paper exchange with BTC at about 60000 and ETH at about 3000 USDT and 30000 USDT to spend."""
    defaults: dict[str, Any] = {
        "seed": 7,
        "kline_seconds": 3600.0,  # the market stands still while a test runs
        "warmup": 10,
        "balances": {"USDT": "30000"},
        "step_size": "0.0001",
        "min_notional": "5",
    }
    return make_paper(store, folder, pairs=("BTCUSDT", "ETHUSDT"), **{**defaults, **options})


@dataclass
class Rebalancing:
    stack: TradingStack
    settings: SettingsComponent
    component: RebalanceComponent
    health: HealthRegistry

    async def run(self, *, force: bool = False) -> dict[str, Any]:
        report: dict[str, Any] = await self.component.mailbox.request(
            RunRebalanceMsg(self.stack.name, force=force), TIMEOUT
        )
        return report

    async def status(self) -> dict[str, Any]:
        status: dict[str, Any] = await self.component.mailbox.request(GetStatusMsg(), TIMEOUT)
        return status

    async def set(self, key: str, value: Any) -> Any:
        return await self.settings.mailbox.request(
            SetSettingMsg(self.component.name, key, value, strict=True), TIMEOUT
        )


@asynccontextmanager
async def rebalancing(
    store: AsyncStore,
    exchange: PaperExchange,
    *,
    file: Path = EQUAL_WEIGHT,
    config: dict[str, Any] | None = None,
    callback_timeout: float = 5.0,
    risk: dict[str, dict[str, Any]] | None = None,
) -> AsyncIterator[Rebalancing]:
    """The trading stack of ``exchange`` (with the ``risk`` rules) with its settings component and the
    rebalance script ``file``."""
    async with trading_stack(store, exchange, risk=risk) as stack:
        health = HealthRegistry()
        settings = SettingsComponent(Mailbox("paper/settings"), exchange=stack.name, store=store)
        spec = RebalanceScriptConfig(
            script=file.stem,
            exchange=stack.name,
            config=config or {},
            callback_timeout=callback_timeout,
        )
        component = RebalanceComponent(
            Mailbox(HEALTH_NAME),
            exchange=stack.name,
            file=file,
            spec=spec,
            registry=stack.plugins.registry,
            store=store,
            adapter=exchange,
            instruments=stack.instruments,
            settings=settings.mailbox,
            orders=stack.order_manager.mailbox,
            portfolio=stack.portfolio.mailbox,
            health=health,
            health_name=HEALTH_NAME,
            request_timeout=TIMEOUT,
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(settings.run)
            await nursery.start(component.run)
            yield Rebalancing(stack, settings, component, health)
            nursery.cancel_scope.cancel()
