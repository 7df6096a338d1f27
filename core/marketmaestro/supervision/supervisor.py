"""Restart policy: the supervisor that runs one child of the nursery tree.

The trio nursery tree is MarketMaestro's supervision hierarchy (the seed's actor tree). A child that
raises is restarted by ``supervise`` with exponential backoff; when it has restarted more than
``max_restarts`` times within ``window`` seconds, ``supervise`` gives up and raises ``EscalationError`` into
its parent, whose own supervisor then restarts the parent's whole subtree (or, at the root, stops the bot).
Cancellation (shutdown) is never caught: it always propagates.

::

    supervise("bot")                                  root: escalation stops the bot (exit 1)
    ├── supervise("api")                              the web server
    └── supervise("exchange:paper")                   one per exchange; a failure stays inside it
        ├── supervise("exchange:paper/feed")
        ├── supervise("exchange:paper/order_manager")
        ├── supervise("exchange:paper/risk_manager")
        ├── ...
        └── supervise("exchange:paper/strategy:simple_sma:BTCUSDT")
"""

from __future__ import annotations

import traceback
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import trio

from marketmaestro.logs import log_event
from marketmaestro.supervision.health import HealthRegistry, describe


@dataclass(frozen=True)
class RestartPolicy:
    max_restarts: int = 5
    window: float = 60.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0


class EscalationError(RuntimeError):
    """A child restarted too often; its parent must deal with it. The last failure is the cause."""

    def __init__(self, name: str, restarts: int, window: float) -> None:
        super().__init__(f"{name} failed {restarts} times within {window:g} s; escalating to its parent")
        self.name = name
        self.restarts = restarts


class Startable(Protocol):
    def __call__(self, *, task_status: trio.TaskStatus[Any] = ...) -> Awaitable[None]: ...


OnRestart = Callable[[str, BaseException, int], Awaitable[None]]


class _FirstStart:
    """Passes a child's first ``started()`` through to whoever started the supervisor; later restarts of
    the child only update its health."""

    def __init__(self, outer: trio.TaskStatus[Any], on_started: Callable[[], None]) -> None:
        self._outer = outer
        self._on_started = on_started
        self._done = False

    def started(self, value: Any = None) -> None:
        self._on_started()
        if not self._done:
            self._done = True
            self._outer.started(value)


async def supervise(
    name: str,
    target: Startable,
    *,
    policy: RestartPolicy,
    health: HealthRegistry,
    on_restart: OnRestart | None = None,
    task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``target`` (a ``task_status``-style service) and restart it when it raises.

    Returns when ``target`` returns. Start with ``await nursery.start(supervise, ...)``: it returns once the
    child reported ``task_status.started()`` the first time.
    """
    recent: deque[float] = deque()
    backoff = policy.backoff_initial
    first = _FirstStart(task_status, lambda: health.set_state(name, "running"))
    while True:
        health.set_state(name, "starting")
        try:
            await target(task_status=first)
        except Exception as exc:
            now = trio.current_time()
            if recent and now - recent[-1] > policy.window:
                backoff = policy.backoff_initial  # it ran well for a whole window: start backoff afresh
            recent.append(now)
            while recent and now - recent[0] > policy.window:
                recent.popleft()
            count = health.record_restart(name, exc)
            log_event(
                "supervisor.child_failed",
                level="error",
                component=name,
                restarts=count,
                exception=describe(exc),
                traceback="".join(traceback.format_exception(exc)),
            )
            if on_restart is not None:
                with trio.CancelScope(shield=True):
                    try:
                        await on_restart(name, exc, count)
                    except Exception as hook_error:  # recording a restart must not change the policy
                        log_event(
                            "supervisor.on_restart_failed",
                            level="error",
                            component=name,
                            error=describe(hook_error),
                        )
            if len(recent) > policy.max_restarts:
                health.set_state(name, "failed")
                raise EscalationError(name, len(recent), policy.window) from exc
            log_event("supervisor.restarting", level="warning", component=name, backoff_seconds=backoff)
            await trio.sleep(backoff)
            backoff = min(backoff * 2, policy.backoff_max)
        else:
            health.set_state(name, "stopped")
            return
