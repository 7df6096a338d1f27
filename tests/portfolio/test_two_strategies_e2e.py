"""The real ``mm run``: two strategies on one paper account keep separate P&L (checked against the fills in
the database), a third strategy's order denied by its own risk section never reaches the exchange and the
strategy hears the rule and reason in ``on_order``; everything read over the token-protected API."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import clean_environ, mm_command, paper_settings

TOKEN = "portfolio-test-token-5d2e"
DEADLINE = 60.0
ROUND_TRIPS = 3

# Buys when flat, closes when holding, until it has placed 2 x ROUND_TRIPS orders: then it stays flat.
TRADER = """
def settings():
    return {"interval": "1m"}

def on_kline(kline):
    placed = get_state("placed", 0)
    if placed >= MAX_ORDERS:
        return None
    set_state("placed", placed + 1)
    if position()["quantity"] == 0:
        return {"action": "buy", "quantity": get_config("size", 0.01), "type": "market", "reason": "in"}
    return {"action": "close", "type": "market", "reason": "out"}

def on_order(order):
    if order["status"] == "rejected":
        set_state("rejected", order["error"])
""".replace("MAX_ORDERS", str(2 * ROUND_TRIPS))


def _get(port: int, path: str, **params: str) -> httpx.Response | None:
    try:
        return httpx.get(
            f"http://127.0.0.1:{port}/api/v1{path}",
            params=params,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=3,
        )
    except httpx.TransportError:
        return None


def _wait_for(predicate, what: str):  # type: ignore[no-untyped-def]
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        result = predicate()
        if result:
            return result
        time.sleep(0.25)
    pytest.fail(f"timed out after {DEADLINE:g} s waiting for {what}")


def _query(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        try:
            return conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError:
            return []


def _fills_of(db: Path, strategy: str) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    rows = _query(
        db, "select side, quantity, price, fee from fills where strategy = ? order by rowid", strategy
    )
    return [(side, Decimal(q), Decimal(p), Decimal(f)) for side, q, p, f in rows]


@pytest.fixture
def bot(tmp_path: Path):  # type: ignore[no-untyped-def]
    trader = tmp_path / "trader.star"
    trader.write_text(TRADER)
    settings = paper_settings(tmp_path, strategy=trader)
    config = yaml.safe_load(settings.read_text())
    config["portfolio"] = {"snapshot_interval": 0.3}
    config["exchanges"]["paper"]["pairs"][0]["strategies"] = [
        {"name": "a", "file": str(trader), "config": {"size": 0.01}},
        {"name": "b", "file": str(trader), "config": {"size": 0.02}},
        {
            "name": "c",
            "file": str(trader),
            "config": {"size": 0.01},
            "risk": {"max_order_size": {"default": 0.005}},
        },
    ]
    settings.write_text(yaml.safe_dump(config))
    env = clean_environ(MM_API__TOKEN=TOKEN)
    out, err = (tmp_path / "stdout.txt").open("w"), (tmp_path / "stderr.txt").open("w")
    proc = subprocess.Popen([*mm_command(), "run"], cwd=tmp_path, env=env, stdout=out, stderr=err)
    try:
        yield proc, tmp_path / "bot.db", config["api"]["port"]
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=15)
        out.close()
        err.close()


def test_two_strategies_on_one_account_have_separate_pnl(bot) -> None:  # type: ignore[no-untyped-def]
    proc, db, port = bot
    done = 2 * ROUND_TRIPS
    _wait_for(
        lambda: len(_fills_of(db, "a")) == done and len(_fills_of(db, "b")) == done,
        f"{done} fills of each of strategies a and b",
    )

    def settled() -> dict[str, Any] | None:
        response = _get(port, "/pnl", exchange="paper")
        if response is None or response.status_code != 200:
            return None
        body: dict[str, Any] = response.json()["paper"]
        fills_applied = {name: body["strategies"].get(name, {}).get("fees") for name in ("a", "b")}
        expected = {name: str(sum(f[3] for f in _fills_of(db, name))) for name in ("a", "b")}
        return body if fills_applied == expected else None

    pnl = _wait_for(settled, "the API's P&L to include every fill")
    assert pnl["valuation_currency"] == "USDT"
    strategies = pnl["strategies"]
    assert set(strategies) == {"a", "b"}, "c never traded"
    for name in ("a", "b"):
        fills = _fills_of(db, name)
        # Flat after whole round trips: realised P&L is what the sales brought in minus what the buys cost.
        realized = sum((q * p if side == "sell" else -q * p) for side, q, p, _ in fills)
        fees = sum(f for *_, f in fills)
        served = {k: Decimal(v) for k, v in strategies[name].items() if k != "strategy"}
        assert served["realized_pnl"] == realized, name
        assert served["unrealized_pnl"] == 0
        assert served["fees"] == fees
        assert served["net_pnl"] == realized - fees
        assert served["exposure"] == 0
    a_fees, b_fees = (Decimal(strategies[n]["fees"]) for n in ("a", "b"))
    assert a_fees != b_fees  # b trades twice the size
    account = {k: Decimal(v) for k, v in pnl["account"].items() if k != "strategy"}
    assert account["fees"] == a_fees + b_fees
    assert account["realized_pnl"] == sum(Decimal(strategies[n]["realized_pnl"]) for n in ("a", "b"))

    # Every fill explained the balances the paper exchange reported after it: no difference was recorded.
    assert _query(db, "select data from events where kind = 'portfolio.balance_difference'") == []

    # The whole portfolio: balances valued, the strategies' positions flat.
    portfolio = _get(port, "/portfolio")
    assert portfolio is not None and portfolio.status_code == 200
    paper = portfolio.json()["paper"]
    assert Decimal(paper["equity"]) > 0
    assert {p["strategy"] for p in paper["strategies"]["a"]["positions"]} == {"a"}

    # c's order was denied by its own risk section: rejected, never sent, and c heard why.
    c_orders = _query(db, "select status, error from orders where strategy = 'c'")
    assert c_orders, "c placed orders"
    assert {status for status, _ in c_orders} == {"rejected"}
    assert all("risk rule max_order_size" in error for _, error in c_orders)
    assert _fills_of(db, "c") == []
    (heard,) = _query(db, "select value from strategy_state where strategy = 'c' and key = 'rejected'")
    assert "max_order_size" in heard[0] and "over the limit of 0.005" in heard[0]

    # Equity history and risk metrics, token-protected.
    equity = _wait_for(
        lambda: (
            (r := _get(port, "/equity", exchange="paper")) is not None and len(r.json()) >= 2 and r.json()
        ),
        "two equity snapshots",
    )
    assert all(s["strategy"] == "" for s in equity)
    strategy_history = _get(port, "/equity", exchange="paper", strategy="a")
    assert strategy_history is not None and strategy_history.json()
    risk = _get(port, "/risk")
    assert risk is not None and risk.status_code == 200
    metrics = risk.json()["paper"]["metrics"]
    assert Decimal(metrics["equity"]) > 0 and "current_drawdown" in metrics and "var95" in metrics
    assert "max_order_size" in risk.json()["paper"]["rules"]
    unauthorised = httpx.get(f"http://127.0.0.1:{port}/api/v1/pnl", timeout=3)
    assert unauthorised.status_code == 401

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 0
