"""Store and AsyncStore on real SQLite files: every method round-trips, money stays exact."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio
from sqlalchemy.dialects import sqlite

from marketmaestro.model import Balance, Fill, Order, OrderStatus, OrderType, Position, Side
from marketmaestro.storage import AsyncStore, DecimalText, EventRecord, MigrationError, Store, current, head
from marketmaestro.storage.migrate import sqlite_engine

# 28 significant digits: the default precision of Python's decimal context, far beyond a float's 17.
PRICE_28 = Decimal("1234567890.123456789012345678")
QUANTITY_28 = Decimal("0.0000000000000000000000000001")


def make_order(client_order_id: str = "c-1", **changes: Any) -> Order:
    order = Order(
        client_order_id=client_order_id,
        exchange="paper",
        symbol="BTCUSDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal("0.5"),
        price=Decimal("30000.10"),
        strategy="grid",
        reason="level 3 crossed",
        created_at=1_700_000_000_000,
        updated_at=1_700_000_000_000,
    )
    return replace(order, **changes)


def make_fill(fill_id: str = "f-1", client_order_id: str = "c-1", **changes: Any) -> Fill:
    fill = Fill(
        fill_id=fill_id,
        client_order_id=client_order_id,
        exchange="paper",
        symbol="BTCUSDT",
        side=Side.BUY,
        quantity=Decimal("0.2"),
        price=Decimal("30000.10"),
        fee=Decimal("0.0002"),
        fee_currency="BTC",
        timestamp=1_700_000_000_500,
        strategy="grid",
        received_at=1_700_000_000_600,
    )
    return replace(fill, **changes)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "mm.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with Store(db_path) as store:
        yield store


# -- opening and closing ---------------------------------------------------------------------------


def test_opening_migrates_a_new_file(db_path: Path) -> None:
    with Store(db_path):
        assert current(db_path) == head()


def test_connections_use_wal_foreign_keys_and_a_busy_timeout(store: Store, db_path: Path) -> None:
    engine = sqlite_engine(db_path)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    finally:
        engine.dispose()


def test_without_migrate_an_unmigrated_file_is_refused(db_path: Path) -> None:
    with pytest.raises(MigrationError, match=f"expected {head()}; run `mm db upgrade`"):
        Store(db_path, migrate=False)
    assert not db_path.exists()


def test_without_migrate_a_migrated_file_opens(db_path: Path) -> None:
    with Store(db_path) as store:
        store.save_order(make_order())
    with Store(db_path, migrate=False) as store:
        assert store.get_order("c-1") == make_order()


def test_reopening_keeps_everything(db_path: Path) -> None:
    order, fill = make_order(), make_fill()
    with Store(db_path) as store:
        store.record_fill(order, fill)
        store.save_position(Position("paper", "BTCUSDT", Decimal("0.2"), Decimal("30000.10")))
        store.save_balances("paper", [Balance("USDT", Decimal("100.5"))])
        store.set_setting("api", "theme", "dark")
        store.set_strategy_state("paper", "BTCUSDT", "grid", "level", 3)
        store.add_event("order.filled", data={"fill_id": "f-1"}, timestamp=5)
    with Store(db_path) as store:
        assert store.get_order("c-1") == order
        assert store.list_fills() == [fill]
        assert store.list_positions() == [Position("paper", "BTCUSDT", Decimal("0.2"), Decimal("30000.10"))]
        assert store.list_balances("paper") == [Balance("USDT", Decimal("100.5"))]
        assert store.get_setting("api", "theme") == "dark"
        assert store.strategy_state("paper", "BTCUSDT", "grid") == {"level": 3}
        [event] = store.list_events()
        assert (event.kind, event.timestamp, event.data) == ("order.filled", 5, {"fill_id": "f-1"})


def test_a_closed_store_refuses_work(db_path: Path) -> None:
    store = Store(db_path)
    store.close()
    store.close()
    with pytest.raises(RuntimeError, match="is closed"):
        store.get_order("c-1")


# -- orders ----------------------------------------------------------------------------------------


def test_order_round_trip_with_every_field(store: Store) -> None:
    order = make_order(
        side=Side.SELL,
        type=OrderType.STOP_LIMIT,
        status=OrderStatus.PARTIALLY_FILLED,
        venue_order_id="v-99",
        filled_quantity=Decimal("0.25"),
        average_price=Decimal("30000.05"),
        error="partial fill, rest pending",
    )
    store.save_order(order)
    assert store.get_order("c-1") == order


def test_order_with_optional_fields_empty(store: Store) -> None:
    order = make_order(type=OrderType.MARKET, price=None, strategy="", reason="")
    store.save_order(order)
    stored = store.get_order("c-1")
    assert stored == order
    assert stored is not None and stored.price is None and stored.average_price is None


def test_missing_order_is_none(store: Store) -> None:
    assert store.get_order("nope") is None


def test_decimals_are_stored_exactly(store: Store, db_path: Path) -> None:
    # 0.1 + 0.2 is 0.30000000000000004 in binary floating point; as a Decimal it is exactly 0.3.
    order = make_order(
        quantity=Decimal("0.1") + Decimal("0.2"),
        price=PRICE_28,
        filled_quantity=QUANTITY_28,
        average_price=Decimal("-0.000"),
    )
    store.save_order(order)
    stored = store.get_order("c-1")
    assert stored is not None
    assert stored.quantity == Decimal("0.3")
    assert stored.price == PRICE_28
    assert stored.filled_quantity == QUANTITY_28
    # Not just equal: the same digits, exponent and sign, as the text in the file shows.
    values = (stored.quantity, stored.price, stored.filled_quantity, stored.average_price)
    assert [str(value) for value in values] == ["0.3", str(PRICE_28), "1E-28", "-0.000"]
    engine = sqlite_engine(db_path)
    try:
        with engine.connect() as connection:
            row = connection.exec_driver_sql(
                "SELECT typeof(price), price, quantity FROM orders WHERE client_order_id = 'c-1'"
            ).one()
    finally:
        engine.dispose()
    assert tuple(row) == ("text", "1234567890.123456789012345678", "0.3")


def test_save_order_replaces_the_stored_order(store: Store) -> None:
    order = make_order()
    store.save_order(order)
    accepted = order.with_status(OrderStatus.ACCEPTED, venue_order_id="v-1")
    store.save_order(accepted)
    assert store.get_order("c-1") == accepted
    assert store.list_orders() == [accepted]


@pytest.mark.parametrize("field", ["quantity", "price", "filled_quantity", "average_price"])
@pytest.mark.parametrize("bad", [0.5, Decimal("NaN"), Decimal("Infinity"), "0.5"])
def test_a_bad_amount_is_refused_naming_the_field(store: Store, field: str, bad: Any) -> None:
    with pytest.raises(ValueError, match=f"order 'c-1' {field} is .*; expected a finite Decimal"):
        store.save_order(make_order(**{field: bad}))
    assert store.get_order("c-1") is None


def test_list_orders_newest_first_with_filters(store: Store) -> None:
    old = make_order("c-old", created_at=1, status=OrderStatus.FILLED)
    mid = make_order("c-mid", created_at=2, symbol="ETHUSDT", strategy="dca")
    new = make_order("c-new", created_at=3, exchange="binance")
    # Saved out of order: the list is sorted by created_at, not by insertion.
    for order in (mid, new, old):
        store.save_order(order)
    assert store.list_orders() == [new, mid, old]
    assert store.list_orders(limit=2) == [new, mid]
    assert store.list_orders(exchange="paper") == [mid, old]
    assert store.list_orders(symbol="ETHUSDT") == [mid]
    assert store.list_orders(strategy="grid") == [new, old]
    assert store.list_orders(status=OrderStatus.FILLED) == [old]
    assert store.list_orders(status=OrderStatus.CREATED, exchange="paper") == [mid]
    assert store.list_orders(exchange="kraken") == []


def test_orders_created_in_the_same_millisecond_list_newest_saved_first(store: Store) -> None:
    first, second = make_order("c-b", created_at=7), make_order("c-a", created_at=7)
    store.save_order(first)
    store.save_order(second)
    # Updating the first keeps its place: the order of creation, not of the latest save.
    store.save_order(first.with_status(OrderStatus.SUBMITTED))
    assert [order.client_order_id for order in store.list_orders()] == ["c-a", "c-b"]


@pytest.mark.parametrize("limit", [0, -1, True, 2.5])
def test_a_bad_limit_is_refused(store: Store, limit: Any) -> None:
    for method in (store.list_orders, store.list_fills, store.list_events):
        with pytest.raises(ValueError, match=f"limit is {limit!r}; expected a positive integer"):
            method(limit=limit)


# -- fills -----------------------------------------------------------------------------------------


def test_record_fill_stores_the_fill_and_the_updated_order(store: Store) -> None:
    order = make_order()
    store.save_order(order)
    fill = make_fill()
    updated = order.with_status(
        OrderStatus.PARTIALLY_FILLED, filled_quantity=fill.quantity, average_price=fill.price
    )
    assert store.record_fill(updated, fill) is True
    assert store.get_order("c-1") == updated
    assert store.list_fills() == [fill]


def test_record_fill_for_an_order_not_yet_stored(store: Store) -> None:
    order, fill = make_order(status=OrderStatus.FILLED), make_fill()
    assert store.record_fill(order, fill) is True
    assert store.get_order("c-1") == order


def test_record_fill_is_idempotent(store: Store) -> None:
    order, fill = make_order(), make_fill()
    assert store.record_fill(order.with_status(OrderStatus.PARTIALLY_FILLED), fill) is True
    stored = store.get_order("c-1")
    # The same fill again, even with another order state: nothing changes.
    assert store.record_fill(order.with_status(OrderStatus.FILLED), replace(fill, price=Decimal(1))) is False
    assert store.get_order("c-1") == stored
    assert store.list_fills() == [fill]


def test_record_fill_is_one_transaction(store: Store) -> None:
    order = make_order()
    store.save_order(order)
    with pytest.raises(ValueError, match="fill 'f-1' fee is Decimal\\('NaN'\\)"):
        store.record_fill(order.with_status(OrderStatus.FILLED), make_fill(fee=Decimal("NaN")))
    assert store.get_order("c-1") == order
    assert store.list_fills() == []


def test_record_fill_of_another_order_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="client_order_id 'c-2', expected the order's 'c-1'"):
        store.record_fill(make_order("c-1"), make_fill(client_order_id="c-2"))
    assert store.get_order("c-1") is None


def test_list_fills_newest_first_with_filters(store: Store) -> None:
    first, second = make_order("c-1"), make_order("c-2", symbol="ETHUSDT", exchange="binance")
    early = make_fill("f-early", "c-1", timestamp=10)
    late = make_fill("f-late", "c-1", timestamp=30, quantity=QUANTITY_28, price=PRICE_28)
    other = make_fill("f-other", "c-2", timestamp=20, symbol="ETHUSDT", exchange="binance", side=Side.SELL)
    store.record_fill(first, late)
    store.record_fill(first, early)
    store.record_fill(second, other)
    assert store.list_fills() == [late, other, early]
    assert store.list_fills(limit=1) == [late]
    assert store.list_fills(exchange="paper") == [late, early]
    assert store.list_fills(symbol="ETHUSDT") == [other]
    assert store.list_fills(client_order_id="c-1") == [late, early]
    assert store.list_fills(client_order_id="c-3") == []


# -- positions and balances ------------------------------------------------------------------------


def test_positions_upsert_per_exchange_symbol_and_strategy(store: Store) -> None:
    account = Position("paper", "BTCUSDT", Decimal("1.5"), Decimal("30000"))
    grid = Position("paper", "BTCUSDT", Decimal("0.5"), Decimal("29000"), strategy="grid")
    other = Position("binance", "ETHUSDT", Decimal("-2"), Decimal("2000.5"), Decimal("-10.25"))
    for position in (grid, other, account):
        store.save_position(position)
    closed = replace(account, quantity=Decimal(0), realized_pnl=Decimal("0.1") + Decimal("0.2"))
    store.save_position(closed)
    assert store.list_positions() == [other, closed, grid]
    assert store.list_positions(exchange="paper") == [closed, grid]
    assert store.list_positions()[1].realized_pnl == Decimal("0.3")


def test_a_bad_position_amount_is_refused(store: Store) -> None:
    bad = Position("paper", "BTCUSDT", Decimal("1"), Decimal("sNaN"))
    with pytest.raises(ValueError, match="position paper/BTCUSDT/\\(account\\) average_price"):
        store.save_position(bad)


def test_balances_upsert_each_asset_and_keep_the_others(store: Store) -> None:
    store.save_balances("paper", [Balance("USDT", Decimal("1000")), Balance("BTC", Decimal("0.1"))])
    store.save_balances("binance", [Balance("USDT", Decimal("5"))])
    store.save_balances("paper", (b for b in [Balance("BTC", Decimal("0.3"), locked=QUANTITY_28)]))
    assert store.list_balances("paper") == [
        Balance("BTC", Decimal("0.3"), locked=QUANTITY_28),
        Balance("USDT", Decimal("1000")),
    ]
    assert store.list_balances("binance") == [Balance("USDT", Decimal("5"))]
    assert store.list_balances("kraken") == []


def test_a_bad_balance_is_refused_and_nothing_of_the_batch_is_stored(store: Store) -> None:
    good, bad = Balance("USDT", Decimal("1")), Balance("BTC", Decimal("1"), locked=Decimal("Infinity"))
    with pytest.raises(ValueError, match="balance paper/BTC locked is Decimal\\('Infinity'\\)"):
        store.save_balances("paper", [good, bad])
    assert store.list_balances("paper") == []


# -- settings and strategy state -------------------------------------------------------------------


def test_settings_round_trip_and_overwrite(store: Store) -> None:
    store.set_setting("risk", "max_position", {"BTCUSDT": 1.5, "symbols": ["A", "B"], "on": True})
    store.set_setting("risk", "note", None)
    store.set_setting("api", "theme", "dark")
    store.set_setting("risk", "max_position", 2)
    assert store.get_setting("risk", "max_position") == 2
    assert store.get_setting("risk", "note", default="unused") is None
    assert store.get_setting("risk", "missing") is None
    assert store.get_setting("risk", "missing", default=7) == 7
    assert store.settings("risk") == {"max_position": 2, "note": None}
    assert store.settings("api") == {"theme": "dark"}
    assert store.settings("nobody") == {}


def test_decimals_in_json_values_are_stored_as_exact_strings(store: Store) -> None:
    store.set_setting("risk", "limit", {"max": PRICE_28, "list": [Decimal("0.10")]})
    assert store.get_setting("risk", "limit") == {"max": str(PRICE_28), "list": ["0.10"]}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({1, 2}, "Object of type set"),
        (float("nan"), "Out of range float"),
        ({"at": object()}, "Object of type object"),
    ],
)
def test_values_that_are_not_json_are_refused_naming_the_key(store: Store, value: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=f"setting 'risk'/'bad' is not JSON-serialisable \\({reason}"):
        store.set_setting("risk", "bad", value)
    with pytest.raises(ValueError, match=f"strategy state 'grid' on paper/BTCUSDT key 'bad' .*{reason}"):
        store.set_strategy_state("paper", "BTCUSDT", "grid", "bad", value)
    assert store.settings("risk") == {}


def test_strategy_state_is_kept_per_exchange_symbol_and_strategy(store: Store) -> None:
    store.set_strategy_state("paper", "BTCUSDT", "grid", "level", 3)
    store.set_strategy_state("paper", "BTCUSDT", "grid", "levels", [1.5, 2.5])
    store.set_strategy_state("paper", "BTCUSDT", "dca", "level", 9)
    store.set_strategy_state("paper", "ETHUSDT", "grid", "level", 1)
    store.set_strategy_state("binance", "BTCUSDT", "grid", "level", 2)
    store.set_strategy_state("paper", "BTCUSDT", "grid", "level", 4)
    assert store.strategy_state("paper", "BTCUSDT", "grid") == {"level": 4, "levels": [1.5, 2.5]}
    assert store.strategy_state("paper", "BTCUSDT", "dca") == {"level": 9}
    assert store.strategy_state("paper", "ETHUSDT", "grid") == {"level": 1}
    assert store.strategy_state("binance", "BTCUSDT", "grid") == {"level": 2}
    assert store.strategy_state("paper", "BTCUSDT", "none") == {}


# -- events ----------------------------------------------------------------------------------------


def test_events_round_trip_newest_first(store: Store) -> None:
    before = int(time.time() * 1000)
    store.add_event("component.restarted", component="feed", data={"attempt": 2})
    store.add_event(
        "order.filled",
        exchange="paper",
        symbol="BTCUSDT",
        strategy="grid",
        data={"fill_id": "f-1", "price": Decimal("30000.10")},
        timestamp=before - 1000,
    )
    store.add_event("order.filled", exchange="paper", timestamp=before - 1000)
    restarted, second_fill, first_fill = store.list_events()
    assert restarted.kind == "component.restarted"
    assert restarted.component == "feed"
    assert restarted.data == {"attempt": 2}
    assert before <= restarted.timestamp <= int(time.time() * 1000)
    assert second_fill == EventRecord(
        id=3, timestamp=before - 1000, kind="order.filled", exchange="paper", data={}
    )
    assert first_fill == EventRecord(
        id=2,
        timestamp=before - 1000,
        kind="order.filled",
        exchange="paper",
        symbol="BTCUSDT",
        strategy="grid",
        data={"fill_id": "f-1", "price": "30000.10"},
    )
    assert store.list_events(kind="order.filled") == [second_fill, first_fill]
    assert store.list_events(kind="order.filled", limit=1) == [second_fill]
    assert store.list_events(kind="nothing") == []


def test_event_data_must_be_a_json_mapping(store: Store) -> None:
    with pytest.raises(ValueError, match="event 'x' data is list; expected a mapping or None"):
        store.add_event("x", data=[1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="event 'x' data is not JSON-serialisable"):
        store.add_event("x", data={"when": time})
    assert store.list_events() == []


# -- the column type -------------------------------------------------------------------------------


def test_decimal_text_refuses_what_is_not_an_exact_number() -> None:
    column_type, dialect = DecimalText(), sqlite.dialect()
    assert column_type.process_bind_param(None, dialect) is None
    assert column_type.process_bind_param(3, dialect) == "3"
    assert column_type.process_bind_param(Decimal("1.10"), dialect) == "1.10"
    assert column_type.process_result_value("1.10", dialect) == Decimal("1.10")
    assert column_type.process_result_value(None, dialect) is None
    with pytest.raises(TypeError, match=r"received 0.1 \(float\); expected a Decimal or int"):
        column_type.process_bind_param(0.1, dialect)
    with pytest.raises(TypeError, match=r"received True \(bool\)"):
        column_type.process_bind_param(True, dialect)
    with pytest.raises(ValueError, match="expected a finite Decimal"):
        column_type.process_bind_param(Decimal("-Infinity"), dialect)
    with pytest.raises(ValueError, match="holds 'abc', which is not a decimal number"):
        column_type.process_result_value("abc", dialect)


# -- AsyncStore ------------------------------------------------------------------------------------


async def test_async_store_round_trips_every_method(db_path: Path) -> None:
    async with AsyncStore(Store(db_path)) as store:
        order, fill = make_order(), make_fill()
        await store.save_order(order)
        assert await store.get_order("c-1") == order
        assert await store.list_orders(exchange="paper", status=OrderStatus.CREATED) == [order]
        filled = order.with_status(OrderStatus.FILLED)
        assert await store.record_fill(filled, fill) is True
        assert await store.record_fill(filled, fill) is False
        assert await store.list_fills(client_order_id="c-1") == [fill]
        position = Position("paper", "BTCUSDT", Decimal("0.2"), Decimal("30000.10"), strategy="grid")
        await store.save_position(position)
        assert await store.list_positions(exchange="paper") == [position]
        await store.save_balances("paper", (b for b in [Balance("BTC", Decimal("0.2"))]))
        assert await store.list_balances("paper") == [Balance("BTC", Decimal("0.2"))]
        await store.set_setting("api", "theme", "dark")
        assert await store.get_setting("api", "theme") == "dark"
        assert await store.get_setting("api", "missing", 1) == 1
        assert await store.settings("api") == {"theme": "dark"}
        await store.set_strategy_state("paper", "BTCUSDT", "grid", "level", 3)
        assert await store.strategy_state("paper", "BTCUSDT", "grid") == {"level": 3}
        await store.add_event("order.filled", exchange="paper", data={"fill_id": "f-1"}, timestamp=9)
        [event] = await store.list_events(kind="order.filled", limit=5)
        assert (event.exchange, event.timestamp, event.data) == ("paper", 9, {"fill_id": "f-1"})
    with pytest.raises(RuntimeError, match="is closed"):
        store.store.get_order("c-1")


async def test_async_store_runs_one_call_at_a_time(db_path: Path) -> None:
    running, most = 0, 0
    lock = threading.Lock()

    def tracked_save(order: Order) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.005)  # long enough for other threads to start if they were allowed to
        astore.store.save_order(order)
        with lock:
            running -= 1

    async with AsyncStore(Store(db_path)) as astore, trio.open_nursery() as nursery:
        for number in range(10):
            nursery.start_soon(astore.run, tracked_save, make_order(f"c-{number}", created_at=number))
    assert most == 1
    with Store(db_path) as store:
        assert len(store.list_orders()) == 10


async def test_a_started_write_finishes_even_when_cancelled(db_path: Path) -> None:
    started, release = threading.Event(), threading.Event()

    def slow_save(order: Order) -> None:
        started.set()
        release.wait(10)
        astore.store.save_order(order)

    # The write is released only after the cancel: had the thread been abandoned, the cancelled
    # scope would have ended before the order was written.
    releaser = threading.Timer(0.2, release.set)
    async with AsyncStore(Store(db_path)) as astore:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(astore.run, slow_save, make_order())
                await trio.to_thread.run_sync(started.wait)
                releaser.start()
                scope.cancel()
        assert scope.cancel_called
        assert astore.store.get_order("c-1") == make_order()
    releaser.join()


async def test_a_call_cancelled_before_it_starts_never_runs(db_path: Path) -> None:
    async with AsyncStore(Store(db_path)) as astore:
        with trio.CancelScope() as scope:
            scope.cancel()
            await astore.save_order(make_order())
        assert astore.store.get_order("c-1") is None


def test_replacing_balances_deletes_the_assets_the_exchange_no_longer_lists(store: Store) -> None:
    store.save_balances("paper", [Balance("BTC", Decimal("0.5")), Balance("USDT", Decimal("100"))])
    store.save_balances("other", [Balance("BTC", Decimal("2"))])
    store.save_balances("paper", [Balance("USDT", Decimal("30100"))], replace=True)
    assert store.list_balances("paper") == [Balance("USDT", Decimal("30100"))]
    assert store.list_balances("other") == [Balance("BTC", Decimal("2"))], "other exchanges are untouched"
    store.save_balances("paper", [], replace=True)
    assert store.list_balances("paper") == []


def test_stop_and_trailing_fields_round_trip_exactly(store: Store) -> None:
    order = replace(make_order(), stop_price=Decimal("59000.10"), trail_percent=Decimal("1.5"))
    store.save_order(order)
    assert store.get_order(order.client_order_id) == order
