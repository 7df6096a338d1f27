"""Strategies in worker processes: budgets, memory limits, restarts, pausing and hot reload.

Real worker processes running real files, on the real trading path (a paper exchange, the order manager,
portfolio and store). The budgets are small so each test takes a few seconds.
"""

from __future__ import annotations

import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from marketmaestro.config import StrategyConfig
from marketmaestro.messages import KlineDataMsg
from marketmaestro.storage import AsyncStore, EventRecord
from marketmaestro.strategy import StrategyRunner
from marketmaestro.strategy.isolation import (
    WorkerClient,
    WorkerFailed,
    WorkerLimits,
    WorkerPlugins,
    WorkerPolicy,
)
from marketmaestro.supervision import Mailbox
from tests.strategy.conftest import SYMBOL, Harness, harness, logged, status, write_strategy
from tests.trading.conftest import TIMEOUT

FAST = WorkerPolicy(
    max_failures=3, failure_window=60, backoff_initial=0.05, backoff_max=0.2, reload_interval=0.1
)
BUDGET = 0.5

COUNTING = """
def settings():
    return {"interval": "1m"}

def on_kline(kline):
    if kline["close"] == 66666.0:
        total = 0
        for i in range(1000000000000):
            total += i
    set_state("n", get_state("n", 0) + 1)
    return None
"""
"""Counts klines in its state; a kline closing at 66666 sends it into a loop that never ends."""


async def start(h: Harness, file: Path, **spec: Any) -> StrategyRunner:
    """A runner of ``file`` as the exchange service starts it, with the fast policy and ``spec`` settings."""
    health_name = f"exchange:paper/strategy:probe:{SYMBOL}"
    runner = StrategyRunner(
        Mailbox(health_name),
        exchange=h.stack.name,
        symbol=SYMBOL,
        spec=StrategyConfig(name="probe", file=file, **spec),
        registry=h.stack.plugins.registry,
        store=h.stack.store,
        adapter=h.stack.exchange,
        orders=h.stack.order_manager.mailbox,
        portfolio=h.stack.portfolio.mailbox,
        health=h.health,
        health_name=health_name,
        request_timeout=TIMEOUT,
        policy=FAST,
    )
    await h.stack.nursery.start(runner.run)
    return runner


async def until(check: Callable[[], Awaitable[Any]]) -> Any:
    """Poll ``check`` until it returns something true (the test's fail_after bounds the wait)."""
    while not (result := await check()):  # noqa: ASYNC110 - the store and a mailbox have no event to wait on
        await trio.sleep(0.02)
    return result


def in_state(runner: StrategyRunner, state: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await status(runner))["state"] == state

    return check


async def events(store: AsyncStore, kind: str) -> list[EventRecord]:
    """The events of ``kind``, oldest first."""
    return list(reversed(await store.list_events(kind=kind, limit=1000)))


def stored(store: AsyncStore, kind: str, count: int = 1) -> Callable[[], Awaitable[list[EventRecord]]]:
    """An ``until`` check: the events of ``kind`` once there are ``count`` of them."""

    async def check() -> list[EventRecord]:
        found = await events(store, kind)
        return found if len(found) >= count else []

    return check


async def test_a_runaway_callback_is_killed_after_its_budget_and_the_restarted_worker_keeps_the_state(
    store: AsyncStore, tmp_path: Path, log_messages: list[dict[str, Any]]
) -> None:
    file = write_strategy(tmp_path, COUNTING)
    with trio.fail_after(20):
        async with harness(store, tmp_path) as h:
            runner = await start(h, file, callback_timeout=BUDGET)
            first_pid = (await h.feed(runner, 20010.0))["pid"]
            assert await store.strategy_state("paper", SYMBOL, "probe") == {"n": 1}

            before = trio.current_time()
            await h.feed(runner, 66666.0)
            assert trio.current_time() - before < BUDGET + 1.5
            health = h.health.get(runner.health_name)
            assert (health.state, health.detail, health.restarts) == (
                "restarting",
                f"over its {BUDGET:g} s budget",
                1,
            )
            assert health.last_error == f"WorkerFailed: over its {BUDGET:g} s budget"

            await until(in_state(runner, "running"))
            after = await h.feed(runner, 20011.0)
            assert after["pid"] != first_pid
            assert after["worker_restarts"] == 1
            assert h.health.get(runner.health_name).state == "running"
            # The count made before the crash was handed to the new worker; the killed call stored nothing.
            assert await store.strategy_state("paper", SYMBOL, "probe") == {"n": 2}
            history = len(runner.history)

    (event,) = await events(store, "strategy.worker_failed")
    assert (event.strategy, event.symbol, event.exchange) == ("probe", SYMBOL, "paper")
    assert event.data["reason"] == f"over its {BUDGET:g} s budget"
    assert event.data["callback"] == "on_kline"
    assert BUDGET <= event.data["elapsed_seconds"] < BUDGET + 1.0
    (failed,) = logged(log_messages, "strategy.worker_failed")
    assert failed["level"] == "error"
    assert history == 25 + 3


