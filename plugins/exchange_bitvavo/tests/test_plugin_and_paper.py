"""The plugin as MarketMaestro loads it (modes, options, credentials from the environment), and paper mode:
Bitvavo's market data with the core's paper account, no keys, and nothing sent to the order endpoints."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio
import yaml
from pydantic import ValidationError

import marketmaestro_bitvavo
from marketmaestro.config import ConfigError, load_config
from marketmaestro.exchanges import Subscription
from marketmaestro.exchanges.modes import check_exchange_modes
from marketmaestro.exchanges.paper import PaperExchange
from marketmaestro.messages import MarketDataMsg, TickerDataMsg
from marketmaestro.model import Order, OrderStatus, OrderType, Side
from marketmaestro.plugins.manager import load_plugins
from marketmaestro.storage import AsyncStore
from marketmaestro_bitvavo import BitvavoExchange, BitvavoOptions, create_exchange
from marketmaestro_bitvavo.testing import API_KEY, API_SECRET, FakeServer


def host() -> Any:
    return load_plugins(environ={"MM_LOAD_PLUGINS": ""}, extra=[("bitvavo", marketmaestro_bitvavo)])


def test_the_plugin_registers_bitvavo_with_paper_first_and_no_testnet() -> None:
    plugins = host()
    assert plugins.info("bitvavo").status == "ok"
    entry = plugins.registry.exchanges["bitvavo"]
    assert entry.modes == ("paper", "live") and entry.options_model is BitvavoOptions
    assert BitvavoExchange.capabilities["native_stop_orders"] and BitvavoExchange.capabilities["amend"]
    assert not BitvavoExchange.capabilities["native_trailing_stop"]
    assert not BitvavoExchange.capabilities["reduce_only"] and not BitvavoExchange.capabilities["derivatives"]


def test_options_are_checked_and_unknown_ones_refused() -> None:
    with pytest.raises(ValidationError, match="live_order"):
        BitvavoOptions.model_validate({"live_order": True})
    with pytest.raises(ValidationError, match="access_window"):
        BitvavoOptions.model_validate({"access_window": 70_000})
    with pytest.raises(ValidationError, match="URL"):
        BitvavoOptions.model_validate({"rest_url": "api.bitvavo.com"})


def settings(folder: Path, mode: str | None) -> Path:
    exchange: dict[str, Any] = {"options": {"live_orders": True}, "pairs": [{"symbol": "BTCEUR"}]}
    if mode:
        exchange["mode"] = mode
    path = folder / "settings.yaml"
    path.write_text(yaml.safe_dump({"exchanges": {"bitvavo": exchange}}))
    return path


def test_testnet_is_a_configuration_problem_and_keys_come_from_the_environment(tmp_path: Path) -> None:
    registry = host().registry
    models = registry.exchange_options_models()
    config = load_config(settings(tmp_path, "testnet"), environ={}, exchange_options=models)
    (problem,) = check_exchange_modes(registry, config)
    assert "exchanges.bitvavo.mode" in str(problem) and "paper, live" in str(problem)

    environ = {"MM_EXCHANGES__BITVAVO__API_KEY": API_KEY, "MM_EXCHANGES__BITVAVO__API_SECRET": API_SECRET}
    config = load_config(settings(tmp_path, "live"), environ=environ, exchange_options=models)
    assert check_exchange_modes(registry, config) == []
    bitvavo = config.exchanges["bitvavo"]
    assert bitvavo.api_secret is not None and bitvavo.api_secret.get_secret_value() == API_SECRET
    assert API_SECRET not in repr(bitvavo) and API_SECRET not in repr(config.exchange_options("bitvavo"))
    with pytest.raises(ConfigError, match=r"exchanges\.bitvavo\.options\.weight_limit"):
        (tmp_path / "settings.yaml").write_text(
            yaml.safe_dump({"exchanges": {"bitvavo": {"options": {"weight_limit": "lots"}}}})
        )
        load_config(tmp_path / "settings.yaml", environ={}, exchange_options=models)


async def test_paper_mode_trades_on_bitvavo_prices_without_keys(
    server: FakeServer, make_context: Any, nursery: trio.Nursery
) -> None:
    context = make_context(
        mode="paper", key=None, secret=None, live_orders=False, paper_balances={"EUR": "5000"}
    )
    exchange = create_exchange(context)
    assert isinstance(exchange, PaperExchange) and isinstance(exchange.feed, BitvavoExchange)
    await exchange.connect()
    try:
        instrument = (await exchange.instruments())["BTCEUR"]
        assert (instrument.tick_size, instrument.min_notional) == (Decimal(1), Decimal(5))
        send, receive = trio.open_memory_channel[MarketDataMsg](1000)
        await nursery.start(exchange.stream, Subscription(tickers=frozenset({"BTCEUR"})), send)
        server.fake.set_price("BTC-EUR", "30500")
        with trio.fail_after(10):
            async for message in receive:
                if isinstance(message, TickerDataMsg) and message.ticker.ask == 30501.0:
                    break
        assert message.exchange == "bitvavo"
        order = Order(
            f"mm-{uuid.uuid4().hex}", "bitvavo", "BTCEUR", Side.BUY, OrderType.MARKET, Decimal("0.01")
        )
        result = await exchange.place_order(order)
        assert result.order.status is OrderStatus.FILLED and result.fills[0].price == Decimal(30501)
        balances = {b.asset: b.free for b in await exchange.balances()}
        assert balances["BTC"] == Decimal("0.01") and balances["EUR"] < Decimal(5000) - Decimal(305)
    finally:
        await exchange.disconnect()
    touched = {path for _, path in server.fake.requests}
    assert touched.isdisjoint({"/order", "/orders", "/ordersOpen", "/balance", "/account", "/trades"}), (
        touched
    )
    assert server.fake.exchange.orders == {} and server.fake.exchange.balance_json() == [
        {"symbol": "EUR", "available": "10000", "inOrder": "0"}
    ]
    assert ("GET", "/markets") in server.fake.requests, "the feed's data came from the fake"


async def test_the_paper_exchange_feed_option_builds_the_bitvavo_adapter(
    server: FakeServer, store: AsyncStore, tmp_path: Path
) -> None:
    from marketmaestro.exchanges.public import build_public_exchange

    registry = host().registry
    options = {"rest_url": server.rest_url, "ws_url": server.ws_url}
    feed = build_public_exchange(
        registry, "bitvavo", options, name="paper.feed", store=store, config_dir=tmp_path, symbols=["BTCEUR"]
    )
    assert isinstance(feed, BitvavoExchange) and feed.context.mode == "paper"
    assert feed.context.config.api_key is None
    await feed.connect()
    try:
        assert "BTCEUR" in await feed.instruments()
    finally:
        await feed.disconnect()
