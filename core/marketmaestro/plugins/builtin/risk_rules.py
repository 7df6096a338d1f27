"""Built-in plugin: the core's pre-trade risk rules."""

from __future__ import annotations

from marketmaestro import hookimpl
from marketmaestro.plugins.registry import RegisterRiskRule
from marketmaestro.risk.rules import max_position_size


@hookimpl
def register_risk_rules(register: RegisterRiskRule) -> None:
    register(
        "max_position_size",
        max_position_size,
        description="Limits the absolute position per symbol (base-asset quantity); reducing orders pass.",
    )
