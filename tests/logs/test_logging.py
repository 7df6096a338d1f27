"""configure_logging, the redactor and the helpers components log with, through real eliot."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.lowlevel

from marketmaestro.logs import (
    MASK,
    LoggingHandle,
    Redactor,
    component_action,
    is_secret_field,
    level_of,
    log_event,
)
from marketmaestro.model import Side

Configure = Callable[..., LoggingHandle]

EARLY_SECRET = "sk-live-EARLY-0123456789"
LATE_SECRET = "bybit-secret-LATE-abcdef"


def read_messages(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def by_type(messages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("message_type") == kind or m.get("action_type") == kind]


@dataclass(frozen=True)
class ExchangeCredentials:
    name: str
    api_key: str
    passphrase: str


# --- secrets ---------------------------------------------------------------------------------


def test_secrets_given_at_setup_and_added_later_never_reach_file_or_console(
    configure: Configure, log_file: Path, console: io.StringIO
) -> None:
    handle = configure(file=log_file, console=True, secrets=[EARLY_SECRET], console_stream=console)
    handle.add_secret(LATE_SECRET)

    with (
        pytest.raises(PermissionError),
        component_action("exchange.login", component="exchange", exchange="bybit"),
    ):
        raise PermissionError(f"key {EARLY_SECRET} rejected, secret {LATE_SECRET} too")
    log_event("config.loaded", url=f"wss://stream?auth={LATE_SECRET}", nested={"keys": [[EARLY_SECRET]]})
    try:
        raise RuntimeError(f"signature with {LATE_SECRET} failed")
    except RuntimeError:
        logging.getLogger("trio_websocket").exception("handshake failed for %s", EARLY_SECRET)

    text = log_file.read_text(encoding="utf-8")
    messages = read_messages(log_file)
    tracebacks = by_type(messages, "eliot:traceback")
    # The failure really was logged, with its message and its traceback, only redacted.
    assert len(tracebacks) == 1
    assert "PermissionError: key *** rejected, secret *** too" in tracebacks[0]["traceback"]
    failed = [m for m in by_type(messages, "exchange.login") if m["action_status"] == "failed"]
    assert failed[0]["reason"] == "key *** rejected, secret *** too"
    assert by_type(messages, "config.loaded")[0]["nested"] == {"keys": [[MASK]]}
    stdlib = by_type(messages, "stdlib")[0]
    assert stdlib["message"] == f"handshake failed for {MASK}"
    assert "RuntimeError: signature with *** failed" in stdlib["traceback"]
    for secret in (EARLY_SECRET, LATE_SECRET):
        assert secret not in text
        assert secret not in console.getvalue()
    assert "✖ exchange.login: PermissionError: key *** rejected" in console.getvalue()


def test_secret_named_fields_are_masked_recursively_even_unknown_values(
    configure: Configure, log_file: Path
) -> None:
    configure(file=log_file)
    log_event(
        "exchange.configured",
        exchange="okx",
        api_key="unknown-key-1",
        options={"bybit_api_secret": "unknown-2", "testnet": True, "accounts": [{"Password": "unknown-3"}]},
        credentials=ExchangeCredentials(name="main", api_key="unknown-4", passphrase="unknown-5"),
        token=None,
        has_private_key=True,
    )

    (message,) = by_type(read_messages(log_file), "exchange.configured")
    assert message["api_key"] == MASK
    assert message["options"] == {"bybit_api_secret": MASK, "testnet": True, "accounts": [{"Password": MASK}]}
    assert message["credentials"] == {"name": "main", "api_key": MASK, "passphrase": MASK}
    # Nothing to hide in a missing value or a flag, and they say whether credentials are set.
    assert message["token"] is None
    assert message["has_private_key"] is True
    assert message["exchange"] == "okx"


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("api_key", True),
        ("apiKey", True),
        ("X-Api-Key", True),
        ("bybit_api_secret", True),
        ("PASSPHRASE", True),
        ("refresh_token", True),
        ("private_key", True),
        ("symbol", False),
        ("client_order_id", False),
        ("max_tokens", False),
    ],
)
def test_secret_field_names(name: str, secret: bool) -> None:
    assert is_secret_field(name) is secret


def test_redactor_ignores_short_values_and_masks_the_longest_secret_whole() -> None:
    redactor = Redactor(["", "abc", None, "abcd"])
    redactor.add("abcd-efgh")
    assert redactor.secrets_count == 2
    assert redactor.redact("abc abcd abcd-efgh") == "abc *** ***"


def test_redactor_removes_json_escaped_spelling_of_a_secret() -> None:
    secret = 'pa"ss\\word'
    line = Redactor([secret]).serialize({"message_type": "x", "note": f"login with {secret}"})
    assert json.loads(line)["note"] == "login with ***"


def test_redactor_rejects_a_non_string_secret() -> None:
    with pytest.raises(TypeError, match="secret: expected a string, got a value of type int"):
        Redactor().add(12345678)  # type: ignore[arg-type]


# --- the file ---------------------------------------------------------------------------------


def test_file_gets_one_json_line_per_message_written_at_once(configure: Configure, log_file: Path) -> None:
    configure(file=log_file)
    log_event(
        "fill.recorded",
        price=Decimal("27123.45"),
        side=Side.BUY,
        path=Path("/var/lib/mm"),
        at=dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC),
        credentials=ExchangeCredentials(name="main", api_key="k" * 8, passphrase=""),
        note="multi\nline",
    )

    # Read while the handle is still open: the line was flushed when it was logged.
    (message,) = by_type(read_messages(log_file), "fill.recorded")
    assert message["price"] == "27123.45"
    assert message["side"] == "buy"
    assert message["path"] == "/var/lib/mm"
    assert message["at"] == "2024-05-01T12:30:00+00:00"
    assert message["credentials"] == {"name": "main", "api_key": MASK, "passphrase": ""}
    assert message["level"] == "info"
    assert len(log_file.read_text(encoding="utf-8").splitlines()) == len(read_messages(log_file))


async def test_actions_follow_trio_tasks_into_one_task_tree(configure: Configure, log_file: Path) -> None:
    configure(file=log_file)

    async def fetch(symbol: str) -> None:
        await trio.lowlevel.checkpoint()
        log_event("ticker.fetched", symbol=symbol)

    with component_action("tickers.refresh", component="feed", exchange="binance"):
        async with trio.open_nursery() as nursery:
            for symbol in ("BTCUSDT", "ETHUSDT"):
                nursery.start_soon(fetch, symbol)

    messages = read_messages(log_file)
    (start,) = [m for m in by_type(messages, "tickers.refresh") if m["action_status"] == "started"]
    fetched = by_type(messages, "ticker.fetched")
    assert {m["symbol"] for m in fetched} == {"BTCUSDT", "ETHUSDT"}
    assert {m["task_uuid"] for m in fetched} == {start["task_uuid"]}
    # Context fields that are None are left out.
    assert "symbol" not in start and "strategy" not in start
    assert start["component"] == "feed"


def test_a_failed_action_logs_its_traceback_once_and_counts_as_error(
    configure: Configure, log_file: Path
) -> None:
    configure(file=log_file)
    with (
        pytest.raises(KeyError),
        component_action("outer", component="engine"),
        component_action("inner", component="engine"),
    ):
        raise KeyError("missing")

    messages = read_messages(log_file)
    assert len(by_type(messages, "eliot:traceback")) == 1
    failures = [m for m in messages if m.get("action_status") == "failed"]
    assert [m["action_type"] for m in failures] == ["inner", "outer"]
    assert all(m["exception"] == "builtins.KeyError" and level_of(m) == "error" for m in failures)


def test_bad_levels_are_rejected_naming_the_value() -> None:
    expected = "expected one of debug, info, warning, error"
    with pytest.raises(ValueError, match=f"level: got 'verbose'; {expected}"):
        log_event("x", level="verbose")
    with (
        pytest.raises(ValueError, match=f"level: got 'loud'; {expected}"),
        component_action("x", component="c", level="loud"),
    ):
        pass


def test_configure_rejects_a_bad_level(configure: Configure) -> None:
    with pytest.raises(ValueError, match="level: got 'trace'"):
        configure(level="trace")


# --- the console ------------------------------------------------------------------------------

CLOCK = r"\d\d:\d\d:\d\d\.\d{3}"


def test_console_prints_one_readable_line_per_event(configure: Configure, console: io.StringIO) -> None:
    configure(console=True, console_stream=console)
    log_event(
        "order.placed",
        component="engine",
        exchange="binance",
        symbol="BTCUSDT",
        strategy="sma_cross",
        side=Side.SELL,
        price=Decimal("100.5"),
        note="take profit",
    )
    log_event("heartbeat", component="supervisor", exchange="", symbol=None)

    lines = console.getvalue().splitlines()
    assert re.fullmatch(
        rf"{CLOCK} INFO    engine binance/BTCUSDT/sma_cross "
        r'order\.placed side=sell price=100\.5 note="take profit"',
        lines[0],
    )
    # Empty context parts are left out, not printed as "//".
    assert re.fullmatch(rf"{CLOCK} INFO    supervisor heartbeat", lines[1])


def test_console_shows_action_start_success_and_failure(configure: Configure, console: io.StringIO) -> None:
    configure(console=True, console_stream=console)
    with component_action("order.submit", component="engine", exchange="binance", symbol="ETHUSDT") as act:
        log_event("risk.checked", rules=2)
        act.add_success_fields(venue_order_id="8812")
    with pytest.raises(ConnectionError), component_action("ws.connect", component="feed", exchange="bybit"):
        raise ConnectionError("refused")

    lines = console.getvalue().splitlines()
    assert re.fullmatch(rf"{CLOCK} INFO    engine binance/ETHUSDT ▶ order\.submit", lines[0])
    # An event inside an action inherits the action's context.
    assert re.fullmatch(rf"{CLOCK} INFO    engine binance/ETHUSDT risk\.checked rules=2", lines[1])
    assert re.fullmatch(
        rf"{CLOCK} INFO    engine binance/ETHUSDT ✔ order\.submit \(\d+ ms\) venue_order_id=8812", lines[2]
    )
    assert re.fullmatch(
        rf"{CLOCK} ERROR   feed bybit ✖ ws\.connect: ConnectionError: refused \(\d+ ms\)", lines[-1]
    )


def test_console_filters_by_level(configure: Configure, console: io.StringIO) -> None:
    configure(console=True, level="warning", console_stream=console)
    log_event("tick", level="debug")
    log_event("quote", level="info")
    log_event("slow.venue", level="warning")
    log_event("order.rejected", level="error")
    with component_action("strategy.evaluate", component="engine", level="debug"):
        pass
    with pytest.raises(ValueError), component_action("strategy.evaluate", component="engine", level="debug"):
        raise ValueError("bad script")

    shown = [line.split()[1:3] for line in console.getvalue().splitlines()]
    assert shown == [
        ["WARNING", "slow.venue"],
        ["ERROR", "order.rejected"],
        ["ERROR", "engine"],  # the traceback of the failed debug action
        ["ERROR", "engine"],  # its failure: a failure is an error whatever the action's level
    ]
    assert "✖ strategy.evaluate: ValueError: bad script" in console.getvalue()


def test_a_debug_action_is_hidden_whole_at_info(configure: Configure, console: io.StringIO) -> None:
    configure(console=True, level="info", console_stream=console)
    with component_action("tick.process", component="engine", level="debug"):
        log_event("signal", side="buy")

    # The success message has no level of its own: it takes its start's, and stays hidden.
    assert [line.split(maxsplit=2)[2] for line in console.getvalue().splitlines()] == [
        "engine signal side=buy"
    ]


# --- stdlib logging, closing, reconfiguring -------------------------------------------------------


def test_stdlib_logging_is_routed_at_the_configured_level(configure: Configure, log_file: Path) -> None:
    configure(file=log_file, level="info")
    logging.getLogger("hypercorn.error").info("Running on http://%s", "127.0.0.1:8000")
    logging.getLogger("alembic.runtime").debug("not at this level")

    stdlib = by_type(read_messages(log_file), "stdlib")
    assert [(m["component"], m["level"], m["message"]) for m in stdlib] == [
        ("hypercorn.error", "info", "Running on http://127.0.0.1:8000")
    ]


def test_close_leaves_no_destination_and_restores_stdlib(
    configure: Configure, log_file: Path, console: io.StringIO
) -> None:
    root = logging.getLogger()
    handlers_before, level_before = list(root.handlers), root.level
    handle = configure(file=log_file, console=True, level="debug", console_stream=console)
    assert root.level == logging.DEBUG
    log_event("before.close")
    handle.close()
    handle.close()  # closing twice is harmless

    log_event("after.close")
    logging.getLogger("trio_websocket").warning("after close")
    assert root.handlers == handlers_before
    assert root.level == level_before
    assert "after" not in log_file.read_text(encoding="utf-8")
    assert "before.close" in console.getvalue()
    assert "after" not in console.getvalue()
    assert handle.closed


def test_configuring_again_replaces_the_previous_setup(configure: Configure) -> None:
    first, second = io.StringIO(), io.StringIO()
    old = configure(console=True, console_stream=first)
    configure(console=True, console_stream=second)
    log_event("once")
    logging.getLogger("hypercorn.access").warning("once too")

    assert old.closed
    assert first.getvalue() == ""
    assert [line.split(maxsplit=2)[2] for line in second.getvalue().splitlines()] == [
        "once",
        "hypercorn.access once too",
    ]
