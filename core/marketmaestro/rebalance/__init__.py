"""Portfolio rebalancing: Starlark scripts (``rebalance/*.star``) that bring an account back to a target
allocation, run in the strategies' sandbox and traded through the risk manager and the order manager."""

from marketmaestro.rebalance.allocation import REQUIRED, drift, rebalance_specs
from marketmaestro.rebalance.component import RebalanceComponent
from marketmaestro.rebalance.trades import RebalanceTrade, TradeError, parse_trades

__all__ = [
    "REQUIRED",
    "RebalanceComponent",
    "RebalanceTrade",
    "TradeError",
    "drift",
    "parse_trades",
    "rebalance_specs",
]
