"""A testing kit for plugin authors (needs pytest and pytest-trio).

- :class:`ExchangeConformance`: the exchange conformance suite, run by subclassing it in a test module;
- :class:`Venue`: what the suite needs of the fake venue behind the adapter;
- :func:`wait_until`: poll a condition with a deadline, for state with no event to wait on.

See docs/writing-a-plugin.md, "The exchange conformance suite".
"""

from marketmaestro.testing.exchange_conformance import ExchangeConformance, Venue
from marketmaestro.testing.waiting import wait_until

__all__ = ["ExchangeConformance", "Venue", "wait_until"]
