"""The paper exchange as the exchange service uses it: on a real store, with real options and CSV files."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio

from marketmaestro.config import load_config
from marketmaestro.exchanges import (
    ExchangeContext,
    FatalExchangeError,
    OrderRejected,
    RetryableError,
    Subscription,
)
from marketmaestro.exchanges.paper import PaperExchange, PaperOptions
from marketmaestro.messages import KlineDataMsg, MarketDataMsg, OrderBookDataMsg, TickerDataMsg
from marketmaestro.model import Balance, Kline, Order, OrderStatus, OrderType, Side
from marketmaestro.plugins.manager import load_plugins
from marketmaestro.risk import check_risk_config
from marketmaestro.storage import AsyncStore
from tests.conftest import REPO, STRATEGIES
from tests.exchanges.conftest import (
    BEST_ASK,
    BEST_BID,
    MINUTE_MS,
    known_book_paper,
    make_paper,
    rows_from_closes,
    write_klines_csv,
)

BOUND = 10.0
"""Seconds any one test may take: each runs under trio.fail_after(BOUND)."""
FIVE_MINUTES_MS = 300_000
PAPER_DOC = REPO / "docs" / "exchanges" / "paper.md"


def market_order(side: Side, quantity: str, *, symbol: str = "BTCUSDT", **changes: Any) -> Order:
    return Order(
        client_order_id=f"c-{side.value}-{quantity}",
        exchange="paper",
        symbol=symbol,
        side=side,
        type=changes.pop("type", OrderType.MARKET),
        quantity=Decimal(quantity),
        strategy="test",
        **changes,
    )


def merged(klines: list[Kline], interval: str) -> Kline:
    """What one aggregated kline of ``klines`` must be, computed here independently."""
    return Kline(
        klines[0].symbol,
        interval,
        klines[0].timestamp,
        klines[0].open,
        max(k.high for k in klines),
        min(k.low for k in klines),
        klines[-1].close,
        sum(k.volume for k in klines),
        closed=True,
    )


async def collect(
    exchange: PaperExchange,
    subscription: Subscription,
    *,
    until: Callable[[list[MarketDataMsg]], bool],
    seconds: float = 5.0,
) -> list[MarketDataMsg]:
    """Run ``stream`` and gather its messages until ``until(messages)`` holds."""
    send, receive = trio.open_memory_channel[MarketDataMsg](10_000)
    messages: list[MarketDataMsg] = []
    with trio.fail_after(seconds):
        async with trio.open_nursery() as nursery:
            await nursery.start(exchange.stream, subscription, send)
            async for msg in receive:
                messages.append(msg)
                if until(messages):
                    break
            nursery.cancel_scope.cancel()
    return messages


async def drain_for(
    exchange: PaperExchange, subscription: Subscription, seconds: float
) -> list[MarketDataMsg]:
    """Everything ``stream`` sends within ``seconds``."""
    send, receive = trio.open_memory_channel[MarketDataMsg](10_000)
    messages: list[MarketDataMsg] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(exchange.stream, subscription, send)
        with trio.move_on_after(seconds):
            async for msg in receive:
                messages.append(msg)
        nursery.cancel_scope.cancel()
    return messages


# -- the account ------------------------------------------------------------------------------------


async def test_connect_creates_the_account_from_the_options_and_stores_it(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        exchange = make_paper(store, tmp_path, balances={"usdt": "1234.5", "BTC": "0.25"})
        assert not exchange.is_connected()
        await exchange.connect()
        assert exchange.is_connected()
        assert await exchange.balances() == [
            Balance("BTC", Decimal("0.25")),
            Balance("USDT", Decimal("1234.5")),
        ]
        assert await store.get_setting("paper_exchange:paper", "balances") == {
            "USDT": "1234.5",
            "BTC": "0.25",
        }


async def test_a_new_exchange_on_the_same_store_continues_from_the_stored_balances(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        first, _ = known_book_paper(store, tmp_path)
        await first.connect()
        await first.place_order(market_order(Side.BUY, "0.5"))
        after_fill = await first.balances()
        await first.disconnect()
        assert not first.is_connected()

        # Other starting balances in the options do not matter any more: the account exists.
        second, _ = known_book_paper(store, tmp_path, balances={"USDT": "5"})
        await second.connect()
        assert await second.balances() == after_fill

        # A differently named exchange has its own account.
        other, _ = known_book_paper(store, tmp_path, name="paper2", balances={"USDT": "5"})
        await other.connect()
        assert await other.balances() == [Balance("USDT", Decimal("5"))]


# -- fills ------------------------------------------------------------------------------------------


async def test_a_market_buy_fills_at_the_best_ask_on_the_tick_and_pays_the_fee_in_quote(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        exchange, _ = known_book_paper(store, tmp_path)
        await exchange.connect()
        order = market_order(Side.BUY, "0.5")
        result = await exchange.place_order(order)

        assert result.order.status is OrderStatus.FILLED
        assert result.order.client_order_id == order.client_order_id
        assert result.order.venue_order_id
        assert result.order.filled_quantity == Decimal("0.5")
        assert result.order.average_price == BEST_ASK
        (fill,) = result.fills
        assert (fill.side, fill.quantity, fill.price) == (Side.BUY, Decimal("0.5"), BEST_ASK)
        assert (fill.client_order_id, fill.exchange, fill.symbol, fill.strategy) == (
            order.client_order_id,
            "paper",
            "BTCUSDT",
            "test",
        )
        # notional 0.5 * 20011.5 = 10005.75; fee 0.1 % of it, in USDT.
        assert fill.fee == Decimal("10.00575")
        assert fill.fee_currency == "USDT"
        assert await exchange.balances() == [
            Balance("BTC", Decimal("0.5")),
            Balance("USDT", Decimal("20000") - Decimal("10005.75") - Decimal("10.00575")),
        ]
        assert (await exchange.balances())[1].free == Decimal("9984.24425")


async def test_a_market_sell_fills_at_the_best_bid(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        exchange, _ = known_book_paper(store, tmp_path, balances={"USDT": "0", "BTC": "1"})
        await exchange.connect()
        result = await exchange.place_order(market_order(Side.SELL, "0.2"))
        (fill,) = result.fills
        assert fill.price == BEST_BID
        # notional 0.2 * 19991.5 = 3998.3; fee 3.9983.
        assert fill.fee == Decimal("3.9983")
        assert await exchange.balances() == [
            Balance("BTC", Decimal("0.8")),
            Balance("USDT", Decimal("3994.3017")),
        ]
        stored = await store.get_setting("paper_exchange:paper", "balances")
        assert {asset: Decimal(amount) for asset, amount in stored.items()} == {
            "BTC": Decimal("0.8"),
            "USDT": Decimal("3994.3017"),
        }


async def test_every_fill_is_applied_exactly(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        exchange, _ = known_book_paper(store, tmp_path)
        await exchange.connect()
        usdt, btc = Decimal("20000"), Decimal(0)
        for side, quantity in [
            (Side.BUY, "0.3"),
            (Side.BUY, "0.1"),
            (Side.SELL, "0.35"),
            (Side.SELL, "0.05"),
        ]:
            (fill,) = (await exchange.place_order(market_order(side, quantity))).fills
            notional = fill.quantity * fill.price
            usdt += -notional if side is Side.BUY else notional
            usdt -= notional * Decimal("0.001")
            btc += side.sign * fill.quantity
        assert btc == 0
        assert await exchange.balances() == [Balance("BTC", btc), Balance("USDT", usdt)]


async def test_not_enough_quote_rejects_the_buy_naming_both_amounts(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        exchange, _ = known_book_paper(store, tmp_path)
        await exchange.connect()
        with pytest.raises(OrderRejected) as caught:
            # 1 BTC costs 20011.5 + 20.0115 fee: more than the 20000 USDT held.
            await exchange.place_order(market_order(Side.BUY, "1"))
        assert "20031.5115" in caught.value.reason
        assert "20000" in caught.value.reason
        assert "USDT" in caught.value.reason
        assert await exchange.balances() == [Balance("USDT", Decimal("20000"))]


async def test_not_enough_base_rejects_the_sell_naming_both_amounts(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        exchange, _ = known_book_paper(store, tmp_path, balances={"USDT": "100", "BTC": "0.04"})
        await exchange.connect()
        with pytest.raises(OrderRejected) as caught:
            await exchange.place_order(market_order(Side.SELL, "0.05"))
        assert "0.05" in caught.value.reason
        assert "0.04" in caught.value.reason
        assert "BTC" in caught.value.reason
        assert await exchange.balances() == [Balance("BTC", Decimal("0.04")), Balance("USDT", Decimal("100"))]


@pytest.mark.parametrize("order_type", [OrderType.STOP_MARKET, OrderType.TRAILING_STOP])
async def test_orders_other_than_market_and_limit_are_rejected_with_the_reason(
    store: AsyncStore, tmp_path: Path, order_type: OrderType
) -> None:
    with trio.fail_after(BOUND):
        exchange, _ = known_book_paper(store, tmp_path)
        await exchange.connect()
        with pytest.raises(OrderRejected) as caught:
            await exchange.place_order(market_order(Side.BUY, "0.1", type=order_type, price=Decimal("19000")))
        assert "market and limit orders only" in caught.value.reason
        assert order_type.value in caught.value.reason


async def test_a_quantity_off_the_step_is_rejected(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        exchange, _ = known_book_paper(store, tmp_path)
        await exchange.connect()
        with pytest.raises(OrderRejected) as caught:
            await exchange.place_order(market_order(Side.BUY, "0.0015"))
        assert "0.0015" in caught.value.reason
        assert "0.001" in caught.value.reason
        assert await exchange.balances() == [Balance("USDT", Decimal("20000"))]


async def test_an_unknown_symbol_is_rejected(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        exchange, _ = known_book_paper(store, tmp_path)
        await exchange.connect()
        with pytest.raises(OrderRejected) as caught:
            await exchange.place_order(market_order(Side.BUY, "0.1", symbol="DOGEUSDT"))
        assert "DOGEUSDT" in caught.value.reason


async def test_orders_before_connect_are_retryable(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        exchange, _ = known_book_paper(store, tmp_path)
        with pytest.raises(RetryableError):
            await exchange.place_order(market_order(Side.BUY, "0.1"))


async def test_nothing_stays_open(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        exchange, _ = known_book_paper(store, tmp_path)
        await exchange.connect()
        await exchange.place_order(market_order(Side.BUY, "0.1"))
        assert await exchange.open_orders() == []
        with pytest.raises(OrderRejected):
            await exchange.cancel_order(market_order(Side.BUY, "0.1"))


# -- set-up errors and instruments -------------------------------------------------------------------


async def test_a_configured_pair_that_is_not_simulated_is_fatal_at_connect(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        exchange = make_paper(store, tmp_path, pairs=("BTCUSDT", "SOLUSDT"))
        with pytest.raises(FatalExchangeError) as caught:
            await exchange.connect()
        message = str(caught.value)
        assert "SOLUSDT" in message
        assert "BTCUSDT" not in message
        assert "exchanges.paper.options.symbols" in message
        assert not exchange.is_connected()


def test_a_missing_csv_file_is_fatal_naming_the_option(store: AsyncStore, tmp_path: Path) -> None:
    with pytest.raises(FatalExchangeError) as caught:
        make_paper(store, tmp_path, csv={"BTCUSDT": "nowhere.csv"})
    assert "exchanges.paper.options.csv.BTCUSDT" in str(caught.value)
    assert str(tmp_path / "nowhere.csv") in str(caught.value)


async def test_instruments_follow_the_options(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        exchange = make_paper(
            store,
            tmp_path,
            pairs=("ETHBTC",),
            tick_size="0.1",
            step_size="0.0001",
            min_notional="5",
            symbols={"ETHBTC": 0.05},
        )
        await exchange.connect()
        (instrument,) = (await exchange.instruments()).values()
        assert (instrument.symbol, instrument.base, instrument.quote) == ("ETHBTC", "ETH", "BTC")
        assert instrument.tick_size == Decimal("0.1")
        assert instrument.step_size == instrument.min_quantity == Decimal("0.0001")
        assert instrument.min_notional == Decimal("5")


# -- warm-up history -----------------------------------------------------------------------------------


async def test_the_warmup_history_has_warmup_klines(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        exchange = make_paper(store, tmp_path, warmup=50)
        await exchange.connect()
        history = await exchange.klines("BTCUSDT", "1m", 1000)
        assert len(history) == 50
        assert all(k.symbol == "BTCUSDT" and k.interval == "1m" and k.closed for k in history)
        stamps = [k.timestamp for k in history]
        assert stamps == [stamps[0] + i * MINUTE_MS for i in range(50)]
        assert await exchange.klines("BTCUSDT", "1m", 10) == history[-10:]
        assert await exchange.klines("BTCUSDT", "1m", 0) == []


async def test_the_warmup_history_is_the_same_for_the_same_seed(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        first = make_paper(store, tmp_path, warmup=30, seed=11)
        second = make_paper(store, tmp_path, warmup=30, seed=11)
        third = make_paper(store, tmp_path, warmup=30, seed=12)
        closes = [[k.close for k in await ex.klines("BTCUSDT", "1m", 30)] for ex in (first, second, third)]
        assert closes[0] == closes[1]
        assert closes[0] != closes[2]


async def test_5m_warmup_klines_are_aggregated_from_the_1m_ones(store: AsyncStore, tmp_path: Path) -> None:
    # 17 one-minute rows from 00:00: three whole 5m buckets (00:00, 00:05, 00:10) and two spare rows.
    with trio.fail_after(BOUND):
        rows = rows_from_closes([100.0 + (i * 7) % 11 for i in range(17)])
        base = write_klines_csv(tmp_path / "k.csv", rows)
        exchange = make_paper(store, tmp_path, symbols={}, csv={"BTCUSDT": "k.csv"}, warmup=17)
        await exchange.connect()
        five = await exchange.klines("BTCUSDT", "5m", 100)
        assert five == [merged(base[i : i + 5], "5m") for i in (0, 5, 10)]
        assert all(k.timestamp % FIVE_MINUTES_MS == 0 for k in five)
        assert await exchange.klines("BTCUSDT", "5m", 2) == five[-2:]


async def test_a_random_walk_5m_history_uses_whole_aligned_buckets(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        exchange = make_paper(store, tmp_path, warmup=60)
        base = await exchange.klines("BTCUSDT", "1m", 60)
        five = await exchange.klines("BTCUSDT", "5m", 60)
        assert len(five) in (11, 12)  # 60 minutes cover 12 buckets when aligned, 11 whole ones otherwise
        by_time = {k.timestamp: k for k in base}
        for kline in five:
            assert kline.timestamp % FIVE_MINUTES_MS == 0
            members = [by_time[kline.timestamp + i * MINUTE_MS] for i in range(5)]
            assert kline == merged(members, "5m")


async def test_an_interval_that_is_not_a_multiple_of_the_base_is_fatal(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        exchange = make_paper(store, tmp_path, interval="3m", warmup=10)
        with pytest.raises(FatalExchangeError) as caught:
            await exchange.klines("BTCUSDT", "5m", 10)
        assert "3m" in str(caught.value)
        assert "5m" in str(caught.value)


# -- streaming -----------------------------------------------------------------------------------------


async def test_stream_sends_the_subscribed_klines_books_and_tickers(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        exchange = make_paper(store, tmp_path, kline_seconds=0.001, warmup=5)
        await exchange.connect()
        subscription = Subscription(
            klines=frozenset({("BTCUSDT", "1m"), ("BTCUSDT", "5m")}),
            tickers=frozenset({"BTCUSDT"}),
            orderbooks=frozenset({"BTCUSDT"}),
        )
        # 25 minutes (a ticker ends each) hold at least four whole 5m buckets, wherever the stream starts.
        messages = await collect(
            exchange,
            subscription,
            until=lambda ms: sum(isinstance(m, TickerDataMsg) for m in ms) >= 25,
        )
        assert all(
            m.exchange == "paper" and m.symbol == "BTCUSDT" for m in messages
        )  # ETHUSDT: not subscribed

        one = [m.kline for m in messages if isinstance(m, KlineDataMsg) and m.kline.interval == "1m"]
        five = [m.kline for m in messages if isinstance(m, KlineDataMsg) and m.kline.interval == "5m"]
        books = [m.orderbook for m in messages if isinstance(m, OrderBookDataMsg)]
        tickers = [m.ticker for m in messages if isinstance(m, TickerDataMsg)]

        stamps = [k.timestamp for k in one]
        assert stamps == [stamps[0] + i * MINUTE_MS for i in range(len(one))]
        history = await exchange.klines("BTCUSDT", "1m", 1)
        assert stamps[0] == history[-1].timestamp + MINUTE_MS  # the stream continues the warm-up

        # One book and one ticker per base kline, published at its close, at its price.
        assert len(books) == len(tickers) == len(one)
        for kline, book, ticker in zip(one, books, tickers, strict=True):
            assert book.timestamp == ticker.timestamp == kline.timestamp + MINUTE_MS
            assert ticker.last == kline.close
            assert book.mid == pytest.approx(kline.close, rel=1e-12)
            assert (ticker.bid, ticker.ask) == (book.best_bid, book.best_ask)

        by_time = {k.timestamp: k for k in one}
        # The first bucket is sent only when the stream saw all of it (never a partial 5m kline).
        assert len(five) in (4, 5)
        assert five[0].timestamp >= stamps[0]
        for kline in five:
            assert kline.timestamp % FIVE_MINUTES_MS == 0
            assert kline == merged([by_time[kline.timestamp + i * MINUTE_MS] for i in range(5)], "5m")
            # Sent with the last minute of its bucket: after the minute before it, before the next bucket.
            position = messages.index(KlineDataMsg("paper", kline))
            assert position > messages.index(KlineDataMsg("paper", by_time[kline.timestamp + 3 * MINUTE_MS]))
            following = by_time.get(kline.timestamp + 5 * MINUTE_MS)
            assert following is None or position < messages.index(KlineDataMsg("paper", following))


async def test_stream_sends_only_what_is_subscribed(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        exchange = make_paper(store, tmp_path, kline_seconds=0.001, warmup=5)
        await exchange.connect()
        subscription = Subscription(klines=frozenset({("ETHUSDT", "1m")}), orderbooks=frozenset({"BTCUSDT"}))
        messages = await collect(exchange, subscription, until=lambda ms: len(ms) >= 20)
        kinds = {(type(m).__name__, m.symbol) for m in messages}
        assert kinds == {("KlineDataMsg", "ETHUSDT"), ("OrderBookDataMsg", "BTCUSDT")}


async def test_a_fill_uses_the_book_of_the_latest_streamed_kline(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        closes = [30000.0, 30100.0, 30200.0, 30300.0]
        write_klines_csv(tmp_path / "k.csv", rows_from_closes(closes))
        exchange = make_paper(
            store,
            tmp_path,
            symbols={},
            csv={"BTCUSDT": "k.csv"},
            warmup=1,
            kline_seconds=0.001,
            spread_bps=10.0,
            balances={"USDT": "100000"},
        )
        await exchange.connect()
        await collect(
            exchange, Subscription(klines=frozenset({("BTCUSDT", "1m")})), until=lambda ms: len(ms) == 3
        )
        (fill,) = (await exchange.place_order(market_order(Side.BUY, "0.01"))).fills
        assert fill.price == Decimal("30315.15")  # 30300 * 1.0005


async def test_a_csv_replay_streams_the_rows_after_the_warmup_then_stops(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        rows = rows_from_closes([100.0 + i for i in range(12)])
        expected = write_klines_csv(tmp_path / "k.csv", rows, timestamps="ms")
        exchange = make_paper(
            store, tmp_path, symbols={}, csv={"BTCUSDT": "k.csv"}, warmup=4, kline_seconds=0.001
        )
        await exchange.connect()
        assert await exchange.klines("BTCUSDT", "1m", 100) == expected[:4]
        messages = await drain_for(exchange, Subscription(klines=frozenset({("BTCUSDT", "1m")})), 0.3)
        assert [m.kline for m in messages if isinstance(m, KlineDataMsg)] == expected[4:]
        assert exchange.describe()["replay_finished"] is True


async def test_a_csv_replay_beside_random_walks_streams_every_row_after_the_warmup(
    store: AsyncStore, tmp_path: Path
) -> None:
    """BTCUSDT replays a CSV while ETHUSDT (a default symbol) is a random walk: no row may be skipped."""
    with trio.fail_after(BOUND):
        rows = rows_from_closes([100.0 + i for i in range(12)])
        expected = write_klines_csv(tmp_path / "k.csv", rows)
        exchange = make_paper(store, tmp_path, csv={"BTCUSDT": "k.csv"}, warmup=3, kline_seconds=0.001)
        await exchange.connect()
        assert await exchange.klines("BTCUSDT", "1m", 100) == expected[:3]
        messages = await drain_for(exchange, Subscription(klines=frozenset({("BTCUSDT", "1m")})), 0.3)
        assert [m.kline for m in messages if isinstance(m, KlineDataMsg)] == expected[3:]


async def test_a_malformed_csv_is_fatal_naming_the_option_the_file_and_the_line(
    store: AsyncStore, tmp_path: Path
) -> None:
    """A configuration problem: restarting cannot fix it, so it must not be an error that restarts."""
    with trio.fail_after(BOUND):
        path = tmp_path / "k.csv"
        write_klines_csv(path, rows_from_closes([100.0, 101.0, 102.0]))
        path.write_text(path.read_text().replace("101.0,", "oops,", 1))
        with pytest.raises(FatalExchangeError) as caught:
            exchange = make_paper(store, tmp_path, symbols={}, csv={"BTCUSDT": "k.csv"}, warmup=10)
            await exchange.connect()
        message = str(caught.value)
        assert "exchanges.paper.options.csv.BTCUSDT" in message
        assert f"{path}:3" in message
        assert "oops" in message


# -- what docs/exchanges/paper.md promises -----------------------------------------------------------


def documented(pattern: str) -> list[str]:
    return re.findall(pattern, PAPER_DOC.read_text(), flags=re.DOTALL)


async def test_the_documented_configurations_load_and_trade(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        blocks = documented(r"```yaml\n(.*?)```")
        assert len(blocks) >= 3
        (tmp_path / "strategies").mkdir()
        shutil.copy(STRATEGIES / "simple_sma.star", tmp_path / "strategies")
        (tmp_path / "data").mkdir()
        write_klines_csv(
            tmp_path / "data" / "btc_1m.csv", rows_from_closes([30000.0 + i % 17 for i in range(400)])
        )
        host = load_plugins(environ={"MM_LOAD_PLUGINS": "indicators"})
        for index, block in enumerate(blocks):
            settings = tmp_path / f"settings{index}.yaml"
            settings.write_text(block)
            config = load_config(
                settings, environ={}, exchange_options=host.registry.exchange_options_models()
            )
            assert check_risk_config(host.registry, config) == []
            for key, exchange_config in config.exchanges.items():
                options = config.exchange_options(key)
                assert isinstance(options, PaperOptions)
                if options.feed is not None:
                    continue  # trades on another plugin's data: see test_paper_feed.py
                factory = host.registry.exchanges[exchange_config.plugin_name].factory
                exchange = factory(ExchangeContext(key, exchange_config, options, store, config.config_dir))
                await exchange.connect()
                result = await exchange.place_order(replace(market_order(Side.BUY, "0.01"), exchange=key))
                assert result.order.status is OrderStatus.FILLED, (index, key)


async def test_the_documented_reset_gives_a_fresh_account(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        (command,) = documented(r'sqlite3 marketmaestro\.db "(.*?)"')
        first, _ = known_book_paper(store, tmp_path)
        await first.connect()
        await first.place_order(market_order(Side.BUY, "0.5"))

        def run_documented_sql() -> None:
            db = sqlite3.connect(store.store.path)
            try:
                with db:
                    db.execute(command)
            finally:
                db.close()

        await store.run(run_documented_sql)
        fresh, _ = known_book_paper(store, tmp_path)
        await fresh.connect()
        assert await fresh.balances() == [Balance("USDT", Decimal("20000"))]
