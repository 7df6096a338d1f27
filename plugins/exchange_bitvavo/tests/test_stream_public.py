"""The public WebSocket stream against the fake: closed klines, the local book kept equal to the fake's
through every resync, tickers, and reconnects without a duplicated or out-of-order kline."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import trio

from marketmaestro.exchanges import Subscription
from marketmaestro.messages import KlineDataMsg, MarketDataMsg, OrderBookDataMsg, TickerDataMsg
from marketmaestro.testing import wait_until
from marketmaestro_bitvavo import BitvavoExchange
from marketmaestro_bitvavo.testing import API_SECRET, FakeServer

MINUTE = 60_000


class Collector:
    """Receives what a stream sends, in order."""

    def __init__(self) -> None:
        self.send, self.receive = trio.open_memory_channel[MarketDataMsg](10_000)
        self.items: list[MarketDataMsg] = []

    async def run(self) -> None:
        async for item in self.receive:
            self.items.append(item)

    def klines(self) -> list[tuple[int, float, bool]]:
        return [
            (m.kline.timestamp, m.kline.close, m.kline.closed)
            for m in self.items
            if isinstance(m, KlineDataMsg)
        ]


async def start(nursery: trio.Nursery, exchange: BitvavoExchange, subscription: Subscription) -> Collector:
    collector = Collector()
    nursery.start_soon(collector.run)
    await nursery.start(exchange.stream, subscription, collector.send)
    return collector


def set_server_now(server: FakeServer, at: int) -> None:
    """Move the fake's clock so that its time is ``at`` (epoch ms) now."""
    exchange = server.fake.exchange
    exchange.clock_offset_ms = 0
    exchange.clock_offset_ms = at - exchange.now_ms()


