"""Options of the built-in paper exchange (``exchanges.<name>.options``)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from marketmaestro.config.schema import problem
from marketmaestro.model import INTERVAL_SECONDS

QUOTE_ASSETS = ("USDT", "USDC", "FDUSD", "EUR", "USD", "BTC", "ETH")
"""Quote currencies recognised at the end of a symbol (BTCUSDT = BTC quoted in USDT)."""


SIMULATOR_OPTIONS = (
    "seed",
    "kline_seconds",
    "interval",
    "symbols",
    "volatility",
    "warmup",
    "csv",
    "tick_size",
    "step_size",
    "min_notional",
    "book_depth",
    "spread_bps",
)
"""Options of the simulated market, which a paper exchange with a ``feed`` does not use."""


class PaperOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feed: str | None = None
    """A registered exchange plugin whose public market data (instruments, klines, books, tickers) replaces
    the simulator: paper trading on a live venue's prices, with no API keys."""
    feed_options: dict[str, Any] = Field(default_factory=dict)
    """Options of the ``feed`` plugin (its URLs, for example), validated by that plugin's options model."""
    seed: int = 42
    """Seed of the random walk: the same seed gives the same prices."""
    kline_seconds: float = Field(1.0, gt=0)
    """Wall-clock seconds per simulated kline: 1.0 plays one 1m kline per second (60x speed)."""
    interval: str = "1m"
    """The simulator's base interval; strategies may ask for multiples of it."""
    symbols: dict[str, float] = Field(default_factory=lambda: {"BTCUSDT": 60000.0, "ETHUSDT": 3000.0})
    """Simulated symbols and their start prices."""
    volatility: float = Field(0.001, gt=0, lt=0.5)
    """Standard deviation of the log return per base kline."""
    warmup: int = Field(300, ge=0, le=100_000)
    """Klines of history generated before the start, served to strategies for warm-up."""
    csv: dict[str, Path] = Field(default_factory=dict)
    """Symbol -> klines CSV (timestamp,open,high,low,close,volume) replayed instead of the random walk."""
    balances: dict[str, Decimal] = Field(default_factory=lambda: {"USDT": Decimal(10000)})
    """The paper account's balances when it is first created; later runs continue from the stored ones."""
    fee_rate: Decimal = Field(Decimal("0.001"), ge=0, le=Decimal("0.1"))
    """Fee per fill as a fraction of its notional, charged in the quote currency."""
    limit_orders: bool = True
    """Whether the venue takes limit orders (resting, time in force, post-only, amend). ``false`` makes it
    a market-only venue, on which the order manager emulates limit orders as on an exchange without them."""
    tick_size: Decimal = Field(Decimal("0.01"), gt=0)
    step_size: Decimal = Field(Decimal("0.000001"), gt=0)
    min_notional: Decimal = Field(Decimal("1"), ge=0)
    book_depth: int = Field(5, ge=1, le=50)
    spread_bps: float = Field(2.0, gt=0, le=1000)

    @field_validator("feed")
    @classmethod
    def _feed_name(cls, value: str | None) -> str | None:
        if value is not None and not value.isidentifier():
            raise ValueError("expected the name of a registered exchange plugin, such as bybit")
        if value == "paper":
            raise ValueError("expected another exchange plugin than paper: the simulator needs no feed")
        return value

    @model_validator(mode="after")
    def _feed_replaces_the_simulator(self) -> PaperOptions:
        unused = [name for name in SIMULATOR_OPTIONS if name in self.model_fields_set] if self.feed else []
        if unused:
            raise problem(
                f"nothing: it configures the simulated market, which feed {self.feed!r} replaces "
                f"(remove {', '.join(unused)}; instruments and prices come from the feed)",
                subkey=unused[0],
                value=getattr(self, unused[0]),
            )
        if self.feed_options and not self.feed:
            raise problem(
                "no feed_options without a feed (name the exchange plugin in feed)",
                subkey="feed_options",
                value=self.feed_options,
            )
        return self

    @field_validator("interval")
    @classmethod
    def _known_interval(cls, value: str) -> str:
        if value not in INTERVAL_SECONDS:
            raise ValueError(f"expected one of {', '.join(INTERVAL_SECONDS)}")
        return value

    @field_validator("symbols", "csv")
    @classmethod
    def _symbol_names(cls, value: dict[str, object]) -> dict[str, object]:
        for symbol in value:
            split_symbol(symbol)
        return {symbol.upper(): v for symbol, v in value.items()}

    @field_validator("symbols")
    @classmethod
    def _positive_prices(cls, value: dict[str, float]) -> dict[str, float]:
        for symbol, price in value.items():
            if price <= 0:
                raise ValueError(f"start price of {symbol} must be positive, got {price}")
        return value

    @field_validator("balances")
    @classmethod
    def _non_negative_balances(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for asset, amount in value.items():
            if amount < 0:
                raise ValueError(f"balance of {asset} must not be negative, got {amount}")
        return {asset.upper(): amount for asset, amount in value.items()}


def split_symbol(symbol: str) -> tuple[str, str]:
    """``BTCUSDT`` -> (``BTC``, ``USDT``); ``ValueError`` naming the known quote assets otherwise."""
    upper = symbol.upper()
    for quote in QUOTE_ASSETS:
        if upper.endswith(quote) and len(upper) > len(quote):
            return upper[: -len(quote)], quote
    raise ValueError(
        f"cannot tell the quote asset of {symbol!r}; it must end in one of {', '.join(QUOTE_ASSETS)}"
    )
