"""The exchange interface every exchange plugin implements.

An adapter is built per configured exchange by the factory its plugin registered
(``register_exchanges``), from an ``ExchangeContext``. The exchange service connects it, asks for
instruments and warm-up history, runs ``stream`` in its nursery to receive market data, and sends orders
through ``place_order``.

=====================  ========  =====================================================================
method                 required  what it does
=====================  ========  =====================================================================
connect / disconnect   yes       open and close sessions; ``connect`` checks credentials
is_connected           yes       whether the adapter can trade now
instruments            yes       tick size, quantity step and minimums per symbol
stream                 yes       push subscribed klines, tickers and order books until cancelled
place_order            yes       send an order; returns it as accepted, with any immediate fills
cancel_order           yes       cancel an open order
open_orders            yes       orders still open on the exchange
balances               yes       the account's balances
positions              no        derivative positions (spot adapters return none)
klines                 no        recent history, for strategy warm-up (default: none)
=====================  ========  =====================================================================

``capabilities`` declares what the venue does natively, so the core never asks ``if venue == ...``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from marketmaestro.model import Balance, Fill, Instrument, Kline, Order, Position

if TYPE_CHECKING:
    from pydantic import BaseModel

    from marketmaestro.config import ExchangeConfig
    from marketmaestro.messages import MarketDataMsg
    from marketmaestro.storage import AsyncStore


@dataclass(frozen=True)
class ExchangeContext:
    """What a factory gets to build an adapter for one configured exchange."""

    name: str
    """The configured key (``exchanges.<name>``); several keys may use the same plugin."""
    config: ExchangeConfig
    options: BaseModel | None
    """``config.options`` validated by the plugin's ``options_model`` (None without a model)."""
    store: AsyncStore
    """For adapters that keep local state (the paper exchange's account)."""
    config_dir: Path
    """The folder of the settings file, against which relative paths in options are resolved."""


@dataclass(frozen=True)
class Subscription:
    """The market data the strategies of one exchange need."""

    klines: frozenset[tuple[str, str]] = frozenset()
    """(symbol, interval) pairs."""
    tickers: frozenset[str] = frozenset()
    orderbooks: frozenset[str] = frozenset()

    @property
    def symbols(self) -> frozenset[str]:
        return frozenset(s for s, _ in self.klines) | self.tickers | self.orderbooks


@dataclass(frozen=True)
class OrderResult:
    """The exchange's answer to ``place_order``: the order as it stands and what filled at once."""

    order: Order
    fills: tuple[Fill, ...] = field(default_factory=tuple)


class Exchange(ABC):
    """Base class of exchange adapters. See the module docstring for the method table."""

    capabilities: Mapping[str, bool] = {
        "market_orders": True,
        "limit_orders": False,
        "native_stop_orders": False,
        "native_trailing_stop": False,
        "amend": False,
        "post_only": False,
        "reduce_only": False,
        "derivatives": False,
    }

    def __init__(self, context: ExchangeContext) -> None:
        self.name = context.name
        self.context = context

    @abstractmethod
    async def connect(self) -> None: ...

    @abstractmethod
    async def disconnect(self) -> None: ...

    @abstractmethod
    def is_connected(self) -> bool: ...

    @abstractmethod
    async def instruments(self) -> dict[str, Instrument]: ...

    @abstractmethod
    async def stream(
        self,
        subscription: Subscription,
        send: trio.MemorySendChannel[MarketDataMsg],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Push the subscribed market data into ``send`` until cancelled; ``started()`` once flowing."""

    @abstractmethod
    async def place_order(self, order: Order) -> OrderResult: ...

    @abstractmethod
    async def cancel_order(self, order: Order) -> Order: ...

    @abstractmethod
    async def open_orders(self, symbol: str | None = None) -> list[Order]: ...

    @abstractmethod
    async def balances(self) -> list[Balance]: ...

    async def positions(self) -> list[Position]:
        return []

    async def klines(self, symbol: str, interval: str, limit: int) -> list[Kline]:
        """Up to ``limit`` most recent closed klines, oldest first (for warm-up)."""
        return []

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary for the health report."""
        return {"connected": self.is_connected(), "capabilities": dict(self.capabilities)}
