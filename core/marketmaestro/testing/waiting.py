"""Waiting in tests for something another task or process will make true."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio


async def wait_until(condition: Callable[[], Any], what: str, within: float = 10.0) -> Any:
    """Poll ``condition`` until it returns something truthy, and return that; after ``within`` seconds
    fail with an ``AssertionError`` naming ``what``. For state with no event to wait on (a fake server's
    counters, a collector's list)."""
    with trio.move_on_after(within):
        while True:
            result = condition()
            if result:
                return result
            await trio.sleep(0.01)
    raise AssertionError(f"timed out after {within:g} s waiting for {what}")
