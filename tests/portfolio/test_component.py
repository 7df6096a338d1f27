"""The portfolio component on a real store: fees per strategy, marks, snapshots and balance differences."""

from __future__ import annotations

from decimal import Decimal

import trio

from marketmaestro.messages import (
    GetPortfolioMsg,
    GetPositionMsg,
    GetStatusMsg,
    SnapshotEquityMsg,
    UpdateBalanceMsg,
)
from marketmaestro.model import Balance, Position, Side
from marketmaestro.portfolio import PortfolioReport
from marketmaestro.storage import AsyncStore
from tests.portfolio.conftest import TIMEOUT, filled, kline, make_fill, running_portfolio

D = Decimal


async def test_two_strategies_keep_their_own_pnl_and_fees(store: AsyncStore) -> None:
    with trio.fail_after(10):
        async with running_portfolio(store) as portfolio:
            box = portfolio.mailbox
            await box.send(filled(make_fill(Side.BUY, "0.1", "50000", strategy="a", fee="5")))
            await box.send(
                filled(make_fill(Side.BUY, "0.2", "50000", strategy="b", fee="0.0002", fee_currency="BTC"))
            )
            await box.send(filled(make_fill(Side.SELL, "0.1", "51000", strategy="a", fee="5.1")))
            await box.send(kline("BTCUSDT", 49000.0))
            result: PortfolioReport = await box.request(GetPortfolioMsg("paper"), TIMEOUT)

            a, b = result.strategies
            assert (a.strategy, a.realized_pnl, a.unrealized_pnl, a.fees) == ("a", D("100.0"), 0, D("10.1"))
            assert a.net_pnl == D("89.9")
            # b's fee was paid in BTC: 0.0002 x 50000 = 10 USDT.
            assert (b.strategy, b.realized_pnl, b.unrealized_pnl, b.fees) == (
                "b",
                0,
                D("-200.0"),
                D("10.0000"),
            )
            assert result.account.fees == D("20.1000")
            assert result.account.net_pnl == a.net_pnl + b.net_pnl

            own: Position = await box.request(GetPositionMsg("paper", "BTCUSDT", "b"), TIMEOUT)
            assert (own.quantity, own.fees) == (D("0.2"), D("10.0000"))

    # Stored, so a restart continues with the same fees.
    async with running_portfolio(store) as again:
        await again.mailbox.send(kline("BTCUSDT", 49000.0))
        result = await again.mailbox.request(GetPortfolioMsg("paper"), TIMEOUT)
        assert [s.fees for s in result.strategies] == [D("10.1"), D("10.0000")]


async def test_a_fee_no_price_converts_is_left_out_and_recorded(store: AsyncStore) -> None:
    async with running_portfolio(store) as portfolio:
        await portfolio.mailbox.send(
            filled(make_fill(Side.BUY, "0.1", "50000", strategy="a", fee="0.01", fee_currency="BNB"))
        )
        await portfolio.mailbox.request(GetStatusMsg(), TIMEOUT)
    (event,) = await store.list_events(kind="portfolio.fee_not_converted")
    assert event.data["fee_currency"] == "BNB"
    assert event.strategy == "a"
    (position,) = [p for p in await store.list_positions(exchange="paper") if p.strategy == "a"]
    assert position.fees == 0


async def test_the_exchange_wins_and_a_difference_is_recorded(store: AsyncStore) -> None:
    async with running_portfolio(store) as portfolio:
        box = portfolio.mailbox
        await box.send(UpdateBalanceMsg("paper", (Balance("USDT", D(10000)),)))
        await box.send(filled(make_fill(Side.BUY, "0.1", "50000", fee="5")))
        # What the fill explains: no difference.
        await box.send(UpdateBalanceMsg("paper", (Balance("USDT", D(4995)), Balance("BTC", D("0.1")))))
        await box.request(GetStatusMsg(), TIMEOUT)
        assert await store.list_events(kind="portfolio.balance_difference") == []
        # 100 USDT more than expected (a deposit?): the exchange's figure is taken, the difference kept.
        await box.send(UpdateBalanceMsg("paper", (Balance("USDT", D(5095)), Balance("BTC", D("0.1")))))
        await box.request(GetStatusMsg(), TIMEOUT)
        assert portfolio.balances["USDT"].free == D(5095)
    (event,) = await store.list_events(kind="portfolio.balance_difference")
    assert event.data == {"USDT": {"ours": "4995", "exchange": "5095", "difference": "100"}}
    assert {b.asset: b.free for b in await store.list_balances("paper")} == {"BTC": D("0.1"), "USDT": D(5095)}


async def test_snapshots_record_the_account_and_each_strategy(store: AsyncStore) -> None:
    async with running_portfolio(store) as portfolio:
        box = portfolio.mailbox
        await box.send(UpdateBalanceMsg("paper", (Balance("USDT", D(4995)), Balance("BTC", D("0.1")))))
        await box.send(filled(make_fill(Side.BUY, "0.1", "50000", strategy="a", fee="5")))
        # No BTC mark yet: equity would leave the BTC out, so nothing is recorded.
        assert await box.request(SnapshotEquityMsg("paper"), TIMEOUT) == ()
        await box.send(kline("BTCUSDT", 50500.0))
        account, a = await box.request(SnapshotEquityMsg("paper"), TIMEOUT)
    assert (account.strategy, account.equity, account.unrealized_pnl) == ("", D("10045.0"), D("50.0"))
    assert (a.strategy, a.equity, a.fees, a.exposure) == ("a", D("45.0"), D(5), D("5050.0"))
    assert await store.list_equity_snapshots("paper") == [account]
    assert await store.list_equity_snapshots("paper", strategy="a") == [a]


async def test_mixed_entries_leave_no_division_noise_in_the_account_pnl(store: AsyncStore) -> None:
    async with running_portfolio(store) as portfolio:
        box = portfolio.mailbox
        await box.send(filled(make_fill(Side.BUY, "0.01", "100.01", strategy="a")))
        await box.send(
            filled(make_fill(Side.BUY, "0.02", "101.01", strategy="b"))
        )  # account entry: 100.6766...
        await box.send(filled(make_fill(Side.SELL, "0.01", "103.01", strategy="a")))
        await box.send(filled(make_fill(Side.SELL, "0.02", "103.01", strategy="b")))
        account: Position = await box.request(GetPositionMsg("paper", "BTCUSDT"), TIMEOUT)
    # Flat again: what the sales brought in minus what the buys cost, to the last digit.
    assert account.quantity == 0
    assert account.realized_pnl == D("3.0903") - D("3.0203") == D("0.07")
    assert str(account.realized_pnl) == "0.070000"
