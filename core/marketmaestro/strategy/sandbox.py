"""The one module that talks to the starlark-go binding.

Keeping the binding here makes it a local choice (see ../shared/docs/starlark-go-facts.md). Facts it must
respect: the binding keeps no reference to Python callables passed in, so ``StarlarkScript`` holds every
builtin for its whole life (a dropped callable is a use-after-free); module globals are frozen after
``exec``; and a running script cannot be cancelled, so callers run ``call`` in a worker thread.

Every call into the binding from the process's main thread costs about half a millisecond, and more the
more shared libraries the process has loaded: the Go runtime asks glibc for the calling thread's stack
bounds on each call from C into Go, and for the main thread glibc finds them by reading and parsing
``/proc/self/maps``. From any other thread the same call costs a few microseconds. So calls made on the
main thread are handed to one helper thread (:func:`off_main_thread`); calls from other threads (a
builtin called back from Starlark runs on the thread that called in) go straight to the binding.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import starlark_go

CALLBACKS = (
    "settings",
    "on_kline",
    "on_orderbook",
    "on_ticker",
    "on_start",
    "on_stop",
    "on_order",
    "on_fill",
)
DATA_CALLBACKS = ("on_kline", "on_orderbook", "on_ticker")


@dataclass(frozen=True)
class ScriptKind:
    """What a kind of script must and may define: strategies (``strategies/*.star``) and rebalance scripts
    (``rebalance/*.star``) share the sandbox, the engine and the worker machinery, not their callbacks."""

    name: str
    """Used in messages: "a strategy must define ..."."""
    callbacks: tuple[str, ...]
    """The top-level functions the engine calls when the script defines them."""
    entry: tuple[str, ...]
    """The script must define at least one of these (besides ``settings``)."""


STRATEGY = ScriptKind("strategy", CALLBACKS, DATA_CALLBACKS)
REBALANCE = ScriptKind("rebalance script", ("settings", "on_rebalance"), ("on_rebalance",))
KINDS = {"strategy": STRATEGY, "rebalance": REBALANCE}
"""Every kind of script, by the name the worker protocol uses."""

T = TypeVar("T")


class _BindingThread:
    """One daemon thread that makes the binding calls the main thread asks for, one at a time.

    A daemon, so a strategy stuck in a loop that cannot be cancelled does not keep the process from
    exiting; the caller waits for the answer, and an interrupt (Ctrl-C) reaches it while it waits.
    """

    def __init__(self) -> None:
        self._tasks: queue.SimpleQueue[tuple[Callable[[], Any], queue.SimpleQueue[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def run(self, function: Callable[[], T]) -> T:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="starlark", daemon=True)
                self._thread.start()
        answer: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
        self._tasks.put((function, answer))
        ok, value = answer.get()
        if ok:
            return value
        raise value

    def _serve(self) -> None:
        while True:
            function, answer = self._tasks.get()
            try:
                answer.put((True, function()))
            except BaseException as exc:  # handed to the caller, which re-raises it
                answer.put((False, exc))
            del function, answer


_binding_thread = _BindingThread()


def off_main_thread(function: Callable[[], T]) -> T:
    """``function()``, run on the helper thread when called from the main thread, else right here."""
    if threading.current_thread() is threading.main_thread():
        return _binding_thread.run(function)
    return function()


class StrategyLoadError(Exception):
    """The file cannot be read, does not parse or resolve, or lacks required functions."""


class StrategyRuntimeError(Exception):
    """A callback raised inside Starlark; ``backtrace`` is the Starlark call stack."""

    def __init__(self, message: str, backtrace: str | None = None) -> None:
        super().__init__(message)
        self.backtrace = backtrace


class StarlarkScript:
    """A loaded ``.star`` file and the builtins it may call."""

    def __init__(
        self,
        path: Path,
        builtins: Mapping[str, Any],
        print_: Callable[[str], None],
        prelude: Sequence[tuple[str, str]] = (),
        kind: ScriptKind = STRATEGY,
    ) -> None:
        """Load ``path`` after running each ``(filename, source)`` of ``prelude`` in the same module: the
        prelude defines the builtins written in Starlark (``history``, fast indicators). ``kind`` says which
        callbacks the file must and may define."""
        self.path = path
        # Held for the script's whole life: the binding does not keep these alive itself.
        self._builtins = dict(builtins)
        self._print = print_
        self._internal_files = frozenset(filename for filename, _code in prelude)
        try:
            source = path.read_text()
        except OSError as exc:
            raise StrategyLoadError(f"{path}: cannot read: {exc.strerror or exc}") from None
        defined = off_main_thread(lambda: self._load(source, prelude))
        self.callbacks = frozenset(name for name in kind.callbacks if name in defined)
        if "settings" not in self.callbacks:
            raise StrategyLoadError(f"{path}: a {kind.name} must define settings() returning its defaults")
        if not self.callbacks & set(kind.entry):
            raise StrategyLoadError(
                f"{path}: a {kind.name} must define at least one of {', '.join(kind.entry)}"
            )

    def _load(self, source: str, prelude: Sequence[tuple[str, str]]) -> set[str]:
        """Run the prelude and the file in a new module; the names it defines."""
        path = self.path
        self._starlark = starlark_go.Starlark(globals=self._builtins, print=self._print)
        for filename, code in prelude:
            try:
                self._starlark.exec(code, filename=filename)
            except (starlark_go.SyntaxError, starlark_go.ResolveError, starlark_go.EvalError) as exc:
                raise StrategyLoadError(f"{path}: a plugin's Starlark builtins do not load: {exc}") from None
        self.prelude_names = frozenset(self._starlark.globals())
        try:
            self._starlark.exec(source, filename=str(path))
        except (starlark_go.SyntaxError, starlark_go.ResolveError) as exc:
            raise StrategyLoadError(str(exc)) from None
        except starlark_go.EvalError as exc:
            raise StrategyLoadError(f"{exc.error}\n{exc.backtrace}") from None
        return set(self._starlark.globals())

    def set_global(self, name: str, value: Any) -> None:
        """Replace a predeclared global; the value arrives frozen (read-only) in Starlark.

        A callable is kept alive here for the script's life: the binding holds no reference of its own."""
        self._builtins[name] = value
        off_main_thread(lambda: self._starlark.set(**{name: value}))

    def exec_more(self, code: str, filename: str) -> None:
        """Define more top-level functions in the loaded module (the replay's batch driver)."""
        off_main_thread(lambda: self._starlark.exec(code, filename=filename))

    def call(self, name: str, *args: Any) -> Any:
        """Call a top-level function with plain Python arguments; blocks until it returns."""
        return off_main_thread(lambda: self._call(name, args))

    def _call(self, name: str, args: tuple[Any, ...]) -> Any:
        names = [f"_mm_arg{i}" for i in range(len(args))]
        if args:
            self._starlark.set(**dict(zip(names, args, strict=True)))
        try:
            return self._starlark.eval(f"{name}({', '.join(names)})", filename=str(self.path))
        except starlark_go.EvalError as exc:
            if exc.filename in self._internal_files:
                raise self._from_builtin(name, exc) from None
            raise StrategyRuntimeError(f"{name}: {exc.error}", exc.backtrace) from None
        except starlark_go.StarlarkError as exc:
            raise StrategyRuntimeError(f"{name}: {exc}") from None

    def _from_builtin(self, name: str, exc: starlark_go.EvalError) -> StrategyRuntimeError:
        """An error raised inside a builtin written in Starlark (the prelude), told from where the strategy
        called it: ``sma() called at strategy.star:7:12: unknown binary op: float + string``. The builtin's
        own frames are left out of the stack: they are the engine's code, not the strategy's."""
        lines = exc.backtrace.splitlines()
        message = lines[-1].removeprefix("Error: ") if lines else exc.error
        # "Traceback ...", one "  file:line:col: in function" per frame (outermost first), "Error: ...".
        frames = [line.strip().rpartition(": in ") for line in lines[1:-1]]
        outside = 0
        while outside < len(frames) and frames[outside][0].rsplit(":", 2)[0] not in self._internal_files:
            outside += 1
        called = frames[outside][2] if outside < len(frames) else exc.function_name
        site = frames[outside - 1][0] if outside > 0 else str(self.path)
        kept = lines[: 1 + outside]
        return StrategyRuntimeError(
            f"{name}: {called}() called at {site}: {message}", "\n".join([*kept, f"Error: {message}"])
        )
