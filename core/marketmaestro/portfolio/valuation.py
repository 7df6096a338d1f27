"""Valuing an account: marks, fees in the quote currency, P&L per position, strategy and account.

Everything here is pure arithmetic on ``Decimal`` (the component in :mod:`.component` owns the state).
Conventions (docs/portfolio.md explains them with examples):

- a position's P&L is in its symbol's quote currency: realised (closed quantity times the exit price minus
  the average entry), unrealised (open quantity marked to the latest price) and fees;
- totals per strategy and for the account are in the portfolio's *valuation currency*, converted with the
  latest mark of the quote currency when it differs (``USDC`` through ``USDCUSDT``, say);
- account equity is the exchange's balances valued at the latest marks; an asset without a mark is listed
  as unpriced and left out of equity rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal

from marketmaestro.model import Balance, Fill, Instrument, Position

ZERO = Decimal(0)


class Marks:
    """The latest price of each symbol, and the conversion of any asset into another through them."""

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self.instruments = dict(instruments)
        self.prices: dict[str, Decimal] = {}

    def update(self, symbol: str, price: Decimal) -> None:
        if price.is_finite() and price > 0:
            self.prices[symbol] = price

    def get(self, symbol: str) -> Decimal | None:
        return self.prices.get(symbol)

    def rate(self, asset: str, currency: str) -> Decimal | None:
        """How many ``currency`` one ``asset`` is worth at the latest marks, or ``None`` when unknown."""
        if asset == currency:
            return Decimal(1)
        for symbol, instrument in self.instruments.items():
            price = self.prices.get(symbol)
            if price is None:
                continue
            if instrument.base == asset and instrument.quote == currency:
                return price
            if instrument.base == currency and instrument.quote == asset:
                return Decimal(1) / price
        return None


def fee_in_quote(fill: Fill, instrument: Instrument, marks: Marks) -> Decimal | None:
    """The fill's fee in the symbol's quote currency: as is when paid in quote, times the fill's price when
    paid in base, at the latest mark for any other currency; ``None`` when that mark is unknown."""
    if fill.fee == 0 or fill.fee_currency in ("", instrument.quote):
        return fill.fee
    if fill.fee_currency == instrument.base:
        return fill.fee * fill.price
    rate = marks.rate(fill.fee_currency, instrument.quote)
    return None if rate is None else fill.fee * rate


def round_pnl(position: Position, instrument: Instrument) -> Position:
    """``position`` with its realised P&L on the grid of a price tick times a quantity step (the smallest
    amount a fill can change it by). An average entry of mixed fills is a division (kept to Decimal's 28
    digits); without this, its last digit would show in the P&L as noise like ``...0000000100``."""
    grid = instrument.tick_size * instrument.step_size
    return replace(position, realized_pnl=position.realized_pnl.quantize(grid, rounding=ROUND_HALF_EVEN))


def balance_changes(fill: Fill, instrument: Instrument) -> dict[str, Decimal]:
    """How a spot fill changes the account's balances, asset by asset (the fee included)."""
    sign = fill.side.sign
    changes = {instrument.base: sign * fill.quantity, instrument.quote: -sign * fill.quantity * fill.price}
    if fill.fee and fill.fee_currency:
        changes[fill.fee_currency] = changes.get(fill.fee_currency, ZERO) - fill.fee
    return changes


@dataclass(frozen=True, slots=True)
class PositionValue:
    """A position marked to the latest price, amounts in the symbol's ``quote`` currency."""

    exchange: str
    symbol: str
    strategy: str
    quote: str
    quantity: Decimal
    average_price: Decimal
    mark: Decimal | None
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    net_pnl: Decimal
    exposure: Decimal
    """Absolute value of the open quantity at the mark."""


@dataclass(frozen=True, slots=True)
class PnlSummary:
    """P&L of one strategy (``strategy=""``: the whole account), in the valuation currency."""

    strategy: str
    realized_pnl: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    exposure: Decimal = ZERO
    positions: tuple[PositionValue, ...] = ()

    @property
    def net_pnl(self) -> Decimal:
        return self.realized_pnl + self.unrealized_pnl - self.fees


