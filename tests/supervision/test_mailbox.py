"""``Mailbox``: request/response, timeouts, failures, bad requests, restarts and statistics.

The component under test is a real ``Component`` run by a real ``supervise``, on trio's
``autojump_clock`` so timeouts and backoffs cost no wall time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
import trio
import trio.testing

from marketmaestro.supervision import (
    BadRequest,
    Component,
    HealthRegistry,
    Mailbox,
    RequestFailed,
    RequestTimeout,
    RestartPolicy,
    supervise,
)
from tests.supervision.conftest import bounded_nursery

NAME = "exchange:paper/echo"
POLICY = RestartPolicy(max_restarts=5, window=60, backoff_initial=1, backoff_max=30)


@dataclass(frozen=True)
class Ask:
    text: str


@dataclass(frozen=True)
class Crash:
    reason: str


@dataclass(frozen=True)
class Invalid:
    reason: str


@dataclass(frozen=True)
class Slow:
    seconds: float


class Echo(Component):
    """Answers ``Ask`` with its text and an exclamation mark; counts its (re)starts as generations."""

    component = "echo"

    def __init__(self, mailbox: Mailbox) -> None:
        super().__init__(mailbox, exchange="paper")
        self.generation = 0
        self.handled: list[tuple[int, str]] = []
        self.errors: list[KeyError] = []

    async def on_start(self) -> None:
        self.generation += 1

    async def handle(self, msg: Any) -> Any:
        match msg:
            case Ask(text):
                self.handled.append((self.generation, text))
                return f"{text}!"
            case Crash(reason):
                self.errors.append(KeyError(reason))
                raise self.errors[-1]
            case Invalid(reason):
                raise BadRequest(reason)
            case Slow(seconds):
                await trio.sleep(seconds)
                return "late"
        return await super().handle(msg)


async def start_echo(nursery: trio.Nursery, health: HealthRegistry, capacity: int = 16) -> Echo:
    echo = Echo(Mailbox(NAME, capacity))
    await nursery.start(partial(supervise, NAME, echo.run, policy=POLICY, health=health))
    return echo


async def test_a_request_gets_the_component_answer(autojump_clock: trio.testing.MockClock) -> None:
    async with bounded_nursery() as nursery:
        echo = await start_echo(nursery, HealthRegistry())
        await echo.mailbox.send(Ask("plain message"))  # no answer expected
        assert await echo.mailbox.request(Ask("hello"), timeout=1) == "hello!"
        assert await echo.mailbox.request(Ask("again"), timeout=1) == "again!"
        assert echo.handled == [(1, "plain message"), (1, "hello"), (1, "again")]
        nursery.cancel_scope.cancel()


async def test_a_request_nobody_answers_times_out(autojump_clock: trio.testing.MockClock) -> None:
    mailbox = Mailbox(NAME, capacity=4)

    with pytest.raises(RequestTimeout, match=rf"^{NAME} did not answer Ask within 2\.5 s$"):
        await mailbox.request(Ask("anyone?"), timeout=2.5)

    assert trio.current_time() == pytest.approx(2.5)
    assert isinstance(RequestTimeout("x"), TimeoutError)
    assert mailbox.statistics()["queued"] == 1, "the message stays for the component to handle later"


async def test_a_request_to_a_full_mailbox_times_out(autojump_clock: trio.testing.MockClock) -> None:
    mailbox = Mailbox(NAME, capacity=1)
    mailbox.send_nowait(Ask("fills the mailbox"))

    with pytest.raises(RequestTimeout):
        await mailbox.request(Ask("no room"), timeout=1)

    assert trio.current_time() == pytest.approx(1)
    assert mailbox.statistics()["queued"] == 1


async def test_a_slow_answer_times_out_and_the_component_carries_on(
    autojump_clock: trio.testing.MockClock,
) -> None:
    health = HealthRegistry()
    async with bounded_nursery() as nursery:
        echo = await start_echo(nursery, health)

        with pytest.raises(RequestTimeout, match="did not answer Slow within 1 s"):
            await echo.mailbox.request(Slow(5), timeout=1)
        # The late answer goes to a requester that gave up: that is not an error for the component.
        assert await echo.mailbox.request(Ask("next"), timeout=10) == "next!"
        assert trio.current_time() == pytest.approx(5)
        assert echo.generation == 1
        assert health.get(NAME).restarts == 0
        nursery.cancel_scope.cancel()


async def test_a_component_that_raises_fails_the_request_with_the_error_as_cause_and_restarts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    health = HealthRegistry()
    async with bounded_nursery() as nursery:
        echo = await start_echo(nursery, health)

        with pytest.raises(RequestFailed, match=rf"^{NAME} failed on Crash: 'disk gone'$") as caught:
            await echo.mailbox.request(Crash("disk gone"), timeout=5)

        assert caught.value.__cause__ is echo.errors[0]
        assert await echo.mailbox.request(Ask("after"), timeout=5) == "after!"
        assert echo.handled == [(2, "after")], "answered by the restarted component"
        entry = health.get(NAME)
        assert (entry.restarts, entry.last_error) == (1, "KeyError: 'disk gone'")
        nursery.cancel_scope.cancel()


async def test_a_bad_request_is_answered_and_the_component_keeps_running(
    autojump_clock: trio.testing.MockClock,
) -> None:
    health = HealthRegistry()
    async with bounded_nursery() as nursery:
        echo = await start_echo(nursery, health)
        await echo.mailbox.request(Ask("before"), timeout=1)

        with pytest.raises(RequestFailed, match="failed on Invalid: quantity must be positive") as caught:
            await echo.mailbox.request(Invalid("quantity must be positive"), timeout=1)

        assert isinstance(caught.value.__cause__, BadRequest)
        assert str(caught.value.__cause__) == "quantity must be positive"
        assert await echo.mailbox.request(Ask("after"), timeout=1) == "after!"
        assert echo.handled == [(1, "before"), (1, "after")], "same generation: state kept, no restart"
        assert trio.current_time() == 0, "no backoff was slept"
        entry = health.get(NAME)
        assert (entry.state, entry.restarts, entry.last_error) == ("running", 0, None)
        nursery.cancel_scope.cancel()


async def test_messages_sent_while_the_component_restarts_reach_the_restarted_component(
    autojump_clock: trio.testing.MockClock,
) -> None:
    health = HealthRegistry()
    async with bounded_nursery() as nursery:
        echo = await start_echo(nursery, health)
        await echo.mailbox.send(Crash("bug"))
        await trio.sleep(0.5)  # inside the 1 s backoff
        assert health.get(NAME).state == "restarting"

        await echo.mailbox.send(Ask("a"))
        await echo.mailbox.send(Ask("b"))
        assert echo.mailbox.statistics()["queued"] == 2
        answer = await echo.mailbox.request(Ask("c"), timeout=5)

        assert answer == "c!"
        assert trio.current_time() == pytest.approx(1)
        assert echo.handled == [(2, "a"), (2, "b"), (2, "c")]
        assert health.get(NAME).state == "running"
        nursery.cancel_scope.cancel()


async def test_statistics_report_queued_messages_and_capacity(
    autojump_clock: trio.testing.MockClock,
) -> None:
    mailbox = Mailbox(NAME, capacity=2)
    assert mailbox.statistics() == {"queued": 0, "capacity": 2}

    mailbox.send_nowait(Ask("one"))
    await mailbox.send(Ask("two"))
    assert mailbox.statistics() == {"queued": 2, "capacity": 2}
    with pytest.raises(trio.WouldBlock):
        mailbox.send_nowait(Ask("three"))
    with trio.move_on_after(1) as scope:
        await mailbox.send(Ask("three"))  # backpressure: waits for room
    assert scope.cancelled_caught

    echo = Echo(mailbox)
    async with bounded_nursery() as nursery:
        await nursery.start(echo.run)
        await trio.sleep(0.1)
        assert mailbox.statistics() == {"queued": 0, "capacity": 2}
        assert echo.handled == [(1, "one"), (1, "two")]
        nursery.cancel_scope.cancel()

    unbounded = Mailbox(NAME, capacity=math.inf)  # type: ignore[arg-type]  # trio accepts inf
    assert unbounded.statistics() == {"queued": 0, "capacity": -1}
