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
stream                 yes       push subscribed klines, tickers, order books and (with
                                 ``capabilities["public_trades"]``) public trades until cancelled
place_order            yes       send an order; returns it as accepted, with any immediate fills
cancel_order           yes       cancel an open order
open_orders            yes       orders still open on the exchange
balances               yes       the account's balances
positions              no        derivative positions (spot adapters return none)
klines                 no        history: the latest ``limit`` closed klines, or a ``start``/``end``
                                 range (paginated by the caller); default none
amend_order            no        change price or quantity of an open order (``capabilities["amend"]``)
server_time            no        the exchange's clock in ms (default: ours)
get_order              no        one order by ``client_order_id`` whether open or not (reconciliation)
order_history          no        closed orders since a time (reconciliation after a restart)
fills                  no        executions since a time (reconciliation after a restart)
private_stream         no        push order, fill, balance and position updates of the account until
                                 cancelled (``capabilities["private_stream"]``)
=====================  ========  =====================================================================

Every price and quantity an adapter sends is on the instrument's grid: callers round with
``Instrument.round_price``/``round_quantity`` and ``check_order`` rejects locally, and adapters must
raise :class:`~marketmaestro.exchanges.errors.OrderRejected` for anything off the grid rather than send it.
Errors follow the tree in :mod:`marketmaestro.exchanges.errors`.

``capabilities`` declares what the venue does natively, so the core never asks ``if venue == ...``:

=====================  =====================================================================================
capability             meaning
=====================  =====================================================================================
market_orders          market orders are accepted
limit_orders           limit orders rest on the book
time_in_force          IOC and FOK limit orders
native_stop_orders     stop orders wait on the venue (else the core would have to watch the price)
native_take_profit     take-profit orders wait on the venue
native_trailing_stop   trailing stops wait on the venue
amend                  ``amend_order`` changes an open order in place
post_only              post-only limit orders
reduce_only            reduce-only orders (derivatives)
derivatives            the account trades derivatives (perpetuals): a fill moves a position in
                       ``positions()`` and the margin (quote) balance by fees and realised PnL, not the
                       base asset's balance
private_stream         ``private_stream`` pushes the account's updates
order_history          ``order_history`` lists closed orders
fills_history          ``fills`` lists executions
public_trades          ``stream`` pushes ``TradeDataMsg`` for the symbols in ``Subscription.trades``
paper                  the account is simulated (the paper exchange): nothing reaches a venue
=====================  =====================================================================================

An adapter whose capabilities depend on its configuration (a category, a feed) sets ``self.capabilities`` on
the instance in ``__init__``. The conformance suite decides from the class attribute which checks apply,
and an instance must then agree with what its class declares.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from marketmaestro.exchanges.errors import OrderRejected
from marketmaestro.model import Balance, Fill, Instrument, Kline, Order, Position, now_ms

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
    mode: str = "paper"
    """The environment to trade in (``paper``, ``testnet`` or ``live``): the configured ``mode``, else the
    first of the modes the plugin registered. Adapters must never reach a live venue in another mode."""
    build_public: PublicExchangeFactory | None = None
    """Builds another registered exchange for its public market data only (see
    :data:`PublicExchangeFactory`); the paper exchange's ``feed`` uses it. None where the caller offers
    none."""


PublicExchangeFactory = Callable[[str, "Mapping[str, Any]"], "Exchange"]
"""``build(plugin, options)``: an adapter of the registered exchange plugin ``plugin``, built in ``paper``
mode without API keys (so it only ever makes public calls) from its raw ``options`` (validated by the
plugin's options model), not yet connected. Raises :class:`~marketmaestro.exchanges.errors.FatalExchangeError`
for an unknown plugin, a plugin without a paper mode, or invalid options."""


@dataclass(frozen=True)
class Subscription:
    """The market data the strategies of one exchange need."""

    klines: frozenset[tuple[str, str]] = frozenset()
    """(symbol, interval) pairs."""
    tickers: frozenset[str] = frozenset()
    orderbooks: frozenset[str] = frozenset()
    trades: frozenset[str] = frozenset()
    """Symbols whose public trades to push (adapters with ``capabilities["public_trades"]``)."""

    @property
    def symbols(self) -> frozenset[str]:
        return frozenset(s for s, _ in self.klines) | self.tickers | self.orderbooks | self.trades