@dataclass(frozen=True, slots=True)
class AssetValue:
    asset: str
    total: Decimal
    value: Decimal | None
    """``total`` in the valuation currency, ``None`` when no mark converts it."""


@dataclass(frozen=True, slots=True)
class PortfolioReport:
    """The state of one exchange account: what the API shows and the risk manager checks orders against."""

    exchange: str
    timestamp: int
    valuation_currency: str
    equity: Decimal
    """The balances valued at the latest marks (unpriced assets left out)."""
    assets: tuple[AssetValue, ...]
    account: PnlSummary
    strategies: tuple[PnlSummary, ...]
    unpriced: tuple[str, ...] = field(default=())

    def strategy(self, name: str) -> PnlSummary:
        """The summary of strategy ``name`` (empty when it has no position); ``""`` is the account."""
        if not name:
            return self.account
        for summary in self.strategies:
            if summary.strategy == name:
                return summary
        return PnlSummary(name)

    def asset_value(self, asset: str) -> Decimal:
        for entry in self.assets:
            if entry.asset == asset:
                return entry.value or ZERO
        return ZERO


def value_position(position: Position, instrument: Instrument | None, marks: Marks) -> PositionValue:
    mark = marks.get(position.symbol)
    unrealized = position.quantity * (mark - position.average_price) if mark is not None else ZERO
    exposure = abs(position.quantity) * (mark if mark is not None else position.average_price)
    return PositionValue(
        exchange=position.exchange,
        symbol=position.symbol,
        strategy=position.strategy,
        quote=instrument.quote if instrument is not None else "",
        quantity=position.quantity,
        average_price=position.average_price,
        mark=mark,
        realized_pnl=position.realized_pnl,
        unrealized_pnl=unrealized,
        fees=position.fees,
        net_pnl=position.realized_pnl + unrealized - position.fees,
        exposure=exposure,
    )


def summarise(
    strategy: str, values: Iterable[PositionValue], marks: Marks, currency: str, unpriced: set[str]
) -> PnlSummary:
    """The positions' P&L added up in ``currency``; a quote currency without a rate goes to ``unpriced``."""
    realized = unrealized = fees = exposure = ZERO
    kept = []
    for value in values:
        kept.append(value)
        rate = marks.rate(value.quote, currency) if value.quote else Decimal(1)
        if rate is None:
            unpriced.add(value.quote)
            continue
        realized += value.realized_pnl * rate
        unrealized += value.unrealized_pnl * rate
        fees += value.fees * rate
        exposure += value.exposure * rate
    return PnlSummary(strategy, realized, unrealized, fees, exposure, tuple(kept))


def report(
    exchange: str,
    timestamp: int,
    positions: Iterable[Position],
    balances: Iterable[Balance],
    instruments: Mapping[str, Instrument],
    marks: Marks,
    currency: str,
) -> PortfolioReport:
    """Value the account and every strategy at the latest marks."""
    unpriced: set[str] = set()
    by_strategy: dict[str, list[PositionValue]] = {}
    for position in positions:
        value = value_position(position, instruments.get(position.symbol), marks)
        by_strategy.setdefault(position.strategy, []).append(value)
    summaries = {
        name: summarise(name, sorted(values, key=lambda v: v.symbol), marks, currency, unpriced)
        for name, values in by_strategy.items()
    }
    assets = []
    equity = ZERO
    for balance in sorted(balances, key=lambda b: b.asset):
        rate = marks.rate(balance.asset, currency)
        worth = None if rate is None else balance.total * rate
        if worth is None and balance.total != 0:
            unpriced.add(balance.asset)
        equity += worth or ZERO
        assets.append(AssetValue(balance.asset, balance.total, worth))
    return PortfolioReport(
        exchange=exchange,
        timestamp=timestamp,
        valuation_currency=currency,
        equity=equity,
        assets=tuple(assets),
        account=summaries.pop("", PnlSummary("")),
        strategies=tuple(summaries[name] for name in sorted(summaries)),
        unpriced=tuple(sorted(unpriced)),
    )
