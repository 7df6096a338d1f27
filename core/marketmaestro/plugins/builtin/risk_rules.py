"""Built-in plugin: the core's pre-trade risk rules (docs/risk.md describes each)."""

from __future__ import annotations

from marketmaestro import hookimpl
from marketmaestro.plugins.registry import RegisterRiskRule
from marketmaestro.risk import limits
from marketmaestro.risk.rules import max_position_size

BUILTIN_RULES = (
    (
        "max_position_size",
        max_position_size,
        "Limits the absolute position per symbol (base-asset quantity); reducing orders pass.",
    ),
    ("max_order_size", limits.max_order_size, "Limits the quantity of every order per symbol (base asset)."),
    (
        "max_order_value",
        limits.max_order_value,
        "Limits the notional of every order per symbol (quantity x price, quote currency).",
    ),
    (
        "max_daily_loss",
        limits.max_daily_loss,
        "Hard limit on the day's loss (amount or percent of the day's starting equity); halts until the "
        "next UTC day or a reset.",
    ),
    (
        "max_drawdown",
        limits.max_drawdown,
        "Hard limit on the fall of equity below its peak (percent); halts until the next UTC day or a reset.",
    ),
    (
        "max_concentration",
        limits.max_concentration,
        "Limits the share of equity held in one asset, in percent; reducing orders pass.",
    ),
    ("max_leverage", limits.max_leverage, "Limits exposure as a multiple of equity; reducing orders pass."),
    ("max_open_orders", limits.max_open_orders, "Limits how many orders of the account may be open at once."),
    ("max_orders_per_minute", limits.max_orders_per_minute, "Limits orders approved in any 60 seconds."),
    (
        "strategy_budget",
        limits.strategy_budget,
        "A strategy's capital budget: its exposure may not exceed the capital plus its net P&L.",
    ),
)


@hookimpl
def register_risk_rules(register: RegisterRiskRule) -> None:
    for name, factory, description in BUILTIN_RULES:
        register(name, factory, description=description)
