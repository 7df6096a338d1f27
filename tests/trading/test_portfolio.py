"""Positions from fills (apply_fill) and the portfolio component on a real store."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import trio

from marketmaestro.messages import (
    GetBalancesMsg,
    GetPositionMsg,
    GetStatusMsg,
    OrderFilledMsg,
    UpdateBalanceMsg,
)
from marketmaestro.model import Balance, Fill, Order, OrderStatus, OrderType, Position, Side
from marketmaestro.portfolio import Portfolio, apply_fill
from marketmaestro.storage import AsyncStore
from marketmaestro.supervision import Mailbox
from tests.trading.conftest import TIMEOUT

_ids = itertools.count(1)


def fill(side: Side, quantity: str, price: str, *, strategy: str = "", exchange: str = "paper") -> Fill:
    number = next(_ids)
    return Fill(
        fill_id=f"f-{number}",
        client_order_id=f"c-{number}",
        exchange=exchange,
        symbol="BTCUSDT",
        side=side,
        quantity=Decimal(quantity),
        price=Decimal(price),
        fee=Decimal("0.01"),
        fee_currency="USDT",
        timestamp=1_700_000_000_000 + number,
        strategy=strategy,
    )


def flat() -> Position:
    return Position("paper", "BTCUSDT", Decimal(0), Decimal(0))


def apply_all(position: Position, *fills: Fill) -> Position:
    for each in fills:
        position = apply_fill(position, each)
    return position


def filled_msg(each: Fill) -> OrderFilledMsg:
    order = Order(
        client_order_id=each.client_order_id,
        exchange=each.exchange,
        symbol=each.symbol,
        side=each.side,
        type=OrderType.MARKET,
        quantity=each.quantity,
        strategy=each.strategy,
        status=OrderStatus.FILLED,
        filled_quantity=each.quantity,
        average_price=each.price,
    )
    return OrderFilledMsg(each, order)


# -- apply_fill ---------------------------------------------------------------------------------------


def test_opening_a_position() -> None:
    position = apply_fill(flat(), fill(Side.BUY, "1", "100"))
    assert (position.quantity, position.average_price, position.realized_pnl) == (1, 100, 0)
    assert (position.exchange, position.symbol, position.strategy) == ("paper", "BTCUSDT", "")


def test_adding_averages_the_entry_by_quantity() -> None:
    position = apply_all(flat(), fill(Side.BUY, "1", "100"), fill(Side.BUY, "3", "104"))
    assert (position.quantity, position.average_price, position.realized_pnl) == (4, 103, 0)


def test_a_partial_close_realises_pnl_and_keeps_the_average() -> None:
    position = apply_all(
        flat(), fill(Side.BUY, "1", "100"), fill(Side.BUY, "3", "104"), fill(Side.SELL, "1", "110")
    )
    assert (position.quantity, position.average_price, position.realized_pnl) == (3, 103, 7)


def test_a_full_close_resets_the_average_and_keeps_the_realised_pnl() -> None:
    position = apply_all(
        flat(),
        fill(Side.BUY, "1", "100"),
        fill(Side.BUY, "3", "104"),
        fill(Side.SELL, "1", "110"),
        fill(Side.SELL, "3", "100"),
    )
    # 7 from the first sale, 3 * (100 - 103) = -9 from the second.
    assert (position.quantity, position.average_price, position.realized_pnl) == (0, 0, -2)
    reopened = apply_fill(position, fill(Side.BUY, "2", "50"))
    assert (reopened.quantity, reopened.average_price, reopened.realized_pnl) == (2, 50, -2)


def test_a_flip_enters_the_new_side_at_the_fill_price() -> None:
    position = apply_all(flat(), fill(Side.BUY, "2", "100"), fill(Side.SELL, "5", "90"))
    # The 2 held are closed at a loss of 10 each; the other 3 are a short entered at 90.
    assert (position.quantity, position.average_price, position.realized_pnl) == (-3, 90, -20)
    back = apply_fill(position, fill(Side.BUY, "4", "80"))
    assert (back.quantity, back.average_price, back.realized_pnl) == (1, 80, 10)


def test_a_short_side_gains_when_the_price_falls() -> None:
    position = apply_all(flat(), fill(Side.SELL, "2", "50"), fill(Side.SELL, "2", "54"))
    assert (position.quantity, position.average_price) == (-4, 52)
    position = apply_fill(position, fill(Side.BUY, "1", "40"))
    assert (position.quantity, position.average_price, position.realized_pnl) == (-3, 52, 12)
    position = apply_fill(position, fill(Side.BUY, "3", "60"))
    assert (position.quantity, position.average_price, position.realized_pnl) == (0, 0, -12)


def test_the_arithmetic_is_exact_decimal() -> None:
    position = apply_all(
        flat(),
        fill(Side.BUY, "0.1", "30000.10"),
        fill(Side.BUY, "0.2", "30000.40"),
    )
    # In binary floats 0.1 + 0.2 is not 0.3, and this average would not come out even.
    assert position.quantity == Decimal("0.3")
    assert position.average_price == Decimal("30000.30")
    position = apply_fill(position, fill(Side.SELL, "0.3", "30000.41"))
    assert position.realized_pnl == Decimal("0.033")
    assert all(
        isinstance(v, Decimal) for v in (position.quantity, position.average_price, position.realized_pnl)
    )


def test_the_position_keeps_its_strategy() -> None:
    start = Position("paper", "BTCUSDT", Decimal(0), Decimal(0), strategy="sma")
    assert apply_fill(start, fill(Side.BUY, "1", "10", strategy="sma")).strategy == "sma"


# -- the component ------------------------------------------------------------------------------------


@asynccontextmanager
async def running(store: AsyncStore, exchange: str = "paper") -> AsyncIterator[Portfolio]:
    portfolio = Portfolio(Mailbox(f"{exchange}/portfolio"), exchange=exchange, store=store)
    async with trio.open_nursery() as nursery:
        await nursery.start(portfolio.run)
        yield portfolio
        nursery.cancel_scope.cancel()


async def position_of(portfolio: Portfolio, strategy: str = "") -> Position:
    assert portfolio.exchange is not None
    position: Position = await portfolio.mailbox.request(
        GetPositionMsg(portfolio.exchange, "BTCUSDT", strategy), TIMEOUT
    )
    return position


async def test_positions_are_kept_per_strategy_and_for_the_account(store: AsyncStore) -> None:
    with trio.fail_after(10):
        async with running(store) as portfolio:
            await portfolio.mailbox.send(filled_msg(fill(Side.BUY, "1", "100", strategy="a")))
            await portfolio.mailbox.send(filled_msg(fill(Side.SELL, "0.4", "110", strategy="b")))
            await portfolio.mailbox.send(filled_msg(fill(Side.BUY, "0.4", "90")))  # manual: the account only

            account = await position_of(portfolio)
            # a's buy opens at 100, b's sale closes 0.4 of it (+4), the manual buy averages in at 90.
            assert (account.quantity, account.average_price, account.realized_pnl) == (
                Decimal("1.0"),
                Decimal("96"),
                Decimal("4"),
            )
            a = await position_of(portfolio, "a")
            b = await position_of(portfolio, "b")
            assert (a.quantity, a.average_price, a.strategy) == (1, 100, "a")
            assert (b.quantity, b.average_price, b.strategy) == (Decimal("-0.4"), 110, "b")
            nobody = await position_of(portfolio, "c")
            assert (nobody.quantity, nobody.average_price, nobody.strategy) == (0, 0, "c")

            status = await portfolio.mailbox.request(GetStatusMsg(), TIMEOUT)
            assert status == {
                "fills_applied": 3,
                "positions": {"BTCUSDT/account": "1.0", "BTCUSDT/a": "1", "BTCUSDT/b": "-0.4"},
            }

    stored = {p.strategy: p for p in await store.list_positions(exchange="paper")}
    assert set(stored) == {"", "a", "b"}
    assert stored[""].quantity == Decimal("1.0")
    assert stored[""].realized_pnl == Decimal("4")


async def test_each_account_has_its_own_positions(store: AsyncStore) -> None:
    with trio.fail_after(10):
        async with running(store, "paper") as paper, running(store, "other") as other:
            await paper.mailbox.send(filled_msg(fill(Side.BUY, "1", "100", strategy="a")))
            await other.mailbox.send(filled_msg(fill(Side.BUY, "3", "200", strategy="a", exchange="other")))
            assert (await position_of(paper, "a")).quantity == 1
            assert (await position_of(other, "a")).quantity == 3

        async with running(store, "paper") as paper_again:
            assert (await position_of(paper_again, "a")).quantity == 1
            assert (await position_of(paper_again)).quantity == 1
    assert {p.exchange for p in await store.list_positions(exchange="other")} == {"other"}


async def test_state_is_reloaded_from_the_database_on_restart(store: AsyncStore) -> None:
    balances = (Balance("BTC", Decimal("0.5")), Balance("USDT", Decimal("9984.24425"), Decimal("10")))
    with trio.fail_after(10):
        async with running(store) as portfolio:
            await portfolio.mailbox.send(filled_msg(fill(Side.BUY, "0.3", "30000.10", strategy="sma")))
            await portfolio.mailbox.send(filled_msg(fill(Side.SELL, "0.1", "30010.10", strategy="sma")))
            await portfolio.mailbox.send(UpdateBalanceMsg("paper", balances))
            before = (await position_of(portfolio), await position_of(portfolio, "sma"))

        async with running(store) as restarted:
            after = (await position_of(restarted), await position_of(restarted, "sma"))
            assert after == before
            assert after[1].quantity == Decimal("0.2")
            assert after[1].average_price == Decimal("30000.10")
            assert after[1].realized_pnl == Decimal("1.0")
            assert await restarted.mailbox.request(GetBalancesMsg("paper"), TIMEOUT) == balances
            # A fill after the restart continues from the reloaded position.
            await restarted.mailbox.send(filled_msg(fill(Side.SELL, "0.2", "30000.10", strategy="sma")))
            closed = await position_of(restarted, "sma")
            assert (closed.quantity, closed.average_price, closed.realized_pnl) == (0, 0, Decimal("1.0"))


async def test_the_reloaded_balances_are_the_last_ones_the_exchange_reported(store: AsyncStore) -> None:
    """The exchange is the truth: an asset it stopped reporting must not come back after a restart."""
    with trio.fail_after(10):
        async with running(store) as portfolio:
            await portfolio.mailbox.send(
                UpdateBalanceMsg("paper", (Balance("BTC", Decimal("0.5")), Balance("USDT", Decimal("100"))))
            )
            await portfolio.mailbox.send(UpdateBalanceMsg("paper", (Balance("USDT", Decimal("30100")),)))
            live = await portfolio.mailbox.request(GetBalancesMsg("paper"), TIMEOUT)
            assert live == (Balance("USDT", Decimal("30100")),)

        async with running(store) as restarted:
            assert await restarted.mailbox.request(GetBalancesMsg("paper"), TIMEOUT) == live
