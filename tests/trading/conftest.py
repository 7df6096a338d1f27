"""The trading path as the exchange service wires it: portfolio, risk manager and order manager on a real
store, running in a trio nursery, trading on a real paper exchange.

The strategy tests import ``trading_stack`` from here to run strategies on the same path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio

from marketmaestro.exchanges import Exchange
from marketmaestro.messages import (
    GetBalancesMsg,
    GetPositionMsg,
    GetStatusMsg,
    KlineDataMsg,
    PlaceOrderMsg,
    UpdateBalanceMsg,
)
from marketmaestro.model import Balance, Instrument, Kline, Order, OrderType, Position, Side
from marketmaestro.orders import OrderManager
from marketmaestro.plugins.manager import PluginHost, load_plugins
from marketmaestro.portfolio import Portfolio
from marketmaestro.risk import RiskManager, build_rules
from marketmaestro.storage import AsyncStore, Store
from marketmaestro.supervision import Mailbox

TIMEOUT = 5.0
"""Request timeout of the components; every test also bounds itself with trio.fail_after."""


def plugin_host(*extra: tuple[str, object]) -> PluginHost:
    """The real plugin registry: the built-ins, the indicators plugin and ``extra`` plugin objects."""
    return load_plugins(environ={"MM_LOAD_PLUGINS": "indicators"}, extra=extra)


@dataclass
class TradingStack:
    """The components of one exchange and what they trade on."""

    name: str
    store: AsyncStore
    exchange: Exchange
    instruments: dict[str, Instrument]
    plugins: PluginHost
    portfolio: Portfolio
    risk_manager: RiskManager
    order_manager: OrderManager
    nursery: trio.Nursery

    async def place(
        self,
        side: Side,
        quantity: str | Decimal,
        *,
        symbol: str = "BTCUSDT",
        strategy: str = "manual",
        exchange: str | None = None,
        order_type: OrderType = OrderType.MARKET,
        reason: str = "",
    ) -> Order:
        """Ask the order manager to trade, as a strategy runner does, and wait for the resulting order."""
        msg = PlaceOrderMsg(
            exchange if exchange is not None else self.name,
            symbol,
            side,
            order_type,
            Decimal(quantity),
            strategy,
            reason=reason,
        )
        order: Order = await self.order_manager.mailbox.request(msg, TIMEOUT)
        return order

    async def price(self, kline: Kline) -> None:
        """Tell the order manager the market price, as the exchange service's router does."""
        await self.order_manager.mailbox.send(KlineDataMsg(self.name, kline))

    async def position(self, symbol: str = "BTCUSDT", strategy: str = "") -> Position:
        """The portfolio's position; asked after every message sent before, so fills are applied."""
        position: Position = await self.portfolio.mailbox.request(
            GetPositionMsg(self.name, symbol, strategy), TIMEOUT
        )
        return position

    async def balances(self) -> dict[str, Decimal]:
        balances: tuple[Balance, ...] = await self.portfolio.mailbox.request(
            GetBalancesMsg(self.name), TIMEOUT
        )
        return {b.asset: b.free for b in balances}

    async def settle(self) -> None:
        """Wait until the order manager and the portfolio handled everything sent to them so far."""
        await self.order_manager.mailbox.request(GetStatusMsg(), TIMEOUT)
        await self.portfolio.mailbox.request(GetStatusMsg(), TIMEOUT)


@asynccontextmanager
async def trading_stack(
    store: AsyncStore,
    exchange: Exchange,
    *,
    risk: Mapping[str, Mapping[str, Any]] | None = None,
    exchange_risk: Mapping[str, Mapping[str, Any]] | None = None,
    plugins: PluginHost | None = None,
    price: Kline | None = None,
) -> AsyncIterator[TradingStack]:
    """Connect ``exchange`` and run its portfolio, risk manager and order manager until the block ends.

    ``price`` (a kline) is sent to the order manager first, so market orders have a reference price.
    """
    host = plugins or plugin_host()
    name = exchange.name
    if not exchange.is_connected():
        await exchange.connect()
    instruments = await exchange.instruments()
    rules = build_rules(host.registry, risk or {}, exchange_risk or {})
    portfolio = Portfolio(Mailbox(f"{name}/portfolio"), exchange=name, store=store)
    risk_manager = RiskManager(
        Mailbox(f"{name}/risk_manager"),
        exchange=name,
        rules=rules,
        portfolio=portfolio.mailbox,
        request_timeout=TIMEOUT,
    )
    order_manager = OrderManager(
        Mailbox(f"{name}/order_manager"),
        exchange=name,
        adapter=exchange,
        instruments=instruments,
        store=store,
        risk=risk_manager.mailbox,
        portfolio=portfolio.mailbox,
        plugins=host,
        request_timeout=TIMEOUT,
    )
    async with trio.open_nursery() as nursery:
        for component in (portfolio, risk_manager, order_manager):
            await nursery.start(component.run)
        # As the exchange service does: the exchange is the truth for balances.
        await portfolio.mailbox.send(UpdateBalanceMsg(name, tuple(await exchange.balances())))
        stack = TradingStack(
            name, store, exchange, instruments, host, portfolio, risk_manager, order_manager, nursery
        )
        if price is not None:
            await stack.price(price)
        yield stack
        nursery.cancel_scope.cancel()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AsyncStore]:
    """A real SQLite store in tmp_path, for trio code."""
    with Store(tmp_path / "t.db") as sync_store:
        yield AsyncStore(sync_store)
