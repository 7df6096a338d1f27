"""Risk: pre-trade rules (plugins) and the risk manager that applies them."""

from marketmaestro.risk.manager import RiskManager, build_rules, check_risk_config
from marketmaestro.risk.rules import MaxPositionSize, OrderCheck, RiskConfigError, RiskRule, max_position_size

__all__ = [
    "MaxPositionSize",
    "OrderCheck",
    "RiskConfigError",
    "RiskManager",
    "RiskRule",
    "build_rules",
    "check_risk_config",
    "max_position_size",
]
