"""The strategy worker: one strategy's Starlark in a process of its own, under a memory limit.

A runaway loop cannot be interrupted and a memory bomb kills its whole process (see
../shared/docs/starlark-go-facts.md), so ``mm run`` runs every strategy in a child process,
``python -m marketmaestro.strategy.worker <parent pid>``, started by
:class:`~marketmaestro.strategy.isolation.WorkerClient`, which kills it when a callback overruns its budget;
the runner starts a new one when it dies.

The protocol: the parent writes requests to the worker's stdin and reads answers from its stdout, each a
frame of a 4-byte big-endian length and a pickle (both ends are this package; the framing is in
:mod:`~marketmaestro.strategy.isolation`, which this module imports rather than the other way round, so
that ``python -m`` finds this module not yet imported by its package). A request is
``(request_id, op, payload)``; the answer is ``(request_id, status, payload)`` with status ``"ok"``,
``"load_error"`` (the file does not load: the payload is the message) or ``"internal"`` (a bug here: the
payload is the traceback). The operations, in the order the parent uses them:

=========  ===============================================  ================================================
op         payload                                          answer
=========  ===============================================  ================================================
init       memory_mb, builtins, entry_points, functions     pid, functions (names), data_kb, limit_kb
load       file, overrides, history_max, kind               callbacks, config, defaults, interval,
                                                            uses_open_orders
state      state (the strategy's whole state)               None
history    klines, replace                                  None
call       callback, args, context, history (klines to add  result, lines, dirty, error, backtrace
           first), replace_history
=========  ===============================================  ================================================

``init`` loads the plugins that provide Starlark functions, then limits the process's data memory
(``RLIMIT_DATA``) to what it uses at that point plus ``memory_mb``, before any strategy code runs.
``RLIMIT_AS`` cannot be used: the Go runtime reserves about 6 GiB of address space it never touches.

Only the protocol may write to the real stdout: fd 1 is moved to a private descriptor at start and fd 1
then points at stderr, so stray output (the Go runtime's, a library's) cannot corrupt a frame. What the
strategy prints or logs travels back in ``lines``.
"""

from __future__ import annotations

import os
import pickle
import resource
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from marketmaestro.plugins.manager import load_plugins
from marketmaestro.strategy.engine import CallContext, StrategyEngine
from marketmaestro.strategy.isolation import HEADER, OUT_OF_MEMORY_EXIT, encode
from marketmaestro.strategy.sandbox import KINDS, StrategyLoadError, StrategyRuntimeError

_FALLBACK_BASELINE_KB = 256 * 1024
"""Data memory assumed for the worker itself where /proc cannot say (not Linux)."""


