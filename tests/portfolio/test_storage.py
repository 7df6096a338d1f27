"""Equity snapshots, position fees and risk halts in a real SQLite file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from marketmaestro.model import Position
from marketmaestro.storage import EquitySnapshot, RiskHalt, Store


def snapshot(strategy: str, timestamp: int, equity: str) -> EquitySnapshot:
    d = Decimal
    return EquitySnapshot("paper", strategy, timestamp, d(equity), d("1.5"), d("-0.25"), d("0.01"), d(100))


def test_snapshots_are_listed_oldest_first_per_account_or_strategy(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.add_equity_snapshots(
            [snapshot("", 1000, "10000"), snapshot("sma", 1000, "1.24"), snapshot("", 2000, "10000.5")]
        )
        store.add_equity_snapshots([snapshot("", 3000, "9999.123456789")])
        account = store.list_equity_snapshots("paper")
        assert [(s.timestamp, s.equity) for s in account] == [
            (1000, Decimal("10000")),
            (2000, Decimal("10000.5")),
            (3000, Decimal("9999.123456789")),  # exact, not a float
        ]
        assert store.list_equity_snapshots("paper", strategy="sma") == [snapshot("sma", 1000, "1.24")]
        assert [s.timestamp for s in store.list_equity_snapshots("paper", limit=2)] == [2000, 3000]
        assert [s.timestamp for s in store.list_equity_snapshots("paper", since=2000)] == [2000, 3000]
        assert store.list_equity_snapshots("other") == []


def test_a_snapshot_with_a_float_is_refused_naming_the_field(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        bad = EquitySnapshot("paper", "", 1, 1.5, Decimal(0), Decimal(0), Decimal(0), Decimal(0))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"equity snapshot paper/\(account\) equity is 1\.5"):
            store.add_equity_snapshots([bad])
        assert store.list_equity_snapshots("paper") == []


def test_position_fees_round_trip(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        position = Position(
            "paper", "BTCUSDT", Decimal("0.01"), Decimal(30000), strategy="a", fees=Decimal("0.3")
        )
        store.save_position(position)
        assert store.list_positions(exchange="paper") == [position]


def test_a_halt_is_kept_replaced_and_cleared(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path) as store:
        assert store.get_risk_halt("paper") is None
        store.set_risk_halt(RiskHalt("paper", "max_daily_loss", "lost 120", 1, 2))
        store.set_risk_halt(RiskHalt("paper", "max_drawdown", "down 30%", 3, 4))
    with Store(path) as store:  # survives a restart
        assert store.get_risk_halt("paper") == RiskHalt("paper", "max_drawdown", "down 30%", 3, 4)
        assert store.clear_risk_halt("paper") is True
        assert store.clear_risk_halt("paper") is False
        assert store.get_risk_halt("paper") is None
