"""Market data: instruments, klines, tickers, order books and public trades.

Market data is what strategies and indicators read, so prices here are floats; the money that
changes hands (orders, fills, balances, positions) is ``Decimal`` and lives in ``orders`` and
``account``. A public :class:`Trade` is the exception: it is the venue's own record of money changing
hands, so its price and quantity stay ``Decimal`` as the venue printed them. Timestamps are epoch
milliseconds, UTC, of the event itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from marketmaestro.model.orders import Side


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable symbol and the grid its prices and quantities must sit on."""

    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    min_quantity: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)

    def round_price(self, price: Decimal) -> Decimal:
        """``price`` on the tick grid (half-even: a price has no favoured direction)."""
        ticks = (price / self.tick_size).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        return (ticks * self.tick_size).quantize(self.tick_size)

    def round_quantity(self, quantity: Decimal) -> Decimal:
        """``quantity`` on the step grid, rounded down so an order never exceeds what was asked."""
        steps = (quantity / self.step_size).to_integral_value(rounding=ROUND_DOWN)
        return (steps * self.step_size).quantize(self.step_size)

    def check_order(self, quantity: Decimal, price: Decimal) -> str | None:
        """Why an order of ``quantity`` at ``price`` cannot be placed, or ``None`` when it can."""
        if quantity <= 0:
            return f"quantity {quantity} rounds to zero on {self.symbol}'s step {self.step_size}"
        if quantity < self.min_quantity:
            return f"quantity {quantity} is under {self.symbol}'s minimum {self.min_quantity}"
        notional = quantity * price
        if notional < self.min_notional:
            return f"notional {notional} is under {self.symbol}'s minimum {self.min_notional}"
        return None


@dataclass(frozen=True, slots=True)
class Kline:
    """One candle. ``closed`` is false while the interval is still running."""

    symbol: str
    interval: str
    timestamp: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    closed: bool = True


@dataclass(frozen=True, slots=True)
class Ticker:
    """Last price and 24-hour statistics of a symbol."""

    symbol: str
    timestamp: int
    last: float
    bid: float
    ask: float
    volume_24h: float
    change_24h: float


@dataclass(frozen=True, slots=True)
class Trade:
    """One trade of a symbol's public tape (anyone's, not only the account's). ``side`` is the taker's:
    ``BUY`` when a buyer took the asks."""

    symbol: str
    trade_id: str
    price: Decimal
    quantity: Decimal
    side: Side
    timestamp: int


@dataclass(frozen=True, slots=True)
class OrderBook:
    """Best-first price levels. Either side may be empty in a thin market."""

    symbol: str
    timestamp: int
    bids: tuple[tuple[float, float], ...] = field(default_factory=tuple)
    asks: tuple[tuple[float, float], ...] = field(default_factory=tuple)

    @property
    def best_bid(self) -> float | None:
        return self.bids[0][0] if self.bids else None

    @property
    def best_ask(self) -> float | None:
        return self.asks[0][0] if self.asks else None

    @property
    def mid(self) -> float | None:
        """Mid price; with one side missing, that side's best price (as the seed design does)."""
        bid, ask = self.best_bid, self.best_ask
        if bid is not None and ask is not None:
            return (bid + ask) / 2
        return bid if bid is not None else ask

    @property
    def spread(self) -> float | None:
        bid, ask = self.best_bid, self.best_ask
        return ask - bid if bid is not None and ask is not None else None