async def test_a_memory_bomb_is_killed_by_the_memory_limit(
    store: AsyncStore, tmp_path: Path, log_messages: list[dict[str, Any]]
) -> None:
    file = write_strategy(
        tmp_path,
        """
        def settings():
            return {}

        def on_kline(kline):
            if kline["close"] == 66666.0:
                hoard = []
                for i in range(1000000000):
                    hoard.append([i] * 1000)
            set_state("n", get_state("n", 0) + 1)
            return None
        """,
    )
    with trio.fail_after(20):
        async with harness(store, tmp_path) as h:
            # A budget far longer than the bomb needs to reach 64 MiB: the memory limit is what stops it.
            runner = await start(h, file, memory_mb=64, callback_timeout=15)
            await h.feed(runner, 20010.0)
            await h.feed(runner, 66666.0)
            await until(in_state(runner, "running"))
            await h.feed(runner, 20011.0)
            assert await store.strategy_state("paper", SYMBOL, "probe") == {"n": 2}

    (event,) = await events(store, "strategy.worker_failed")
    assert event.data["reason"] == "out of memory (64 MiB)"
    assert event.data["elapsed_seconds"] < 5
    # What the dying Go runtime said ("fatal error: runtime: out of memory", or that it could not start a
    # thread), without its goroutine dump.
    assert event.data["stderr"].startswith(("fatal error: runtime:", "runtime/cgo: pthread_create failed"))
    assert "goroutine" not in event.data["stderr"]
    (failed,) = logged(log_messages, "strategy.worker_failed")
    assert failed["stderr"] == event.data["stderr"]


async def test_a_worker_that_keeps_failing_is_disabled_and_its_mailbox_still_drains(
    store: AsyncStore, tmp_path: Path, log_messages: list[dict[str, Any]]
) -> None:
    file = write_strategy(tmp_path, COUNTING)
    with trio.fail_after(30):
        async with harness(store, tmp_path) as h:
            runner = await start(h, file, callback_timeout=0.3)
            for failure in range(1, FAST.max_failures + 1):
                await h.feed(runner, 66666.0)
                assert h.health.get(runner.health_name).restarts == failure
                if failure < FAST.max_failures:
                    await until(in_state(runner, "running"))
            answer = await status(runner)
            assert (answer["state"], answer["pid"]) == ("disabled", None)
            health = h.health.get(runner.health_name)
            assert health.state == "failed"
            assert health.detail == (
                "disabled after 3 worker failures within 60 s; last: over its 0.3 s budget"
            )
            # More klines than the mailbox holds: the router never blocks on a disabled strategy.
            for _ in range(400):
                await runner.mailbox.send(KlineDataMsg("paper", h.next_kline(20010.0)))
            assert (await status(runner))["state"] == "disabled"

    assert len(await events(store, "strategy.worker_failed")) == 3
    (disabled,) = await events(store, "strategy.disabled")
    assert disabled.data["error"] == health.detail
    assert logged(log_messages, "strategy.disabled")[0]["level"] == "error"
    assert await store.strategy_state("paper", SYMBOL, "probe") == {}


