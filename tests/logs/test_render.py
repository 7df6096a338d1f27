"""render_log and ``mm logs`` on logs written through the real setup."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from marketmaestro.cli.logs_cmd import logs
from marketmaestro.logs import LoggingHandle, component_action, log_event, render_log

Configure = Callable[..., LoggingHandle]


@pytest.fixture
def trading_log(configure: Configure, log_file: Path) -> Path:
    """A log of four tasks, written by the real setup then closed.

    1. binance BTCUSDT sma_cross: an order submitted, with a nested risk check (info);
    2. bybit ETHUSDT grid: a login that fails (error);
    3. no context: a debug heartbeat;
    4. bybit: a warning about latency.
    """
    handle = configure(file=log_file)
    with component_action(
        "order.submit", component="engine", exchange="binance", symbol="BTCUSDT", strategy="sma_cross"
    ):
        log_event("risk.checked", rules=3)
    with (
        pytest.raises(PermissionError),
        component_action(
            "exchange.login", component="exchange", exchange="bybit", symbol="ETHUSDT", strategy="grid"
        ),
    ):
        raise PermissionError("invalid signature")
    log_event("heartbeat", level="debug", component="supervisor")
    log_event("latency.high", level="warning", component="feed", exchange="bybit", millis=950)
    handle.close()
    return log_file


def render(path: Path, **filters: str) -> tuple[int, str]:
    out = io.StringIO()
    count = render_log(path, out, **filters)  # type: ignore[arg-type]
    return count, out.getvalue()


def test_without_filters_every_task_is_drawn(trading_log: Path) -> None:
    count, text = render(trading_log)
    assert count == 4
    for name in ("order.submit", "risk.checked", "exchange.login", "heartbeat", "latency.high"):
        assert name in text


def test_filter_by_exchange_keeps_whole_tasks(trading_log: Path) -> None:
    count, text = render(trading_log, exchange="binance")
    assert count == 1
    # The nested event has no exchange field, but belongs to the matching task.
    assert "order.submit" in text and "risk.checked" in text
    assert "bybit" not in text

    count, text = render(trading_log, exchange="bybit")
    assert count == 2
    assert "exchange.login" in text and "latency.high" in text


def test_filter_by_strategy_and_symbol(trading_log: Path) -> None:
    count, text = render(trading_log, strategy="grid")
    assert count == 1 and "exchange.login" in text
    count, text = render(trading_log, symbol="BTCUSDT")
    assert count == 1 and "order.submit" in text
    # Filters combine: no task is about binance and the grid strategy.
    assert render(trading_log, exchange="binance", strategy="grid") == (0, "")


def test_filter_by_level_counts_failed_actions_as_errors(trading_log: Path) -> None:
    count, text = render(trading_log, level="error")
    assert count == 1
    assert "exchange.login" in text and "invalid signature" in text

    count, text = render(trading_log, level="WARNING")
    assert count == 2
    assert "latency.high" in text and "exchange.login" in text

    # Messages without a level (the action messages) count as info; the heartbeat is debug.
    count, text = render(trading_log, level="info")
    assert count == 3 and "heartbeat" not in text
    assert render(trading_log, level="debug")[0] == 4


def test_bad_lines_are_reported_with_their_number_and_skipped(tmp_path: Path) -> None:
    message = {"message_type": "boot", "task_uuid": "u-1", "task_level": [1], "timestamp": 1.0}
    path = tmp_path / "log.jsonl"
    path.write_text(
        json.dumps(message) + "\n{not json\n" + json.dumps({"message_type": "no task"}) + "\n\n",
        encoding="utf-8",
    )
    out, err = io.StringIO(), io.StringIO()

    assert render_log(path, out, err=err) == 1
    assert "boot" in out.getvalue()
    assert f"{path}:2: skipped, not JSON" in err.getvalue()
    assert f"{path}:3: skipped, expected a string field 'task_uuid'" in err.getvalue()
    assert ":4:" not in err.getvalue()  # a blank line is not an error


def test_missing_file_and_bad_level_are_clear_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(FileNotFoundError, match=r"nope\.jsonl"):
        render_log(missing, io.StringIO())
    missing.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="level: got 'loud'"):
        render_log(missing, io.StringIO(), level="loud")


def test_colorize_adds_terminal_colours(trading_log: Path) -> None:
    plain, coloured = io.StringIO(), io.StringIO()
    render_log(trading_log, plain, colorize=False)
    render_log(trading_log, coloured, colorize=True)
    assert "\x1b[" not in plain.getvalue()
    assert "\x1b[" in coloured.getvalue()


# --- mm logs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoggingSection:
    file: Path


@dataclass(frozen=True)
class Config:
    logging: LoggingSection


@dataclass(frozen=True)
class State:
    """The smallest CLI state ``mm logs`` works with: something with a ``config()``."""

    log_file: Path

    def config(self) -> Config:
        return Config(logging=LoggingSection(file=self.log_file))


def test_cli_reads_the_file_given_with_filters(trading_log: Path) -> None:
    result = CliRunner().invoke(logs, ["--file", str(trading_log), "--strategy", "grid", "--no-color"])
    assert result.exit_code == 0, result.output
    assert "exchange.login" in result.stdout
    assert "order.submit" not in result.stdout
    assert "\x1b[" not in result.stdout


def test_cli_defaults_to_the_configured_file(trading_log: Path) -> None:
    result = CliRunner().invoke(logs, ["--level", "error", "--color"], obj=State(trading_log))
    assert result.exit_code == 0, result.output
    assert "exchange.login" in result.stdout
    assert "heartbeat" not in result.stdout
    assert "\x1b[" in result.stdout


def test_cli_says_when_nothing_matches(trading_log: Path) -> None:
    result = CliRunner().invoke(logs, ["--exchange", "kraken"], obj=State(trading_log))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no task matches the filters" in result.stderr


def test_cli_missing_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    missing = tmp_path / "never-written.jsonl"
    result = CliRunner().invoke(logs, [], obj=State(missing))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"mm logs: no log file at {missing} (nothing logged yet, or another --file?)"
    ]


def test_cli_rejects_an_unknown_level(trading_log: Path) -> None:
    result = CliRunner().invoke(logs, ["--file", str(trading_log), "--level", "loud"])
    assert result.exit_code == 2
    assert "'loud' is not one of" in result.stderr


def test_cli_without_configuration_needs_file() -> None:
    result = CliRunner().invoke(logs, ["--level", "error"])
    assert result.exit_code == 2
    assert "no configuration available: pass --file PATH" in result.stderr
