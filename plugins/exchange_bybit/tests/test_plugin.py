"""The plugin as the core sees it: registration, modes, options, paper mode, and secrets kept out of logs."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
import trio
from pydantic import ValidationError

import marketmaestro_bybit
from marketmaestro.config import ExchangeConfig
from marketmaestro.exchanges import AccountEvent, ExchangeError, Subscription
from marketmaestro.exchanges.modes import effective_mode
from marketmaestro.exchanges.paper import PaperExchange
from marketmaestro.logs import configure_logging
from marketmaestro.messages import MarketDataMsg
from marketmaestro.model import Order, OrderStatus, OrderType, Side
from marketmaestro.plugins.manager import load_plugins
from marketmaestro.storage import AsyncStore
from marketmaestro_bybit import BybitExchange, BybitOptions, create_exchange
from marketmaestro_bybit.testing import FakeBybit
from marketmaestro_bybit.testing.kit import TEST_KEY, TEST_SECRET, drain, fake_context, wait_until

D = Decimal


def test_registered_with_testnet_first() -> None:
    host = load_plugins(environ={"MM_LOAD_PLUGINS": ""}, extra=[("bybit", marketmaestro_bybit)])
    assert host.info("bybit").status == "ok"
    entry = host.registry.exchanges["bybit"]
    assert entry.modes == ("testnet", "live", "paper") and entry.options_model is BybitOptions
    config = ExchangeConfig.model_validate({"plugin": "bybit"})
    assert effective_mode(config, entry) == "testnet"


def test_default_hosts_per_mode() -> None:
    options = BybitOptions()
    assert options.rest_base("testnet") == "https://api-testnet.bybit.com"
    assert options.ws_public("testnet") == "wss://stream-testnet.bybit.com/v5/public/spot"
    assert options.ws_private("testnet") == "wss://stream-testnet.bybit.com/v5/private"
    assert options.rest_base("live") == "https://api.bybit.com"
    linear = BybitOptions(category="linear")
    assert linear.ws_public("live") == "wss://stream.bybit.com/v5/public/linear"
    assert linear.ws_private("live") == "wss://stream.bybit.com/v5/private"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"categroy": "spot"}, "categroy"),
        ({"category": "inverse"}, "category"),
        ({"rest_url": "api.bybit.com"}, "rest_url"),
        ({"recv_window": 0}, "recv_window"),
        ({"orderbook_depth": 25}, "orderbook_depth"),
        ({"paper_balances": {"USDT": -1}}, "paper_balances"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        BybitOptions.model_validate(options)
    assert caught.value.errors()[0]["loc"][0] == field


async def test_paper_mode_trades_on_bybits_prices_without_keys(fake: FakeBybit, store: AsyncStore) -> None:
    context = fake_context(
        fake, store, mode="paper", paper_balances={"USDT": D(5000)}, paper_fee_rate=D("0.002")
    )
    paper = create_exchange(context)
    assert isinstance(paper, PaperExchange) and isinstance(paper.feed, BybitExchange)
    assert paper.feed.rest.has_credentials is False, "the keys are not even read in paper mode"
    await paper.connect()
    try:
        send, receive = trio.open_memory_channel[MarketDataMsg](1000)
        async with trio.open_nursery() as nursery:
            await nursery.start(paper.stream, Subscription(klines=frozenset({("BTCUSDT", "1m")})), send)
            await drain(receive, quiet=0.3)  # the feed's ticker arrives; fills happen at its best ask
            result = await paper.place_order(
                Order("mm-paper", "bybit", "BTCUSDT", Side.BUY, OrderType.MARKET, D("0.01"))
            )
            nursery.cancel_scope.cancel()
        assert result.order.status is OrderStatus.FILLED and result.fills[0].price == D("60000.01")
        balances = {b.asset: b.free for b in await paper.balances()}
        assert balances["BTC"] == D("0.01") and balances["USDT"] < D(5000) - D(600)
        assert fake.orders(TEST_KEY) == [], "nothing reached Bybit's order entry"
    finally:
        await paper.disconnect()


async def test_secrets_stay_out_of_logs_and_errors(
    make_adapter: Callable[..., BybitExchange], fake: FakeBybit, tmp_path: Path, nursery: trio.Nursery
) -> None:
    log = tmp_path / "bybit.log"
    handle = configure_logging(file=log, console=False, level="debug")  # no secrets given: nothing masked
    try:
        errors: list[str] = []
        wrong = make_adapter(api_secret="WRONG-" + TEST_SECRET)
        with pytest.raises(ExchangeError) as caught:
            await wrong.connect()
        errors.append(repr(caught.value))
        adapter = make_adapter()
        await adapter.connect()
        fake.faults.rate_limit_next(1, path="/v5/account")
        fake.faults.fail_next(1, status=503, path="/v5/account")
        for _ in range(2):
            try:
                await adapter.balances()
            except ExchangeError as exc:
                errors.append(repr(exc))

        async def revoke_once_streaming() -> None:
            await wait_until(
                lambda: any(c.topics for c in fake.hub.clients if c.kind == "private"), "a subscription"
            )
            fake.drop_connections("private")
            fake.revoke_key(TEST_KEY)  # the reconnect's auth is refused: one fatal error

        nursery.start_soon(revoke_once_streaming)
        send, _ = trio.open_memory_channel[AccountEvent](1000)
        with pytest.raises(ExchangeError) as refused:
            await adapter.private_stream(send)
        errors.append(repr(refused.value))
        errors.append(repr(adapter) + repr(adapter.describe()) + repr(adapter.options))
    finally:
        handle.close()
    text = log.read_text()
    assert "bybit.rate_limited" in text and "bybit.ws_reconnecting" in text
    for where in (text, *errors):
        assert TEST_SECRET not in where and TEST_KEY not in where
