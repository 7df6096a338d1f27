"""``mm strategy check`` and ``mm strategy test``: the real command, the real engine, a real CSV."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import STRATEGIES, clean_environ, mm_command

REPO = Path(__file__).resolve().parents[2]
GEN_KLINES = REPO.parent / "shared" / "bench" / "gen_klines.py"


def _mm(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_environ(MM_LOAD_PLUGINS="indicators")
    return subprocess.run(
        [*mm_command(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def _klines(tmp_path: Path, rows: int) -> Path:
    out = tmp_path / "klines.csv"
    if GEN_KLINES.exists():
        subprocess.run([sys.executable, str(GEN_KLINES), str(rows), str(out)], check=True, timeout=60)
    else:  # outside the workspace: the same format, written here
        import math

        lines = ["timestamp,open,high,low,close,volume"]
        price = 30000.0
        for i in range(rows):
            close = 30000.0 * (1 + 0.01 * math.sin(i / 7.0) + 0.004 * math.sin(i / 2.3))
            lines.append(
                f"{1704067200000 + i * 60000},{price},{max(price, close)},{min(price, close)},{close},1.0"
            )
            price = close
        out.write_text("\n".join(lines) + "\n")
    return out


def _reference_trades(csv: Path, short: int = 10, long: int = 20) -> tuple[int, int]:
    """Entries and closes of the SMA crossover, computed in plain Python the way simple_sma decides."""
    closes = [float(line.split(",")[4]) for line in csv.read_text().splitlines()[1:]]
    held, entries, exits = False, 0, 0
    for i in range(long, len(closes)):
        window = closes[i - long : i + 1]

        def sma(values: list[float], n: int, end: int) -> float:
            return sum(values[end - n + 1 : end + 1]) / n

        f0, f1 = sma(window, short, len(window) - 2), sma(window, short, len(window) - 1)
        s0, s1 = sma(window, long, len(window) - 2), sma(window, long, len(window) - 1)
        if f0 <= s0 and f1 > s1 and not held:
            held, entries = True, entries + 1
        elif f0 >= s0 and f1 < s1 and held:
            held, exits = False, exits + 1
    return entries, exits


def test_check_lists_callbacks_and_settings(tmp_path: Path) -> None:
    result = _mm(tmp_path, "strategy", "check", str(STRATEGIES / "simple_sma.star"))
    assert result.returncode == 0, result.stderr
    assert "callbacks: on_kline, settings" in result.stdout
    assert "short_period: 10" in result.stdout and 'interval: "1m"' in result.stdout


def test_check_reports_a_broken_file_with_its_position(tmp_path: Path) -> None:
    broken = tmp_path / "broken.star"
    broken.write_text("def settings():\n    return {}\ndef on_kline(k):\n    return undefined_thing\n")
    result = _mm(tmp_path, "strategy", "check", str(broken))
    assert result.returncode == 1
    assert "broken.star:4:12: undefined: undefined_thing" in result.stderr


def test_test_runs_the_strategy_over_the_data_and_matches_a_plain_python_reference(tmp_path: Path) -> None:
    csv = _klines(tmp_path, 1500)
    result = _mm(
        tmp_path, "strategy", "test", str(STRATEGIES / "simple_sma.star"), "--data", str(csv), "--json"
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    summary = records[-1]
    assert summary["type"] == "summary" and summary["klines"] == 1500 and summary["errors"] == 0
    signals = [r for r in records if r["type"] == "signal"]
    entries, exits = _reference_trades(csv)
    assert entries > 5, "the data must cross often enough to test anything"
    assert (summary["entries"], summary["round_trips"]) == (entries, exits)
    assert [s["action"] for s in signals] == ["buy", "close"] * exits + ["buy"] * (entries - exits)
    assert all(s["simulated"] and s["quantity"] == "0.01" for s in signals)


def test_set_overrides_settings_and_text_output_has_a_summary(tmp_path: Path) -> None:
    csv = _klines(tmp_path, 600)
    result = _mm(
        tmp_path,
        "strategy",
        "test",
        str(STRATEGIES / "simple_sma.star"),
        "--data",
        str(csv),
        "--set",
        "position_size=0.5",
        "--set",
        "short_period=5",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1].startswith("summary: klines=600")
    buys = [line for line in lines if " BUY " in line]
    assert buys and all(" BUY 0.5 @ " in line and "SMA5 crossed above SMA20" in line for line in buys)


def test_bad_input_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time,o,h,l,c,v\n1,2,3,4,5,6\n")
    result = _mm(tmp_path, "strategy", "test", str(STRATEGIES / "simple_sma.star"), "--data", str(bad))
    assert result.returncode == 1 and "bad.csv:1: header" in result.stderr
    no_value = _mm(
        tmp_path,
        "strategy",
        "test",
        str(STRATEGIES / "simple_sma.star"),
        "--data",
        str(bad),
        "--set",
        "position_size",
    )
    assert no_value.returncode == 2 and "expected key=value" in no_value.stderr
