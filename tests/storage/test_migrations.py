"""The migrations create the schema the models describe, and undo it, on real SQLite files."""

from __future__ import annotations

import io
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import marketmaestro.storage.tables  # noqa: F401 - the models compared with the migrations
from marketmaestro.storage import MigrationError, alembic_config, current, downgrade, head, upgrade
from marketmaestro.storage.migrate import MIGRATIONS_DIR, sqlite_engine

COLUMNS = {
    "settings": {"id", "component", "key", "value", "created_at", "updated_at"},
    "orders": {
        "client_order_id",
        "venue_order_id",
        "exchange",
        "symbol",
        "strategy",
        "side",
        "type",
        "quantity",
        "price",
        "stop_price",
        "trail_percent",
        "time_in_force",
        "post_only",
        "reduce_only",
        "trail_amount",
        "emulated",
        "watermark",
        "parent_order_id",
        "oco_group",
        "replaces",
        "status",
        "filled_quantity",
        "average_price",
        "reason",
        "error",
        "created_at",
        "updated_at",
    },
    "fills": {
        "fill_id",
        "client_order_id",
        "exchange",
        "symbol",
        "strategy",
        "side",
        "quantity",
        "price",
        "fee",
        "fee_currency",
        "timestamp",
        "received_at",
    },
    "positions": {
        "id",
        "exchange",
        "symbol",
        "strategy",
        "quantity",
        "average_price",
        "realized_pnl",
        "fees",
        "updated_at",
    },
    "balances": {"id", "exchange", "asset", "free", "locked", "updated_at"},
    "strategy_state": {"id", "exchange", "symbol", "strategy", "key", "value", "updated_at"},
    "events": {"id", "timestamp", "kind", "exchange", "symbol", "strategy", "component", "data"},
    "equity_snapshots": {
        "id",
        "exchange",
        "strategy",
        "timestamp",
        "equity",
        "realized_pnl",
        "unrealized_pnl",
        "fees",
        "exposure",
    },
    "risk_halts": {"id", "exchange", "rule", "reason", "since", "until"},
}

PRIMARY_KEYS = {
    "settings": ["id"],
    "orders": ["client_order_id"],
    "fills": ["fill_id"],
    "positions": ["id"],
    "balances": ["id"],
    "strategy_state": ["id"],
    "events": ["id"],
    "equity_snapshots": ["id"],
    "risk_halts": ["id"],
}

UNIQUE = {
    "settings": {"uq_settings_component_key": ["component", "key"]},
    "positions": {"uq_positions_exchange_symbol_strategy": ["exchange", "symbol", "strategy"]},
    "balances": {"uq_balances_exchange_asset": ["exchange", "asset"]},
    "strategy_state": {
        "uq_strategy_state_exchange_symbol_strategy_key": ["exchange", "symbol", "strategy", "key"]
    },
    "risk_halts": {"uq_risk_halts_exchange": ["exchange"]},
}

INDEXES = {
    "orders": {
        "ix_orders_venue_order_id": ["venue_order_id"],
        "ix_orders_status": ["status"],
        "ix_orders_created_at": ["created_at"],
        "ix_orders_parent_order_id": ["parent_order_id"],
        "ix_orders_oco_group": ["oco_group"],
    },
    "fills": {"ix_fills_client_order_id": ["client_order_id"], "ix_fills_timestamp": ["timestamp"]},
    "events": {"ix_events_timestamp": ["timestamp"], "ix_events_kind": ["kind"]},
    "equity_snapshots": {
        "ix_equity_snapshots_exchange_strategy_timestamp": ["exchange", "strategy", "timestamp"]
    },
}

MONEY = {
    "orders": {
        "quantity",
        "price",
        "stop_price",
        "trail_percent",
        "trail_amount",
        "filled_quantity",
        "average_price",
        "watermark",
    },
    "fills": {"quantity", "price", "fee"},
    "positions": {"quantity", "average_price", "realized_pnl", "fees"},
    "balances": {"free", "locked"},
    "equity_snapshots": {"equity", "realized_pnl", "unrealized_pnl", "fees", "exposure"},
}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "marketmaestro.db"


@pytest.fixture
def engine(db_path: Path) -> Iterator[sa.Engine]:
    engine = sqlite_engine(db_path, pooled=False)
    yield engine
    engine.dispose()


