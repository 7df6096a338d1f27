"""How every component writes to the log: actions with context, events with a level.

Everything MarketMaestro logs goes through eliot, so a log is a forest of *tasks*: an action
(``order.submit``) with its start, its nested actions and events, and its outcome. Components use
two helpers so the context fields are spelled the same everywhere and the console, the file and
``mm logs`` can filter on them::

    with component_action("order.submit", component="engine", exchange="binance",
                          symbol="BTCUSDT", strategy="sma_cross", client_order_id=oid) as action:
        log_event("risk.checked", rules=3)
        ...
        action.add_success_fields(venue_order_id=venue_id)

Levels are ``debug < info < warning < error``. A message's level is its ``level`` field; a failed
action, a logged traceback or an eliot destination failure is always ``error``; a message without a
level is ``info``.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator, Mapping
from typing import Any

from eliot import log_message, start_action

LEVELS = ("debug", "info", "warning", "error")
"""The log levels, least severe first."""

_RANK = {name: rank for rank, name in enumerate(LEVELS)}

# Levels of the stdlib `logging` module (and of eliot's own stdlib bridge, field `log_level`).
_STDLIB_LEVELS = {"warn": "warning", "critical": "error", "fatal": "error"}

# eliot messages that always report a failure.
_ERROR_MESSAGE_TYPES = frozenset({"eliot:traceback", "eliot:destination_failure"})

# Set on an exception once its traceback is in the log, so nested failing actions log it once.
_TRACEBACK_LOGGED = "_marketmaestro_traceback_logged"


def check_level(level: object, *, field: str = "level") -> str:
    """``level`` normalised to lower case; ``ValueError`` naming ``field`` if it is not a level."""
    if isinstance(level, str) and level.lower() in _RANK:
        return level.lower()
    raise ValueError(f"{field}: got {level!r}; expected one of {', '.join(LEVELS)}")


def level_rank(level: str) -> int:
    """The severity of ``level`` (``debug`` is 0, ``error`` is 3), for ``>=`` comparisons."""
    return _RANK[check_level(level)]


def level_of(message: Mapping[str, Any]) -> str:
    """The level of one eliot message dictionary (see the module docstring for the rules)."""
    if message.get("action_status") == "failed" or message.get("message_type") in _ERROR_MESSAGE_TYPES:
        return "error"
    raw = message.get("level", message.get("log_level"))
    if isinstance(raw, str):
        lowered = raw.lower()
        lowered = _STDLIB_LEVELS.get(lowered, lowered)
        if lowered in _RANK:
            return lowered
    return "info"


def exception_fields(exc: BaseException) -> dict[str, str]:
    """The ``exception`` (qualified type name), ``reason`` and ``traceback`` fields for ``exc``.

    The same fields eliot puts in its ``eliot:traceback`` messages, so eliot-tree shows them alike.
    (eliot's own ``write_traceback`` is not used: it raises a ``DeprecationWarning`` internally.)
    """
    kind = type(exc)
    return {
        "exception": f"{kind.__module__}.{kind.__qualname__}",
        "reason": str(exc),
        "traceback": "".join(traceback.format_exception(kind, exc, exc.__traceback__)),
    }


@contextlib.contextmanager
def component_action(
    action_type: str,
    *,
    component: str,
    exchange: str | None = None,
    symbol: str | None = None,
    strategy: str | None = None,
    level: str = "info",
    **fields: Any,
) -> Iterator[Any]:
    """Run the ``with`` block as an eliot action carrying the component's context.

    Only the context fields that are not ``None`` are logged. ``level`` is the level of the
    action's start and success messages (``debug`` for chatty per-tick work); a failure is always
    ``error``. The ``with`` statement yields the ``eliot.Action``, so the block can call
    ``add_success_fields``. Actions are contextvars-based: nested actions and events, including in
    child trio tasks, land in the same task tree.

    If the block raises an ``Exception``, its traceback is logged once (by the innermost failing
    action) before eliot records the failure with its ``exception`` and ``reason`` fields.
    """
    if not isinstance(action_type, str) or not action_type:
        raise ValueError(f"action_type: got {action_type!r}; expected a non-empty string")
    context = {"exchange": exchange, "symbol": symbol, "strategy": strategy}
    present = {name: value for name, value in context.items() if value is not None}
    with start_action(
        action_type=action_type,
        component=component,
        level=check_level(level),
        **present,
        **fields,
    ) as action:
        try:
            yield action
        except Exception as exc:
            # eliot's failure message has only the exception type and message; the traceback is
            # what makes a failure in production debuggable, so it goes in the same task.
            if not getattr(exc, _TRACEBACK_LOGGED, False):
                log_message(message_type="eliot:traceback", level="error", **exception_fields(exc))
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(exc, _TRACEBACK_LOGGED, True)
            raise


def log_event(message_type: str, *, level: str = "info", **fields: Any) -> None:
    """Log one event (an eliot message) with a ``level`` field.

    Inside a :func:`component_action` the event belongs to that action's task. ``level`` is one of
    ``debug``, ``info``, ``warning``, ``error``; anything else raises ``ValueError`` naming it.
    """
    if not isinstance(message_type, str) or not message_type:
        raise ValueError(f"message_type: got {message_type!r}; expected a non-empty string")
    log_message(message_type=message_type, level=check_level(level), **fields)
