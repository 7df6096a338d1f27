"""Risk: pre-trade rules (plugins), the risk manager that applies them, and the account's risk metrics."""

from marketmaestro.risk.manager import RiskManager, RuleBook, build_rules, check_risk_config, merge_sections
from marketmaestro.risk.metrics import RiskMetrics, historical_var95
from marketmaestro.risk.rules import MaxPositionSize, OrderCheck, RiskConfigError, RiskRule, max_position_size

__all__ = [
    "MaxPositionSize",
    "OrderCheck",
    "RiskConfigError",
    "RiskManager",
    "RiskMetrics",
    "RiskRule",
    "RuleBook",
    "build_rules",
    "check_risk_config",
    "historical_var95",
    "max_position_size",
    "merge_sections",
]
