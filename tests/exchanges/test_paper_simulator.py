"""The market simulator behind the paper exchange: random walks, CSV replay, order books and tickers."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest

from marketmaestro.exchanges.paper import MarketSimulator, RandomWalk, read_klines_csv
from marketmaestro.exchanges.paper.simulator import CsvFormatError, read_kline_columns
from marketmaestro.model import INTERVAL_SECONDS, Kline, OrderBook, Ticker
from tests.exchanges.conftest import MINUTE_MS, START_MS, rows_from_closes, write_klines_csv

SYMBOLS = {"BTCUSDT": 60000.0, "ETHUSDT": 3000.0}


def walk_simulator(
    seed: int,
    *,
    symbols: dict[str, float] = SYMBOLS,
    interval: str = "1m",
    volatility: float = 0.001,
    depth: int = 5,
    spread_bps: float = 2.0,
) -> MarketSimulator:
    return MarketSimulator(
        interval=interval,
        interval_ms=INTERVAL_SECONDS[interval] * 1000,
        start_ms=START_MS,
        walks={s: RandomWalk(s, price, volatility, seed) for s, price in symbols.items()},
        replays={},
        depth=depth,
        spread_bps=spread_bps,
    )


def replay_simulator(path: Path, *, interval: str = "1m", spread_bps: float = 2.0) -> MarketSimulator:
    return MarketSimulator(
        interval=interval,
        interval_ms=INTERVAL_SECONDS[interval] * 1000,
        start_ms=START_MS,
        walks={},
        replays={"BTCUSDT": read_klines_csv(path, "BTCUSDT", interval)},
        depth=3,
        spread_bps=spread_bps,
    )


def play(sim: MarketSimulator, steps: int) -> list[tuple[Kline, OrderBook, Ticker]]:
    """Every kline of ``steps`` steps with the book and ticker the paper exchange would publish for it."""
    out = []
    for _ in range(steps):
        for kline in sim.step():
            book = sim.orderbook(kline.symbol)
            out.append((kline, book, sim.ticker(kline.symbol, book)))
    return out


# -- random walk ------------------------------------------------------------------------------------


def test_the_same_seed_gives_identical_klines_books_and_tickers() -> None:
    first = play(walk_simulator(7), 200)
    second = play(walk_simulator(7), 200)
    assert len(first) == 400
    assert first == second


def test_different_seeds_give_different_prices() -> None:
    closes_7 = [kline.close for kline, _, _ in play(walk_simulator(7), 50)]
    closes_8 = [kline.close for kline, _, _ in play(walk_simulator(8), 50)]
    assert closes_7 != closes_8
    # Not one coincidence: the paths part from the first kline on.
    assert closes_7[0] != closes_8[0]


def test_each_symbol_has_its_own_path_from_one_seed() -> None:
    sim = walk_simulator(7, symbols={"BTCUSDT": 100.0, "ETHUSDT": 100.0})
    klines = [kline for kline, _, _ in play(sim, 30)]
    btc = [k.close for k in klines if k.symbol == "BTCUSDT"]
    eth = [k.close for k in klines if k.symbol == "ETHUSDT"]
    assert btc != eth


def test_the_walk_does_not_depend_on_the_process_hash_seed() -> None:
    """Python's ``hash()`` changes per process; the seed must not, or a restart would change the prices."""
    code = (
        "import json; from marketmaestro.exchanges.paper import RandomWalk;"
        "w = RandomWalk('BTCUSDT', 60000.0, 0.001, 7);"
        "print(json.dumps([w.next_kline('1m', i * 60000).close for i in range(5)]))"
    )
    here = RandomWalk("BTCUSDT", 60000.0, 0.001, 7)
    expected = [here.next_kline("1m", i * 60000).close for i in range(5)]
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=30, check=True
        )
        assert json.loads(result.stdout) == expected


def test_klines_are_consistent_and_advance_by_the_interval() -> None:
    # A high volatility makes wide candles, where an inconsistent high or low would show.
    sim = walk_simulator(3, interval="15m", volatility=0.05)
    klines = [kline for kline, _, _ in play(sim, 300) if kline.symbol == "BTCUSDT"]
    assert [k.timestamp for k in klines] == [START_MS + i * 900_000 for i in range(300)]
    for previous, kline in itertools.pairwise(klines):
        assert kline.open == previous.close
    for kline in klines:
        assert kline.low <= min(kline.open, kline.close)
        assert max(kline.open, kline.close) <= kline.high
        assert kline.low > 0
        assert kline.volume > 0
        assert kline.closed
        assert kline.interval == "15m"


# -- CSV replay ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("timestamps", ["iso", "ms", "s"])
def test_a_csv_replays_exactly_its_rows(tmp_path: Path, timestamps: Literal["iso", "ms", "s"]) -> None:
    rows = rows_from_closes([30000.0 + i * 1.37 for i in range(40)], first_open=29999.5)
    expected = write_klines_csv(tmp_path / "k.csv", rows, timestamps=timestamps)
    assert list(read_klines_csv(tmp_path / "k.csv", "BTCUSDT", "1m")) == expected


