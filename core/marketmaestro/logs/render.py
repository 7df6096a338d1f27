"""Make the log readable for people: one line per message on the console, task trees for a file.

Console lines look like::

    14:03:07.412 INFO    engine binance/BTCUSDT/sma_cross ▶ order.submit side=buy quantity=0.01
    14:03:07.431 INFO    engine binance/BTCUSDT/sma_cross ✔ order.submit (19 ms) venue_order_id=8812
    14:03:09.002 ERROR   feed bybit ✖ ws.connect: ConnectionRefusedError: refused (3 ms)

Times are UTC, like every timestamp in MarketMaestro. :func:`render_log` draws a JSON-lines log
file as trees with ``eliottree``, keeping whole tasks that match the filters.
"""

from __future__ import annotations

import json
import sys
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from eliottree import colored, get_theme, render_tasks, tasks_from_iterable

from marketmaestro.logs.context import check_level, level_of, level_rank
from marketmaestro.logs.redact import Redactor

CONTEXT_FIELDS = ("exchange", "symbol", "strategy")
"""The context a component attaches to its actions, shown as ``exchange/symbol/strategy``."""

# eliot's bookkeeping and the fields the console line shows in its fixed columns.
_NOT_KEY_VALUES = frozenset(
    {"timestamp", "task_uuid", "task_level", "action_type", "action_status", "message_type"}
    | {"level", "component", "message", *CONTEXT_FIELDS}
)
_FAILURE_FIELDS = frozenset({"exception", "reason", "traceback"})

# Actions that never end (the process was killed) must not grow the table forever.
_MAX_OPEN_ACTIONS = 10_000


@dataclass(frozen=True, slots=True)
class _OpenAction:
    started: float
    level: str
    context: dict[str, str]


class ConsoleFormatter:
    """Formats eliot messages as console lines, remembering open actions.

    End messages of eliot actions carry neither the context nor the level of their start, and
    messages inside an action carry no context at all, so the formatter keeps each open action's
    start to fill them in and to compute durations. Not thread-safe: the caller serialises calls.
    """

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._open: OrderedDict[tuple[str, tuple[int, ...]], _OpenAction] = OrderedDict()

    def format(self, message: Mapping[str, Any]) -> tuple[str, str]:
        """``(level, line)`` for one message; the line has no newline and is not yet redacted."""
        uuid = str(message.get("task_uuid", ""))
        task_level = tuple(message.get("task_level") or (1,))
        action_key = (uuid, task_level[:-1])
        enclosing = self._enclosing(uuid, task_level[:-1])
        context = dict(enclosing.context) if enclosing else {}
        for name in ("component", *CONTEXT_FIELDS):
            if message.get(name) not in (None, ""):
                context[name] = str(message[name])
        level = level_of(message)
        timestamp = float(message.get("timestamp", 0.0))
        status = message.get("action_status")
        action_type = message.get("action_type", "")

        if status == "started":
            self._open[action_key] = _OpenAction(timestamp, level, context)
            while len(self._open) > _MAX_OPEN_ACTIONS:
                self._open.popitem(last=False)
            head = f"▶ {action_type}"
        elif status in ("succeeded", "failed"):
            start = self._open.pop(action_key, None)
            if start is not None:
                context = {**start.context, **context}
                level = level if status == "failed" else start.level
            duration = f" ({(timestamp - start.started) * 1000:.0f} ms)" if start else ""
            if status == "succeeded":
                head = f"✔ {action_type}{duration}"
            else:
                head = f"✖ {action_type}: {_failure(message)}{duration}"
        elif message.get("message_type") == "eliot:traceback":
            head = f"traceback {_failure(message)}"
        else:
            head = str(message.get("message_type", ""))
            if isinstance(message.get("message"), str):
                head = message["message"] if head == "stdlib" else f"{head}: {message['message']}"
            if "exception" in message:
                head = f"{head} [{_failure(message)}]"

        where = "/".join(context[name] for name in CONTEXT_FIELDS if name in context)
        fields = self._redactor.mask_fields(message)
        skip = _NOT_KEY_VALUES | (_FAILURE_FIELDS if "exception" in message else frozenset())
        # None values are left out: the console is for a quick read (the file keeps them).
        pairs = [
            f"{key}={self._value(value)}"
            for key, value in fields.items()
            if key not in skip and value is not None
        ]
        parts = [_clock(timestamp), f"{level.upper():<7}", context.get("component", ""), where, head, *pairs]
        return level, " ".join(part for part in parts if part)

    def _enclosing(self, uuid: str, levels: tuple[int, ...]) -> _OpenAction | None:
        # A message at task level [3, 2, 1] belongs to the action started at [3, 2, ...] if open,
        # otherwise to the one started at [3, ...], and so on up to the task's root action.
        for depth in range(len(levels), -1, -1):
            found = self._open.get((uuid, levels[:depth]))
            if found is not None:
                return found
        return None

    def _value(self, value: Any) -> str:
        if isinstance(value, str):
            plain = value and not any(char.isspace() or char in "\"'=" for char in value)
            return value if plain else json.dumps(value, ensure_ascii=False)
        if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
            return str(value)
        return json.dumps(value, default=self._redactor.json_default, ensure_ascii=False)


