"""The parent's side of a strategy worker process: start it, ask it, and kill it when it misbehaves.

Every request to a :class:`WorkerClient` has a deadline: the strategy's ``callback_timeout`` when strategy
code runs (``load``, ``call``), ``start_timeout`` for starting the process. A worker that misses its
deadline is killed with SIGKILL, the only way to stop a running Starlark loop; one that dies on its own
(the memory limit, a crash) is noticed when its stdout ends. Either way the request raises
:class:`WorkerFailed` with a reason for people ("over its 2 s budget", "out of memory (512 MiB)",
"crashed with exit code 2") and the client is closed: the caller starts a new worker.

A request cancelled from outside (the bot stopping) leaves the worker busy with it; the next request first
reads that stale answer, keeping what the strategy logged and stored, so ``on_stop`` still sees the state
the last callback left.

:class:`WorkerPlugins` says which plugins the worker must load to offer the same Starlark functions as
the bot, :class:`FailureWindow` counts failures for the restart policy, :class:`FileStamp` notices edits.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

import trio

import marketmaestro
from marketmaestro.strategy.sandbox import DATA_CALLBACKS, StrategyLoadError

if TYPE_CHECKING:
    from marketmaestro.model import Kline
    from marketmaestro.plugins.registry import Registry

HEADER = struct.Struct(">I")
"""A frame of the worker protocol is this header (the payload's length) and a pickle."""
OUT_OF_MEMORY_EXIT = 3
"""Exit code of a worker whose Python side ran out of memory (the Go runtime aborts with SIGABRT instead)."""
OUT_OF_MEMORY_MARKERS = ("out of memory", "MemoryError", "cannot allocate memory", "pthread_create failed")
"""Text on a dead worker's stderr that says it died of the memory limit. The Go runtime says it in several
ways, depending on what it was allocating; a thread it cannot start (no memory left for the thread's
stack) is one of them."""
STDERR_HEAD = 1500
STDERR_TAIL = 1000
"""Bytes of a dead worker's stderr kept for the report, from its start and its end."""
EXIT_GRACE = 2.0
"""Seconds a worker whose stdout ended may take to exit before it is killed."""
PACKAGE_ROOT = str(Path(marketmaestro.__file__).resolve().parents[1])
"""Put on the worker's PYTHONPATH, so it imports this very package even when it is not installed."""


def encode(message: Any) -> bytes:
    """One frame of the worker protocol: the length, then the pickle."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(payload)) + payload


class WorkerFailed(Exception):
    """The worker was killed or died; ``reason`` says why in words, ``stderr`` is the end of its stderr."""

    def __init__(self, reason: str, *, exit_code: int | None = None, stderr: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.exit_code = exit_code
        self.stderr = stderr

    @property
    def stderr_summary(self) -> str:
        """The lines of ``stderr`` that say what happened: a Go runtime's ``fatal error`` (not the goroutine
        dump after it), else the last three lines (the end of a Python traceback)."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        causes = ("fatal error:", "runtime: ", "runtime/cgo: ", "panic: ")
        go = [line for line in lines if line.startswith(causes)]
        return "\n".join(go[:3] or lines[-3:])


@dataclass(frozen=True)
class WorkerLimits:
    """What a worker may use: data memory on top of its own footprint, and wall time per request."""

    memory_mb: int = 512
    callback_timeout: float = 2.0
    start_timeout: float = 20.0
    """Starting Python, the Go runtime and the plugins; generous, as a busy machine starts slowly."""


@dataclass(frozen=True)
class WorkerPolicy:
    """How a runner treats its worker: restarts after failures, and how often it looks for edits."""

    max_failures: int = 3
    """Worker failures within ``failure_window`` seconds that disable the strategy."""
    failure_window: float = 300.0
    backoff_initial: float = 0.5
    """Seconds before the first restart; doubled after each further failure up to ``backoff_max``."""
    backoff_max: float = 30.0
    reload_interval: float = 1.0
    """Seconds between two looks at the strategy file's modification time and size."""