def test_a_csv_in_the_bench_generator_format_reads_back(tmp_path: Path) -> None:
    """The exact text gen_klines.py writes: ISO times with Z, ``repr`` floats."""
    path = tmp_path / "bench.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2024-01-01T00:00:00Z,30000.0,30014.872469735383,29989.61587427473,30009.052066271446,5.125\n"
        "2024-01-01T00:01:00Z,30009.052066271446,30020.1,29999.9,30001.25,1.0\n"
    )
    klines = list(read_klines_csv(path, "ETHUSDT", "1m"))
    assert klines == [
        Kline(
            "ETHUSDT",
            "1m",
            START_MS,
            30000.0,
            30014.872469735383,
            29989.61587427473,
            30009.052066271446,
            5.125,
        ),
        Kline("ETHUSDT", "1m", START_MS + MINUTE_MS, 30009.052066271446, 30020.1, 29999.9, 30001.25, 1.0),
    ]


def test_an_iso_time_without_an_offset_is_utc(tmp_path: Path) -> None:
    """MarketMaestro's times are UTC: a naive ISO time must not be read in the machine's time zone."""
    path = tmp_path / "naive.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2024-01-01T00:00:00,1,2,0.5,1.5,3\n"
        "2024-01-01T00:01:00+00:00,1,2,0.5,1.5,3\n"
    )
    code = (
        "import sys; from pathlib import Path; from marketmaestro.exchanges.paper import read_klines_csv;"
        "print([k.timestamp for k in read_klines_csv(Path(sys.argv[1]), 'BTCUSDT', '1m')])"
    )
    for zone in ("UTC0", "JST-9", "EST5"):
        result = subprocess.run(
            [sys.executable, "-c", code, str(path)],
            capture_output=True,
            text=True,
            env={**os.environ, "TZ": zone},
            timeout=30,
            check=True,
        )
        assert json.loads(result.stdout) == [START_MS, START_MS + MINUTE_MS], zone


