"""StarlarkScript: loading a .star file, its errors with file:line:col, and calling its functions."""

from __future__ import annotations

import re
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from marketmaestro.strategy import StarlarkScript, StrategyLoadError, StrategyRuntimeError


def write(folder: Path, source: str, name: str = "s.star") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source).lstrip())
    return path


def load(path: Path, builtins: dict[str, Callable[..., Any]] | None = None) -> StarlarkScript:
    return StarlarkScript(path, builtins or {}, lambda line: None)


MINIMAL = """
def settings():
    return {"interval": "1m"}

def on_kline(kline):
    return None
"""


def test_a_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        def settings():
            return {"a": 1

        def on_kline(kline):
            return None
        """,
    )
    with pytest.raises(StrategyLoadError) as caught:
        load(path)
    # The parser notices at the next line that the dict was never closed.
    assert re.match(rf"{re.escape(str(path))}:4:\d+: got def, want '}}'$", str(caught.value))


def test_an_undefined_name_is_found_at_load_time_with_file_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        def settings():
            return {}

        def on_kline(kline):
            return undefined_thing(kline)
        """,
    )
    with pytest.raises(StrategyLoadError) as caught:
        load(path)
    assert str(caught.value) == f"{path}:5:12: undefined: undefined_thing"


def test_an_error_while_the_file_runs_is_a_load_error_with_its_location(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        LIMIT = 1 // 0

        def settings():
            return {}

        def on_kline(kline):
            return None
        """,
    )
    with pytest.raises(StrategyLoadError) as caught:
        load(path)
    assert "division by zero" in str(caught.value)
    assert f"{path}:1:" in str(caught.value)


def test_settings_is_required(tmp_path: Path) -> None:
    path = write(tmp_path, "def on_kline(kline):\n    return None\n")
    with pytest.raises(StrategyLoadError) as caught:
        load(path)
    assert str(caught.value) == f"{path}: a strategy must define settings() returning its defaults"


def test_a_data_callback_is_required(tmp_path: Path) -> None:
    path = write(tmp_path, "def settings():\n    return {}\n\ndef on_start():\n    return None\n")
    with pytest.raises(StrategyLoadError) as caught:
        load(path)
    message = str(caught.value)
    assert str(path) in message
    for name in ("on_kline", "on_orderbook", "on_ticker"):
        assert name in message


def test_an_unreadable_file_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(StrategyLoadError) as caught:
        load(tmp_path / "missing.star")
    assert str(tmp_path / "missing.star") in str(caught.value)
    assert "cannot read" in str(caught.value)


def test_the_callbacks_defined_are_known(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "\ndef on_ticker(t):\n    return None\n\ndef helper():\n    return 1\n")
    assert load(path).callbacks == {"settings", "on_kline", "on_ticker"}


def test_call_passes_plain_values_and_returns_plain_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        def settings():
            return {"interval": "5m", "periods": [10, 20]}

        def on_kline(kline):
            return {"action": "buy", "quantity": double(kline["close"]) / 1000, "tags": (kline["symbol"],)}
        """,
    )
    script = load(path, {"double": lambda x: x * 2})
    assert script.call("settings") == {"interval": "5m", "periods": [10, 20]}
    assert script.call("on_kline", {"close": 100.0, "symbol": "BTCUSDT"}) == {
        "action": "buy",
        "quantity": 0.2,
        "tags": ("BTCUSDT",),
    }


def test_print_goes_to_the_print_callback(tmp_path: Path) -> None:
    lines: list[str] = []
    path = write(tmp_path, MINIMAL.replace("return None", 'print("close", kline)\n    return None'))
    script = StarlarkScript(path, {}, lines.append)
    script.call("on_kline", 5)
    assert lines == ["close 5"]


def test_a_runtime_error_names_the_callback_and_the_location_with_a_backtrace(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        def settings():
            return {}

        def on_kline(kline):
            x = {}
            return x["missing"]
        """,
    )
    script = load(path)
    with pytest.raises(StrategyRuntimeError) as caught:
        script.call("on_kline", 1)
    message = str(caught.value)
    assert message.startswith("on_kline: ")
    assert f"{path}" in message and ":6:13" in message
    assert 'key "missing" not in dict' in message
    assert caught.value.backtrace is not None
    assert "in on_kline" in caught.value.backtrace


def test_an_exception_in_a_builtin_is_a_runtime_error_with_its_message(tmp_path: Path) -> None:
    def explode(value: Any) -> None:
        raise ValueError(f"cannot use {value!r}")

    path = write(tmp_path, MINIMAL.replace("return None", "return explode(kline)"))
    script = load(path, {"explode": explode})
    with pytest.raises(StrategyRuntimeError) as caught:
        script.call("on_kline", 3)
    assert "cannot use 3" in str(caught.value)


def test_the_script_keeps_working_after_a_runtime_error(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("return None", "return 10 // kline"))
    script = load(path)
    with pytest.raises(StrategyRuntimeError):
        script.call("on_kline", 0)
    assert script.call("on_kline", 5) == 2


def test_module_globals_are_frozen(tmp_path: Path) -> None:
    """Why strategies keep state with set_state: a top-level dict cannot be changed by a callback."""
    path = write(
        tmp_path,
        """
        seen = {}

        def settings():
            return {}

        def on_kline(kline):
            seen["last"] = kline
            return None
        """,
    )
    with pytest.raises(StrategyRuntimeError) as caught:
        load(path).call("on_kline", 1)
    assert "frozen" in str(caught.value)


def test_calls_from_the_main_thread_run_on_another_thread_and_others_run_where_they_are(
    tmp_path: Path,
) -> None:
    """Calls into the binding from the main thread are slow (glibc reads /proc/self/maps for the main
    thread's stack on every call from C into Go), so they are handed to a helper thread."""
    seen: list[threading.Thread] = []

    def where() -> None:
        seen.append(threading.current_thread())

    script = load(write(tmp_path, MINIMAL.replace("return None", "return where()")), {"where": where})
    assert threading.current_thread() is threading.main_thread()
    script.call("on_kline", 1)
    assert seen[-1] is not threading.main_thread()

    def from_a_thread() -> None:
        script.call("on_kline", 2)

    worker = threading.Thread(target=from_a_thread)
    worker.start()
    worker.join()
    assert seen[-1] is worker


def test_an_error_in_a_prelude_builtin_is_told_from_the_strategy_s_call(tmp_path: Path) -> None:
    prelude = [
        (
            "<marketmaestro>[1]",
            "def total(values):\n    t = 0.0\n    for x in values:\n        t += x\n    return t\n",
        )
    ]
    path = write(tmp_path, MINIMAL.replace("return None", 'return total([1.0, "two"])'))
    script = StarlarkScript(path, {}, lambda line: None, prelude)
    assert script.call("settings") == {"interval": "1m"}
    with pytest.raises(StrategyRuntimeError) as caught:
        script.call("on_kline", 1)
    assert str(caught.value) == f"on_kline: total() called at {path}:5:17: unknown binary op: float + string"
    assert caught.value.backtrace is not None
    assert "<marketmaestro>" not in caught.value.backtrace
    assert caught.value.backtrace.splitlines()[-2].strip() == f"{path}:5:17: in on_kline"
