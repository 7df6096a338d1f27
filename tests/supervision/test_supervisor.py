"""``supervise``: restarts with exponential backoff, escalation, health states, and what is no failure.

Every test runs on trio's ``autojump_clock``: the clock jumps to the next deadline whenever all tasks
sleep, so the backoff sleeps are checked exactly with ``trio.current_time()`` and cost no wall time.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import pytest
import trio
import trio.testing

from marketmaestro.supervision import EscalationError, HealthRegistry, RestartPolicy, supervise

NAME = "exchange:paper/feed"

Behaviour = Callable[[int, trio.TaskStatus[Any]], Awaitable[None]]
"""What one run of a child does, given its run number (1 for the first run)."""


class Child:
    """A ``task_status``-style service whose runs do what ``behaviour`` says; records when each began.

    A supervisor that restarts it more than ``MAX_RUNS`` times fails the test (``pytest.fail`` raises a
    ``BaseException``, which no supervisor catches) instead of restarting it for ever.
    """

    MAX_RUNS = 20

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.starts: list[float] = []

    async def run(self, *, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
        self.starts.append(trio.current_time())
        if len(self.starts) > self.MAX_RUNS:
            pytest.fail(f"the child was started {len(self.starts)} times: {self.starts}")
        await self.behaviour(len(self.starts), task_status)


class RestartLog:
    """An ``on_restart`` callback that records its calls and the time each one finished."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[tuple[str, BaseException, int]] = []
        self.finished_at: list[float] = []

    async def __call__(self, name: str, exc: BaseException, count: int) -> None:
        self.calls.append((name, exc, count))
        await trio.sleep(self.delay)
        self.finished_at.append(trio.current_time())


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


