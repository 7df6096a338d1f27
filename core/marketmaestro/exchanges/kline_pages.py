"""Ranged klines from a REST endpoint that answers the newest klines of a range first.

Bybit's ``/v5/market/kline`` and Bitvavo's ``/{market}/candles`` both take ``start``, ``end`` and ``limit``
and answer with the *newest* ``limit`` klines whose open times lie in ``[start, end]``. ``Exchange.klines``
with ``start`` promises the *oldest* ones instead, so a caller can page forward through a long history.
:func:`oldest_klines` gets those with the endpoint's own window semantics:

- a window of ``per_request`` intervals from the cursor holds at most that many klines, so one request
  returns all of them, the oldest included;
- a window without any kline (a stretch without trades, or the time before the symbol was listed) is not the
  end of the history: one request for the newest kline of the rest of the range tells whether any follows,
  and halving the stretch in between finds where the klines start again, in about ``log2(stretch /
  per_request)`` requests.

::

    async def fetch(start: int, end: int, limit: int) -> list[Kline]:
        rows = await rest.get("/v5/market/kline", {"start": start, "end": end, "limit": limit, ...})
        return [parse(row) for row in rows]

    klines = await oldest_klines(fetch, start, end, limit, step=60_000, per_request=1000)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from marketmaestro.model import Kline

__all__ = ["Fetch", "oldest_klines"]

Fetch = Callable[[int, int, int], Awaitable[list[Kline]]]
"""``fetch(start, end, limit)``: one request for the klines with open times in ``[start, end]`` (ms); the
endpoint answers the newest ``limit`` of them (in any order: they are sorted here)."""


async def oldest_klines(
    fetch: Fetch, start: int, end: int, limit: int, *, step: int, per_request: int
) -> list[Kline]:
    """The oldest ``limit`` klines with open times in ``[start, end]``, oldest first, each once.

    ``step`` is the interval in ms; ``per_request`` the endpoint's largest ``limit``. ``end`` should already
    exclude the running candle: every kline the endpoint returns in the range is taken.
    """
    span = per_request * step  # a window this long holds at most ``per_request`` klines, wherever it starts
    found: dict[int, Kline] = {}
    cursor = start
    while len(found) < limit and cursor <= end:
        high = min(end, cursor + span - 1)
        window = _within(await fetch(cursor, high, per_request), cursor, high)
        if window:
            found.update((k.timestamp, k) for k in window)  # all of the window's klines, the oldest included
            cursor = high + 1
            continue
        resume = await _resume(fetch, high + 1, end, span)
        if resume is None:
            break
        cursor = resume
    return [found[t] for t in sorted(found)][:limit]


async def _resume(fetch: Fetch, low: int, end: int, span: int) -> int | None:
    """A cursor at or after ``low`` whose window (``span`` ms) holds the oldest kline in ``[low, end]``, with
    none between ``low`` and the cursor; None if the range holds no kline."""
    newest = _within(await fetch(low, end, 1), low, end)
    if not newest:
        return None
    high = min(k.timestamp for k in newest)  # a kline opens here: the oldest one lies in [low, high]
    while high - low >= span:
        middle = (low + high) // 2
        below = _within(await fetch(low, middle, 1), low, middle)
        if below:
            high = min(k.timestamp for k in below)
        else:
            low = middle + 1
    return low


def _within(klines: list[Kline], low: int, high: int) -> list[Kline]:
    return [k for k in klines if low <= k.timestamp <= high]