@dataclass(frozen=True)
class OrderResult:
    """The exchange's answer to ``place_order``: the order as it stands and what filled at once."""

    order: Order
    fills: tuple[Fill, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """The private stream's news of an order (new, changed, cancelled, filled...)."""

    order: Order


@dataclass(frozen=True, slots=True)
class FillUpdate:
    """The private stream's news of one execution."""

    fill: Fill


@dataclass(frozen=True, slots=True)
class BalanceUpdate:
    """The private stream's balances; ``complete`` is true when they replace all balances."""

    balances: tuple[Balance, ...]
    complete: bool = False


@dataclass(frozen=True, slots=True)
class PositionUpdate:
    """The private stream's derivative positions."""

    positions: tuple[Position, ...]


AccountEvent = OrderUpdate | FillUpdate | BalanceUpdate | PositionUpdate
"""What ``Exchange.private_stream`` sends."""


class Exchange(ABC):
    """Base class of exchange adapters. See the module docstring for the method table."""

    capabilities: Mapping[str, bool] = {
        "market_orders": True,
        "limit_orders": False,
        "time_in_force": False,
        # IOC and FOK limit orders.
        "native_stop_orders": False,
        "native_take_profit": False,
        "native_trailing_stop": False,
        "amend": False,
        "post_only": False,
        "reduce_only": False,
        "derivatives": False,
        "private_stream": False,
        "order_history": False,
        "fills_history": False,
        "public_trades": False,
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
        """Push the subscribed market data into ``send`` until cancelled; ``started()`` once flowing.

        ===================================  =======================================================
        ``subscription`` field               pushed
        ===================================  =======================================================
        ``klines`` (symbol, interval)        ``KlineDataMsg``: closed klines, oldest first, none twice
        ``tickers``                          ``TickerDataMsg`` on every change
        ``orderbooks``                       ``OrderBookDataMsg``: the local book after every change
        ``trades``                           ``TradeDataMsg`` per public trade, when the adapter
                                             declares ``capabilities["public_trades"]`` (others
                                             ignore the field)
        ===================================  =======================================================
        """

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

    async def klines(
        self,
        symbol: str,
        interval: str,
        limit: int,
        *,
        start: int | None = None,
        end: int | None = None,
    ) -> list[Kline]:
        """Closed klines, oldest first, at most ``limit`` of them (one request's worth or fewer).

        Without ``start``/``end``: the most recent ones (strategy warm-up). With them: those whose open
        time lies in ``[start, end]`` (ms), the earliest first, so a caller pages forward from ``start``.
        """
        return []

    async def amend_order(
        self, order: Order, *, quantity: Decimal | None = None, price: Decimal | None = None
    ) -> Order:
        """Change an open order's quantity and/or price in place; the order as the exchange now has it."""
        raise OrderRejected(f"exchange {self.name!r} cannot amend orders; cancel and place a new one")

    async def server_time(self) -> int:
        """The exchange's clock, epoch ms."""
        return now_ms()

    async def get_order(self, order: Order) -> Order | None:
        """The exchange's view of ``order`` (by ``client_order_id``, open or closed), or None if unknown."""
        for candidate in await self.open_orders(order.symbol):
            if candidate.client_order_id == order.client_order_id:
                return candidate
        return None

    async def order_history(self, symbol: str | None = None, since: int | None = None) -> list[Order]:
        """Orders no longer open (filled, cancelled, rejected, expired) updated at or after ``since`` (ms)."""
        return []

    async def fills(self, symbol: str | None = None, since: int | None = None) -> list[Fill]:
        """The account's executions at or after ``since`` (ms), oldest first."""
        return []

    async def private_stream(
        self,
        send: trio.MemorySendChannel[AccountEvent],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Push the account's order, fill, balance and position updates into ``send`` until cancelled.

        ``started()`` once authenticated and subscribed. Adapters without a private stream (this default)
        start and then wait; the core then learns of fills from ``place_order`` and reconciliation.
        """
        task_status.started()
        await trio.sleep_forever()

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary for the health report: whether connected, and the capabilities this instance
        declares (the table in the module docstring)."""
        return {"connected": self.is_connected(), "capabilities": dict(self.capabilities)}