def test_a_bad_header_names_the_file_the_line_and_the_expected_columns(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("time,open,high,low,close,volume\n1704067200000,1,2,0.5,1.5,3\n")
    with pytest.raises(CsvFormatError) as caught:
        list(read_klines_csv(path, "BTCUSDT", "1m"))
    message = str(caught.value)
    assert f"{path}:1:" in message
    assert "timestamp,open,high,low,close,volume" in message
    assert "time" in message


def test_a_bad_number_names_the_file_the_line_the_column_and_the_value(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n1704067200000,1,2,0.5,1.5,3\n1704067260000,1.5,abc,0.5,1.5,3\n"
    )
    rows = read_klines_csv(path, "BTCUSDT", "1m")
    assert next(rows).close == 1.5  # the good line before it is served
    with pytest.raises(CsvFormatError) as caught:
        next(rows)
    message = str(caught.value)
    assert f"{path}:3" in message
    assert "abc" in message
    assert "high" in message


def test_a_bad_timestamp_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,open,high,low,close,volume\nyesterday,1,2,0.5,1.5,3\n")
    with pytest.raises(CsvFormatError) as caught:
        list(read_klines_csv(path, "BTCUSDT", "1m"))
    assert f"{path}:2" in str(caught.value)
    assert "yesterday" in str(caught.value)


def test_a_replay_ends_when_its_rows_run_out(tmp_path: Path) -> None:
    expected = write_klines_csv(tmp_path / "k.csv", rows_from_closes([100.0, 101.0, 99.5]))
    sim = replay_simulator(tmp_path / "k.csv")
    assert not sim.exhausted
    assert [sim.step() for _ in range(3)] == [[kline] for kline in expected]
    assert sim.step() == []
    assert sim.exhausted
    assert sim.finished == {"BTCUSDT"}
    assert sim.last["BTCUSDT"] == expected[-1]


def test_a_random_walk_never_runs_out() -> None:
    sim = walk_simulator(1)
    play(sim, 100)
    assert not sim.exhausted


# -- order books and tickers -------------------------------------------------------------------------


def test_the_book_straddles_the_close_by_the_spread() -> None:
    sim = walk_simulator(5, depth=4, spread_bps=8.0)
    for kline, book, _ in play(sim, 50):
        assert book.symbol == kline.symbol
        assert book.timestamp == kline.timestamp + MINUTE_MS  # published when the kline closes
        assert len(book.bids) == len(book.asks) == 4
        assert book.best_bid is not None and book.best_ask is not None
        assert book.best_bid < kline.close < book.best_ask
        assert book.mid == pytest.approx(kline.close, rel=1e-12)
        assert book.spread == pytest.approx(kline.close * 8.0 / 10_000, rel=1e-9)
        bid_prices = [price for price, _ in book.bids]
        ask_prices = [price for price, _ in book.asks]
        assert bid_prices == sorted(bid_prices, reverse=True)
        assert ask_prices == sorted(ask_prices)
        assert len(set(bid_prices)) == len(set(ask_prices)) == 4
        assert all(quantity > 0 for _, quantity in book.bids + book.asks)


def test_a_replayed_book_has_unit_quantities(tmp_path: Path) -> None:
    write_klines_csv(tmp_path / "k.csv", rows_from_closes([100.0, 200.0]))
    sim = replay_simulator(tmp_path / "k.csv", spread_bps=20.0)
    sim.step()
    book = sim.orderbook("BTCUSDT")
    assert book.best_bid == pytest.approx(99.9)
    assert book.best_ask == pytest.approx(100.1)
    assert [q for _, q in book.bids] == [q for _, q in book.asks] == [1.0, 1.0, 1.0]


def test_the_ticker_has_the_last_price_and_the_24h_window(tmp_path: Path) -> None:
    # With 1h klines a day is 24 of them: after 30, the ticker covers the last 24.
    closes = [100.0 + i for i in range(30)]
    rows = rows_from_closes(closes)
    klines = write_klines_csv(tmp_path / "k.csv", rows, interval="1h", interval_ms=3_600_000)
    sim = replay_simulator(tmp_path / "k.csv", interval="1h")
    _, book, ticker = play(sim, 30)[-1]
    day = klines[-24:]
    assert ticker.symbol == "BTCUSDT"
    assert ticker.timestamp == klines[-1].timestamp + 3_600_000
    assert ticker.last == 129.0
    assert (ticker.bid, ticker.ask) == (book.best_bid, book.best_ask)
    assert ticker.volume_24h == pytest.approx(sum(k.volume for k in day))
    assert ticker.change_24h == pytest.approx((129.0 / day[0].open - 1) * 100)


def test_the_ticker_of_a_first_kline_covers_just_that_kline(tmp_path: Path) -> None:
    klines = write_klines_csv(tmp_path / "k.csv", [(50.0, 60.0, 40.0, 55.0, 3.0)])
    sim = replay_simulator(tmp_path / "k.csv")
    _, _, ticker = play(sim, 1)[0]
    assert ticker.volume_24h == 3.0
    assert ticker.change_24h == pytest.approx(10.0)
    assert ticker.last == klines[0].close


HEADER = "timestamp,open,high,low,close,volume\n"
COLUMN_FILES = {
    "iso": HEADER + "2024-01-01T00:00:00Z,1,2,0.5,1.5,3\n2024-01-01T00:01:00,1.5,2.25,1.0,2.0,0.1\n",
    "ms": HEADER + "1704067200000,30000.1,30010,29990.5,30005.25,12.5\n1704067260000,1e3,2e3,5e2,1.5e3,0\n",
    "seconds": HEADER + "1704067200,1,2,0.5,1.5,3\n1704067260.5,1,2,0.5,1.5,3\n",
    "spaces": HEADER + " 1704067200000 , 1 ,2, 0.5,1.5 ,3\n",
    "underscore": HEADER + "1704067200000,1_000,2,0.5,1.5,3\n",  # Python's float() takes it
    "quoted": HEADER + '1704067200000,"1",2,0.5,1.5,3\n',
    "crlf": HEADER.replace("\n", "\r\n") + "1704067200000,1,2,0.5,1.5,3\r\n",
    "mixed times": HEADER + "1704067200000,1,2,0.5,1.5,3\n2024-01-01T00:01:00Z,1,2,0.5,1.5,3\n",
    "many digits": HEADER + "1704067200000,0.1000000000000000055511151231257827,2,0.5,1.5,3\n",
}


@pytest.mark.parametrize("kind", sorted(COLUMN_FILES))
def test_columns_hold_exactly_what_the_row_reader_reads(tmp_path: Path, kind: str) -> None:
    """read_kline_columns parses plain files in bulk; whatever path it takes, the values are the rows'."""
    path = tmp_path / "k.csv"
    path.write_bytes(COLUMN_FILES[kind].encode())
    rows = list(read_klines_csv(path, "BTCUSDT", "1m"))
    columns = read_kline_columns(path)
    for name in ("timestamp", "open", "high", "low", "close", "volume"):
        expected = [getattr(kline, name) for kline in rows]
        assert columns[name] == expected, name
        assert [type(value) for value in columns[name]] == [type(value) for value in expected], name


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("1704067200000,1,2,0.5,nan,3\n", "'close'"),
        ("1704067200000,1,2,0.5,1.5,3,7\n", "7 columns"),
        ("1704067200000,1,2,0.5,1.5\n1704067260000,1,2,0.5,1.5,3,4\n", "5 columns"),
        ("1704067200000,1,2,0.5,1.5,3\n\n", "0 columns"),
        ("nan,1,2,0.5,1.5,3\n", "'timestamp'"),
        ("1e400,1,2,0.5,1.5,3\n", "'timestamp'"),
    ],
)
def test_columns_of_a_bad_file_name_the_line_like_the_row_reader(
    tmp_path: Path, body: str, named: str
) -> None:
    path = tmp_path / "k.csv"
    path.write_text(HEADER + body)
    with pytest.raises(CsvFormatError) as caught:
        read_kline_columns(path)
    assert f"{path}:" in str(caught.value) and named in str(caught.value)