async def test_a_file_whose_loading_never_ends_fails_like_a_broken_file(
    store: AsyncStore, tmp_path: Path
) -> None:
    file = write_strategy(
        tmp_path,
        """
        def settings():
            for i in range(1000000000000):
                pass
            return {}

        def on_kline(kline):
            return None
        """,
    )
    with trio.fail_after(20):
        async with harness(store, tmp_path) as h:
            runner = await start(h, file, callback_timeout=0.3)
            health = h.health.get(runner.health_name)
            assert runner.script is None
            assert health.state == "failed"
            assert health.detail is not None and "over its 0.3 s budget" in health.detail
            assert (await status(runner))["load_error"] == health.detail

    failures = await events(store, "strategy.worker_failed")
    assert [(e.data["callback"], e.data["reason"]) for e in failures] == [
        ("load", "over its 0.3 s budget")
    ] * 3
    assert len(await events(store, "strategy.load_failed")) == 1


async def test_consecutive_errors_pause_the_strategy_and_an_edit_resumes_it(
    store: AsyncStore, tmp_path: Path, log_messages: list[dict[str, Any]]
) -> None:
    failing = """
        def settings():
            return {}

        def on_kline(kline):
            set_state("n", get_state("n", 0) + 1)
            if kline["close"] >= 30000:
                fail("no trading above %d" % kline["close"])
            return None
        """
    file = write_strategy(tmp_path, failing)
    with trio.fail_after(20):
        async with harness(store, tmp_path) as h:
            runner = await start(h, file, max_consecutive_errors=3)
            for close in (30000.0, 30001.0, 20010.0, 30002.0, 30003.0):
                answer = await h.feed(runner, close)
            assert (answer["state"], answer["errors"], answer["consecutive_errors"]) == ("running", 4, 2)
            answer = await h.feed(runner, 30004.0)
            assert (answer["state"], answer["errors"], answer["pid"]) == ("paused", 5, None)
            health = h.health.get(runner.health_name)
            detail = health.detail
            assert health.state == "failed"
            assert detail is not None
            assert detail.startswith(
                "paused after 3 errors in a row; edit probe.star or restart the bot to resume."
            )
            assert "no trading above 30004" in detail
            # Paused: no callback runs (the count stays), but the klines still reach the history.
            await h.feed(runner, 20011.0)
            assert await store.strategy_state("paper", SYMBOL, "probe") == {"n": 6}

            write_strategy(tmp_path, failing.replace("30000", "40000"))
            await until(in_state(runner, "running"))
            answer = await h.feed(runner, 30005.0)
            assert (answer["errors"], answer["consecutive_errors"]) == (5, 0)
            assert await store.strategy_state("paper", SYMBOL, "probe") == {"n": 7}
            assert h.health.get(runner.health_name).state == "running"
            history = len(runner.history)

    assert len(logged(log_messages, "strategy.error")) == 5
    (paused,) = await events(store, "strategy.paused")
    assert paused.data["error"] == detail
    (reloaded,) = await events(store, "strategy.reloaded")
    assert reloaded.data["previous_state"] == "paused"
    assert history == 25 + 8


async def test_hot_reload_swaps_to_a_good_edit_with_its_state_and_keeps_the_old_version_on_a_bad_one(
    store: AsyncStore, tmp_path: Path, log_messages: list[dict[str, Any]]
) -> None:
    version = textwrap.dedent(
        """
        def settings():
            return {"interval": "1m"}

        def on_kline(kline):
            set_state("n", get_state("n", 0) + 1)
            set_state("version", VERSION)
            set_state("history", len(history(1000)["close"]))
            return None
        """
    )
    file = write_strategy(tmp_path, "VERSION = 1\n" + version)
    with trio.fail_after(20):
        async with harness(store, tmp_path) as h:
            runner = await start(h, file)
            first_pid = (await h.feed(runner, 20010.0))["pid"]

            write_strategy(tmp_path, "VERSION = 2\n" + version)
            await until(stored(store, "strategy.reloaded"))
            second = await h.feed(runner, 20011.0)
            assert second["pid"] != first_pid
            assert await store.strategy_state("paper", SYMBOL, "probe") == {
                "n": 2,
                "version": 2,
                "history": 27,
            }

            write_strategy(tmp_path, "VERSION = 3\n" + version.replace("return None", "return None +"))
            (failed,) = await until(stored(store, "strategy.reload_failed"))
            write_strategy(tmp_path, "VERSION = 4\n" + version.replace('"1m"', '"5m"'))
            await until(stored(store, "strategy.reload_failed", 2))
            third = await h.feed(runner, 20012.0)
            assert third["pid"] == second["pid"]
            assert await store.strategy_state("paper", SYMBOL, "probe") == {
                "n": 3,
                "version": 2,
                "history": 28,
            }

    assert f"{file}:11:1: got newline" in failed.data["error"]  # file:line:col of the syntax error
    assert failed.data["running"] == "running"
    (_, interval) = await events(store, "strategy.reload_failed")
    assert "interval got '5m'" in interval.data["error"]
    (reloaded,) = logged(log_messages, "strategy.reloaded")
    assert reloaded["previous_state"] == "running"
    assert [m["level"] for m in logged(log_messages, "strategy.reload_failed")] == ["error", "error"]


