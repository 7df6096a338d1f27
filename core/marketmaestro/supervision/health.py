"""The health registry: what every supervised component is doing and how often it restarted.

Supervisors write it; the health endpoint and ``mm run``'s console read snapshots of it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

State = Literal["starting", "running", "restarting", "failed", "stopped"]


@dataclass
class ComponentHealth:
    name: str
    state: State = "starting"
    restarts: int = 0
    last_error: str | None = None
    since: float = field(default_factory=time.time)
    detail: str | None = None


def describe(error: BaseException) -> str:
    """``Type: message`` of an error; for an exception group (a failed nursery), of each error inside it."""
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(describe(inner) for inner in error.exceptions)
    return f"{type(error).__name__}: {error}"


class HealthRegistry:
    def __init__(self) -> None:
        self._components: dict[str, ComponentHealth] = {}
        self.started_at = time.time()
        self.stopping = False

    def get(self, name: str) -> ComponentHealth:
        if name not in self._components:
            self._components[name] = ComponentHealth(name)
        return self._components[name]

    def set_state(self, name: str, state: State, *, detail: str | None = None) -> None:
        entry = self.get(name)
        entry.state, entry.since = state, time.time()
        if detail is not None:
            entry.detail = detail

    def record_restart(self, name: str, error: BaseException) -> int:
        entry = self.get(name)
        entry.restarts += 1
        entry.last_error = describe(error)
        entry.state, entry.since = "restarting", time.time()
        return entry.restarts

    def remove_prefix(self, prefix: str) -> None:
        """Forget the components below ``prefix`` (their parent is restarting and will recreate them)."""
        for name in [n for n in self._components if n.startswith(prefix)]:
            del self._components[name]

    def status(self) -> str:
        if self.stopping:
            return "stopping"
        states = {c.state for c in self._components.values()}
        if "failed" in states:
            return "failed"
        if states & {"restarting", "starting"}:
            return "degraded"
        return "ok"

    def snapshot(self) -> dict[str, Any]:
        components = {name: asdict(c) for name, c in sorted(self._components.items())}
        return {
            "status": self.status(),
            "uptime_seconds": round(time.time() - self.started_at, 3),
            "restarts": sum(c.restarts for c in self._components.values()),
            "components": components,
        }
