"""A fake Bybit V5 exchange on 127.0.0.1 that speaks the real protocol, for tests of Bybit clients.

It checks signatures, timestamps and the receive window, answers in Bybit's envelope with Bybit's
retCodes, keeps instruments, balances and a book per symbol, matches orders (market, limit, IOC, FOK,
post-only, conditional), keeps order history and executions with cursor pagination, serves candles, and
pushes public and private WebSocket messages. Faults are injected on demand (``fake.faults`` and
:meth:`FakeBybit.drop_connections`, :meth:`FakeBybit.skip_sequence`).

In a trio test::

    from marketmaestro_bybit.testing import running_fake

    async with running_fake() as fake:
        fake.add_account("KEY", "SECRET", {"USDT": Decimal(10_000)})
        ...

From a shell (or another process): ``python -m marketmaestro_bybit.testing --port 0`` prints its URLs
as one JSON line; ``POST <control_url>`` with ``{"action": "set_price", "symbol": "BTCUSDT",
"price": "60100"}`` drives it.
"""

from marketmaestro_bybit.testing.fake import FakeBybit, running_fake
from marketmaestro_bybit.testing.faults import Faults
from marketmaestro_bybit.testing.marketdata import FakeInstrument, default_instruments
from marketmaestro_bybit.testing.rules import VenueError

__all__ = ["FakeBybit", "FakeInstrument", "Faults", "VenueError", "default_instruments", "running_fake"]
