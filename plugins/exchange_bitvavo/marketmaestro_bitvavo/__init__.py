"""Bitvavo API v2 (spot) as a MarketMaestro exchange plugin.

``mode: paper`` (the default) serves Bitvavo's public market data to the core's paper exchange, with no keys;
``mode: live`` with ``options.live_orders: true`` trades for real. Bitvavo has no sandbox, so there is no
``testnet`` mode. ``marketmaestro_bitvavo.testing`` is a fake Bitvavo server for tests.
"""

from __future__ import annotations

from marketmaestro import hookimpl
from marketmaestro.exchanges import Exchange, ExchangeContext
from marketmaestro.plugins.registry import RegisterExchange
from marketmaestro_bitvavo.exchange import BitvavoExchange
from marketmaestro_bitvavo.options import BitvavoOptions

__all__ = ["BitvavoExchange", "BitvavoOptions", "create_exchange", "register_exchanges"]

MODES = ("paper", "live")
"""Safest first: an exchange configured without ``mode`` runs on paper."""


def create_exchange(context: ExchangeContext) -> Exchange:
    """The adapter for ``context``: live orders in ``live`` mode, else paper trading on Bitvavo's data."""
    adapter = BitvavoExchange(context)
    if context.mode == "live":
        return adapter
    from marketmaestro.exchanges.paper import PaperExchange, PaperOptions

    options = adapter.options
    paper = PaperOptions(balances=options.paper_balances, fee_rate=options.paper_fee_rate)
    return PaperExchange(context, feed=adapter, options=paper)


@hookimpl
def register_exchanges(register: RegisterExchange) -> None:
    register(
        "bitvavo",
        create_exchange,
        options_model=BitvavoOptions,
        modes=MODES,
        description="Bitvavo API v2 spot: market data; live orders with mode live and options.live_orders.",
    )
