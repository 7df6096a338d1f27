"""Downloading klines from an exchange's REST history into a kline file: paginated, resumable, no duplicates.

The adapter's ``klines(symbol, interval, limit, start=, end=)`` is asked page by page, each page starting
one interval after the last kline of the one before. The adapter answers the oldest klines of the range
however far ahead they lie (``Exchange.klines``; exchange plugins whose endpoint answers the newest of a
range first use ``marketmaestro.exchanges.kline_pages``), so an empty page means the range holds no more.
Each page is appended to the file (and flushed) as it arrives, so an interrupted download keeps every page
it stored, and running it again continues after the last stored kline. A ``since`` before the first
stored kline is fetched into a side file and put in front of the stored klines with one rename, so the
file is never half rewritten. Klines already stored, outside the asked range, not yet closed or repeated
within a page are never stored (twice).
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import trio

from marketmaestro.data.files import KlineFile
from marketmaestro.data.gaps import Gap, find_gaps
from marketmaestro.exchanges import Exchange, RetryableError
from marketmaestro.model import Kline, now_ms

__all__ = ["DownloadError", "DownloadResult", "download_klines"]

PAGE_SIZE = 1000
RETRIES = 5
RETRY_DELAY = 1.0
"""Seconds before the first retry of a page that failed with a ``RetryableError``; doubled each time."""

Progress = Callable[[int, int], None]
"""``progress(done, total)``: intervals of the asked range covered so far, of all to cover."""


class DownloadError(Exception):
    """The download cannot go on (the exchange sent klines that make no sense, or the file is busy)."""


@dataclass
class DownloadResult:
    """What a download did and what the file holds now."""

    file: KlineFile
    start: int
    """The first open time asked for (``since`` on the interval grid)."""
    end: int
    """The last open time asked for (``until`` on the grid, at most the latest closed kline)."""
    added: int = 0
    total: int = 0
    first: int | None = None
    last: int | None = None
    gaps: list[Gap] = field(default_factory=list)
    repaired_bytes: int = 0
    """Bytes of a partial last record (an earlier crash) cut off before continuing."""


@contextlib.contextmanager
def _exclusive(file: KlineFile) -> Iterator[None]:
    """Hold the file's lock, so two downloads never append to one file at once."""
    file.path.parent.mkdir(parents=True, exist_ok=True)
    lock = file.path.with_name(file.path.name + ".lock")
    descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DownloadError(f"{file.path} is being written by another download; wait for it") from None
        yield
    finally:
        os.close(descriptor)


async def download_klines(
    adapter: Exchange,
    file: KlineFile,
    since: int,
    until: int,
    *,
    page_size: int = PAGE_SIZE,
    progress: Progress | None = None,
    retry_delay: float = RETRY_DELAY,
) -> DownloadResult:
    """Fill ``file`` with the closed klines from ``since`` to ``until`` (ms) that it lacks; see the module
    docstring. ``adapter`` must be connected. Raises ``DownloadError``, ``DataFileError`` for a damaged file,
    and the adapter's errors (``RetryableError`` after ``RETRIES`` attempts at one page)."""
    step = file.interval_ms
    start = -(-since // step) * step
    latest_closed = now_ms() // step * step - step
    result = DownloadResult(file, start, min(until // step * step, latest_closed))
    with _exclusive(file):
        if file.path.exists():
            result.repaired_bytes = file.cut_partial_record()
            stored = file.timestamps()
        else:
            file.create()
            stored = file.timestamps()
        ranges: list[tuple[int, int]] = []
        if len(stored) == 0:
            ranges.append((result.start, result.end))
        else:
            first, last = int(stored[0]), int(stored[-1])
            ranges.append((max(result.start, last + step), result.end))  # continue after the last
            ranges.append((result.start, min(result.end, first - step)))  # and fill in before the first
        ranges = [(low, high) for low, high in ranges if low <= high]
        total = sum((high - low) // step + 1 for low, high in ranges)
        done = 0

        def advance(covered: int) -> None:
            nonlocal done
            done += covered
            if progress is not None:
                progress(done, total)

        advance(0)
        for low, high in ranges:
            if len(stored) and low < int(stored[0]):
                result.added += await _backfill(adapter, file, low, high, page_size, retry_delay, advance)
            else:
                async for page in _pages(adapter, file, low, high, page_size, retry_delay, advance):
                    result.added += file.append(page)
        stamps = file.timestamps()
        if len(stamps) == 0:
            file.path.unlink()  # no dataset rather than an empty one
    result.total = len(stamps)
    if len(stamps):
        result.first, result.last = int(stamps[0]), int(stamps[-1])
    result.gaps = find_gaps(stamps, step)
    return result


async def _backfill(
    adapter: Exchange,
    file: KlineFile,
    low: int,
    high: int,
    page_size: int,
    retry_delay: float,
    advance: Callable[[int], None],
) -> int:
    """Klines before the first stored one: fetched into a side file, then put in front with one rename."""
    side = file.path.with_name(file.path.name + ".backfill")
    side.unlink(missing_ok=True)  # left by an interrupted run: start the backfill again
    before = KlineFile(side, file.exchange, file.symbol, file.interval)
    before.create()
    added = 0
    async for page in _pages(adapter, file, low, high, page_size, retry_delay, advance):
        added += before.append(page)
    file.replace_with(itertools.chain(before.raw_records(), file.raw_records()))
    side.unlink()
    return added


async def _pages(
    adapter: Exchange,
    file: KlineFile,
    low: int,
    high: int,
    page_size: int,
    retry_delay: float,
    advance: Callable[[int], None],
) -> AsyncIterator[list[Kline]]:
    """Pages of closed klines with open times in [low, high], each after the one before, none twice."""
    step = file.interval_ms
    cursor = low
    while cursor <= high:
        page = await _fetch(adapter, file, page_size, cursor, high, retry_delay)
        fresh = {k.timestamp: k for k in page if k.closed and cursor <= k.timestamp <= high}
        for kline in fresh.values():
            if (kline.symbol, kline.interval) != (file.symbol, file.interval) or kline.timestamp % step:
                raise DownloadError(
                    f"{adapter.name} sent a {kline.symbol} {kline.interval} kline at {kline.timestamp} for "
                    f"{file.symbol} {file.interval} klines on the {file.interval} grid"
                )
        if not fresh:
            if page:
                raise DownloadError(
                    f"{adapter.name} answered the klines from {cursor} with none in the range asked for"
                )
            advance((high - cursor) // step + 1)
            return  # the adapter has no kline left in the range (it skips stretches without klines itself)
        klines = [fresh[t] for t in sorted(fresh)]
        following = klines[-1].timestamp + step
        advance((following - cursor) // step)
        cursor = following
        yield klines


async def _fetch(
    adapter: Exchange, file: KlineFile, page_size: int, start: int, end: int, retry_delay: float
) -> list[Kline]:
    for attempt in range(1, RETRIES + 1):
        try:
            return await adapter.klines(file.symbol, file.interval, page_size, start=start, end=end)
        except RetryableError:
            if attempt == RETRIES:
                raise
            await trio.sleep(retry_delay * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
