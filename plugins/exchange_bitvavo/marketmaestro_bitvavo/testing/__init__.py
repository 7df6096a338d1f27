"""A fake Bitvavo for tests: the real REST and WebSocket protocol on 127.0.0.1, with an exchange that matches
orders and faults injected on demand.

In a trio test::

    server = await nursery.start(serve_fake, FakeBitvavo())
    server.fake.set_price("BTC-EUR", "30000")
    options = {"rest_url": server.rest_url, "ws_url": server.ws_url}

From another process: ``python -m marketmaestro_bitvavo.testing --port 0`` prints the URLs and keys as JSON
and serves until interrupted; ``POST <control_url>/<command>`` moves the market or injects faults.
"""

from marketmaestro_bitvavo.testing.api import API_KEY, API_SECRET, FakeBitvavo
from marketmaestro_bitvavo.testing.engine import ApiError, Event, Exchange
from marketmaestro_bitvavo.testing.server import FakeServer, create_app, serve_fake
from marketmaestro_bitvavo.testing.state import FakeMarket, FakeOrder
from marketmaestro_bitvavo.testing.venue import FakeBitvavoVenue

__all__ = [
    "API_KEY",
    "API_SECRET",
    "ApiError",
    "Event",
    "Exchange",
    "FakeBitvavo",
    "FakeBitvavoVenue",
    "FakeMarket",
    "FakeOrder",
    "FakeServer",
    "create_app",
    "serve_fake",
]
