"""Fixtures for the logging tests: logging configured through the real setup, always closed."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from marketmaestro.logs import LoggingHandle, configure_logging


@pytest.fixture(scope="session", autouse=True)
def _drain_eliot_startup_buffer() -> None:
    """eliot replays the messages it buffered before its first destination into that destination.

    Configuring once up front (as the CLI does at start-up) keeps messages logged by earlier tests
    of the session out of the files these tests inspect.
    """
    configure_logging(file=None, console=False).close()


@pytest.fixture
def configure() -> Iterator[Callable[..., LoggingHandle]]:
    """``configure(**kwargs)`` calls ``configure_logging``; every handle is closed after the test."""
    handles: list[LoggingHandle] = []

    def _configure(**kwargs: Any) -> LoggingHandle:
        kwargs.setdefault("file", None)
        kwargs.setdefault("console", False)
        handle = configure_logging(**kwargs)
        handles.append(handle)
        return handle

    yield _configure
    for handle in handles:
        handle.close()


@pytest.fixture
def console() -> io.StringIO:
    """A console stream to capture what the console destination prints."""
    return io.StringIO()


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    """Where the JSON-lines log goes; its folder does not exist yet (the setup creates it)."""
    return tmp_path / "logs" / "marketmaestro.jsonl"
