"""The paper exchange on another exchange's public data (``feed``), with the scripted test plugin as the feed.

The feed is built as the exchange service builds it (``ExchangeContext.build_public`` from the registry), so
these tests go through the plugin's real factory, options model and modes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio

from marketmaestro.config import load_config
from marketmaestro.exchanges import ExchangeContext, FatalExchangeError, Subscription
from marketmaestro.exchanges.paper import PaperExchange, PaperOptions
from marketmaestro.exchanges.public import check_paper_feeds, public_exchange_factory
from marketmaestro.messages import KlineDataMsg, MarketDataMsg, OrderBookDataMsg, TickerDataMsg, TradeDataMsg
from marketmaestro.model import Balance, Order, OrderType, Side
from marketmaestro.plugins.manager import PluginHost, load_plugins
from marketmaestro.storage import AsyncStore
from tests.conftest import REPO
from tests.exchanges import scripted
from tests.exchanges.conftest import exchange_config, known_book_paper
from tests.exchanges.scripted import MINUTE_MS, ScriptedExchange, price_at, scripted_kline, scripted_trade

BOUND = 10.0
START = 1_704_067_200_000  # 2024-01-01T00:00:00Z


@pytest.fixture
def host() -> PluginHost:
    """The built-in plugins and the scripted exchange, as if installed."""
    return load_plugins(environ={"MM_LOAD_PLUGINS": ""}, extra=[("scripted", scripted)])


def feed_paper(
    host: PluginHost,
    store: AsyncStore,
    folder: Path,
    *,
    pairs: tuple[str, ...] = ("BTCUSDT",),
    feed_options: dict[str, Any] | None = None,
    **options: Any,
) -> PaperExchange:
    """A paper exchange whose options name the scripted feed, built as the exchange service builds it."""
    feed_options = {"kline_seconds": 0, "start_ms": START, **(feed_options or {})}
    validated = PaperOptions.model_validate({"feed": "scripted", "feed_options": feed_options, **options})
    factory = public_exchange_factory(host.registry, store, folder, name="paper", symbols=pairs)
    context = ExchangeContext(
        "paper", exchange_config(*pairs), validated, store, folder, build_public=factory
    )
    return PaperExchange(context)


def scripted_feed(paper: PaperExchange) -> ScriptedExchange:
    assert isinstance(paper.feed, ScriptedExchange)
    return paper.feed


def order(side: Side, quantity: str, cid: str = "", symbol: str = "BTCUSDT") -> Order:
    return Order(
        cid or f"c-{side.value}-{quantity}", "paper", symbol, side, OrderType.MARKET, Decimal(quantity)
    )


async def gather(
    paper: PaperExchange,
    subscription: Subscription,
    *,
    steps: int,
    until: Callable[[list[MarketDataMsg]], bool],
) -> list[MarketDataMsg]:
    """Run the paper stream, advance the scripted clock ``steps`` minutes, collect until ``until`` holds."""
    send, receive = trio.open_memory_channel[MarketDataMsg](1000)
    messages: list[MarketDataMsg] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(paper.stream, subscription, send)
        await scripted_feed(paper).advance(steps)
        async for msg in receive:
            messages.append(msg)
            if until(messages):
                break
        nursery.cancel_scope.cancel()
    return messages


async def test_the_feed_is_the_plugins_public_adapter_and_gives_instruments(
    host: PluginHost, store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        paper = feed_paper(host, store, tmp_path, balances={"USDT": "5000"})
        feed = scripted_feed(paper)  # the plugin's factory wraps it in a paper exchange: unwrapped here
        assert feed.name == "paper.feed"
        assert feed.context.mode == "paper" and feed.context.config.api_key is None
        assert not feed.connected
        await paper.connect()
        assert feed.connected and feed.connects == 1
        instruments = await paper.instruments()
        assert set(instruments) == {"BTCUSDT", "ETHUSDT"}
        assert instruments["BTCUSDT"].tick_size == Decimal("0.01")
        assert await paper.balances() == [Balance("USDT", Decimal("5000"))]
        await paper.disconnect()
        assert not feed.connected and not paper.is_connected()


async def test_a_pair_the_feed_does_not_list_is_fatal_at_connect(
    host: PluginHost, store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        paper = feed_paper(host, store, tmp_path, pairs=("BTCUSDT", "SOLUSDT"))
        with pytest.raises(FatalExchangeError) as caught:
            await paper.connect()
        assert "SOLUSDT" in str(caught.value) and "'paper.feed'" in str(caught.value)
        assert "BTCUSDT" not in str(caught.value)


async def test_stream_passes_on_what_was_subscribed_under_the_paper_name(
    host: PluginHost, store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        paper = feed_paper(host, store, tmp_path)
        await paper.connect()
        subscription = Subscription(klines=frozenset({("BTCUSDT", "1m")}), orderbooks=frozenset({"ETHUSDT"}))
        messages = await gather(
            paper, subscription, steps=3, until=lambda ms: sum(isinstance(m, KlineDataMsg) for m in ms) == 3
        )
        assert all(m.exchange == "paper" for m in messages)
        klines = [m.kline for m in messages if isinstance(m, KlineDataMsg)]
        assert klines == [
            scripted_kline(paper_feed_options(paper), "BTCUSDT", "1m", START + i * MINUTE_MS)
            for i in range(3)
        ]
        books = [m for m in messages if isinstance(m, OrderBookDataMsg)]
        assert books and all(m.symbol == "ETHUSDT" for m in books)
        # The feed was asked for BTCUSDT tickers too (for fill prices) but they are not passed on.
        assert not any(isinstance(m, TickerDataMsg) for m in messages)
        assert scripted_feed(paper).private_calls == []


async def test_public_trades_of_a_feed_that_has_them_are_passed_on(
    host: PluginHost, store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        paper = feed_paper(host, store, tmp_path)
        assert paper.capabilities["public_trades"], "the scripted feed has public trades"
        await paper.connect()
        subscription = Subscription(trades=frozenset({"ETHUSDT"}))
        messages = await gather(
            paper, subscription, steps=3, until=lambda ms: sum(isinstance(m, TradeDataMsg) for m in ms) == 3
        )
        assert all(m.exchange == "paper" for m in messages)
        trades = [m.trade for m in messages if isinstance(m, TradeDataMsg)]
        assert trades == [
            scripted_trade(paper_feed_options(paper), "ETHUSDT", START + i * MINUTE_MS) for i in range(1, 4)
        ]
        # The feed was asked for ETHUSDT tickers too (for fill prices) but they are not passed on.
        assert not any(isinstance(m, TickerDataMsg) for m in messages)
    simulated, _ = known_book_paper(store, tmp_path)
    assert not simulated.capabilities["public_trades"], "the simulator makes no trades"


def paper_feed_options(paper: PaperExchange) -> scripted.ScriptedOptions:
    return scripted_feed(paper).options


async def test_a_market_buy_fills_at_the_feeds_best_ask_and_a_sell_at_its_best_bid(
    host: PluginHost, store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        paper = feed_paper(host, store, tmp_path, balances={"USDT": "100000"}, fee_rate="0.001")
        await paper.connect()
        feed = scripted_feed(paper)
        await gather(
            paper,
            Subscription(klines=frozenset({("BTCUSDT", "1m")})),
            steps=5,
            until=lambda ms: sum(isinstance(m, KlineDataMsg) for m in ms) == 5,
        )
        price = Decimal(repr(price_at(feed.options, "BTCUSDT", START + 5 * MINUTE_MS)))
        ask, bid = price + Decimal("1.25"), price - Decimal("1.25")
        (buy,) = (await paper.place_order(order(Side.BUY, "0.5"))).fills
        assert buy.price == ask
        assert buy.fee == (Decimal("0.5") * ask * Decimal("0.001")).quantize(Decimal("0.000001"))
        (sell,) = (await paper.place_order(order(Side.SELL, "0.2"))).fills
        assert sell.price == bid
        usdt = Decimal(100000) - Decimal("0.5") * ask - buy.fee + Decimal("0.2") * bid - sell.fee
        assert await paper.balances() == [Balance("BTC", Decimal("0.3")), Balance("USDT", usdt)]
        assert feed.private_calls == []


async def test_a_pinned_price_moves_the_fills(host: PluginHost, store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        paper = feed_paper(host, store, tmp_path, balances={"USDT": "100000"})
        await paper.connect()
        feed = scripted_feed(paper)
        send, receive = trio.open_memory_channel[MarketDataMsg](100)
        async with trio.open_nursery() as nursery:
            await nursery.start(paper.stream, Subscription(orderbooks=frozenset({"BTCUSDT"})), send)
            await feed.set_price(30000.0)
            msg = await receive.receive()
            assert isinstance(msg, OrderBookDataMsg) and msg.orderbook.best_ask == 30001.25
            (fill,) = (await paper.place_order(order(Side.BUY, "0.1"))).fills
            assert fill.price == Decimal("30001.25")
            nursery.cancel_scope.cancel()


async def test_before_any_stream_an_order_fills_at_the_feeds_latest_close(
    host: PluginHost, store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        paper = feed_paper(host, store, tmp_path, balances={"USDT": "100000"})
        await paper.connect()
        feed = scripted_feed(paper)
        calls = feed.klines_calls
        (fill,) = (await paper.place_order(order(Side.BUY, "0.1"))).fills
        # The latest closed 1m kline opened a minute before the feed's clock and closed at its price.
        assert fill.price == Decimal(repr(price_at(feed.options, "BTCUSDT", START)))
        assert feed.klines_calls == calls + 1


async def test_klines_and_server_time_come_from_the_feed(
    host: PluginHost, store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        paper = feed_paper(host, store, tmp_path)
        await paper.connect()
        options = scripted_feed(paper).options
        latest = await paper.klines("BTCUSDT", "1m", 3)
        assert [k.timestamp for k in latest] == [
            START - 3 * MINUTE_MS,
            START - 2 * MINUTE_MS,
            START - MINUTE_MS,
        ]
        ranged = await paper.klines(
            "BTCUSDT", "5m", 10, start=START - 60 * MINUTE_MS, end=START - 50 * MINUTE_MS
        )
        assert ranged == [
            scripted_kline(options, "BTCUSDT", "5m", START - 60 * MINUTE_MS),
            scripted_kline(options, "BTCUSDT", "5m", START - 55 * MINUTE_MS),
            scripted_kline(options, "BTCUSDT", "5m", START - 50 * MINUTE_MS),
        ]
        assert abs(await paper.server_time() - await scripted_feed(paper).server_time()) < 5_000


def test_without_a_way_to_build_the_feed_the_paper_exchange_says_so(
    store: AsyncStore, tmp_path: Path
) -> None:
    options = PaperOptions.model_validate({"feed": "scripted"})
    with pytest.raises(FatalExchangeError) as caught:
        PaperExchange(ExchangeContext("paper", exchange_config("BTCUSDT"), options, store, tmp_path))
    assert "exchanges.paper.options.feed" in str(caught.value)


def test_an_unknown_feed_is_fatal_when_building(store: AsyncStore, tmp_path: Path) -> None:
    bare = load_plugins(environ={"MM_LOAD_PLUGINS": ""})
    options = PaperOptions.model_validate({"feed": "nosuchexchange"})
    factory = public_exchange_factory(bare.registry, store, tmp_path, name="paper")
    with pytest.raises(FatalExchangeError) as caught:
        PaperExchange(
            ExchangeContext(
                "paper", exchange_config("BTCUSDT"), options, store, tmp_path, build_public=factory
            )
        )
    assert "'nosuchexchange'" in str(caught.value)


# -- configuration -------------------------------------------------------------------------------------


def load(host: PluginHost, folder: Path, text: str) -> list[str]:
    """The start-up problems of a settings file with ``text`` (as ``mm`` checks it), one string each."""
    from marketmaestro.config import ConfigError

    path = folder / "settings.yaml"
    path.write_text(text)
    try:
        config = load_config(path, environ={}, exchange_options=host.registry.exchange_options_models())
    except ConfigError as error:
        return [str(p) for p in error.problems]
    return [str(p) for p in check_paper_feeds(host.registry, config)]


def test_a_registered_feed_with_valid_options_passes_the_checks(host: PluginHost, tmp_path: Path) -> None:
    text = "exchanges:\n  paper:\n    options: {feed: scripted, feed_options: {base_price: 5000}}\n"
    assert load(host, tmp_path, text) == []


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            "{feed: nosuchexchange}",
            "exchanges.paper.options.feed: got 'nosuchexchange'; "
            "expected a registered exchange plugin: scripted",
        ),
        (
            "{feed: scripted, feed_options: {base_price: -1}}",
            "exchanges.paper.options.feed_options.base_price: got -1; expected a number > 1000",
        ),
        (
            "{feed: scripted, feed_options: {bogus: 1}}",
            "exchanges.paper.options.feed_options.bogus: got 1; expected one of the known keys",
        ),
        (
            "{feed: paper}",
            "exchanges.paper.options.feed: got 'paper'; expected another exchange plugin than paper",
        ),
        (
            "{feed: scripted, symbols: {BTCUSDT: 1}}",
            "exchanges.paper.options.symbols: got {'BTCUSDT': 1.0}; "
            "expected nothing: it configures the simulated market, which feed 'scripted' replaces",
        ),
        (
            "{feed_options: {base_price: 5000}}",
            "exchanges.paper.options.feed_options: got {'base_price': 5000}; "
            "expected no feed_options without a feed",
        ),
    ],
)
def test_a_bad_feed_is_a_configuration_problem_naming_the_key(
    host: PluginHost, tmp_path: Path, options: str, expected: str
) -> None:
    problems = load(host, tmp_path, f"exchanges:\n  paper:\n    options: {options}\n")
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


def test_a_feed_plugin_without_a_paper_mode_is_a_configuration_problem(tmp_path: Path) -> None:
    class LiveOnly:
        @staticmethod
        @scripted.hookimpl
        def register_exchanges(register: Any) -> None:
            register("liveonly", scripted.build, modes=("testnet", "live"))

    host = load_plugins(environ={"MM_LOAD_PLUGINS": ""}, extra=[("liveonly", LiveOnly)])
    problems = load(host, tmp_path, "exchanges:\n  paper:\n    options: {feed: liveonly}\n")
    assert problems == [
        "exchanges.paper.options.feed: got 'liveonly'; expected an exchange plugin with a paper mode "
        "('liveonly' offers testnet, live)"
    ]


async def test_the_documented_feed_configuration_trades_on_its_feed(
    host: PluginHost, store: AsyncStore, tmp_path: Path
) -> None:
    """docs/exchanges/paper.md's feed example, with the scripted plugin standing in for bybit."""
    doc = (REPO / "docs" / "exchanges" / "paper.md").read_text()
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", doc, flags=re.DOTALL) if "feed:" in b]
    assert "feed: bybit" in block and "feed_options: {category: spot}" in block
    text = block.replace("feed: bybit", "feed: scripted").replace("{category: spot}", "{kline_seconds: 0}")
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "simple_sma.star").write_text("def on_kline(kline):\n    return None\n")
    assert load(host, tmp_path, text) == []
    config = load_config(
        tmp_path / "settings.yaml", environ={}, exchange_options=host.registry.exchange_options_models()
    )
    options = config.exchange_options("paper")
    assert isinstance(options, PaperOptions) and options.balances == {"USDT": Decimal(10000)}
    factory = public_exchange_factory(host.registry, store, tmp_path, name="paper", symbols=["BTCUSDT"])
    paper = PaperExchange(
        ExchangeContext("paper", config.exchanges["paper"], options, store, tmp_path, build_public=factory)
    )
    await paper.connect()
    (fill,) = (await paper.place_order(order(Side.BUY, "0.01"))).fills
    assert fill.price == Decimal(
        repr(price_at(scripted_feed(paper).options, "BTCUSDT", scripted_feed(paper).now))
    )
