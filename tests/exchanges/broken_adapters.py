"""Paper exchanges broken on purpose, each in its own conformance class: the suite must fail them.

Not a ``test_*`` module, so the normal run does not collect it; ``test_paper_conformance.py`` runs it in a
child pytest and checks that exactly the expected tests fail.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from marketmaestro.exchanges import OrderResult
from marketmaestro.exchanges.paper import PaperExchange
from marketmaestro.exchanges.paper.records import VenueRecord
from marketmaestro.model import Order
from tests.exchanges import test_paper_conformance as paper_suite


class ForgetfulPaper(PaperExchange):
    """Forgets which client_order_ids it filled, so a repeated order is filled again."""

    async def _record(self, client_order_id: str) -> VenueRecord | None:
        return None


class OffTickPaper(PaperExchange):
    """Reports fills half a tick off the price grid."""

    async def place_order(self, order: Order) -> OrderResult:
        result = await super().place_order(order)
        return replace(
            result, fills=tuple(replace(f, price=f.price + Decimal("0.005")) for f in result.fills)
        )


class SloppyPaper(PaperExchange):
    """Raises a bare exception, not OrderRejected, for a symbol it does not list."""

    async def place_order(self, order: Order) -> OrderResult:
        if order.symbol not in self._instruments:
            raise KeyError(order.symbol)
        return await super().place_order(order)


class TestForgetful(paper_suite.TestPaperConformance):
    exchange_class = ForgetfulPaper


class TestOffTick(paper_suite.TestPaperConformance):
    exchange_class = OffTickPaper


class TestSloppy(paper_suite.TestPaperConformance):
    exchange_class = SloppyPaper