def _clock(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC)
    return f"{moment:%H:%M:%S}.{moment.microsecond // 1000:03d}"


def _failure(message: Mapping[str, Any]) -> str:
    exception = str(message.get("exception", "Exception")).rsplit(".", 1)[-1]
    return f"{exception}: {message.get('reason', '')}"


def render_log(
    path: Path,
    out: TextIO,
    *,
    exchange: str | None = None,
    strategy: str | None = None,
    symbol: str | None = None,
    level: str | None = None,
    human: bool = True,
    colorize: bool = False,
    err: TextIO | None = None,
) -> int:
    """Write the JSON-lines log at ``path`` to ``out`` as eliot task trees; return how many.

    A task is kept whole (every message of it) when it matches every filter given: ``exchange``,
    ``strategy``, ``symbol`` match when some message has that field equal to the value; ``level``
    matches when some message is at or above that level (a failed action is ``error``, a message
    without a level ``info``). Lines that are not eliot messages are reported on ``err`` (default
    ``sys.stderr``) with their line number and skipped. ``human`` formats timestamps and values
    for reading; ``colorize`` adds terminal colours.

    Raises ``FileNotFoundError`` naming ``path`` when it does not exist, ``ValueError`` for a bad
    ``level``.
    """
    minimum = level_rank(check_level(level, field="level")) if level is not None else None
    filters = {"exchange": exchange, "symbol": symbol, "strategy": strategy}
    wanted = {name: value for name, value in filters.items() if value}
    errors = err if err is not None else sys.stderr
    if not path.is_file():
        raise FileNotFoundError(f"log file not found: {path}")

    messages: Iterator[dict[str, Any]]
    if wanted or minimum is not None:
        # Two passes: the first keeps only the ids of matching tasks, so memory stays small
        # whatever the size of the file.
        keep = _matching_tasks(_read_messages(path, errors), wanted, minimum)
        messages = (m for m in _read_messages(path, None) if m["task_uuid"] in keep)
    else:
        messages = _read_messages(path, errors)

    count = 0

    def counted() -> Iterator[Any]:
        nonlocal count
        for task in tasks_from_iterable(messages):
            count += 1
            yield task

    theme = get_theme(dark_background=True, colored=colored if colorize else None)
    render_tasks(out.write, counted(), human_readable=human, theme=theme, write_err=errors.write)
    return count


def _matching_tasks(
    messages: Iterator[dict[str, Any]], wanted: Mapping[str, str], minimum: int | None
) -> set[str]:
    matched: dict[str, set[str]] = {}
    for message in messages:
        hits = matched.setdefault(message["task_uuid"], set())
        hits.update(name for name, value in wanted.items() if message.get(name) == value)
        if minimum is not None and level_rank(level_of(message)) >= minimum:
            hits.add("level")
    needed = set(wanted) | ({"level"} if minimum is not None else set())
    return {uuid for uuid, hits in matched.items() if hits >= needed}


def _read_messages(path: Path, errors: TextIO | None) -> Iterator[dict[str, Any]]:
    """The eliot messages of the file, reporting (when ``errors`` is given) and skipping the rest."""
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            problem: str | None
            try:
                message = json.loads(line)
            except ValueError as exc:
                problem = f"not JSON ({exc})"
            else:
                problem = _not_an_eliot_message(message)
                if problem is None:
                    yield message
                    continue
            if errors is not None:
                errors.write(f"{path}:{number}: skipped, {problem}\n")


def _not_an_eliot_message(message: object) -> str | None:
    if not isinstance(message, dict):
        return f"expected a JSON object, got {type(message).__name__}"
    if not isinstance(message.get("task_uuid"), str):
        return "expected a string field 'task_uuid'"
    task_level = message.get("task_level")
    if not isinstance(task_level, list) or not task_level or not all(isinstance(i, int) for i in task_level):
        return f"expected 'task_level' to be a non-empty list of integers, got {task_level!r}"
    if not isinstance(message.get("timestamp"), int | float):
        return "expected a number field 'timestamp'"
    return None