def table_names(db_path: Path) -> set[str]:
    with sqlite3.connect(db_path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    connection.close()
    return {name for (name,) in rows} - {"sqlite_sequence"}


def assert_schema(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    assert set(inspector.get_table_names()) == {*COLUMNS, "alembic_version"}
    for table, columns in COLUMNS.items():
        reflected = {column["name"]: column for column in inspector.get_columns(table)}
        assert set(reflected) == columns, table
        assert inspector.get_pk_constraint(table)["constrained_columns"] == PRIMARY_KEYS[table]
        uniques = {c["name"]: c["column_names"] for c in inspector.get_unique_constraints(table)}
        assert uniques == UNIQUE.get(table, {}), table
        indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes(table)}
        assert indexes == INDEXES.get(table, {}), table
        for name in MONEY.get(table, set()):
            # Money must be TEXT: a NUMERIC column would round Decimals through binary floats.
            assert isinstance(reflected[name]["type"], sa.Text), (table, name)
    [foreign_key] = inspector.get_foreign_keys("fills")
    assert foreign_key["name"] == "fk_fills_client_order_id_orders"
    assert foreign_key["constrained_columns"] == ["client_order_id"]
    assert (foreign_key["referred_table"], foreign_key["referred_columns"]) == ("orders", ["client_order_id"])
    nullable = {
        "venue_order_id",
        "price",
        "stop_price",
        "trail_percent",
        "average_price",
        "error",
        "trail_amount",
        "watermark",
        "parent_order_id",
        "oco_group",
        "replaces",
    }
    assert reflected_nullable(inspector, "orders") == nullable
    assert reflected_nullable(inspector, "events") == {"exchange", "symbol", "strategy", "component"}


def reflected_nullable(inspector: sa.Inspector, table: str) -> set[str]:
    return {column["name"] for column in inspector.get_columns(table) if column["nullable"]}


def test_head_is_the_latest_revision() -> None:
    assert head() == "0005"


def test_upgrade_creates_the_schema_and_its_folder(db_path: Path, engine: sa.Engine) -> None:
    assert not db_path.parent.exists()
    upgrade(db_path)
    assert current(db_path) == head()
    assert_schema(engine)


def test_downgrade_to_base_then_upgrade_again(db_path: Path, engine: sa.Engine) -> None:
    upgrade(db_path)
    downgrade(db_path, "base")
    assert current(db_path) is None
    assert table_names(db_path) <= {"alembic_version"}
    upgrade(db_path)
    assert current(db_path) == head()
    assert_schema(engine)


def test_upgrade_is_idempotent(db_path: Path, engine: sa.Engine) -> None:
    upgrade(db_path)
    upgrade(db_path)
    assert current(db_path) == head()
    assert_schema(engine)


def test_models_and_migrations_agree(db_path: Path, engine: sa.Engine) -> None:
    upgrade(db_path)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_comparison_notices_a_schema_the_models_do_not_describe(db_path: Path, engine: sa.Engine) -> None:
    # Guards the test above: an empty diff must mean agreement, not a comparison that sees nothing.
    upgrade(db_path)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP INDEX ix_orders_status")
        connection.exec_driver_sql("ALTER TABLE balances ADD COLUMN note TEXT")
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, SQLModel.metadata)
    added_indexes = {diff[1].name for diff in differences if diff[0] == "add_index"}
    removed_columns = {(diff[2], diff[3].name) for diff in differences if diff[0] == "remove_column"}
    assert added_indexes == {"ix_orders_status"}
    assert removed_columns == {("balances", "note")}


def test_current_of_a_missing_file_is_none_and_does_not_create_it(db_path: Path) -> None:
    assert current(db_path) is None
    assert not db_path.exists()


@pytest.mark.parametrize("revision", ["nope", "0999"])
def test_unknown_revision_is_a_migration_error(db_path: Path, revision: str) -> None:
    with pytest.raises(MigrationError, match=f"Can't locate revision identified by '{revision}'"):
        upgrade(db_path, revision)


def test_downgrade_above_the_current_revision_is_a_migration_error(db_path: Path) -> None:
    with pytest.raises(MigrationError, match="not a valid downgrade target"):
        downgrade(db_path, "head")


