"""The messages components exchange. All are immutable (frozen dataclasses).

Names follow the seed design: ``{Action}{Entity}Msg``. Four kinds:

- data: market data flowing from an exchange to strategies (``KlineDataMsg``, ...);
- commands: requests to act (``PlaceOrderMsg``, ``ValidateOrderMsg``, ``SetSettingMsg``);
- queries: requests for information, answered through request/response (``GetPositionMsg``, ...);
- events: facts that happened, past tense (``OrderUpdatedMsg``, ``OrderFilledMsg``).

Every message that concerns a market carries ``exchange`` and ``symbol`` (and ``strategy`` where one is
involved), so a component's log action names them without knowing the message type.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from marketmaestro.model import (
    Balance,
    Fill,
    Kline,
    Order,
    OrderBook,
    OrderStatus,
    OrderType,
    Side,
    Ticker,
)

# --- data -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KlineDataMsg:
    exchange: str
    kline: Kline

    @property
    def symbol(self) -> str:
        return self.kline.symbol


@dataclass(frozen=True, slots=True)
class TickerDataMsg:
    exchange: str
    ticker: Ticker

    @property
    def symbol(self) -> str:
        return self.ticker.symbol


@dataclass(frozen=True, slots=True)
class OrderBookDataMsg:
    exchange: str
    orderbook: OrderBook

    @property
    def symbol(self) -> str:
        return self.orderbook.symbol


MarketDataMsg = KlineDataMsg | TickerDataMsg | OrderBookDataMsg

# --- commands -------------------------------------------------------------------------------------------


class _AboutOrder:
    """Names the exchange, symbol and strategy of the message's ``order`` (for log context)."""

    __slots__ = ()
    order: Order

    @property
    def exchange(self) -> str:
        return self.order.exchange

    @property
    def symbol(self) -> str:
        return self.order.symbol

    @property
    def strategy(self) -> str:
        return self.order.strategy


@dataclass(frozen=True, slots=True)
class PlaceOrderMsg:
    """A strategy's request to trade. The order manager answers with the resulting ``Order``."""

    exchange: str
    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal
    strategy: str
    price: Decimal | None = None
    reason: str = ""
    stop_price: Decimal | None = None
    trail_percent: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CancelOrdersMsg:
    """Cancel every open order of ``strategy`` on ``symbol``; answered with the orders as they end up."""

    exchange: str
    symbol: str
    strategy: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ValidateOrderMsg(_AboutOrder):
    """Asks the risk manager whether ``order`` may be sent; answered with ``OrderValidationResult``."""

    order: Order
    reference_price: Decimal


@dataclass(frozen=True, slots=True)
class OrderValidationResult:
    approved: bool
    rule: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class SetSettingMsg:
    component: str
    key: str
    value: Any


# --- queries --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GetSettingMsg:
    component: str
    key: str
    default: Any = None


@dataclass(frozen=True, slots=True)
class GetPositionMsg:
    """Answered with a ``Position`` (quantity zero when flat). ``strategy`` empty means the account."""

    exchange: str
    symbol: str
    strategy: str = ""


@dataclass(frozen=True, slots=True)
class GetBalancesMsg:
    """Answered with a ``tuple[Balance, ...]``."""

    exchange: str


@dataclass(frozen=True, slots=True)
class GetStatusMsg:
    """Answered with a JSON-able ``dict`` describing the component."""


# --- events ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderUpdatedMsg(_AboutOrder):
    """An order changed status; ``order`` is its state after the change."""

    order: Order
    previous_status: OrderStatus | None


@dataclass(frozen=True, slots=True)
class OrderFilledMsg(_AboutOrder):
    """An order was (partly) filled; ``order`` is its state after the fill."""

    fill: Fill
    order: Order


@dataclass(frozen=True, slots=True)
class UpdateBalanceMsg:
    """The exchange reported balances; the portfolio takes them as the truth."""

    exchange: str
    balances: tuple[Balance, ...]