def _read_frame(stream: IO[bytes]) -> Any | None:
    """The next frame's message, or None at the end of the stream (the parent is gone)."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        return None
    return pickle.loads(payload)


class Worker:
    """The worker's side of the protocol: the engine and what ``init`` loaded."""

    def __init__(self) -> None:
        self.functions: dict[str, Callable[..., Any]] = {}
        self.starlark: dict[str, tuple[str, str]] = {}
        self.engine: StrategyEngine | None = None

    def handle(self, op: str, payload: dict[str, Any]) -> tuple[str, Any]:
        """Run one operation; return the answer's status and payload."""
        if op == "init":
            return "ok", self._init(payload)
        if op == "load":
            try:
                return "ok", self._load(payload)
            except (StrategyLoadError, StrategyRuntimeError) as exc:
                return "load_error", str(exc)
        if self.engine is None:
            raise RuntimeError(f"{op} before load")
        if op == "state":
            self.engine.state = dict(payload["state"])
            return "ok", None
        if op == "history":
            if payload["replace"]:
                self.engine.history.clear()
            self.engine.history.extend(payload["klines"])
            return "ok", None
        if op == "call":
            return "ok", self._call(payload)
        raise ValueError(f"unknown operation {op!r}")

    def _init(self, payload: dict[str, Any]) -> dict[str, Any]:
        host = load_plugins(
            builtins=payload["builtins"],
            environ={"MM_LOAD_PLUGINS": ",".join(payload["entry_points"])},
        )
        self.functions = {name: entry.function for name, entry in host.registry.functions.items()}
        self.functions.update(payload["functions"])
        # Functions given by the parent (payload["functions"]) replace plugin ones, Starlark version too.
        self.starlark = {
            name: source
            for name, source in host.registry.starlark_functions().items()
            if name not in payload["functions"]
        }
        baseline_kb = _data_kb()
        limit_kb = _limit_data(baseline_kb, payload["memory_mb"])
        return {
            "pid": os.getpid(),
            "functions": sorted(self.functions),
            "data_kb": baseline_kb,
            "limit_kb": limit_kb,
        }

    def _load(self, payload: dict[str, Any]) -> dict[str, Any]:
        engine = StrategyEngine(
            Path(payload["file"]),
            self.functions,
            payload["overrides"],
            history_max=payload["history_max"],
            starlark=self.starlark,
            kind=KINDS[payload.get("kind", "strategy")],
        )
        engine.load()
        self.engine = engine
        return {
            "callbacks": sorted(engine.callbacks),
            "config": engine.config,
            "defaults": engine.defaults,
            "interval": engine.interval,
            "uses_open_orders": engine.uses_open_orders,
        }

    def _call(self, payload: dict[str, Any]) -> dict[str, Any]:
        engine = self.engine
        assert engine is not None
        if payload["replace_history"]:
            engine.history.clear()
        engine.history.extend(payload["history"])
        engine.context = CallContext(**payload["context"])
        result: Any = None
        error: str | None = None
        backtrace: str | None = None
        try:
            result = engine.call(payload["callback"], *payload["args"])
        except StrategyRuntimeError as exc:
            error, backtrace = str(exc), exc.backtrace
        try:
            pickle.dumps(result)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            returned = type(result).__name__
            result, error = None, f"{payload['callback']}: returned {returned}, not a signal ({exc})"
        return {
            "result": result,
            "lines": engine.take_lines(),
            "dirty": engine.take_dirty(),
            "error": error,
            "backtrace": backtrace,
        }


def _data_kb() -> int:
    """The process's data memory (VmData) in KiB: heap, thread stacks and private writable mappings."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return _FALLBACK_BASELINE_KB


def _limit_data(baseline_kb: int, memory_mb: int) -> int:
    """Cap data memory at what the worker uses now plus the strategy's allowance; return the cap in KiB."""
    limit = (baseline_kb + memory_mb * 1024) * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    # The hard limit too, so nothing running in here can raise it again.
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    return limit // 1024


PARENT_CHECK_SECONDS = 0.5


def _die_with_parent(parent: int) -> None:
    """End this process soon after the bot dies (even by SIGKILL): a worker stuck in a loop never reads the
    end of its stdin.

    A thread that watches the parent's pid, because the GIL is released while Starlark runs, so it keeps
    running beside a runaway callback. Not prctl(PR_SET_PDEATHSIG): that fires when the parent *thread* that
    started the worker exits, and trio starts processes from worker threads that end after 10 idle seconds.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """Answer requests until the parent closes stdin."""
    worker = Worker()
    while True:
        message = _read_frame(requests)
        if message is None:
            return
        request_id, op, payload = message
        try:
            status, answer = worker.handle(op, payload)
        except MemoryError:
            raise
        except Exception:
            status, answer = "internal", traceback.format_exc()
        answers.write(encode((request_id, status, answer)))
        answers.flush()


def main() -> None:
    """The entry point of ``python -m marketmaestro.strategy.worker <parent pid>``."""
    # Ctrl-C in a terminal reaches the whole process group; the bot decides when its workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if len(sys.argv) > 1:
        _die_with_parent(int(sys.argv[1]))
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    try:
        serve(sys.stdin.buffer, answers)
    except MemoryError:
        os.write(2, b"MemoryError: the strategy worker is out of memory\n")
        os._exit(OUT_OF_MEMORY_EXIT)


if __name__ == "__main__":
    main()