async def test_a_failing_child_is_restarted_with_exponential_backoff_capped_at_backoff_max(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def fail_seven_times(run: int, task_status: trio.TaskStatus[Any]) -> None:
        task_status.started()
        if run <= 7:
            raise RuntimeError(f"boom {run}")

    child = Child(fail_seven_times)
    health = HealthRegistry()
    policy = RestartPolicy(max_restarts=10, window=1000, backoff_initial=0.5, backoff_max=4)

    await supervise(NAME, child.run, policy=policy, health=health)

    assert gaps(child.starts) == pytest.approx([0.5, 1, 2, 4, 4, 4, 4])
    entry = health.get(NAME)
    assert (entry.state, entry.restarts, entry.last_error) == ("stopped", 7, "RuntimeError: boom 7")


async def test_more_than_max_restarts_within_the_window_escalates_with_the_last_failure_as_cause(
    autojump_clock: trio.testing.MockClock,
) -> None:
    failures: list[ValueError] = []

    async def fail_after_a_second(run: int, task_status: trio.TaskStatus[Any]) -> None:
        task_status.started()
        await trio.sleep(1)
        failures.append(ValueError(f"failure {run}"))
        raise failures[-1]

    child = Child(fail_after_a_second)
    health = HealthRegistry()
    on_restart = RestartLog()
    policy = RestartPolicy(max_restarts=3, window=60, backoff_initial=0.5, backoff_max=30)

    with pytest.raises(EscalationError) as caught:
        await supervise(NAME, child.run, policy=policy, health=health, on_restart=on_restart)

    assert len(child.starts) == 4, "the first run and max_restarts restarts, then no more"
    assert caught.value.__cause__ is failures[-1]
    assert caught.value.name == NAME
    assert caught.value.restarts == 4
    assert str(caught.value) == f"{NAME} failed 4 times within 60 s; escalating to its parent"
    # It escalates as soon as the last failure is recorded, without sleeping another backoff first.
    assert trio.current_time() == pytest.approx(child.starts[-1] + 1)
    assert [(name, exc, count) for name, exc, count in on_restart.calls] == [
        (NAME, failure, count) for count, failure in enumerate(failures, start=1)
    ]
    entry = health.get(NAME)
    assert (entry.state, entry.restarts, entry.last_error) == ("failed", 4, "ValueError: failure 4")
    assert health.status() == "failed"


async def test_backoff_and_the_restart_count_start_afresh_after_a_quiet_window(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def two_quick_failures_a_long_run_then_quick_failures(
        run: int, task_status: trio.TaskStatus[Any]
    ) -> None:
        task_status.started()
        if run == 3:
            await trio.sleep(11)  # longer than the window since the last failure
        raise RuntimeError(f"boom {run}")

    child = Child(two_quick_failures_a_long_run_then_quick_failures)
    health = HealthRegistry()
    policy = RestartPolicy(max_restarts=2, window=10, backoff_initial=1, backoff_max=8)

    with pytest.raises(EscalationError) as caught:
        await supervise(NAME, child.run, policy=policy, health=health)

    # Runs 1 and 2 fail at once (backoff 1, then 2). Run 3 fails 11 s later: the two earlier failures
    # left the window, so it is failure 1 of a new count and the backoff is 1 again (not 4).
    # Runs 4 and 5 fail at once: three failures within 10 s, one more than max_restarts.
    assert child.starts == pytest.approx([0, 1, 3, 15, 17])
    assert caught.value.restarts == 3
    assert trio.current_time() == pytest.approx(17)
    assert health.get(NAME).restarts == 5, "the health count is the total, never reset"


async def test_failures_further_apart_than_the_window_never_escalate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def fail_every_eleven_seconds(run: int, task_status: trio.TaskStatus[Any]) -> None:
        task_status.started()
        if run <= 6:
            await trio.sleep(11)
            raise RuntimeError(f"boom {run}")

    child = Child(fail_every_eleven_seconds)
    health = HealthRegistry()
    policy = RestartPolicy(max_restarts=1, window=10, backoff_initial=1, backoff_max=8)

    await supervise(NAME, child.run, policy=policy, health=health)

    assert gaps(child.starts) == pytest.approx([12] * 6), "11 s running plus a fresh 1 s backoff each time"
    entry = health.get(NAME)
    assert (entry.state, entry.restarts) == ("stopped", 6)


async def test_health_shows_starting_running_restarting_and_stopped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def slow_start_then_fail_once(run: int, task_status: trio.TaskStatus[Any]) -> None:
        await trio.sleep(1)
        task_status.started()
        await trio.sleep(4)
        if run == 1:
            raise RuntimeError("lost the connection")

    child = Child(slow_start_then_fail_once)
    health = HealthRegistry()
    policy = RestartPolicy(max_restarts=5, window=60, backoff_initial=2, backoff_max=30)

    def seen() -> tuple[str, int, str | None, str]:
        entry = health.get(NAME)
        return entry.state, entry.restarts, entry.last_error, health.status()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(supervise, NAME, child.run, policy=policy, health=health))
        await trio.sleep(0.5)  # run 1 is still starting
        assert seen() == ("starting", 0, None, "degraded")
        await trio.sleep(1)  # t=1.5: run 1 started at t=1
        assert seen() == ("running", 0, None, "ok")
        await trio.sleep(4)  # t=5.5: run 1 failed at t=5; the backoff lasts until t=7
        assert seen() == ("restarting", 1, "RuntimeError: lost the connection", "degraded")
        await trio.sleep(2)  # t=7.5: run 2 began at t=7 and is starting
        assert seen() == ("starting", 1, "RuntimeError: lost the connection", "degraded")
        await trio.sleep(1)  # t=8.5: run 2 started at t=8
        assert seen() == ("running", 1, "RuntimeError: lost the connection", "ok")
    # Run 2 returned at t=12, which ends the supervisor.
    assert trio.current_time() == pytest.approx(12)
    assert seen() == ("stopped", 1, "RuntimeError: lost the connection", "ok")
    snapshot = health.snapshot()
    assert snapshot["restarts"] == 1
    assert snapshot["components"][NAME]["state"] == "stopped"


async def test_on_restart_is_awaited_with_the_name_the_exception_and_the_count_before_the_restart(
    autojump_clock: trio.testing.MockClock,
) -> None:
    errors = [RuntimeError("first"), KeyError("second"), OSError("third")]

    async def fail_three_times(run: int, task_status: trio.TaskStatus[Any]) -> None:
        task_status.started()
        if run <= len(errors):
            raise errors[run - 1]

    child = Child(fail_three_times)
    on_restart = RestartLog(delay=3)
    policy = RestartPolicy(max_restarts=5, window=60, backoff_initial=1, backoff_max=30)

    await supervise(NAME, child.run, policy=policy, health=HealthRegistry(), on_restart=on_restart)

    assert on_restart.calls == [(NAME, errors[0], 1), (NAME, errors[1], 2), (NAME, errors[2], 3)]
    assert all(call[1] is error for call, error in zip(on_restart.calls, errors, strict=True))
    # Each restart waits for on_restart (3 s) and then the backoff (1, 2, 4 s).
    assert on_restart.finished_at == pytest.approx([3, 7, 12])
    assert child.starts == pytest.approx([0, 4, 9, 16])


async def test_on_restart_finishes_even_when_the_supervisor_is_cancelled_meanwhile(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def fail_at_once(run: int, task_status: trio.TaskStatus[Any]) -> None:
        task_status.started()
        raise RuntimeError(f"boom {run}")

    child = Child(fail_at_once)
    on_restart = RestartLog(delay=3)
    policy = RestartPolicy(max_restarts=5, window=60, backoff_initial=1, backoff_max=30)

    with trio.move_on_after(1) as scope:
        await supervise(NAME, child.run, policy=policy, health=HealthRegistry(), on_restart=on_restart)

    assert scope.cancelled_caught
    assert on_restart.finished_at == pytest.approx([3]), "the restart is recorded despite the shutdown"
    assert len(child.starts) == 1, "and the child is not restarted"


async def test_cancellation_of_a_running_child_is_not_a_failure(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def run_a_nursery_forever(run: int, task_status: trio.TaskStatus[Any]) -> None:
        # A child with tasks of its own: their cancellation arrives as a group of Cancelled.
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.sleep_forever)
            nursery.start_soon(trio.sleep_forever)
            task_status.started()

    child = Child(run_a_nursery_forever)
    health = HealthRegistry()
    on_restart = RestartLog()
    policy = RestartPolicy(max_restarts=5, window=60, backoff_initial=1, backoff_max=30)

    with trio.move_on_after(5) as scope:
        await supervise(NAME, child.run, policy=policy, health=health, on_restart=on_restart)

    assert scope.cancelled_caught
    assert len(child.starts) == 1
    assert on_restart.calls == []
    entry = health.get(NAME)
    assert (entry.restarts, entry.last_error) == (0, None)
    assert entry.state not in ("restarting", "failed")


async def test_cancellation_during_the_backoff_stops_without_restarting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def fail_at_once(run: int, task_status: trio.TaskStatus[Any]) -> None:
        task_status.started()
        raise RuntimeError(f"boom {run}")

    child = Child(fail_at_once)
    health = HealthRegistry()
    policy = RestartPolicy(max_restarts=5, window=60, backoff_initial=10, backoff_max=30)

    with trio.move_on_after(5) as scope:
        await supervise(NAME, child.run, policy=policy, health=health)

    assert scope.cancelled_caught
    assert trio.current_time() == pytest.approx(5)
    assert len(child.starts) == 1
    assert health.get(NAME).restarts == 1


async def test_a_child_that_returns_ends_the_supervisor_as_stopped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def work_then_return(run: int, task_status: trio.TaskStatus[Any]) -> None:
        task_status.started()
        await trio.sleep(2)

    child = Child(work_then_return)
    health = HealthRegistry()
    policy = RestartPolicy(max_restarts=5, window=60, backoff_initial=1, backoff_max=30)

    await supervise(NAME, child.run, policy=policy, health=health)

    assert len(child.starts) == 1, "a child that returns is done, not restarted"
    assert trio.current_time() == pytest.approx(2)
    entry = health.get(NAME)
    assert (entry.state, entry.restarts, entry.last_error) == ("stopped", 0, None)


async def test_nursery_start_returns_at_the_first_started_and_restarts_do_not_report_again(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def start_then_crash_once(run: int, task_status: trio.TaskStatus[Any]) -> None:
        await trio.sleep(1)
        # A second started() on the supervisor's own task_status would raise RuntimeError here,
        # which the supervisor would then count as another failure.
        task_status.started(f"ready {run}")
        await trio.sleep(1)
        if run == 1:
            raise RuntimeError("crash after start")

    child = Child(start_then_crash_once)
    health = HealthRegistry()
    policy = RestartPolicy(max_restarts=5, window=60, backoff_initial=0.5, backoff_max=30)

    async with trio.open_nursery() as nursery:
        value = await nursery.start(partial(supervise, NAME, child.run, policy=policy, health=health))
        assert value == "ready 1"
        assert trio.current_time() == pytest.approx(1), "start returns when the child started, not later"
        assert len(child.starts) == 1
        assert health.get(NAME).state == "running"

    assert child.starts == pytest.approx([0, 2.5])
    entry = health.get(NAME)
    assert (entry.state, entry.restarts, entry.last_error) == (
        "stopped",
        1,
        "RuntimeError: crash after start",
    )


async def test_nursery_start_waits_for_a_child_that_fails_before_it_started(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def fail_before_starting_once(run: int, task_status: trio.TaskStatus[Any]) -> None:
        if run == 1:
            raise ConnectionError("not reachable yet")
        task_status.started("connected")
        await trio.sleep_forever()

    child = Child(fail_before_starting_once)
    health = HealthRegistry()
    policy = RestartPolicy(max_restarts=5, window=60, backoff_initial=3, backoff_max=30)

    async with trio.open_nursery() as nursery:
        value = await nursery.start(partial(supervise, NAME, child.run, policy=policy, health=health))
        assert value == "connected"
        assert trio.current_time() == pytest.approx(3)
        entry = health.get(NAME)
        assert (entry.state, entry.restarts) == ("running", 1)
        nursery.cancel_scope.cancel()


async def test_nursery_start_raises_the_escalation_of_a_child_that_never_started(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def never_start(run: int, task_status: trio.TaskStatus[Any]) -> None:
        raise ConnectionError(f"not reachable ({run})")

    child = Child(never_start)
    policy = RestartPolicy(max_restarts=2, window=60, backoff_initial=1, backoff_max=30)

    async with trio.open_nursery() as nursery:
        with pytest.raises(EscalationError) as caught:
            await nursery.start(partial(supervise, NAME, child.run, policy=policy, health=HealthRegistry()))

    assert len(child.starts) == 3
    assert isinstance(caught.value.__cause__, ConnectionError)
    assert str(caught.value.__cause__) == "not reachable (3)"


async def test_a_failing_on_restart_callback_changes_neither_restart_nor_escalation(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def fail_twice(run: int, task_status: trio.TaskStatus[Any]) -> None:
        task_status.started()
        if run <= 2:
            raise RuntimeError(f"boom {run}")

    async def broken_record(name: str, exc: BaseException, count: int) -> None:
        raise OSError("database is locked")

    child = Child(fail_twice)
    health = HealthRegistry()
    policy = RestartPolicy(max_restarts=5, window=1000, backoff_initial=0.5, backoff_max=4)

    await supervise(NAME, child.run, policy=policy, health=health, on_restart=broken_record)

    assert len(child.starts) == 3, "restarted after each failure although recording it failed"
    assert health.get(NAME).state == "stopped"
