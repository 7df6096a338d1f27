"""Persistence: MarketMaestro's state in one SQLite file, with its schema migrations.

- :class:`Store` (synchronous) and :class:`AsyncStore` (for trio code) read and write orders, fills,
  positions, balances, settings, strategy state and the event log, as the frozen dataclasses of
  :mod:`marketmaestro.model`;
- :func:`upgrade`, :func:`downgrade`, :func:`current` and :func:`head` migrate the schema (alembic,
  with its environment shipped in this package); ``mm db`` exposes them on the command line.
"""

from marketmaestro.storage.migrate import (
    MigrationError,
    alembic_config,
    current,
    downgrade,
    head,
    upgrade,
)
from marketmaestro.storage.store import AsyncStore, EquitySnapshot, EventRecord, RiskHalt, Store
from marketmaestro.storage.types import DecimalText

__all__ = [
    "AsyncStore",
    "DecimalText",
    "EquitySnapshot",
    "EventRecord",
    "MigrationError",
    "RiskHalt",
    "Store",
    "alembic_config",
    "current",
    "downgrade",
    "head",
    "upgrade",
]