async def test_a_callback_abandoned_by_a_cancellation_still_counts_in_the_next_answer(tmp_path: Path) -> None:
    """What the bot's shutdown does to a callback in flight: ``on_stop`` must see (and the runner store)
    the state that callback set."""
    file = write_strategy(
        tmp_path,
        """
        def settings():
            return {}

        def on_kline(kline):
            total = 0
            for i in range(3000000):
                total += i
            set_state("slow", total)
            log("slow done")
            return None

        def on_stop():
            set_state("stopped", get_state("slow"))
        """,
    )
    with trio.fail_after(20):
        client = await WorkerClient.start(WorkerLimits(callback_timeout=5), WorkerPlugins())
        try:
            await client.load(file, {}, 10)
            context = {"timestamp": 1}
            with trio.move_on_after(0.01):
                await client.call("on_kline", ({},), context)
            answer = await client.call("on_stop", (), context)
        finally:
            await client.aclose()
    total = sum(range(3000000))
    assert answer.dirty == {"slow": total, "stopped": total}
    assert answer.lines == [("log", "slow done")]
    assert client.process.returncode is not None


async def test_a_worker_that_dies_reports_why_and_refuses_further_requests(tmp_path: Path) -> None:
    file = write_strategy(tmp_path, COUNTING)
    with trio.fail_after(20):
        client = await WorkerClient.start(WorkerLimits(callback_timeout=BUDGET), WorkerPlugins())
        try:
            await client.load(file, {}, 10)
            client.process.kill()
            with pytest.raises(WorkerFailed) as died:
                await client.call("on_kline", ({"close": 1.0},), {})
            with pytest.raises(WorkerFailed) as again:
                await client.call("on_kline", ({"close": 1.0},), {})
        finally:
            await client.aclose()
    assert (died.value.reason, died.value.exit_code) == ("crashed: killed by SIGKILL", -9)
    assert again.value is died.value
    assert not client.alive


async def test_a_worker_outlives_the_thread_that_started_it(tmp_path: Path) -> None:
    """trio starts processes from its worker threads, which end after 10 idle seconds; a worker tied to that
    thread (prctl PR_SET_PDEATHSIG) was killed then, in the middle of a healthy run."""
    file = write_strategy(tmp_path, COUNTING)
    with trio.fail_after(40):
        client = await WorkerClient.start(WorkerLimits(callback_timeout=BUDGET), WorkerPlugins())
        try:
            await client.load(file, {}, 10)
            await trio.sleep(12)  # longer than trio's idle-thread timeout (10 s)
            answer = await client.call("on_kline", ({"close": 1.0},), {})
            assert client.alive and answer.error is None
        finally:
            await client.aclose()


PARENT_SCRIPT = """
import os, subprocess, sys, time
worker = [sys.executable, "-m", "marketmaestro.strategy.worker", str(os.getpid())]
child = subprocess.Popen(worker, stdin=subprocess.PIPE)
print(child.pid, flush=True)
time.sleep(60)
"""


def test_a_worker_ends_soon_after_its_parent_dies() -> None:
    """Even killed by SIGKILL, the bot leaves no worker behind."""
    import os
    import signal
    import subprocess
    import sys
    import time

    with subprocess.Popen([sys.executable, "-c", PARENT_SCRIPT], stdout=subprocess.PIPE, text=True) as parent:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        parent.kill()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    raise AssertionError(f"worker {worker} still running 5 s after its parent died")
