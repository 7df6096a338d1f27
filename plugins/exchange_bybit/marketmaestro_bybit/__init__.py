"""Bybit V5 for MarketMaestro: spot and linear perpetuals over REST and WebSocket, testnet by default.

Registered as the exchange plugin ``bybit`` with the modes ``testnet`` (the default), ``live`` and
``paper`` (Bybit's public market data feeding the core's paper exchange; no keys). A fake Bybit server
for tests lives in :mod:`marketmaestro_bybit.testing`.
"""

from __future__ import annotations

from marketmaestro import hookimpl
from marketmaestro.exchanges import Exchange, ExchangeContext
from marketmaestro.plugins.registry import RegisterExchange
from marketmaestro_bybit.errors import BybitFatal, BybitRejected, BybitRequestError, BybitRetryable
from marketmaestro_bybit.exchange import BybitExchange
from marketmaestro_bybit.options import BybitOptions

__all__ = [
    "BybitExchange",
    "BybitFatal",
    "BybitOptions",
    "BybitRejected",
    "BybitRequestError",
    "BybitRetryable",
    "create_exchange",
    "register_exchanges",
]

MODES = ("testnet", "live", "paper")
"""Safest first: an exchange configured without ``mode`` trades on Bybit's testnet."""


def create_exchange(context: ExchangeContext) -> Exchange:
    """The adapter for ``context.mode``: Bybit, or in paper mode the core's paper exchange fed by Bybit."""
    adapter = BybitExchange(context)
    if context.mode != "paper":
        return adapter
    from marketmaestro.exchanges.paper import PaperExchange, PaperOptions

    paper = PaperOptions(balances=adapter.options.paper_balances, fee_rate=adapter.options.paper_fee_rate)
    return PaperExchange(context, feed=adapter, options=paper)


@hookimpl
def register_exchanges(register: RegisterExchange) -> None:
    register(
        "bybit",
        create_exchange,
        options_model=BybitOptions,
        modes=MODES,
        description="Bybit V5 spot and linear perpetuals (testnet by default; paper mode on Bybit's prices).",
    )
