"""``Component.run``: ``on_start`` before any message and on every restart; ``on_stop`` always, shielded.

``on_start`` and ``on_stop`` of the component below sleep one (virtual) second before they record
themselves, so a hook that ran unshielded during a cancellation would be interrupted and not recorded.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
import trio
import trio.testing

from marketmaestro.supervision import Component, HealthRegistry, Mailbox, RestartPolicy, supervise
from tests.supervision.conftest import BOUND_SECONDS, bounded_nursery

NAME = "exchange:paper/recorder"


class Recorder(Component):
    """Records its lifecycle and the messages it handles, in order; ``"crash"`` makes it raise."""

    component = "recorder"

    def __init__(self, mailbox: Mailbox) -> None:
        super().__init__(mailbox, exchange="paper")
        self.log: list[str] = []

    async def on_start(self) -> None:
        await trio.sleep(1)  # e.g. loading state from the database
        self.log.append("start")

    async def on_stop(self) -> None:
        await trio.sleep(1)  # e.g. flushing to the database
        self.log.append("stop")

    async def handle(self, msg: Any) -> Any:
        if msg == "crash":
            raise RuntimeError("crash requested")
        self.log.append(f"handle {msg}")
        return msg


async def test_on_start_runs_before_the_first_message_and_before_started(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder(Mailbox(NAME))
    # Queued before the component runs: only on_start's place in run() orders it before them.
    await recorder.mailbox.send("a")
    await recorder.mailbox.send("b")

    async with bounded_nursery() as nursery:
        await nursery.start(recorder.run)
        assert trio.current_time() == pytest.approx(1), "started() is reported once on_start finished"
        assert recorder.log[0] == "start"
        assert await recorder.mailbox.request("c", timeout=1) == "c"
        assert recorder.log == ["start", "handle a", "handle b", "handle c"]
        nursery.cancel_scope.cancel()


async def test_on_start_runs_again_on_every_restart(autojump_clock: trio.testing.MockClock) -> None:
    recorder = Recorder(Mailbox(NAME))
    health = HealthRegistry()
    policy = RestartPolicy(max_restarts=5, window=60, backoff_initial=0.5, backoff_max=30)

    async with bounded_nursery() as nursery:
        await nursery.start(partial(supervise, NAME, recorder.run, policy=policy, health=health))
        await recorder.mailbox.send("crash")
        await recorder.mailbox.send("x")
        await recorder.mailbox.send("crash")
        assert await recorder.mailbox.request("y", timeout=10) == "y"
        nursery.cancel_scope.cancel()

    assert recorder.log == ["start", "stop", "start", "handle x", "stop", "start", "handle y", "stop"]
    assert health.get(NAME).restarts == 2


async def test_on_stop_runs_shielded_when_the_component_is_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    recorder = Recorder(Mailbox(NAME))

    async with bounded_nursery() as nursery:
        await nursery.start(recorder.run)
        await recorder.mailbox.request("a", timeout=1)
        nursery.cancel_scope.cancel()

    assert recorder.log == ["start", "handle a", "stop"]
    assert trio.current_time() == pytest.approx(2), "on_stop's sleep ran to the end despite the cancel"


async def test_on_stop_runs_when_the_component_crashes(autojump_clock: trio.testing.MockClock) -> None:
    recorder = Recorder(Mailbox(NAME))
    await recorder.mailbox.send("a")
    await recorder.mailbox.send("crash")
    await recorder.mailbox.send("never handled")

    with pytest.raises(RuntimeError, match="crash requested"), trio.fail_after(BOUND_SECONDS):
        await recorder.run()

    assert recorder.log == ["start", "handle a", "stop"]
    assert trio.current_time() == pytest.approx(2)
    assert recorder.mailbox.statistics()["queued"] == 1, "the rest waits for the restarted component"


async def test_on_stop_runs_when_on_start_fails(autojump_clock: trio.testing.MockClock) -> None:
    class FailsToStart(Recorder):
        async def on_start(self) -> None:
            raise OSError("database locked")

    component = FailsToStart(Mailbox(NAME))

    with pytest.raises(OSError, match="database locked"), trio.fail_after(BOUND_SECONDS):
        await component.run()

    assert component.log == ["stop"]
