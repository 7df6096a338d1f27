"""A rebalance script's settings, and how far the portfolio has drifted from its target allocation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from marketmaestro.model import Instrument
from marketmaestro.settings import SettingError, SettingSpec, spec_from_default

REQUIRED = ("interval", "target", "drift_threshold", "min_trade")
"""What every rebalance script's ``settings()`` must return."""
QUOTE_DEFAULT = "USDT"


def rebalance_specs(defaults: Mapping[str, Any], config: Mapping[str, Any]) -> tuple[SettingSpec, ...]:
    """The runtime settings of a script whose ``settings()`` returned ``defaults``, with ``config`` (the
    configuration file's overrides, already merged over them) as their defaults.

    Raises ``SettingError`` for a missing required key or a value its declaration refuses.
    """
    missing = [key for key in REQUIRED if key not in defaults]
    if missing:
        raise SettingError(f"settings() must return {', '.join(REQUIRED)}; missing: {', '.join(missing)}")
    known = {
        "interval": SettingSpec(
            "interval",
            "duration",
            config["interval"],
            "How often the script is considered: seconds, or an interval such as 15m, 1h, 1d.",
            minimum=1,
        ),
        "target": SettingSpec(
            "target",
            "allocation",
            config["target"],
            "Asset -> weight of the portfolio's value the script brings it back to (weights add up to 1).",
        ),
        "drift_threshold": SettingSpec(
            "drift_threshold",
            "number",
            config["drift_threshold"],
            "The script runs only when some asset's weight is further than this from its target "
            "(0.05 = 5 percentage points).",
            minimum=0,
            maximum=1,
        ),
        "min_trade": SettingSpec(
            "min_trade",
            "number",
            config["min_trade"],
            "Trades worth less than this, in the quote currency, are skipped.",
            minimum=0,
        ),
        "quote": SettingSpec(
            "quote",
            "string",
            config.get("quote", QUOTE_DEFAULT),
            "The currency values are counted in; each target asset trades against it (BTC -> BTCUSDT).",
        ),
    }
    specs = [
        known.get(key) or spec_from_default(key, value, f"The script's own setting (default {value!r}).")
        for key, value in sorted({**config, "quote": known["quote"].default}.items())
    ]
    for spec in specs:
        # The defaults must pass their own declaration, or no later change could be judged against them.
        spec.validate(spec.default, component="settings()")
    return tuple(specs)


@dataclass(frozen=True)
class Holdings:
    """The target's assets valued in the quote currency."""

    quantities: dict[str, Decimal]
    """Asset -> quantity held (free and locked), for every asset of the account."""
    prices: dict[str, Decimal]
    """Asset -> price in the quote currency (the quote itself is 1)."""
    symbols: dict[str, str]
    """Asset -> the symbol it trades on against the quote (none for the quote)."""

    @property
    def values(self) -> dict[str, Decimal]:
        return {asset: self.quantities.get(asset, Decimal(0)) * price for asset, price in self.prices.items()}

    @property
    def total(self) -> Decimal:
        return sum(self.values.values(), Decimal(0))

    def weights(self) -> dict[str, float]:
        total = self.total
        if total <= 0:
            return {asset: 0.0 for asset in self.prices}
        return {asset: float(value / total) for asset, value in self.values.items()}


def drift(weights: Mapping[str, float], target: Mapping[str, float]) -> float:
    """The largest distance of any asset's weight from its target weight."""
    return max((abs(weights.get(asset, 0.0) - weight) for asset, weight in target.items()), default=0.0)


def trade_symbols(
    target: Mapping[str, float], quote: str, instruments: Mapping[str, Instrument]
) -> dict[str, str]:
    """Asset -> the symbol trading it against ``quote``; ``SettingError`` for an asset with none."""
    by_pair = {(i.base, i.quote): symbol for symbol, i in instruments.items()}
    symbols: dict[str, str] = {}
    for asset in target:
        if asset == quote:
            continue
        symbol = by_pair.get((asset, quote))
        if symbol is None:
            raise SettingError(f"target: asset {asset} has no {asset}/{quote} instrument on this exchange")
        symbols[asset] = symbol
    return symbols
