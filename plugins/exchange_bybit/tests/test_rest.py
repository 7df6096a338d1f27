"""The REST client against the fake: signing as sent, clock offset, error mapping, rate limits and bans."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
import trio
import trio.testing

from marketmaestro.exchanges import ExchangeError, FatalExchangeError, OrderRejected, RetryableError
from marketmaestro.model import Order, OrderType, Side
from marketmaestro_bybit import BybitExchange, BybitFatal, BybitRetryable
from marketmaestro_bybit.ratelimit import EndpointLimiter, RollingWindow
from marketmaestro_bybit.rest import BybitRest
from marketmaestro_bybit.testing import FakeBybit, running_fake
from marketmaestro_bybit.testing.kit import TEST_KEY, TEST_SECRET, fake_context

Factory = Callable[..., BybitExchange]


def limit_order(client_id: str, price: str = "50000", quantity: str = "0.001") -> Order:
    return Order(
        client_id, "bybit", "BTCUSDT", Side.BUY, OrderType.LIMIT, Decimal(quantity), price=Decimal(price)
    )


async def test_connect_measures_the_clock_offset_and_signed_calls_use_it(store) -> None:  # type: ignore[no-untyped-def]
    # Bybit's clock 20 s ahead: without the offset every signed request would be outside the 5 s window.
    async with running_fake(clock_offset_ms=20_000) as fake:
        fake.add_account(TEST_KEY, TEST_SECRET, {"USDT": Decimal(1000)})
        adapter = BybitExchange(fake_context(fake, store))
        try:
            await adapter.connect()
            assert 19_000 < adapter.rest.offset_ms < 21_000
            assert [b.asset for b in await adapter.balances()] == ["USDT"]
            assert abs(await adapter.server_time() - adapter.rest.server_now()) < 1000
            assert fake.faults.answered.get("refused", 0) == 0
        finally:
            await adapter.disconnect()


async def test_a_lost_clock_offset_is_measured_again_on_10002(spot: BybitExchange, fake: FakeBybit) -> None:
    spot.rest.offset_ms -= 60_000  # as if our clock jumped a minute ahead after connecting
    assert [b.asset for b in await spot.balances()] == ["BTC", "ETH", "USDT"]
    assert abs(spot.rest.offset_ms) < 2000
    assert fake.faults.answered["refused"] == 1  # exactly the one 10002


async def test_wrong_secret_is_one_fatal_error_without_the_key_or_secret(
    make_adapter: Factory, fake: FakeBybit
) -> None:
    adapter = make_adapter(api_secret="NOT-THE-SECRET-9b1e55aa")
    with pytest.raises(FatalExchangeError) as caught:
        await adapter.connect()
    message = str(caught.value)
    assert "signature" in message and "10004" in message
    # The fake echoes the signed string (which holds the key), as Bybit does; none of it may leak.
    assert TEST_KEY not in message and "NOT-THE-SECRET" not in message and "origin_string[...]" in message
    assert fake.faults.answered["refused"] == 1, "one refused request, no retries"
    assert not adapter.is_connected()


async def test_unknown_key_names_the_environment(make_adapter: Factory, fake: FakeBybit) -> None:
    adapter = make_adapter(api_key="MAINNET-KEY-0042")
    with pytest.raises(BybitFatal) as caught:
        await adapter.connect()
    assert caught.value.ret_code == 10003
    assert "testnet keys work only with mode testnet" in str(caught.value)
    assert "MAINNET-KEY-0042" not in str(caught.value)
    assert fake.faults.answered["refused"] == 1


async def test_missing_credentials_stop_connect_before_any_request(
    make_adapter: Factory, fake: FakeBybit
) -> None:
    adapter = make_adapter(api_key=None, api_secret=None)
    with pytest.raises(FatalExchangeError, match=r"MM_EXCHANGES__BYBIT__API_KEY"):
        await adapter.connect()
    assert fake.faults.answered == {}


async def test_read_only_key_cannot_place_orders(make_adapter: Factory, fake: FakeBybit) -> None:
    fake.add_account("READONLYKEY", "read-only-secret-3c5d", {"USDT": Decimal(1000)}, can_trade=False)
    adapter = make_adapter(api_key="READONLYKEY", api_secret="read-only-secret-3c5d")
    await adapter.connect()
    with pytest.raises(BybitFatal, match="lacks a permission") as caught:
        await adapter.place_order(limit_order("mm-ro-1"))
    assert caught.value.ret_code == 10005


async def test_server_errors_are_retryable(spot: BybitExchange, fake: FakeBybit) -> None:
    fake.faults.fail_next(1, status=502, path="/v5/account")
    with pytest.raises(RetryableError, match="HTTP 502"):
        await spot.balances()
    assert await spot.balances()


async def test_a_slow_answer_is_a_retryable_timeout(make_adapter: Factory, fake: FakeBybit) -> None:
    adapter = make_adapter(request_timeout=0.2)
    await adapter.connect()
    fake.faults.delay_next(1, seconds=1.0, path="/v5/account")
    with pytest.raises(BybitRetryable, match="no answer within"):
        await adapter.balances()
    assert await adapter.balances()


@pytest.mark.parametrize("http_429", [False, True])
async def test_rate_limit_answers_are_waited_out_and_sent_again(
    spot: BybitExchange, fake: FakeBybit, http_429: bool
) -> None:
    fake.faults.rate_limit_next(2, path="/v5/order/create", http_429=http_429, reset_ms=100)
    result = await spot.place_order(limit_order("mm-rl-1"))
    assert result.order.venue_order_id
    assert fake.faults.answered["rate_limited"] == 2
    assert spot.rest.rate_limited == 2
    assert [o["orderLinkId"] for o in fake.orders(TEST_KEY)] == ["mm-rl-1"], "sent again, placed once"


async def test_rate_limit_that_persists_becomes_retryable_with_the_wait(
    spot: BybitExchange, fake: FakeBybit
) -> None:
    fake.faults.rate_limit_next(10, path="/v5/account", reset_ms=50)
    with pytest.raises(BybitRetryable) as caught:
        await spot.balances()
    assert caught.value.ret_code == 10006 and caught.value.retry_after is not None
    assert fake.faults.answered["rate_limited"] == 4  # the first answer and three waits


async def test_a_reset_too_far_away_is_not_waited_for(make_adapter: Factory, fake: FakeBybit) -> None:
    adapter = make_adapter(max_rate_limit_wait=0.5)
    await adapter.connect()
    fake.faults.rate_limit_next(1, path="/v5/account", reset_ms=5000)
    with pytest.raises(BybitRetryable) as caught:
        await adapter.balances()
    assert caught.value.retry_after is not None and caught.value.retry_after > 4
    assert fake.faults.answered["rate_limited"] == 1


async def test_an_ip_ban_keeps_requests_home_until_it_is_over(make_adapter: Factory, fake: FakeBybit) -> None:
    adapter = make_adapter(ban_backoff=0.3)
    await adapter.connect()
    fake.faults.ban(0.2)
    with pytest.raises(BybitRetryable, match="banned") as caught:
        await adapter.balances()
    assert caught.value.retry_after == pytest.approx(0.3)
    with pytest.raises(BybitRetryable, match=r"banned by Bybit .* for another .*; not sent"):
        await adapter.balances()
    assert fake.faults.answered["banned"] == 1, "the second call never reached Bybit"
    await trio.sleep(0.35)
    assert await adapter.balances()


async def test_a_ban_with_retry_after_is_honoured(make_adapter: Factory, fake: FakeBybit) -> None:
    adapter = make_adapter(ban_backoff=600)
    await adapter.connect()
    fake.faults.ban(1, retry_after=True)
    with pytest.raises(BybitRetryable) as caught:
        await adapter.balances()
    assert caught.value.retry_after == 1


async def test_proactive_limit_keeps_a_burst_under_bybits_limit(spot: BybitExchange, fake: FakeBybit) -> None:
    # Spot order/create allows 20 per second; 30 orders at once would break it without the limiter.
    results = []

    async def place(index: int) -> None:
        results.append(await spot.place_order(limit_order(f"mm-burst-{index}", price=str(50000 + index))))

    async with trio.open_nursery() as nursery:
        for index in range(30):
            nursery.start_soon(place, index)
    assert len(results) == 30 and all(r.order.venue_order_id for r in results)
    assert fake.faults.answered.get("rate_limited", 0) == 0
    assert len(fake.orders(TEST_KEY)) == 30


async def test_rolling_window_allows_limit_per_period(autojump_clock: trio.testing.MockClock) -> None:
    window = RollingWindow(3, 1.0)
    start = trio.current_time()
    stamps = []
    for index in range(7):
        async with window.slot():
            stamps.append(trio.current_time() - start)
            await trio.sleep(0.5 if index == 3 else 0)  # a slow answer: counted until a period after it
    assert stamps == [0.0, 0.0, 0.0, 1.0, 1.5, 1.5, 2.5]


def test_endpoint_limits_follow_the_documented_table_with_headroom() -> None:
    spot, linear = EndpointLimiter("spot", 0.8), EndpointLimiter("linear", 0.8)
    assert spot.limit_of("/v5/order/create") == 16 and linear.limit_of("/v5/order/create") == 8
    assert spot.limit_of("/v5/order/realtime") == 40 and spot.limit_of("/v5/account/fee-rate") == 4
    assert spot.limit_of("/v5/market/kline") is None
    with pytest.raises(ValueError, match="headroom"):
        EndpointLimiter("spot", 0)


async def test_order_entry_refusals_are_rejections_and_other_refusals_are_not(spot: BybitExchange) -> None:
    with pytest.raises(OrderRejected, match="170131"):
        await spot.place_order(limit_order("mm-big-1", price="50000", quantity="100"))
    with pytest.raises(ExchangeError, match="category") as caught:
        await spot.rest.get("/v5/order/realtime", {"category": "option"}, signed=True)
    assert not isinstance(caught.value, OrderRejected | RetryableError | FatalExchangeError)


async def test_unknown_path_and_signed_call_without_keys_are_fatal(fake: FakeBybit) -> None:
    rest = BybitRest(fake.rest_url, category="spot")
    try:
        with pytest.raises(BybitFatal, match="404"):
            await rest.get("/v5/market/nothing", {})
        with pytest.raises(BybitFatal, match="needs an API key"):
            await rest.get("/v5/account/wallet-balance", {"accountType": "UNIFIED"}, signed=True)
    finally:
        await rest.aclose()


async def test_unreachable_host_is_retryable() -> None:
    rest = BybitRest("http://127.0.0.1:9", category="spot", timeout=1)
    try:
        with pytest.raises(BybitRetryable, match="network error"):
            await rest.get("/v5/market/time", {})
    finally:
        await rest.aclose()


async def test_an_order_whose_answer_was_lost_is_placed_once_when_sent_again(
    make_adapter: Factory, fake: FakeBybit
) -> None:
    adapter = make_adapter(request_timeout=0.3)
    await adapter.connect()
    order = limit_order("mm-lost-answer")
    fake.faults.delay_next(1, seconds=0.6, path="/v5/order/create")
    with pytest.raises(RetryableError, match="no answer within"):
        await adapter.place_order(order)
    await trio.sleep(0.5)  # the slow request reaches the fake meanwhile (or never does: both must be fine)
    again = await adapter.place_order(order)  # what the order manager does after a RetryableError
    assert again.order.venue_order_id is not None
    assert [o["orderLinkId"] for o in fake.orders(TEST_KEY)] == ["mm-lost-answer"]


async def test_an_order_refused_with_a_5xx_is_placed_once_when_sent_again(
    spot: BybitExchange, fake: FakeBybit
) -> None:
    fake.faults.fail_next(1, status=503, path="/v5/order/create")
    with pytest.raises(RetryableError, match="HTTP 503"):
        await spot.place_order(limit_order("mm-5xx"))
    await spot.place_order(limit_order("mm-5xx"))
    assert [o["orderLinkId"] for o in fake.orders(TEST_KEY)] == ["mm-5xx"]
