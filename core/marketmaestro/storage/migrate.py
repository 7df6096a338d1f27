"""Schema migrations of the SQLite database, driven from code.

The alembic environment ships inside the package (``storage/migrations``) and its configuration is
built here, so there is no ``alembic.ini`` to find and ``mm db upgrade`` works from any directory.
Every migration run is one transaction: the engine below emits ``BEGIN`` itself, which makes SQLite's
DDL transactional, so a migration that fails halfway leaves the schema as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
"""The alembic environment: ``env.py``, ``script.py.mako`` and ``versions/``."""

BUSY_TIMEOUT_MS = 5000
"""How long a connection waits for another one's write lock before failing with "database is locked"."""


class MigrationError(RuntimeError):
    """A migration could not run: unknown revision, unreadable file, or a schema this code cannot use."""


def sqlite_url(db_path: Path) -> URL:
    """The SQLAlchemy URL of the SQLite file ``db_path``."""
    return URL.create("sqlite", database=str(db_path))


def sqlite_engine(db_path: Path, *, foreign_keys: bool = True, pooled: bool = True) -> Engine:
    """An engine on ``db_path`` with MarketMaestro's connection settings.

    Every connection uses the WAL journal (readers never block the writer), waits up to
    :data:`BUSY_TIMEOUT_MS` for a lock, and enforces foreign keys when ``foreign_keys`` is true
    (migrations turn it off: rebuilding a table in batch mode would trip it). ``pooled=False`` opens a
    fresh connection per use, for short-lived engines.
    """
    engine = create_engine(sqlite_url(db_path), poolclass=None if pooled else NullPool)

    @event.listens_for(engine, "connect")
    def _configure_connection(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module, whose legacy mode does not BEGIN
        # before SELECT or DDL; ``_begin`` below emits BEGIN for every SQLAlchemy transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine


def alembic_config(db_path: Path) -> Config:
    """An alembic configuration for the database at ``db_path``, built in code (no ``alembic.ini``)."""
    config = Config()
    # The values go through ConfigParser interpolation, where "%" is special.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    url = sqlite_url(db_path).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(db_path: Path, revision: str = "head") -> None:
    """Migrate the database at ``db_path`` up to ``revision``, creating the file and its folder."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    _run(db_path, lambda config: command.upgrade(config, revision))


def downgrade(db_path: Path, revision: str) -> None:
    """Migrate the database at ``db_path`` down to ``revision`` (``"base"`` removes every table)."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    _run(db_path, lambda config: command.downgrade(config, revision))


def current(db_path: Path) -> str | None:
    """The revision the database at ``db_path`` is at; ``None`` for a missing or empty database."""
    if not db_path.exists():
        return None  # checking must not create the file
    engine = sqlite_engine(db_path, foreign_keys=False, pooled=False)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise MigrationError(f"cannot read the database {db_path}: {_reason(exc)}") from exc
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision this version of MarketMaestro knows."""
    revision = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if revision is None:  # pragma: no cover - the package always ships its migrations
        raise MigrationError(f"no migrations found in {MIGRATIONS_DIR}")
    return revision


def check_current(db_path: Path) -> None:
    """Raise :class:`MigrationError` unless the database at ``db_path`` is at :func:`head`."""
    at, expected = current(db_path), head()
    if at != expected:
        raise MigrationError(
            f"database {db_path} is at revision {at or 'none (empty or missing)'}, "
            f"expected {expected}; run `mm db upgrade`"
        )


def _run(db_path: Path, action: Callable[[Config], None]) -> None:
    """Run an alembic command on ``db_path`` inside one transaction."""
    config = alembic_config(db_path)
    engine = sqlite_engine(db_path, foreign_keys=False, pooled=False)
    try:
        with engine.begin() as connection:
            # env.py uses this connection, so the command joins our transaction.
            config.attributes["connection"] = connection
            action(config)
    except CommandError as exc:
        raise MigrationError(f"{db_path}: {exc}") from exc
    except SQLAlchemyError as exc:
        raise MigrationError(f"cannot migrate the database {db_path}: {_reason(exc)}") from exc
    finally:
        engine.dispose()


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's message without SQLAlchemy's statement dump and documentation link."""
    orig = getattr(exc, "orig", None)
    return str(orig) if orig is not None else str(exc)
