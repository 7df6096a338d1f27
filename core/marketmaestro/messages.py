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

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from marketmaestro.model import (
    Balance,
    Fill,
    Kline,
    Order,
    OrderBook,
    OrderStatus,
    OrderType,
    Position,
    Side,
    Ticker,
    TimeInForce,
    Trade,
)

if TYPE_CHECKING:
    from marketmaestro.settings.specs import SettingSpec

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


@dataclass(frozen=True, slots=True)
class TradeDataMsg:
    """A public trade of the symbol (pushed when ``Subscription.trades`` names the symbol)."""

    exchange: str
    trade: Trade

    @property
    def symbol(self) -> str:
        return self.trade.symbol


MarketDataMsg = KlineDataMsg | TickerDataMsg | OrderBookDataMsg | TradeDataMsg

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
    trail_amount: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    stop_loss: Decimal | None = None
    """With ``take_profit``: a bracket's exits, placed on the other side once this order fills."""
    take_profit: Decimal | None = None
    oco: bool = False
    """Place no entry: a take profit at ``take_profit`` and a stop at ``stop_loss`` on ``side``, one
    cancelling the other. The answer is the take-profit leg."""


@dataclass(frozen=True, slots=True)
class CancelOrderMsg:
    """Cancel one order by client order id; answered with the order as it ends up."""

    exchange: str
    client_order_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AmendOrderMsg:
    """Change an open order's quantity and/or price; answered with the order that now stands (a new one
    when the exchange cannot amend and the order manager cancelled and replaced it)."""

    exchange: str
    client_order_id: str
    quantity: Decimal | None = None
    price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CancelAllOrdersMsg:
    """Cancel every open order (native and emulated) of the exchange, narrowed to ``symbol`` and/or
    ``strategy`` when given; with ``halt`` (the kill switch) the order manager also refuses new orders
    until restarted. Answered with the orders as they end up."""

    exchange: str
    symbol: str | None = None
    strategy: str | None = None
    reason: str = ""
    halt: bool = False


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
    """Answered with the value as stored. A declared setting is validated first (``BadRequest`` naming the
    key, the value and what is expected; nothing is stored). ``strict`` (the API's): refuse a component
    that declared no settings, instead of storing any key for it."""

    component: str
    key: str
    value: Any
    strict: bool = False


@dataclass(frozen=True, slots=True)
class RunRebalanceMsg:
    """Run a rebalance script now (its timer sends this on every interval); answered with a ``dict`` report:
    status (``traded``, ``skipped``, ``error``), drift, weights, orders placed and trades skipped.
    ``force`` runs the script even when the drift is under the threshold."""

    exchange: str
    force: bool = False


@dataclass(frozen=True, slots=True)
class DeclareSettingsMsg:
    """A component's runtime settings, sent to the settings component when it starts; answered with a
    ``dict`` of their current values (stored, else the default). From then on ``subscriber`` (a mailbox)
    receives a ``SettingChangedMsg`` after every change of one of them."""

    component: str
    specs: tuple[SettingSpec, ...]
    subscriber: Any = None


# --- queries --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GetSettingMsg:
    component: str
    key: str
    default: Any = None


@dataclass(frozen=True, slots=True)
class ListSettingsMsg:
    """Answered with a ``list`` of dicts, one per declared setting: component, key, value, default, kind,
    description, expected (in words), and minimum/maximum/choices where declared."""


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
class GetPortfolioMsg:
    """Answered with a ``marketmaestro.portfolio.PortfolioReport``: balances, positions and P&L per strategy,
    valued at the latest marks."""

    exchange: str


@dataclass(frozen=True, slots=True)
class SnapshotEquityMsg:
    """Record the equity of the account and of every strategy now; answered with the stored snapshots."""

    exchange: str


@dataclass(frozen=True, slots=True)
class GetRiskMetricsMsg:
    """Answered with ``marketmaestro.risk.RiskMetrics`` (VaR95, drawdown, exposure, ...) and the halt."""

    exchange: str


@dataclass(frozen=True, slots=True)
class CheckRiskLimitsMsg:
    """Check the hard limits (daily loss, drawdown) now; answered with the ``RiskHalt`` in force, or None."""

    exchange: str


@dataclass(frozen=True, slots=True)
class ResetRiskHaltMsg:
    """An operator lifts the halt of a breached hard limit; answered with whether one was in force."""

    exchange: str
    by: str = "operator"


@dataclass(frozen=True, slots=True)
class HaltTradingMsg:
    """Halt every order on ``exchange`` (reducing ones too) until an operator resets it: a persisted risk halt
    of ``rule`` that never expires by itself (reconciliation found a difference it cannot explain)."""

    exchange: str
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class TakePositionsMsg:
    """The exchange's derivative positions: the portfolio takes them as the account's (the exchange wins);
    answered with the symbols whose quantity changed, ``{symbol: (ours, exchange's)}``."""

    exchange: str
    positions: tuple[Position, ...]


@dataclass(frozen=True, slots=True)
class ReconcileMsg:
    """The order manager compares its orders, fills, balances and positions with the exchange's
    (``marketmaestro.orders.reconcile``); answered with a ``ReconcileReport``."""

    exchange: str
    startup: bool = False


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
class LiftKillMsg:
    """An operator lifts the kill switch's halt of ``exchange`` (kept in the risk halts, so it outlives a
    restart); answered with whether one was in force."""

    exchange: str
    by: str = "operator"


@dataclass(frozen=True, slots=True)
class FollowOrdersMsg:
    """A strategy runner asks the order manager for the news of its orders: every ``OrderUpdatedMsg`` and
    ``OrderFilledMsg`` of an order of ``strategy`` on ``symbol`` is handed to ``deliver`` (which must not
    block), in the order the manager announces them. A later message for the same pair replaces it."""

    exchange: str
    symbol: str
    strategy: str
    deliver: Callable[[OrderUpdatedMsg | OrderFilledMsg], None]


@dataclass(frozen=True, slots=True)
class SettingChangedMsg:
    """A declared setting was changed (and stored); its component applies ``value`` at once."""

    component: str
    key: str
    value: Any


@dataclass(frozen=True, slots=True)
class UpdateBalanceMsg:
    """The exchange reported balances; the portfolio takes them as the truth."""

    exchange: str
    balances: tuple[Balance, ...]
