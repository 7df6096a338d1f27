"""Valuation arithmetic: marks and conversions, fees in the quote currency, P&L per strategy, equity."""

from __future__ import annotations

from decimal import Decimal

from marketmaestro.model import Balance, Position, Side
from marketmaestro.portfolio import Marks, apply_fill, fee_in_quote
from marketmaestro.portfolio.valuation import balance_changes, report
from tests.portfolio.conftest import INSTRUMENTS, make_fill

D = Decimal
BTC = INSTRUMENTS["BTCUSDT"]


def marks(**prices: str) -> Marks:
    found = Marks(INSTRUMENTS)
    for symbol, price in prices.items():
        found.update(symbol, D(price))
    return found


def test_rates_go_through_a_symbol_either_way_or_are_unknown() -> None:
    m = marks(BTCUSDT="50000", ETHBTC="0.05")
    assert m.rate("BTC", "USDT") == D(50000)
    assert m.rate("USDT", "BTC") == D(1) / D(50000)
    assert m.rate("ETH", "BTC") == D("0.05")
    assert m.rate("USDT", "USDT") == 1
    assert m.rate("ETH", "USDT") is None  # no ETHUSDT mark: never guessed through a chain
    m.update("BTCUSDT", D(0))  # a zero price is ignored, the last good one kept
    assert m.get("BTCUSDT") == D(50000)


def test_a_fee_in_quote_is_kept_in_base_times_the_price_otherwise_at_the_mark() -> None:
    m = marks(BNBUSDT="300")
    assert fee_in_quote(make_fill(Side.BUY, "0.1", "50000", fee="5"), BTC, m) == D(5)
    base_fee = make_fill(Side.BUY, "0.1", "50000", fee="0.0001", fee_currency="BTC")
    assert fee_in_quote(base_fee, BTC, m) == D("5.0000")
    bnb_fee = make_fill(Side.BUY, "0.1", "50000", fee="0.02", fee_currency="BNB")
    assert fee_in_quote(bnb_fee, BTC, m) == D("6.00")
    unknown = make_fill(Side.BUY, "0.1", "50000", fee="3", fee_currency="XYZ")
    assert fee_in_quote(unknown, BTC, m) is None


def test_a_spot_fill_moves_base_quote_and_fee_currency() -> None:
    buy = make_fill(Side.BUY, "0.1", "50000", fee="5")
    assert balance_changes(buy, BTC) == {"BTC": D("0.1"), "USDT": D("-5005.0")}
    sell = make_fill(Side.SELL, "0.1", "50000", fee="0.02", fee_currency="BNB")
    assert balance_changes(sell, BTC) == {"BTC": D("-0.1"), "USDT": D("5000.0"), "BNB": D("-0.02")}


def test_the_report_values_each_strategy_and_the_account() -> None:
    flat = {name: Position("paper", "BTCUSDT", D(0), D(0), strategy=name) for name in ("", "a", "b")}
    a_buy = make_fill(Side.BUY, "0.2", "50000", strategy="a", fee="10")
    b_sell = make_fill(Side.SELL, "0.1", "51000", strategy="b", fee="5.1")
    a = apply_fill(flat["a"], a_buy, fee=D(10))
    b = apply_fill(flat["b"], b_sell, fee=D("5.1"))
    account = apply_fill(apply_fill(flat[""], a_buy, fee=D(10)), b_sell, fee=D("5.1"))
    balances = [Balance("USDT", D("10084.9")), Balance("BTC", D("0.1")), Balance("DOGE", D(7))]
    result = report("paper", 1, [account, a, b], balances, INSTRUMENTS, marks(BTCUSDT="52000"), "USDT")

    sa, sb = result.strategies
    assert (sa.strategy, sa.realized_pnl, sa.unrealized_pnl, sa.fees) == ("a", 0, D("400.0"), 10)
    assert sa.net_pnl == D("390.0")
    assert sa.exposure == D("10400.0")
    assert (sb.strategy, sb.unrealized_pnl, sb.fees, sb.net_pnl) == ("b", D("-100.0"), D("5.1"), D("-105.1"))
    # The account: 0.1 left of a's entry at 50000 after b's sale at 51000 realised 100.
    assert (result.account.realized_pnl, result.account.unrealized_pnl) == (D("100.0"), D("200.0"))
    assert result.account.fees == D("15.1")
    assert result.strategy("") is result.account
    assert result.strategy("nobody").net_pnl == 0
    # Equity: USDT plus BTC at the mark; DOGE has no mark, so it is listed as unpriced, not guessed.
    assert result.equity == D("10084.9") + D("5200.0")
    assert result.unpriced == ("DOGE",)
    assert result.asset_value("BTC") == D("5200.0")