@dataclass(frozen=True)
class WorkerPlugins:
    """The plugins a worker loads to offer the same Starlark functions as the bot's registry."""

    builtins: tuple[tuple[str, str], ...] = ()
    """Built-in plugins (name, module) that registered functions."""
    entry_points: tuple[str, ...] = ()
    """Installed plugins (entry-point names) that registered functions."""
    functions: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    """Functions of plugins the worker cannot load itself (registered in-process), sent by pickle."""
    unavailable: tuple[str, ...] = ()
    """Functions that can reach the worker neither way (lambdas of in-process plugins)."""

    @classmethod
    def from_registry(cls, registry: Registry) -> WorkerPlugins:
        from marketmaestro.plugins.manager import DEFAULT_PLUGINS, ENTRY_POINT_GROUP

        providers = {entry.plugin for entry in registry.functions.values()}
        installed = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
        builtins = tuple((name, module) for name, module in DEFAULT_PLUGINS if name in providers)
        loadable = {name for name, _ in builtins} | (providers & installed)
        functions: dict[str, Callable[..., Any]] = {}
        unavailable = []
        for name, entry in sorted(registry.functions.items()):
            if entry.plugin in loadable:
                continue
            try:
                pickle.dumps(entry.function)
            except (pickle.PicklingError, TypeError, AttributeError):
                unavailable.append(name)
            else:
                functions[name] = entry.function
        return cls(builtins, tuple(sorted(providers & installed)), functions, tuple(unavailable))


@dataclass(frozen=True)
class LoadedStrategy:
    """What a worker reported after loading a file."""

    callbacks: frozenset[str]
    config: Mapping[str, Any]
    defaults: Mapping[str, Any]
    interval: str
    uses_open_orders: bool

    @property
    def data_callbacks(self) -> list[str]:
        return [name for name in DATA_CALLBACKS if name in self.callbacks]


@dataclass(frozen=True)
class CallAnswer:
    """One callback's outcome: its return value or error, what it logged and the state keys it changed."""

    result: Any = None
    lines: list[tuple[str, str]] = field(default_factory=list)
    dirty: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    backtrace: str | None = None


