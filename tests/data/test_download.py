"""Downloading klines page by page from an exchange adapter (the scripted test exchange) into a file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from marketmaestro.config import ExchangeConfig
from marketmaestro.data import DownloadError, Gap, KlineFile, download_klines, load_klines
from marketmaestro.data.download import RETRIES
from marketmaestro.exchanges import ExchangeContext, RetryableError
from marketmaestro.model import Kline
from marketmaestro.storage import AsyncStore, Store
from tests.exchanges.scripted import MINUTE_MS, ScriptedExchange, ScriptedOptions, scripted_kline

DAY = 1_704_067_200_000  # 2024-01-01T00:00:00Z
HOUR = 60 * MINUTE_MS
BOUND = 10.0


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsyncStore]:
    with Store(tmp_path_factory.mktemp("db") / "t.db") as sync:
        yield AsyncStore(sync)


def scripted(
    store: AsyncStore, kind: type[ScriptedExchange] = ScriptedExchange, **options: Any
) -> ScriptedExchange:
    validated = ScriptedOptions.model_validate({"page_limit": 100, **options})
    return kind(ExchangeContext("scripted", ExchangeConfig(), validated, store, Path()))


def expected(exchange: ScriptedExchange, first: int, last: int, step: int = MINUTE_MS) -> list[Kline]:
    return [
        scripted_kline(exchange.options, "BTCUSDT", "1m", t)
        for t in range(first, last + 1, step)
        if not any(a <= t < b for a, b in exchange.options.gaps)
    ]


def file_in(folder: Path) -> KlineFile:
    return KlineFile.at(folder, "scripted", "BTCUSDT", "1m")


async def test_a_range_is_fetched_page_by_page_and_stored_whole(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        exchange = scripted(store)
        seen: list[tuple[int, int]] = []
        result = await download_klines(
            exchange, file_in(tmp_path), DAY, DAY + 6 * HOUR - 1, progress=lambda d, t: seen.append((d, t))
        )
        assert exchange.klines_calls == 4  # 360 klines at 100 a page: 100, 100, 100, 60
        assert (result.added, result.total, result.first, result.last) == (
            360,
            360,
            DAY,
            DAY + 6 * HOUR - MINUTE_MS,
        )
        assert result.gaps == [] and result.repaired_bytes == 0
        assert load_klines(tmp_path, "scripted", "BTCUSDT", "1m").to_klines() == expected(
            exchange, DAY, DAY + 6 * HOUR - MINUTE_MS
        )
        assert seen[0] == (0, 360) and seen[-1] == (360, 360)
        assert [d for d, _ in seen] == sorted(d for d, _ in seen)


async def test_running_again_continues_after_the_last_kline_and_fills_in_before_the_first(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        exchange = scripted(store)
        file = file_in(tmp_path)
        await download_klines(exchange, file, DAY + HOUR, DAY + 2 * HOUR - 1)
        again = await download_klines(exchange, file, DAY + HOUR, DAY + 2 * HOUR - 1)
        assert again.added == 0 and again.total == 60
        wider = await download_klines(exchange, file, DAY, DAY + 3 * HOUR - 1)
        assert (wider.added, wider.total) == (120, 180)
        assert file.load().to_klines() == expected(exchange, DAY, DAY + 3 * HOUR - MINUTE_MS)
        assert not file.path.with_name(file.path.name + ".backfill").exists()


class Overlapping(ScriptedExchange):
    """Answers every page from a few klines before the asked start, with a repeated kline inside."""

    async def klines(
        self, symbol: str, interval: str, limit: int, *, start: int | None = None, end: int | None = None
    ) -> list[Kline]:
        assert start is not None
        page = await super().klines(symbol, interval, limit, start=start - 3 * MINUTE_MS, end=end)
        return page[:5] + page[4:]


async def test_overlapping_pages_never_store_a_kline_twice(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        exchange = scripted(store, Overlapping)
        result = await download_klines(exchange, file_in(tmp_path), DAY, DAY + 4 * HOUR - 1)
        assert result.total == 240
        assert file_in(tmp_path).load().to_klines() == expected(exchange, DAY, DAY + 4 * HOUR - MINUTE_MS)


async def test_gaps_are_reported_not_filled(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        gaps = [(DAY + 10 * MINUTE_MS, DAY + 25 * MINUTE_MS), (DAY + 200 * MINUTE_MS, DAY + 300 * MINUTE_MS)]
        exchange = scripted(store, gaps=gaps)
        result = await download_klines(exchange, file_in(tmp_path), DAY, DAY + 6 * HOUR - 1)
        assert result.gaps == [
            Gap(DAY + 10 * MINUTE_MS, DAY + 24 * MINUTE_MS, 15),
            Gap(DAY + 200 * MINUTE_MS, DAY + 299 * MINUTE_MS, 100),
        ]
        assert result.total == 360 - 115
        assert file_in(tmp_path).load().to_klines() == expected(exchange, DAY, DAY + 6 * HOUR - MINUTE_MS)


class Failing(ScriptedExchange):
    """Serves ``pages`` pages, then fails every request with a retryable error; or every other request."""

    pages = 2
    flaky = False

    async def klines(self, symbol: str, interval: str, limit: int, **kwargs: Any) -> list[Kline]:
        calls = self.klines_calls
        if (self.flaky and calls % 2 == 0) or (not self.flaky and calls >= self.pages):
            self.klines_calls += 1
            raise RetryableError("503 from the fake")
        return await super().klines(symbol, interval, limit, **kwargs)


async def test_an_interrupted_download_keeps_its_pages_and_the_next_run_continues(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        failing = scripted(store, Failing)
        with pytest.raises(RetryableError):
            await download_klines(failing, file_in(tmp_path), DAY, DAY + 5 * HOUR - 1, retry_delay=0)
        assert failing.klines_calls == 2 + RETRIES
        assert len(file_in(tmp_path).load()) == 200  # the two pages that came

        healthy = scripted(store)
        result = await download_klines(healthy, file_in(tmp_path), DAY, DAY + 5 * HOUR - 1)
        assert (result.added, result.total) == (100, 300)
        assert healthy.klines_calls == 1  # only the missing page, from kline 200 on
        assert file_in(tmp_path).load().to_klines() == expected(healthy, DAY, DAY + 5 * HOUR - MINUTE_MS)


async def test_retryable_errors_are_retried(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        flaky = scripted(store, Failing)
        assert isinstance(flaky, Failing)
        flaky.flaky = True
        result = await download_klines(flaky, file_in(tmp_path), DAY, DAY + 3 * HOUR - 1, retry_delay=0)
        assert result.total == 180


async def test_a_partial_kline_left_by_a_crash_is_cut_off_and_the_download_continues(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        exchange = scripted(store)
        file = file_in(tmp_path)
        await download_klines(exchange, file, DAY, DAY + HOUR - 1)
        with file.path.open("ab") as handle:
            handle.write(b"\x07" * 30)
        result = await download_klines(exchange, file, DAY, DAY + 2 * HOUR - 1)
        assert (result.repaired_bytes, result.added, result.total) == (30, 60, 120)
        assert file.load().to_klines() == expected(exchange, DAY, DAY + 2 * HOUR - MINUTE_MS)


class OffGrid(ScriptedExchange):
    async def klines(self, symbol: str, interval: str, limit: int, **kwargs: Any) -> list[Kline]:
        page = await super().klines(symbol, interval, limit, **kwargs)
        return [
            Kline(k.symbol, k.interval, k.timestamp + 1, k.open, k.high, k.low, k.close, k.volume)
            for k in page
        ]


async def test_klines_off_the_grid_stop_the_download(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND), pytest.raises(DownloadError) as caught:
        await download_klines(scripted(store, OffGrid), file_in(tmp_path), DAY, DAY + HOUR - 1)
    assert f"kline at {DAY + 1}" in str(caught.value)


async def test_two_downloads_of_one_file_do_not_run_at_once(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        file = file_in(tmp_path)
        gate = trio.Event()

        class Slow(ScriptedExchange):
            async def klines(self, symbol: str, interval: str, limit: int, **kwargs: Any) -> list[Kline]:
                await gate.wait()
                return await super().klines(symbol, interval, limit, **kwargs)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(download_klines, scripted(store, Slow), file, DAY, DAY + HOUR - 1)
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(DownloadError) as caught:
                await download_klines(scripted(store), file, DAY, DAY + HOUR - 1)
            assert "being written by another download" in str(caught.value)
            gate.set()
        assert len(file.load()) == 60


async def test_nothing_after_the_latest_closed_kline_is_asked_for(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        exchange = scripted(store)
        result = await download_klines(exchange, file_in(tmp_path), exchange.now - HOUR, exchange.now + HOUR)
        assert result.end <= exchange.now - MINUTE_MS
        assert result.last is not None and result.last <= exchange.now - MINUTE_MS
        assert result.total >= 59


async def test_a_history_that_starts_long_after_since_is_downloaded_from_its_start(
    store: AsyncStore, tmp_path: Path
) -> None:
    with trio.fail_after(BOUND):
        # No history before DAY: the first pages' ranges start a day earlier, where there are no klines.
        exchange = scripted(store, gaps=[(0, DAY)])
        result = await download_klines(exchange, file_in(tmp_path), DAY - 24 * HOUR, DAY + HOUR - 1)
        assert (result.total, result.first, result.gaps) == (60, DAY, [])
        assert file_in(tmp_path).load().to_klines() == expected(exchange, DAY, DAY + HOUR - 1)


async def test_a_range_without_klines_leaves_no_file(store: AsyncStore, tmp_path: Path) -> None:
    with trio.fail_after(BOUND):
        exchange = scripted(store, gaps=[(0, DAY)])
        result = await download_klines(exchange, file_in(tmp_path), DAY - 2 * HOUR, DAY - 1)
        assert (result.total, result.added, result.first) == (0, 0, None)
        assert not file_in(tmp_path).path.exists()