def test_a_file_that_is_not_a_database_is_a_migration_error(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not SQLite, " * 100)
    with pytest.raises(MigrationError, match="not a database"):
        current(db_path)
    with pytest.raises(MigrationError, match="not a database"):
        upgrade(db_path)


def test_a_failed_upgrade_changes_nothing(db_path: Path) -> None:
    # "events" is created last: the tables created before it must be rolled back with it.
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as connection:
        connection.execute("CREATE TABLE events (unrelated TEXT)")
    connection.close()
    with pytest.raises(MigrationError, match="table events already exists"):
        upgrade(db_path)
    assert table_names(db_path) == {"events"}
    assert current(db_path) is None


def test_alembic_config_points_at_the_packaged_migrations(db_path: Path) -> None:
    config = alembic_config(db_path)
    assert config.get_main_option("script_location") == str(MIGRATIONS_DIR)
    assert config.get_main_option("sqlalchemy.url") == f"sqlite:///{db_path}"
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()


def test_a_path_with_url_and_config_special_characters_survives(tmp_path: Path) -> None:
    # "%" is special to ConfigParser, "%" and "?" to URLs.
    db_path = tmp_path / "100% sure?" / "mm.db"
    upgrade(db_path)
    assert current(db_path) == head()
    assert db_path.is_file()
    url = alembic_config(db_path).get_main_option("sqlalchemy.url")
    assert url is not None
    assert make_url(url).database == str(db_path)


def test_alembic_commands_work_from_the_config_url_alone(db_path: Path, engine: sa.Engine) -> None:
    db_path.parent.mkdir(parents=True)
    config = alembic_config(db_path)
    command.upgrade(config, "head")
    assert_schema(engine)
    command.downgrade(config, "base")
    assert table_names(db_path) <= {"alembic_version"}


def test_offline_mode_writes_the_sql(db_path: Path) -> None:
    config = alembic_config(db_path)
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    sql = config.output_buffer.getvalue()
    assert "CREATE TABLE orders" in sql
    assert "CREATE INDEX ix_events_kind ON events (kind)" in sql
    assert not db_path.exists()


def test_migrating_leaves_logging_alone(db_path: Path) -> None:
    existing = logging.getLogger("marketmaestro.test_migrations")
    root_handlers = list(logging.getLogger().handlers)
    root_level = logging.getLogger().level
    upgrade(db_path)
    downgrade(db_path, "base")
    assert not existing.disabled
    assert logging.getLogger().handlers == root_handlers
    assert logging.getLogger().level == root_level


def test_each_migration_applies_and_reverts_in_turn(db_path: Path, engine: sa.Engine) -> None:
    upgrade(db_path, "0001")
    assert current(db_path) == "0001"
    columns = {c["name"] for c in sa.inspect(engine).get_columns("orders")}
    assert "stop_price" not in columns and "trail_percent" not in columns
    upgrade(db_path, "0002")
    columns = {c["name"] for c in sa.inspect(engine).get_columns("orders")}
    assert {"stop_price", "trail_percent"} <= columns
    downgrade(db_path, "0001")
    assert current(db_path) == "0001"
    assert "stop_price" not in {c["name"] for c in sa.inspect(engine).get_columns("orders")}


def test_order_flags_migration_keeps_existing_orders(db_path: Path, engine: sa.Engine) -> None:
    upgrade(db_path, "0002")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO orders (client_order_id, exchange, symbol, strategy, side, type, quantity,"
                " status, filled_quantity, reason, created_at, updated_at) VALUES ('c1', 'paper',"
                " 'BTCUSDT', 's', 'buy', 'limit', '0.5', 'accepted', '0', '', 1, 1)"
            )
        )
    upgrade(db_path, "0003")
    with engine.connect() as connection:
        row = connection.execute(
            sa.text("SELECT quantity, time_in_force, post_only, reduce_only FROM orders")
        ).one()
    assert tuple(row) == ("0.5", "gtc", 0, 0)
    downgrade(db_path, "0002")
    columns = {c["name"] for c in sa.inspect(engine).get_columns("orders")}
    assert "time_in_force" not in columns and "post_only" not in columns
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT quantity FROM orders")).scalar_one() == "0.5"


def test_order_emulation_migration_keeps_existing_orders(db_path: Path, engine: sa.Engine) -> None:
    upgrade(db_path, "0003")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO orders (client_order_id, exchange, symbol, strategy, side, type, quantity,"
                " status, filled_quantity, reason, created_at, updated_at) VALUES ('c1', 'paper',"
                " 'BTCUSDT', 's', 'sell', 'trailing_stop', '0.5', 'accepted', '0', '', 1, 1)"
            )
        )
    upgrade(db_path, "0004")
    with engine.connect() as connection:
        row = connection.execute(
            sa.text(
                "SELECT quantity, emulated, watermark, trail_amount, oco_group, parent_order_id FROM orders"
            )
        ).one()
    assert tuple(row) == ("0.5", 0, None, None, None, None)
    downgrade(db_path, "0003")
    columns = {c["name"] for c in sa.inspect(engine).get_columns("orders")}
    assert not columns & {"emulated", "watermark", "trail_amount", "oco_group", "parent_order_id", "replaces"}
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT quantity FROM orders")).scalar_one() == "0.5"
