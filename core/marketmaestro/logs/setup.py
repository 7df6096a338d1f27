"""Turn logging on: eliot destinations for a JSON-lines file and the console, stdlib routed in.

``configure_logging`` is called once by the CLI, before the configuration is read (so a bad
configuration is logged too); the credentials are then handed over with
``LoggingHandle.add_secret``. Everything goes through one :class:`~marketmaestro.logs.Redactor`:

    eliot messages ──┬── JSON-lines file  (every message, redacted, flushed per line)
    stdlib logging ──┘└─ console          (one readable line per message at ``level`` or above)

Libraries that use the standard ``logging`` module (hypercorn, alembic, trio-websocket ...) are
routed into eliot by a handler on the root logger, so their records land in the same file.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from eliot import add_destinations, log_message, remove_destination

from marketmaestro.logs.context import check_level, exception_fields, level_rank
from marketmaestro.logs.redact import Redactor
from marketmaestro.logs.render import ConsoleFormatter

_STDLIB_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

# The handle of the logging currently on, so configuring again replaces it instead of doubling it.
_current: LoggingHandle | None = None
_current_lock = threading.Lock()


class _JsonLinesFile:
    """eliot destination: one redacted JSON message per line, flushed at once."""

    def __init__(self, path: Path, redactor: Redactor) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Line buffered and flushed per message: once written, a line is in the OS's hands and
        # survives a SIGKILL of the bot (fsync would only add safety against power loss).
        self._file = path.open("a", encoding="utf-8", buffering=1)
        self._redactor = redactor
        # Stdlib records may come from other threads (alembic, worker threads of trio.to_thread).
        self._lock = threading.Lock()

    def __call__(self, message: Mapping[str, Any]) -> None:
        line = self._redactor.serialize(message)
        with self._lock:
            if not self._file.closed:
                self._file.write(line + "\n")
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


class _Console:
    """eliot destination: a readable line per message at the threshold level or above."""

    def __init__(self, stream: TextIO | None, threshold: str, redactor: Redactor) -> None:
        self._stream = stream
        self._minimum = level_rank(threshold)
        self._redactor = redactor
        self._formatter = ConsoleFormatter(redactor)
        self._lock = threading.Lock()

    def __call__(self, message: Mapping[str, Any]) -> None:
        with self._lock:
            # Every message goes through the formatter, shown or not: it tracks open actions.
            level, line = self._formatter.format(message)
            if level_rank(level) < self._minimum:
                return
            # Looked up per line, so a console that replaces sys.stderr later is still followed.
            stream = self._stream if self._stream is not None else sys.stderr
            stream.write(self._redactor.redact(line) + "\n")
            stream.flush()


class _StdlibToEliot(logging.Handler):
    """A ``logging`` handler that turns each record into an eliot message of type ``stdlib``.

    The logger's name becomes the ``component``; an attached exception becomes the ``exception``,
    ``reason`` and ``traceback`` fields of the same message.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields: dict[str, Any] = {
                "level": _level_of_record(record.levelno),
                "component": record.name,
                "message": record.getMessage(),
            }
            if record.exc_info and record.exc_info[1] is not None:
                fields.update(exception_fields(record.exc_info[1]))
            log_message(message_type="stdlib", **fields)
        except Exception:
            self.handleError(record)


def _level_of_record(levelno: int) -> str:
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warning"
    return "info" if levelno >= logging.INFO else "debug"


class LoggingHandle:
    """Logging as configured by :func:`configure_logging`; :meth:`close` turns it off again.

    Also a context manager (``with configure_logging(...):``) that closes on exit.
    """

    def __init__(
        self,
        *,
        file: Path | None,
        redactor: Redactor,
        destinations: list[Callable[[Mapping[str, Any]], None]],
        file_destination: _JsonLinesFile | None,
        stdlib_handler: logging.Handler,
        previous_root_level: int,
    ) -> None:
        self._file = file
        self._redactor = redactor
        self._destinations = destinations
        self._file_destination = file_destination
        self._stdlib_handler = stdlib_handler
        self._previous_root_level = previous_root_level
        self._closed = False

    @property
    def file(self) -> Path | None:
        """The JSON-lines log file, if any."""
        return self._file

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def add_secret(self, value: str | None) -> None:
        """Redact ``value`` from every line written from now on (``None`` and short values ignored)."""
        self._redactor.add(value)

    def close(self) -> None:
        """Remove the destinations and the stdlib handler, restore the root level, close the file.

        Calling it again does nothing.
        """
        global _current
        with _current_lock:
            if self._closed:
                return
            self._closed = True
            for destination in self._destinations:
                # Already gone if someone removed it by hand; closing must still finish.
                with contextlib.suppress(ValueError):
                    remove_destination(destination)
            root = logging.getLogger()
            root.removeHandler(self._stdlib_handler)
            root.setLevel(self._previous_root_level)
            if self._file_destination is not None:
                self._file_destination.close()
            if _current is self:
                _current = None

    def __enter__(self) -> LoggingHandle:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def configure_logging(
    *,
    file: Path | None,
    console: bool,
    level: str = "info",
    secrets: Iterable[str] = (),
    console_stream: TextIO | None = None,
) -> LoggingHandle:
    """Send every eliot message (and every stdlib ``logging`` record) to ``file`` and the console.

    - ``file``: JSON-lines log, created with its parent folders, appended to, every message
      written and flushed as it happens; ``None`` for no file.
    - ``console``: whether to print one readable line per message of ``level`` or above to
      ``console_stream`` (default: ``sys.stderr`` at the time of writing).
    - ``level``: ``debug``, ``info``, ``warning`` or ``error``; the file always gets everything
      eliot produces, the level also applies to stdlib records.
    - ``secrets``: values never to appear in the output; more can be added with
      :meth:`LoggingHandle.add_secret`.

    Configuring again closes the previous handle first, so destinations never double up.
    """
    threshold = check_level(level)
    global _current
    with _current_lock:
        previous = _current
    if previous is not None:
        previous.close()

    redactor = Redactor(secrets)
    destinations: list[Callable[[Mapping[str, Any]], None]] = []
    file_destination = _JsonLinesFile(file, redactor) if file is not None else None
    if file_destination is not None:
        destinations.append(file_destination)
    if console:
        destinations.append(_Console(console_stream, threshold, redactor))

    root = logging.getLogger()
    previous_root_level = root.level
    handler = _StdlibToEliot(level=_STDLIB_LEVELS[threshold])
    # Destinations first, so a record logged while wiring the handler is not lost.
    if destinations:
        add_destinations(*destinations)
    root.addHandler(handler)
    root.setLevel(_STDLIB_LEVELS[threshold])

    handle = LoggingHandle(
        file=file,
        redactor=redactor,
        destinations=destinations,
        file_destination=file_destination,
        stdlib_handler=handler,
        previous_root_level=previous_root_level,
    )
    with _current_lock:
        _current = handle
    return handle
