"""A testing kit for plugin authors (needs pytest and pytest-trio).

- :class:`ExchangeConformance`: the exchange conformance suite, run by subclassing it in a test module;
- :class:`Venue`: what the suite needs of the fake venue behind the adapter.

See docs/writing-a-plugin.md, "The exchange conformance suite".
"""

from marketmaestro.testing.exchange_conformance import ExchangeConformance, Venue

__all__ = ["ExchangeConformance", "Venue"]
