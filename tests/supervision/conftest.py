"""Helpers for the supervision tests, which run on trio's ``autojump_clock``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

BOUND_SECONDS = 600.0
"""Virtual seconds a test may take. Under ``autojump_clock`` this deadline is reached at once when every
task waits, so a test whose code under test hangs or restarts for ever fails instead of hanging."""


@asynccontextmanager
async def bounded_nursery(seconds: float = BOUND_SECONDS) -> AsyncIterator[trio.Nursery]:
    """A nursery whose block raises ``trio.TooSlowError`` after ``seconds`` instead of hanging."""
    with trio.fail_after(seconds):
        async with trio.open_nursery() as nursery:
            yield nursery
