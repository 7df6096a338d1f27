"""The public WebSocket stream against the fake: klines, the local book, tickers, trades, and every fault.

After each fault the stream must resume with no kline lost, duplicated or out of order, and a local book
equal to the fake's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import trio

from marketmaestro.exchanges import FatalExchangeError, Subscription
from marketmaestro.messages import KlineDataMsg, MarketDataMsg, OrderBookDataMsg, TickerDataMsg, TradeDataMsg
from marketmaestro.model import Side, Trade
from marketmaestro_bybit import BybitExchange
from marketmaestro_bybit.public import PublicStream
from marketmaestro_bybit.testing import FakeBybit
from marketmaestro_bybit.testing.kit import TEST_KEY, WAIT, drain, next_matching, same_book, wait_until

MINUTE = 60_000
BTC = "BTCUSDT"
D = Decimal


class Running:
    """A public stream running in the background, and the channel it sends to."""

    def __init__(self, stream: PublicStream, receive: trio.MemoryReceiveChannel[Any]) -> None:
        self.stream = stream
        self.receive = receive


@pytest.fixture
async def run_public(
    nursery: trio.Nursery,
) -> AsyncIterator[Any]:
    async def start(adapter: BybitExchange, subscription: Subscription) -> Running:
        send, receive = trio.open_memory_channel[Any](10_000)
        stream = adapter.public_stream(subscription, send.send)
        await nursery.start(stream.run)
        return Running(stream, receive)

    yield start


def closed_klines(items: list[Any]) -> list[int]:
    return [m.kline.timestamp for m in items if isinstance(m, KlineDataMsg) and m.kline.closed]


async def test_only_closed_klines_are_sent(spot: BybitExchange, fake: FakeBybit, run_public: Any) -> None:
    running = await run_public(spot, Subscription(klines=frozenset({(BTC, "1m")})))
    candles = fake.venue.market("spot", BTC)
    first = candles.running.start
    fake.set_price(BTC, D("60100"))  # moves the running candle only
    fake.close_kline(BTC, count=3)
    items = await drain(running.receive)
    assert closed_klines(items) == [first, first + MINUTE, first + 2 * MINUTE]
    assert all(m.kline.closed for m in items)
    assert items[0].kline.close == 60100.0 and items[0].kline.high == 60100.0


async def test_running_klines_when_asked(make_adapter: Any, fake: FakeBybit, run_public: Any) -> None:
    adapter = make_adapter(running_klines=True)
    await adapter.connect()
    running = await run_public(adapter, Subscription(klines=frozenset({(BTC, "1m")})))
    fake.set_price(BTC, D("60200"))
    kline = (await next_matching(running.receive, lambda m: m.kline.close == 60200.0)).kline
    assert not kline.closed
    fake.close_kline(BTC)
    closed = await next_matching(running.receive, lambda m: m.kline.closed)
    assert closed.kline.timestamp == kline.timestamp


async def test_five_minute_klines_close_on_their_boundary(
    spot: BybitExchange, fake: FakeBybit, run_public: Any
) -> None:
    running = await run_public(spot, Subscription(klines=frozenset({(BTC, "5m")})))
    start = fake.venue.market("spot", BTC).running.start
    fake.close_kline(BTC, count=11)
    stamps = closed_klines(await drain(running.receive))
    expected = [s for s in range(start - start % (5 * MINUTE), start + 11 * MINUTE, 5 * MINUTE)
                if s + 5 * MINUTE <= start + 11 * MINUTE]  # fmt: skip
    assert stamps == expected and len(stamps) >= 2


async def test_the_local_book_follows_the_fakes(
    spot: BybitExchange, fake: FakeBybit, run_public: Any
) -> None:
    running = await run_public(spot, Subscription(orderbooks=frozenset({BTC})))
    first = await next_matching(running.receive, lambda m: isinstance(m, OrderBookDataMsg))
    assert same_book(first.orderbook, fake)
    account = fake.venue.accounts[TEST_KEY]
    fake.venue.place(account, {"category": "spot", "symbol": BTC, "side": "Sell", "orderType": "Limit",
                               "qty": "0.3", "price": "60000.50", "orderLinkId": "mm-rest"})  # fmt: skip
    fake.venue.place(account, {"category": "spot", "symbol": BTC, "side": "Buy", "orderType": "Market",
                               "qty": "0.6", "marketUnit": "baseCoin"})  # fmt: skip
    fake.set_price(BTC, D("60321.37"))
    books = [m.orderbook for m in await drain(running.receive) if isinstance(m, OrderBookDataMsg)]
    assert books and same_book(books[-1], fake)
    assert running.stream.resyncs == 0


async def test_a_skipped_update_id_resyncs_the_book(
    spot: BybitExchange, fake: FakeBybit, run_public: Any
) -> None:
    running = await run_public(spot, Subscription(orderbooks=frozenset({BTC})))
    await next_matching(running.receive, lambda m: isinstance(m, OrderBookDataMsg))
    fake.skip_sequence(BTC)
    fake.set_price(BTC, D("59876.5"))
    fake.set_price(BTC, D("59870.1"))
    books = [m.orderbook for m in await drain(running.receive) if isinstance(m, OrderBookDataMsg)]
    assert running.stream.resyncs == 1
    assert same_book(books[-1], fake)
    fake.set_price(BTC, D("59900"))
    after = await next_matching(
        running.receive, lambda m: isinstance(m, OrderBookDataMsg) and same_book(m.orderbook, fake)
    )
    assert after.orderbook.best_bid == 59899.99


async def test_tickers_spot_and_linear_deltas(
    spot: BybitExchange, linear: BybitExchange, fake: FakeBybit, run_public: Any
) -> None:
    spot_run = await run_public(spot, Subscription(tickers=frozenset({BTC})))
    linear_run = await run_public(linear, Subscription(tickers=frozenset({BTC})))
    fake.set_price(BTC, D("60500"))
    fake.set_price(BTC, D("60600"), category="linear")
    ticker = (await next_matching(spot_run.receive, lambda m: m.ticker.last == 60500.0)).ticker
    assert (ticker.bid, ticker.ask) == (60499.99, 60500.01)
    linear_ticker = (await next_matching(linear_run.receive, lambda m: m.ticker.last == 60600.0)).ticker
    # The delta carried only the changed fields; the rest comes from the snapshot merged with it.
    assert (linear_ticker.bid, linear_ticker.ask, linear_ticker.symbol) == (60599.9, 60600.1, BTC)
    assert isinstance(linear_ticker, type(ticker)) and all(isinstance(m, TickerDataMsg) for m in [])


async def test_public_trades_are_core_trades_with_the_takers_side(
    spot: BybitExchange, fake: FakeBybit
) -> None:
    send, receive = trio.open_memory_channel[MarketDataMsg](100)
    async with trio.open_nursery() as nursery:
        await nursery.start(spot.stream, Subscription(trades=frozenset({BTC})), send)
        account = fake.venue.accounts[TEST_KEY]
        fake.venue.place(account, {"category": "spot", "symbol": BTC, "side": "Buy", "orderType": "Market",
                                   "qty": "0.6", "marketUnit": "baseCoin"})  # fmt: skip
        messages = [await next_matching(receive, lambda m: True) for _ in range(2)]
        nursery.cancel_scope.cancel()
    assert all(isinstance(m, TradeDataMsg) and m.exchange == spot.name for m in messages), messages
    trades = [m.trade for m in messages if isinstance(m, TradeDataMsg)]
    assert all(isinstance(t, Trade) and t.symbol == BTC and t.trade_id for t in trades), trades
    assert len({t.trade_id for t in trades}) == 2
    assert [(t.side, t.price, t.quantity) for t in trades] == [
        (Side.BUY, D("60000.01"), D("0.5")),
        (Side.BUY, D("60000.02"), D("0.1")),
    ]


async def test_reconnect_loses_duplicates_and_reorders_no_kline(
    spot: BybitExchange, fake: FakeBybit, run_public: Any
) -> None:
    running = await run_public(
        spot, Subscription(klines=frozenset({(BTC, "1m")}), orderbooks=frozenset({BTC}))
    )
    start = fake.venue.market("spot", BTC).running.start
    fake.close_kline(BTC, count=2)
    await next_matching(
        running.receive, lambda m: isinstance(m, KlineDataMsg) and m.kline.timestamp == start + MINUTE
    )
    for round_ in range(3):
        assert fake.drop_connections("spot") == 1
        # These close while the stream is away: only the REST catch-up after the reconnect can bring them.
        fake.close_kline(BTC, count=2)
        fake.set_price(BTC, D(60000 + 10 * round_))
        wanted = round_ + 2
        await wait_until(lambda: fake.hub.connections >= wanted and bool(fake.hub.clients), "a reconnect")  # noqa: B023
        fake.close_kline(BTC)
    items = await drain(running.receive, quiet=0.5)
    stamps = [start, start + MINUTE, *closed_klines(items)]
    assert stamps == [start + i * MINUTE for i in range(2 + 3 * 3)], "every minute once, in order"
    books = [m.orderbook for m in items if isinstance(m, OrderBookDataMsg)]
    assert same_book(books[-1], fake)
    assert running.stream.sessions == 4


async def test_malformed_frames_are_skipped_and_what_they_held_recovered(
    spot: BybitExchange, fake: FakeBybit, run_public: Any
) -> None:
    running = await run_public(
        spot, Subscription(klines=frozenset({(BTC, "1m")}), orderbooks=frozenset({BTC}))
    )
    await next_matching(running.receive, lambda m: isinstance(m, OrderBookDataMsg))
    start = fake.venue.market("spot", BTC).running.start
    fake.faults.malformed_next(1, kind="spot")
    fake.close_kline(BTC)  # its confirmed candle is the garbled frame
    fake.set_price(BTC, D("60010"))
    items = await drain(running.receive, quiet=0.5)
    assert closed_klines(items) == [start]
    books = [m.orderbook for m in items if isinstance(m, OrderBookDataMsg)]
    assert same_book(books[-1], fake) and running.stream.resyncs == 1
    assert running.stream.sessions == 1


async def test_heartbeats_keep_a_quiet_connection_and_a_silent_one_is_replaced(
    make_adapter: Any, fake: FakeBybit, run_public: Any
) -> None:
    adapter = make_adapter(ping_interval=0.05, stale_after=0.5)
    await adapter.connect()
    await run_public(adapter, Subscription(klines=frozenset({(BTC, "1m")})))
    await wait_until(lambda: fake.hub.pings >= 5, "five pings")
    assert fake.hub.connections == 1, "pongs count as traffic: the quiet connection stayed"
    silent = make_adapter(ping_interval=30, stale_after=0.2)
    await silent.connect()
    await run_public(silent, Subscription(klines=frozenset({(BTC, "1m")})))
    await wait_until(lambda: fake.hub.connections >= 3, "the silent connection to be replaced")


async def test_an_unknown_topic_is_a_fatal_error(spot: BybitExchange) -> None:
    stream = spot.public_stream(Subscription(klines=frozenset({("NOPEUSDT", "1m")})), lambda _: None)
    with pytest.raises(FatalExchangeError, match=r"refused the subscription to kline\.1\.NOPEUSDT"):
        with trio.fail_after(WAIT):
            await stream.run()
