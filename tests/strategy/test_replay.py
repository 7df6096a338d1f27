"""The replay behind ``mm strategy test``: many klines per ``eval``, with the semantics of one call each.

Every test runs real Starlark through the real engine; the expected values are worked out here in Python.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from marketmaestro.model import Kline
from marketmaestro.plugins.manager import load_plugins
from marketmaestro.strategy.engine import StrategyEngine
from marketmaestro.strategy.replay import Replay

START = 1_704_067_200_000
MINUTE = 60_000


def _klines(count: int, symbol: str = "BTCUSDT") -> list[Kline]:
    closes = [100.0 + (i % 7) - (i % 3) * 0.5 for i in range(count)]
    return [
        Kline(symbol, "1m", START + i * MINUTE, c - 0.25, c + 1.0, c - 1.0, c, 10.0 + i)
        for i, c in enumerate(closes)
    ]


def _engine(tmp_path: Path, source: str, history_max: int = 1000) -> StrategyEngine:
    path = tmp_path / "probe.star"
    path.write_text(textwrap.dedent(source).lstrip())
    registry = load_plugins(environ={"MM_LOAD_PLUGINS": "indicators"}).registry
    functions = {name: entry.function for name, entry in registry.functions.items()}
    engine = StrategyEngine(path, functions, history_max=history_max, starlark=registry.starlark_functions())
    engine.load()
    return engine


def _run(
    engine: StrategyEngine, klines: list[Kline], chunk: int = 50_000
) -> tuple[list[dict[str, Any]], Replay]:
    replay = Replay(engine, "BTCUSDT", chunk=chunk)
    return list(replay.run(klines)), replay


HISTORY_PROBE = """
def settings():
    return {"interval": "1m"}

def on_kline(kline):
    h = history(4)
    log(kline["timestamp"], h["timestamp"], h["close"], now(), kline["close"] == h["close"][-1])
"""


@pytest.mark.parametrize("chunk", [3, 7, 50_000])
def test_history_now_and_logs_follow_each_kline_across_chunks(tmp_path: Path, chunk: int) -> None:
    klines = _klines(20)
    records, replay = _run(_engine(tmp_path, HISTORY_PROBE), klines, chunk)
    assert [r["type"] for r in records] == ["log"] * 20
    for i, record in enumerate(records):
        window = klines[max(0, i - 3) : i + 1]
        expected = (
            f"{klines[i].timestamp} {[k.timestamp for k in window]} {[k.close for k in window]} "
            f"{klines[i].timestamp} True"
        )
        assert record == {"type": "log", "timestamp": klines[i].timestamp, "message": expected}
    assert replay.summary()["klines"] == 20


def test_history_is_capped_by_the_configured_maximum(tmp_path: Path) -> None:
    source = HISTORY_PROBE.replace("history(4)", "history(100)")
    records, _ = _run(_engine(tmp_path, source, history_max=5), _klines(12), chunk=4)
    lengths = [len(r["message"].split("] [")[0].split(",")) for r in records]
    assert lengths == [1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 5]


def test_a_runtime_error_is_recorded_on_its_kline_and_the_next_kline_still_runs(tmp_path: Path) -> None:
    source = """
    def settings():
        return {"interval": "1m"}

    def on_kline(kline):
        log("before", kline["timestamp"])
        if kline["timestamp"] % (3 * 60000) == 0:
            return 1 // 0
        return {"action": "buy", "quantity": 0.5} if kline["timestamp"] % (5 * 60000) == 0 else None
    """
    klines = _klines(10)
    records, replay = _run(_engine(tmp_path, source), klines, chunk=4)
    failing = [k.timestamp for k in klines if k.timestamp % (3 * MINUTE) == 0]
    errors = [r for r in records if r["type"] == "error"]
    assert [e["timestamp"] for e in errors] == failing
    assert all(e["error"].startswith("on_kline: ") and "division by zero" in e["error"] for e in errors)
    assert all("probe.star" in e["stack"] and "<marketmaestro replay>" not in e["stack"] for e in errors)
    # Every kline ran (and logged) despite the errors, in order, each error before its own log line.
    logs = [r for r in records if r["type"] == "log"]
    assert [r["timestamp"] for r in logs] == [k.timestamp for k in klines]
    for error in errors:
        at = records.index(error)
        assert records[at + 1] == {
            "type": "log",
            "timestamp": error["timestamp"],
            "message": f"before {error['timestamp']}",
        }
    buys = [r for r in records if r["type"] == "signal"]
    assert [b["timestamp"] for b in buys] == [
        k.timestamp for k in klines if k.timestamp % (5 * MINUTE) == 0 and k.timestamp % (3 * MINUTE) != 0
    ]
    summary = replay.summary()
    assert summary["errors"] == len(failing) and summary["klines"] == 10


def test_a_fill_is_seen_by_the_next_kline_and_state_carries_over(tmp_path: Path) -> None:
    source = """
    def settings():
        return {"interval": "1m"}

    def on_kline(kline):
        seen = get_state("seen", 0) + 1
        set_state("seen", seen)
        held = position()["quantity"]
        log(seen, held)
        if held == 0:
            return {"action": "buy", "quantity": 0.25, "reason": "flat"}
        return {"action": "close"}
    """
    klines = _klines(6)
    records, replay = _run(_engine(tmp_path, source), klines, chunk=4)
    logs = [r["message"] for r in records if r["type"] == "log"]
    assert logs == ["1 0.0", "2 0.25", "3 0.0", "4 0.25", "5 0.0", "6 0.25"]
    signals = [(r["action"], r["quantity"], r["price"]) for r in records if r["type"] == "signal"]
    assert signals == [("buy" if i % 2 == 0 else "close", "0.25", k.close) for i, k in enumerate(klines)]
    assert replay.summary()["entries"] == 3 and replay.summary()["round_trips"] == 3


def test_a_malformed_signal_is_an_error_record_and_the_run_goes_on(tmp_path: Path) -> None:
    source = """
    def settings():
        return {"interval": "1m"}

    def on_kline(kline):
        return {"action": "buy", "quantity": -1}
    """
    records, replay = _run(_engine(tmp_path, source), _klines(3))
    assert [r["type"] for r in records] == ["error"] * 3
    assert "quantity" in records[0]["error"] and "-1" in records[0]["error"]
    assert replay.summary()["errors"] == 3 and replay.summary()["klines"] == 3


def test_history_rejects_a_bad_n_with_the_builtins_message(tmp_path: Path) -> None:
    source = HISTORY_PROBE.replace("history(4)", "history(0)")
    records, _ = _run(_engine(tmp_path, source), _klines(2))
    assert [r["type"] for r in records] == ["error", "error"]
    assert "history(n): n must be a positive int, got 0" in records[0]["error"]
