"""Bitvavo markets: symbols, price and amount grids, kline intervals and number formatting.

MarketMaestro names a pair ``BTCEUR`` (letters and digits); Bitvavo calls the market ``BTC-EUR``. Prices sit
on the market's ``tickSize`` or, where Bitvavo reports ``tickSize: null``, on ``pricePrecision`` significant
digits (5); amounts on ``quantityDecimals`` decimals, quote amounts on ``notionalDecimals``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from marketmaestro.model import Instrument

INTERVALS = {
    "1m": "1m",
    "5m": "5m",
    "15m": "15m",
    "30m": "30m",
    "1h": "1h",
    "2h": "2h",
    "4h": "4h",
    "6h": "6h",
    "12h": "12h",
    "1d": "1d",
    "1w": "1W",
}
"""MarketMaestro interval -> Bitvavo interval (Bitvavo has no 3m)."""

DEFAULT_SIGNIFICANT_DIGITS = 5


def bitvavo_interval(interval: str) -> str:
    """Bitvavo's name of ``interval``; ``ValueError`` naming the supported ones otherwise."""
    try:
        return INTERVALS[interval]
    except KeyError:
        raise ValueError(
            f"interval {interval!r} is not offered by Bitvavo; expected one of {', '.join(INTERVALS)}"
        ) from None


def plain(value: Decimal) -> str:
    """``value`` as a plain decimal string without exponent or trailing zeros (``0.001``, ``30000``)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def decimal_field(raw: Any, what: str) -> Decimal:
    """A Decimal from an exchange field (strings, or numbers rendered as text); ``ValueError`` otherwise."""
    try:
        return Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise ValueError(f"{what}: got {raw!r}; expected a decimal number") from None


def significant_tick(price: Decimal, digits: int) -> Decimal:
    """The grid step of ``price`` when prices carry ``digits`` significant digits (30123 -> 1 for 5)."""
    if price <= 0:
        return Decimal(1).scaleb(-8)
    return Decimal(1).scaleb(price.adjusted() - digits + 1)


@dataclass(frozen=True, slots=True)
class Market:
    """One Bitvavo market as ``GET /markets`` describes it."""

    market: str
    base: str
    quote: str
    status: str
    tick_size: Decimal | None
    price_precision: int
    quantity_decimals: int
    notional_decimals: int
    min_base: Decimal
    min_quote: Decimal
    order_types: tuple[str, ...]

    @property
    def symbol(self) -> str:
        """MarketMaestro's name: ``BTC-EUR`` -> ``BTCEUR``."""
        return self.base + self.quote

    @property
    def step(self) -> Decimal:
        return Decimal(1).scaleb(-self.quantity_decimals)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Market:
        """From one object of ``GET /markets``; integer fields may come as text."""
        tick = raw.get("tickSize")
        precision = raw.get("pricePrecision")
        return cls(
            market=str(raw["market"]),
            base=str(raw["base"]),
            quote=str(raw["quote"]),
            status=str(raw.get("status", "trading")),
            tick_size=decimal_field(tick, "tickSize") if tick not in (None, "") else None,
            price_precision=int(precision) if precision not in (None, "") else DEFAULT_SIGNIFICANT_DIGITS,
            quantity_decimals=int(raw.get("quantityDecimals", 8)),
            notional_decimals=int(raw.get("notionalDecimals", 2)),
            min_base=decimal_field(raw.get("minOrderInBaseAsset", "0"), "minOrderInBaseAsset"),
            min_quote=decimal_field(raw.get("minOrderInQuoteAsset", "0"), "minOrderInQuoteAsset"),
            order_types=tuple(raw.get("orderTypes", ("market", "limit"))),
        )

    def tick_at(self, price: Decimal) -> Decimal:
        """The price step at ``price``: the tick size, or the significant-digit step when there is none."""
        return self.tick_size if self.tick_size is not None else significant_tick(price, self.price_precision)

    def round_price(self, price: Decimal) -> Decimal:
        tick = self.tick_at(price)
        ticks = (price / tick).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        return (ticks * tick).quantize(tick) if tick < 1 else ticks * tick

    def price_problem(self, price: Decimal) -> str | None:
        """Why ``price`` is off this market's grid, or None."""
        if price <= 0:
            return f"price {price} of {self.market} must be positive"
        tick = self.tick_at(price)
        if price % tick != 0:
            if self.tick_size is not None:
                return f"price {price} is not a multiple of {self.market}'s tick size {tick}"
            return f"price {price} has more than {self.price_precision} significant digits ({self.market})"
        return None

    def round_amount(self, amount: Decimal) -> Decimal:
        return amount.quantize(self.step, rounding=ROUND_DOWN)

    def instrument(self, reference_price: Decimal | None = None) -> Instrument:
        """MarketMaestro's view. Without a tick size the grid depends on the price: the step at
        ``reference_price`` (the last trade) is given, and orders are checked again when placed."""
        tick = self.tick_size
        if tick is None:
            tick = significant_tick(reference_price or Decimal(1), self.price_precision)
        return Instrument(
            symbol=self.symbol,
            base=self.base,
            quote=self.quote,
            tick_size=tick,
            step_size=self.step,
            min_quantity=self.min_base,
            min_notional=self.min_quote,
        )
