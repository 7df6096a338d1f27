"""Public REST market data: instruments, closed klines (latest and ranges), server time."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from marketmaestro.exchanges import FatalExchangeError
from marketmaestro.model import Instrument
from marketmaestro.storage import AsyncStore
from marketmaestro_bybit import BybitExchange
from marketmaestro_bybit.convert import bybit_interval
from marketmaestro_bybit.testing import FakeBybit, FakeInstrument, running_fake
from marketmaestro_bybit.testing.kit import TEST_KEY, TEST_SECRET, fake_context

Factory = Callable[..., BybitExchange]

MINUTE = 60_000


async def test_instruments_carry_bybits_grid(spot: BybitExchange, linear: BybitExchange) -> None:
    spot_btc = (await spot.instruments())["BTCUSDT"]
    assert spot_btc == Instrument("BTCUSDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.000001"),
                                  Decimal("0.000048"), Decimal("1"))  # fmt: skip
    linear_btc = (await linear.instruments())["BTCUSDT"]
    assert (linear_btc.tick_size, linear_btc.step_size, linear_btc.min_quantity, linear_btc.min_notional) == (
        Decimal("0.10"),
        Decimal("0.001"),
        Decimal("0.001"),
        Decimal("5"),
    )


async def test_a_pair_bybit_does_not_list_stops_connect(make_adapter: Factory) -> None:
    adapter = make_adapter(pairs=("BTCUSDT", "DOGEEUR"))
    with pytest.raises(FatalExchangeError, match=r"does not list DOGEEUR .*spot or linear"):
        await adapter.connect()


async def test_latest_klines_are_closed_consecutive_and_oldest_first(
    spot: BybitExchange, fake: FakeBybit
) -> None:
    klines = await spot.klines("BTCUSDT", "1m", 1200)  # more than one page of 1000
    assert len(klines) == 1200
    stamps = [k.timestamp for k in klines]
    assert stamps == list(range(stamps[0], stamps[0] + 1200 * MINUTE, MINUTE))
    market = fake.venue.market("spot", "BTCUSDT")
    assert stamps[-1] == market.candles[-1].start and all(k.closed for k in klines)
    assert klines[-1].close == float(market.candles[-1].close)


async def test_klines_in_a_range_start_at_its_beginning(spot: BybitExchange, fake: FakeBybit) -> None:
    first = fake.venue.market("spot", "BTCUSDT").candles[100].start
    page = await spot.klines("BTCUSDT", "1m", 50, start=first, end=first + 500 * MINUTE)
    assert [k.timestamp for k in page] == [first + i * MINUTE for i in range(50)]
    five = await spot.klines("BTCUSDT", "5m", 10, start=first, end=first + 60 * MINUTE)
    assert all(k.timestamp % (5 * MINUTE) == 0 and k.interval == "5m" for k in five)
    assert 10 >= len(five) >= 9
    assert await spot.klines("BTCUSDT", "1m", 10, start=first + 10 * MINUTE, end=first) == []


def test_interval_names() -> None:
    assert [bybit_interval(i) for i in ("1m", "1h", "12h", "1d", "1w")] == ["1", "60", "720", "D", "W"]
    with pytest.raises(ValueError, match="Bybit has no '8h' klines"):
        bybit_interval("8h")


async def test_the_running_candle_is_never_returned(store: AsyncStore) -> None:
    # No lag: the fake's running minute is the current one, which Bybit lists first; it is not closed.
    async with running_fake(kline_lag_ms=0, history=30) as live:
        live.add_account(TEST_KEY, TEST_SECRET, {"USDT": Decimal(1)})
        adapter = BybitExchange(fake_context(live, store))
        try:
            await adapter.connect()
            klines = await adapter.klines("BTCUSDT", "1m", 10)
            running = live.venue.market("spot", "BTCUSDT").running.start
            assert klines and klines[-1].timestamp < running
            assert all(k.timestamp + MINUTE <= adapter.rest.server_now() for k in klines)
        finally:
            await adapter.disconnect()


async def test_linear_instruments_come_in_pages(store: AsyncStore) -> None:
    d = Decimal
    many = [
        FakeInstrument(
            f"C{i:04d}USDT",
            "linear",
            f"C{i:04d}",
            "USDT",
            d("0.01"),
            d("0.1"),
            d("0.1"),
            d("5"),
            d("10"),
            d("1"),
        )
        for i in range(1200)
    ]
    async with running_fake(instruments=many, history=2) as crowded:
        crowded.add_account(TEST_KEY, TEST_SECRET, {"USDT": d(1)})
        adapter = BybitExchange(fake_context(crowded, store, category="linear", pairs=("C1199USDT",)))
        try:
            await adapter.connect()  # finds the pair on the second page
            assert len(await adapter.instruments()) == 1200
        finally:
            await adapter.disconnect()


async def test_ranged_klines_are_the_oldest_of_the_range_across_stretches_without_klines(
    store: AsyncStore,
) -> None:
    # 5000 minutes of history, then 1500 of them removed: a stretch longer than one request's window.
    async with running_fake(history=5000) as quiet:
        quiet.add_account(TEST_KEY, TEST_SECRET, {"USDT": Decimal(1)})
        stamps = [c.start for c in quiet.venue.market("spot", "BTCUSDT").candles]
        gap_start, gap_end = stamps[2000], stamps[3500]
        assert quiet.remove_klines("BTCUSDT", gap_start, gap_end) == 1500
        kept = [t for t in stamps if not gap_start <= t < gap_end]
        adapter = BybitExchange(fake_context(quiet, store))
        try:
            await adapter.connect()
            far_back = stamps[0] - 30 * 86_400_000  # a month before the first kline: thousands of windows
            first = await adapter.klines("BTCUSDT", "1m", 1000, start=far_back, end=stamps[-1])
            assert [k.timestamp for k in first] == kept[:1000]
            # From inside the stretch: the 1000 klines after it, none from before.
            after = await adapter.klines("BTCUSDT", "1m", 1000, start=gap_start + 5 * MINUTE)
            assert [k.timestamp for k in after] == [t for t in kept if t >= gap_end][:1000]
            # A page that ends inside the stretch comes back short, and a small limit after it still finds it.
            edge = await adapter.klines("BTCUSDT", "1m", 1000, start=stamps[1500])
            assert [k.timestamp for k in edge] == kept[1500:2500]
            few = await adapter.klines("BTCUSDT", "1m", 3, start=gap_start, end=stamps[-1])
            assert [k.timestamp for k in few] == [gap_end, gap_end + MINUTE, gap_end + 2 * MINUTE]
            # Hourly klines of the whole history: built from the minutes, the stretch's hours missing, and the
            # hour of the running minute is not closed yet.
            hour = 60 * MINUTE
            running = stamps[-1] + MINUTE
            hours = await adapter.klines("BTCUSDT", "1h", 1000, start=far_back)
            assert [k.timestamp for k in hours] == sorted(
                {t - t % hour for t in kept} - {running - running % hour}
            )
            assert await adapter.klines("BTCUSDT", "1m", 10, start=gap_start, end=gap_end - MINUTE) == []
        finally:
            await adapter.disconnect()
