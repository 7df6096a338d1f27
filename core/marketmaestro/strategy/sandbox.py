"""The one module that talks to the starlark-go binding.

Keeping the binding here makes it a local choice (see ../shared/docs/starlark-go-facts.md). Facts it must
respect: the binding keeps no reference to Python callables passed in, so ``StarlarkScript`` holds every
builtin for its whole life (a dropped callable is a use-after-free); module globals are frozen after
``exec``; and a running script cannot be cancelled, so callers run ``call`` in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

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
    ) -> None:
        """Load ``path`` after running each ``(filename, source)`` of ``prelude`` in the same module: the
        prelude defines the builtins written in Starlark (``history``, fast indicators)."""
        self.path = path
        # Held for the script's whole life: the binding does not keep these alive itself.
        self._builtins = dict(builtins)
        self._print = print_
        try:
            source = path.read_text()
        except OSError as exc:
            raise StrategyLoadError(f"{path}: cannot read: {exc.strerror or exc}") from None
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
        defined = set(self._starlark.globals())
        self.callbacks = frozenset(name for name in CALLBACKS if name in defined)
        if "settings" not in self.callbacks:
            raise StrategyLoadError(f"{path}: a strategy must define settings() returning its defaults")
        if not self.callbacks & set(DATA_CALLBACKS):
            raise StrategyLoadError(
                f"{path}: a strategy must define at least one of {', '.join(DATA_CALLBACKS)}"
            )

    def set_global(self, name: str, value: Any) -> None:
        """Replace a predeclared global; the value arrives frozen (read-only) in Starlark.

        A callable is kept alive here for the script's life: the binding holds no reference of its own."""
        self._builtins[name] = value
        self._starlark.set(**{name: value})

    def exec_more(self, code: str, filename: str) -> None:
        """Define more top-level functions in the loaded module (the replay's batch driver)."""
        self._starlark.exec(code, filename=filename)

    def call(self, name: str, *args: Any) -> Any:
        """Call a top-level function with plain Python arguments; blocks until it returns."""
        names = [f"_mm_arg{i}" for i in range(len(args))]
        if args:
            self._starlark.set(**dict(zip(names, args, strict=True)))
        try:
            return self._starlark.eval(f"{name}({', '.join(names)})", filename=str(self.path))
        except starlark_go.EvalError as exc:
            raise StrategyRuntimeError(f"{name}: {exc.error}", exc.backtrace) from None
        except starlark_go.StarlarkError as exc:
            raise StrategyRuntimeError(f"{name}: {exc}") from None