async def test_closed_klines_only_and_a_reconnect_neither_repeats_nor_reorders(
    server: FakeServer, make_exchange: Any, nursery: trio.Nursery
) -> None:
    fake = server.fake
    t0 = (fake.exchange.now_ms() // MINUTE + 100) * MINUTE  # a minute of the fake's own future
    set_server_now(server, t0 + 30_000)
    exchange: BitvavoExchange = make_exchange(reconnect_initial=0.05)
    await exchange.connect()
    collector = await start(nursery, exchange, Subscription(klines=frozenset({("BTCEUR", "1m")})))
    fake.set_price("BTC-EUR", "30010", timestamp=t0 + 1_000)
    fake.set_price("BTC-EUR", "30020", timestamp=t0 + 2_000)
    fake.set_price("BTC-EUR", "30030", timestamp=t0 + 61_000)
    await wait_until(lambda: collector.klines(), "the first closed kline")
    assert collector.klines() == [(t0, 30020.0, True)], "the open candle is never handed on"

    # Lost connection: three candles happen meanwhile; the clock moves on past them.
    fake.drop_connections()
    for minute, price in ((2, "30040"), (3, "30050"), (4, "30060")):
        fake.set_price("BTC-EUR", price, timestamp=t0 + minute * MINUTE + 1_000)
    set_server_now(server, t0 + 4 * MINUTE + 30_000)
    await wait_until(lambda: len(collector.klines()) >= 4, "the klines missed while disconnected")
    fake.set_price("BTC-EUR", "30070", timestamp=t0 + 4 * MINUTE + 40_000)
    fake.set_price("BTC-EUR", "30080", timestamp=t0 + 5 * MINUTE + 1_000)
    await wait_until(lambda: len(collector.klines()) >= 5, "the kline after the reconnect")
    await trio.sleep(0.2)
    assert collector.klines() == [
        (t0, 30020.0, True),
        (t0 + MINUTE, 30030.0, True),
        (t0 + 2 * MINUTE, 30040.0, True),
        (t0 + 3 * MINUTE, 30050.0, True),
        (t0 + 4 * MINUTE, 30070.0, True),
    ]


async def test_a_quiet_candle_closes_when_its_interval_is_over(
    server: FakeServer, live: BitvavoExchange, nursery: trio.Nursery
) -> None:
    collector = await start(nursery, live, Subscription(klines=frozenset({("BTCEUR", "5m")})))
    now = server.fake.exchange.now_ms()
    started = now - now % 300_000 - 300_000  # the previous 5-minute candle, over by now
    server.fake.set_price("BTC-EUR", "30100", timestamp=started + 1_000)
    await wait_until(lambda: collector.klines(), "the timer to close the candle")
    assert collector.klines() == [(started, 30100.0, True)]


def local_equals_fake(exchange: BitvavoExchange, server: FakeServer) -> bool:
    book = exchange.public.books["BTC-EUR"]
    snapshot = server.fake.exchange.book_json("BTC-EUR")
    fake_bids = {Decimal(p): Decimal(s) for p, s in snapshot["bids"]}
    fake_asks = {Decimal(p): Decimal(s) for p, s in snapshot["asks"]}
    return bool(
        book.synced and book.nonce == snapshot["nonce"] and book.bids == fake_bids and book.asks == fake_asks
    )


async def test_the_book_stays_equal_to_the_fake_through_gaps_drops_and_bad_frames(
    server: FakeServer, make_exchange: Any, nursery: trio.Nursery, log_messages: list[dict[str, Any]]
) -> None:
    fake = server.fake
    exchange: BitvavoExchange = make_exchange(reconnect_initial=0.05)
    await exchange.connect()
    collector = await start(nursery, exchange, Subscription(orderbooks=frozenset({"BTCEUR"})))
    await wait_until(lambda: local_equals_fake(exchange, server), "the first snapshot")
    books = [m for m in collector.items if isinstance(m, OrderBookDataMsg)]
    assert books and books[-1].orderbook.best_bid == 29999.0 and books[-1].orderbook.best_ask == 30001.0

    for price in ("30005", "30003", "29990"):  # plain updates
        fake.set_price("BTC-EUR", price)
        await wait_until(lambda: local_equals_fake(exchange, server), f"the book after a move to {price}")
    last = [m for m in collector.items if isinstance(m, OrderBookDataMsg)][-1].orderbook
    assert (last.best_bid, last.best_ask) == (29989.0, 29991.0)

    fake.skip_nonce("BTC-EUR")  # the next update is lost on the wire
    fake.set_price("BTC-EUR", "29980")
    fake.set_price("BTC-EUR", "29985")  # its nonce shows the gap
    await wait_until(lambda: exchange.public.resyncs == 1, "the resync after the gap")
    await wait_until(lambda: local_equals_fake(exchange, server), "the book after the resync")

    fake.drop_connections()
    fake.set_price("BTC-EUR", "29970")
    await wait_until(lambda: local_equals_fake(exchange, server), "the book after the reconnect")

    fake.malformed_frame()
    fake.set_price("BTC-EUR", "29960")
    await wait_until(lambda: local_equals_fake(exchange, server), "the book after the malformed frame")
    reconnects = [m for m in log_messages if m.get("message_type") == "bitvavo.reconnect"]
    assert len(reconnects) == 2 and "malformed frame" in reconnects[-1]["error"]
    assert API_SECRET not in json.dumps(log_messages, default=str)


async def test_tickers_merge_best_prices_and_the_day(
    server: FakeServer, live: BitvavoExchange, nursery: trio.Nursery
) -> None:
    collector = await start(nursery, live, Subscription(tickers=frozenset({"BTCEUR"})))
    server.fake.set_price("BTC-EUR", "31000")
    tickers = await wait_until(
        lambda: [
            m.ticker for m in collector.items if isinstance(m, TickerDataMsg) and m.ticker.last == 31000.0
        ],
        "a ticker at the new price",
    )
    await wait_until(lambda: collector.items[-1].ticker.bid == 30999.0, "the best bid")  # type: ignore[union-attr]
    last = collector.items[-1].ticker  # type: ignore[union-attr]
    assert (last.symbol, last.bid, last.ask, last.last) == ("BTCEUR", 30999.0, 31001.0, 31000.0)
    assert tickers[0].volume_24h > 0
    assert round(last.change_24h, 4) == round((31000 / 30000 - 1) * 100, 4)


class StallingProxy:
    """A TCP proxy in front of the fake's WebSocket that can go silent, as a dead network does: the
    connections stay open but nothing gets through, pongs included."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.stalled = trio.Event()
        self.port = 0

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started()
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, client: trio.SocketStream) -> None:
        stalled = self.stalled  # connections made after a stall pass again (the network came back)
        upstream = await trio.open_tcp_stream("127.0.0.1", self.target_port)
        async with client, upstream, trio.open_nursery() as nursery:
            nursery.start_soon(self._pipe, client, upstream, stalled)
            nursery.start_soon(self._pipe, upstream, client, stalled)

    @staticmethod
    async def _pipe(source: trio.SocketStream, sink: trio.SocketStream, stalled: trio.Event) -> None:
        async for chunk in source:
            if stalled.is_set():
                continue  # swallowed
            await sink.send_all(chunk)

    def stall(self) -> None:
        self.stalled.set()
        self.stalled = trio.Event()


async def test_a_silent_connection_is_found_by_the_keepalive_and_replaced(
    server: FakeServer, make_exchange: Any, nursery: trio.Nursery, log_messages: list[dict[str, Any]]
) -> None:
    proxy = StallingProxy(int(server.ws_url.rsplit(":", 1)[1].split("/")[0]))
    await nursery.start(proxy.serve)
    exchange: BitvavoExchange = make_exchange(
        ws_url=f"ws://127.0.0.1:{proxy.port}/v2/", keepalive_seconds=0.3, reconnect_initial=0.05
    )
    await exchange.connect()
    await start(nursery, exchange, Subscription(orderbooks=frozenset({"BTCEUR"})))
    await wait_until(lambda: local_equals_fake(exchange, server), "the first snapshot")
    proxy.stall()
    server.fake.set_price("BTC-EUR", "30200")  # lost in the silent connection
    await wait_until(
        lambda: [m for m in log_messages if m.get("message_type") == "bitvavo.reconnect"],
        "the reconnect",
    )
    await wait_until(lambda: local_equals_fake(exchange, server), "the book after the new connection")
    (reconnect,) = [m for m in log_messages if m.get("message_type") == "bitvavo.reconnect"]
    assert "no pong" in reconnect["error"]
