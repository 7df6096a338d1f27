"""``oldest_klines``: the oldest klines of a range from an endpoint that answers the newest of a range first,
across stretches without klines of any length."""

from __future__ import annotations

import random

import pytest
import trio

from marketmaestro.exchanges.kline_pages import oldest_klines
from marketmaestro.model import Kline

STEP = 60_000


class NewestFirst:
    """An endpoint with the window semantics of Bybit's and Bitvavo's: the newest ``min(limit, per_request)``
    klines of ``[start, end]``, newest first; it records each request."""

    def __init__(self, stamps: list[int], per_request: int) -> None:
        self.stamps = sorted(stamps)
        self.per_request = per_request
        self.requests: list[tuple[int, int, int]] = []

    async def fetch(self, start: int, end: int, limit: int) -> list[Kline]:
        assert 1 <= limit <= self.per_request, "never more than the endpoint's largest limit"
        self.requests.append((start, end, limit))
        inside = [t for t in reversed(self.stamps) if start <= t <= end][:limit]
        return [Kline("BTCUSDT", "1m", t, 1.0, 1.0, 1.0, 1.0, 1.0) for t in inside]


def expected(stamps: list[int], start: int, end: int, limit: int) -> list[int]:
    return [t for t in sorted(stamps) if start <= t <= end][:limit]


async def fetched(endpoint: NewestFirst, start: int, end: int, limit: int) -> list[int]:
    klines = await oldest_klines(
        endpoint.fetch, start, end, limit, step=STEP, per_request=endpoint.per_request
    )
    return [k.timestamp for k in klines]


async def test_a_full_window_is_one_request() -> None:
    endpoint = NewestFirst([i * STEP for i in range(5000)], per_request=1000)
    assert await fetched(endpoint, 100 * STEP, 4999 * STEP, 1000) == list(
        range(100 * STEP, 1100 * STEP, STEP)
    )
    assert endpoint.requests == [(100 * STEP, 1100 * STEP - 1, 1000)]


async def test_a_history_that_starts_long_after_the_range_is_found_in_few_requests() -> None:
    listed = 10_000_000 * STEP  # about 19 years of minutes after the start of the range
    endpoint = NewestFirst([listed + i * STEP for i in range(3000)], per_request=1000)
    assert await fetched(endpoint, 0, listed + 10_000 * STEP, 1000) == expected(
        endpoint.stamps, 0, listed + 10_000 * STEP, 1000
    )
    assert len(endpoint.requests) < 40, "a bisection, not a walk through ten thousand windows"


async def test_a_range_without_klines_is_empty_and_a_limit_is_filled_across_gaps() -> None:
    stamps = [i * STEP for i in range(0, 100)] + [i * STEP for i in range(5000, 5010)]
    endpoint = NewestFirst(stamps, per_request=50)
    assert await fetched(endpoint, 100 * STEP, 4999 * STEP, 10) == []
    assert await fetched(endpoint, 6000 * STEP, 5000 * STEP, 10) == []
    assert await fetched(endpoint, 90 * STEP, 10_000 * STEP, 15) == expected(stamps, 90 * STEP, 10**9, 15)
    assert await fetched(endpoint, 0, 10_000 * STEP, 0) == []


@pytest.mark.parametrize("seed", range(8))
async def test_random_histories_and_ranges_give_the_oldest_klines(seed: int) -> None:
    rng = random.Random(seed)
    stamps: list[int] = []
    t = rng.randrange(0, 5000) * STEP
    while len(stamps) < 4000:
        if rng.random() < 0.01:
            t += rng.choice((3, 40, 999, 1000, 1001, 25_000)) * STEP  # stretches without klines
        stamps.append(t)
        t += STEP
    endpoint = NewestFirst(stamps, per_request=rng.choice((1, 7, 200, 1000)))
    with trio.fail_after(30):
        for _ in range(20):
            start = rng.randrange(0, stamps[-1] + 2000 * STEP) + rng.choice((0, 0, 17))  # some off the grid
            end = start + rng.randrange(0, 200_000) * STEP
            limit = rng.choice((1, 5, 999, 1000, 1500))
            assert await fetched(endpoint, start, end, limit) == expected(stamps, start, end, limit)
