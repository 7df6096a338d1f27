"""The conformance suite's own arithmetic: the PnL a derivatives account's fills realise, and what it asks
of public trades."""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketmaestro.model import Fill, Instrument, Position, Side, Trade
from marketmaestro.testing._checks import check_trades, realised_pnl

D = Decimal
BTC = Instrument("BTCUSDT", "BTC", "USDT", D("0.1"), D("0.001"))


def fill(side: Side, quantity: str, price: str) -> Fill:
    return Fill("f", "c", "bybit", "BTCUSDT", side, D(quantity), D(price), D(0), "USDT", 0)


def held(quantity: str, price: str) -> Position:
    return Position("bybit", "BTCUSDT", D(quantity), D(price))


@pytest.mark.parametrize(
    ("position", "fills", "pnl"),
    [
        (None, [fill(Side.BUY, "1", "100")], D(0)),  # opening realises nothing
        (held("1", "100"), [fill(Side.BUY, "1", "120")], D(0)),  # nor does adding
        (held("1", "100"), [fill(Side.SELL, "0.4", "110")], D("4")),  # a long closed higher
        (held("-2", "50"), [fill(Side.BUY, "1", "40")], D("10")),  # a short closed lower
        # A long flipped short realises on the closed part only; closing the new short then realises
        # against the flip's price.
        (held("1", "100"), [fill(Side.SELL, "1.5", "90"), fill(Side.BUY, "0.5", "80")], D("-5")),
        # Added to, then closed: against the average entry (100 and 130: 110 for 3).
        (held("2", "100"), [fill(Side.BUY, "1", "130"), fill(Side.SELL, "3", "120")], D("30")),
    ],
)
def test_realised_pnl(position: Position | None, fills: list[Fill], pnl: Decimal) -> None:
    assert realised_pnl(position, fills) == pnl


def trade(trade_id: str, price: str, quantity: str = "0.5", timestamp: int = 1) -> Trade:
    return Trade("BTCUSDT", trade_id, D(price), D(quantity), Side.BUY, timestamp)


def test_trades_on_the_grid_pass() -> None:
    check_trades([trade("a", "30000.1"), trade("b", "30000.2", timestamp=2)], BTC)


@pytest.mark.parametrize(
    ("trades", "problem"),
    [
        ([trade("a", "30000.15")], "off BTCUSDT's tick"),
        ([trade("a", "30000.1", "0.0005")], "off BTCUSDT's step"),
        ([trade("a", "30000.1"), trade("a", "30000.1")], "delivered twice"),
        ([trade("a", "30000.1", timestamp=2), trade("b", "30000.1", timestamp=1)], "oldest first"),
    ],
)
def test_trades_off_the_grid_twice_or_backwards_fail(trades: list[Trade], problem: str) -> None:
    with pytest.raises(AssertionError, match=problem):
        check_trades(trades, BTC)