class WorkerClient:
    """One worker process. Start it with ``await WorkerClient.start(...)``; always ``aclose`` it."""

    def __init__(self, process: trio.Process, stderr: IO[bytes], limits: WorkerLimits) -> None:
        self.process = process
        self.limits = limits
        self.pid = process.pid
        self.functions: frozenset[str] = frozenset()
        self.limit_kb = 0
        """The data memory limit the worker set, in KiB (its footprint plus ``memory_mb``)."""
        self._stderr = stderr
        self._buffer = bytearray()
        self._next_id = 0
        self._pending: dict[int, str] = {}
        self._stale: list[CallAnswer] = []
        self._failure: WorkerFailed | None = None
        self._closed = False

    @classmethod
    async def start(cls, limits: WorkerLimits, plugins: WorkerPlugins) -> WorkerClient:
        """Start a worker and load ``plugins`` in it, within ``limits.start_timeout``."""
        # No MM_ variables: they carry the bot's secrets, and the worker is told what to load explicitly.
        env = {key: value for key, value in os.environ.items() if not key.startswith("MM_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, env.get("PYTHONPATH")]))
        # The Go heap collects harder before the hard limit; numpy gets no thread pool of its own.
        env.update(GOMEMLIMIT=f"{limits.memory_mb}MiB", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        # A file, not a pipe: nobody has to keep draining it, and it is read only after the worker died.
        stderr = tempfile.TemporaryFile(prefix="mm-strategy-worker-")  # noqa: SIM115 - the client owns it
        try:
            process = await trio.lowlevel.open_process(
                [sys.executable, "-m", "marketmaestro.strategy.worker", str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
                start_new_session=True,  # out of the terminal's process group: Ctrl-C is the bot's to handle
            )
        except OSError as exc:  # no more processes or memory for one: like a crash, worth a retry later
            stderr.close()
            raise WorkerFailed(f"could not start: {exc}") from exc
        except BaseException:
            stderr.close()
            raise
        client = cls(process, stderr, limits)
        try:
            ready = await client._request(
                "init",
                {
                    "memory_mb": limits.memory_mb,
                    "builtins": list(plugins.builtins),
                    "entry_points": list(plugins.entry_points),
                    "functions": dict(plugins.functions),
                },
                limits.start_timeout,
                overdue=f"did not start within {limits.start_timeout:g} s",
            )
        except BaseException:
            with trio.CancelScope(shield=True):
                await client.aclose()
            raise
        client.functions, client.limit_kb = frozenset(ready["functions"]), ready["limit_kb"]
        return client

    # --- operations -----------------------------------------------------------------------------------

    async def load(
        self, file: Path, overrides: Mapping[str, Any], history_max: int, *, kind: str = "strategy"
    ) -> LoadedStrategy:
        """Load ``file`` (a script of ``kind``, a key of ``sandbox.KINDS``), replacing what the worker had
        loaded; raises ``StrategyLoadError`` when it does not load, ``WorkerFailed`` when the worker dies
        or overruns the callback budget doing it (the file's top level and ``settings()`` are script code).
        """
        payload = {"file": str(file), "overrides": dict(overrides), "history_max": history_max, "kind": kind}
        answer = await self._request("load", payload, self.limits.callback_timeout)
        return LoadedStrategy(
            frozenset(answer["callbacks"]),
            answer["config"],
            answer["defaults"],
            answer["interval"],
            answer["uses_open_orders"],
        )

    async def set_state(self, state: Mapping[str, Any]) -> None:
        """Replace the strategy's whole state (what ``get_state`` reads)."""
        await self._request("state", {"state": dict(state)}, self._plumbing_timeout)

    async def set_history(self, klines: Iterable[Kline], *, replace: bool) -> None:
        """Replace (or extend) the klines ``history()`` returns."""
        await self._request("history", {"klines": list(klines), "replace": replace}, self._plumbing_timeout)

    async def call(
        self,
        callback: str,
        args: tuple[Any, ...],
        context: Mapping[str, Any],
        history: Iterable[Kline] = (),
        *,
        replace_history: bool = False,
    ) -> CallAnswer:
        """Run ``callback`` within the budget, after adding ``history`` to the worker's klines (or making it
        their whole history). ``context`` has the fields of ``engine.CallContext``."""
        payload = {
            "callback": callback,
            "args": args,
            "context": dict(context),
            "history": list(history),
            "replace_history": replace_history,
        }
        answer = CallAnswer(**await self._request("call", payload, self.limits.callback_timeout))
        if self._stale:
            # What callbacks abandoned by a cancellation logged and stored still counts, oldest first.
            stale, self._stale = self._stale, []
            lines = [line for old in stale for line in old.lines] + answer.lines
            dirty: dict[str, Any] = {}
            for old in [*stale, answer]:
                dirty.update(old.dirty)
            answer = CallAnswer(answer.result, lines, dirty, answer.error, answer.backtrace)
        return answer

    @property
    def alive(self) -> bool:
        return not self._closed and self._failure is None

    async def aclose(self) -> None:
        """Kill the worker (if it still runs), reap it and release its pipes. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        with trio.CancelScope(shield=True):
            if self.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
            await self.process.wait()
            for stream in (self.process.stdin, self.process.stdout):
                if stream is not None:
                    await stream.aclose()
        self._stderr.close()

    # --- the protocol ---------------------------------------------------------------------------------

    @property
    def _plumbing_timeout(self) -> float:
        # No strategy code runs, but a large history takes a moment to cross.
        return max(self.limits.callback_timeout, 5.0)

    async def _request(self, op: str, payload: dict[str, Any], budget: float, *, overdue: str = "") -> Any:
        if self._failure is not None:
            raise self._failure
        if self._closed:
            raise WorkerFailed("stopped")
        request_id, self._next_id = self._next_id, self._next_id + 1
        frame = encode((request_id, op, payload))
        deadline = trio.current_time() + budget
        try:
            # Shielded: a frame cut in half by a cancellation would garble every later one.
            with trio.CancelScope(shield=True, deadline=deadline):
                assert self.process.stdin is not None
                await self.process.stdin.send_all(frame)
                self._pending[request_id] = op
            if request_id in self._pending:
                with trio.CancelScope(deadline=deadline):
                    return await self._answer(request_id)
        except (trio.BrokenResourceError, trio.ClosedResourceError, EOFError):
            await self._fail(await self._diagnose())
        await self._fail(await self._diagnose(overdue or f"over its {budget:g} s budget"))

    async def _answer(self, request_id: int) -> Any:
        """Read answers up to the one for ``request_id``; earlier ones are stale (their asker gave up)."""
        while True:
            answer_id, status, payload = await self._read_frame()
            op = self._pending.pop(answer_id, None)
            if status == "internal":
                last_line = payload.strip().splitlines()[-1]
                await self._fail(WorkerFailed(f"failed inside the worker: {last_line}", stderr=payload))
            if answer_id != request_id:
                if op == "call" and status == "ok":
                    self._stale.append(CallAnswer(**payload))
                continue
            if status == "load_error":
                raise StrategyLoadError(payload)
            return payload

    async def _read_frame(self) -> Any:
        assert self.process.stdout is not None
        size: int | None = None
        while True:
            if size is None and len(self._buffer) >= HEADER.size:
                (size,) = HEADER.unpack_from(self._buffer)
            if size is not None and len(self._buffer) >= HEADER.size + size:
                payload = bytes(self._buffer[HEADER.size : HEADER.size + size])
                del self._buffer[: HEADER.size + size]
                return pickle.loads(payload)
            data = await self.process.stdout.receive_some(1 << 16)
            if not data:
                raise EOFError
            self._buffer += data

    async def _diagnose(self, overdue: str | None = None) -> WorkerFailed:
        """Why the worker stopped answering: ``overdue`` if it is still running (it is then killed)."""
        with trio.CancelScope(shield=True):
            if overdue is None:
                with trio.move_on_after(EXIT_GRACE):
                    await self.process.wait()
            code = self.process.returncode
            if code is None:
                self.process.kill()
                await self.process.wait()
        stderr = self._stderr_text()
        if code is None:
            return WorkerFailed(overdue or "stopped answering", stderr=stderr)
        if code == OUT_OF_MEMORY_EXIT or any(marker in stderr for marker in OUT_OF_MEMORY_MARKERS):
            reason = f"out of memory ({self.limits.memory_mb} MiB)"
        elif code < 0:
            reason = f"crashed: killed by {_signal_name(-code)}"
        else:
            reason = f"crashed with exit code {code}"
        return WorkerFailed(reason, exit_code=code, stderr=stderr)

    async def _fail(self, failure: WorkerFailed) -> NoReturn:
        self._failure = failure
        await self.aclose()
        raise failure

    def _stderr_text(self) -> str:
        """The worker's stderr, shortened to its start and end (a Go crash names its cause first, then
        dumps every goroutine; a Python traceback ends with its cause)."""
        try:
            fd = self._stderr.fileno()
            size = os.fstat(fd).st_size
            if size <= STDERR_HEAD + STDERR_TAIL:
                return os.pread(fd, size, 0).decode(errors="replace")
            head = os.pread(fd, STDERR_HEAD, 0).decode(errors="replace")
            tail = os.pread(fd, STDERR_TAIL, size - STDERR_TAIL).decode(errors="replace")
        except (OSError, ValueError):
            return ""
        return f"{head}\n[...]\n{tail}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class FailureWindow:
    """Worker failures within the last ``window`` seconds, and the backoff before the next restart."""

    def __init__(self, limit: int, window: float, backoff_initial: float, backoff_max: float) -> None:
        self.limit = limit
        self.window = window
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.backoff = backoff_initial
        self._times: deque[float] = deque()

    def add(self, now: float) -> bool:
        """Count a failure at ``now``; True when it is the ``limit``-th within the window."""
        if self._times and now - self._times[-1] > self.window:
            self.backoff = self.backoff_initial  # it ran well for a whole window: back off afresh
        self._times.append(now)
        while now - self._times[0] > self.window:
            self._times.popleft()
        return len(self._times) >= self.limit

    def next_backoff(self) -> float:
        """Seconds to wait before this restart; doubles each time, up to ``backoff_max``."""
        backoff, self.backoff = self.backoff, min(self.backoff * 2, self.backoff_max)
        return backoff

    @property
    def count(self) -> int:
        return len(self._times)

    def reset(self) -> None:
        self._times.clear()
        self.backoff = self.backoff_initial


@dataclass(frozen=True)
class FileStamp:
    """What identifies one version of a file without reading it; None fields when it cannot be read."""

    mtime_ns: int | None
    size: int | None
    inode: int | None

    @classmethod
    def of(cls, path: Path) -> FileStamp:
        try:
            st = path.stat()
        except OSError:
            return cls(None, None, None)
        return cls(st.st_mtime_ns, st.st_size, st.st_ino)
