"""Structured logging: eliot actions and events, secret redaction, console lines and task trees.

Components log with :func:`component_action` and :func:`log_event`; the CLI turns logging on with
:func:`configure_logging` and ``mm logs`` reads the file back with :func:`render_log`.
"""

from marketmaestro.logs.context import (
    LEVELS,
    check_level,
    component_action,
    exception_fields,
    level_of,
    level_rank,
    log_event,
)
from marketmaestro.logs.redact import MASK, Redactor, is_secret_field, to_jsonable
from marketmaestro.logs.render import ConsoleFormatter, render_log
from marketmaestro.logs.setup import LoggingHandle, configure_logging

__all__ = [
    "LEVELS",
    "MASK",
    "ConsoleFormatter",
    "LoggingHandle",
    "Redactor",
    "check_level",
    "component_action",
    "configure_logging",
    "exception_fields",
    "is_secret_field",
    "level_of",
    "level_rank",
    "log_event",
    "render_log",
    "to_jsonable",
]
