"""The strategy engine: one loaded ``.star`` file and everything its builtins read, with no I/O.

The engine is synchronous and knows nothing of trio, the database or exchanges. Whoever drives it (the
runner component in ``mm run``, ``mm strategy test`` over a CSV) loads the state, sets the call context
(position, balances, open orders, the event's time) before each callback, and afterwards takes the lines the
strategy logged and the state keys it changed. So the same engine can later run inside a worker process.
"""

from __future__ import annotations

import json
import math
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marketmaestro.model import INTERVAL_SECONDS, Fill, Kline, Order, OrderBook, Ticker
from marketmaestro.strategy.builtins import MATH_BUILTINS
from marketmaestro.strategy.sandbox import (
    DATA_CALLBACKS,
    STRATEGY,
    ScriptKind,
    StarlarkScript,
    StrategyLoadError,
)

DEFAULT_HISTORY = 1000

# ``history(n)`` is written in Starlark so that a replay, which holds every kline as Starlark columns, can
# slice them without converting anything; live (one kline per call) it asks the Python buffer.
# ``position()`` answers from a global that the engine sets again only when the position changed.
HISTORY_PRELUDE = """
def position():
    return dict(_mm_position)

def history(n):
    if not _mm_batch or type(n) != "int" or n < 1:
        return _mm_history(n)
    end = _mm_cursor() + 1
    start = end - min(n, _mm_history_max)
    if start < 0:
        start = 0
    return {
        "open": _mm_open[start:end],
        "high": _mm_high[start:end],
        "low": _mm_low[start:end],
        "close": _mm_close[start:end],
        "volume": _mm_volume[start:end],
        "timestamp": _mm_timestamp[start:end],
    }
"""
PRELUDE_FILE = "<marketmaestro>"
COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class CallContext:
    """What the read-only builtins return during one callback: a snapshot taken before it."""

    position: Mapping[str, float] = field(default_factory=dict)
    balances: Mapping[str, float] = field(default_factory=dict)
    timestamp: int = 0
    open_orders: tuple[Mapping[str, Any], ...] = ()
    prices: Mapping[str, float] = field(default_factory=dict)
    """Symbol -> last price; what a rebalance script's ``get_current_prices()`` returns."""
    portfolio_value: float = 0.0
    """What a rebalance script's ``get_portfolio_value()`` returns, in the quote currency."""


class StrategyEngine:
    """A strategy file with its builtins, configuration, state and kline history."""

    def __init__(
        self,
        file: Path,
        functions: Mapping[str, Callable[..., Any]],
        overrides: Mapping[str, Any] | None = None,
        *,
        history_max: int = DEFAULT_HISTORY,
        starlark: Mapping[str, tuple[str, str]] | None = None,
        kind: ScriptKind = STRATEGY,
    ) -> None:
        """``functions`` are the Python builtins by name (indicators and plugins' builtins); ``starlark``
        maps those of them that also have a Starlark version to ``(primary name, source)``: the source
        is run in the sandbox and defines the primary name, aliases are bound to it, and the Python
        function stays reachable as ``_py_<primary>``. ``kind``: a strategy, or a rebalance script (which
        gets ``get_balances``, ``get_current_prices`` and ``get_portfolio_value`` and has no kline interval).
        """
        self.file = file
        self.kind = kind
        self.functions = dict(functions)
        self.starlark = dict(starlark or {})
        self.overrides = dict(overrides or {})
        self.history: deque[Kline] = deque(maxlen=history_max)
        self.config: dict[str, Any] = {}
        self.defaults: dict[str, Any] = {}
        self.state: dict[str, Any] = {}
        self._context = CallContext()
        self._position_set: Mapping[str, float] | None = None
        self.script: StarlarkScript | None = None
        self.uses_open_orders = False
        self._dirty: set[str] = set()
        self._lines: list[tuple[str, str]] = []
        # A callback abandoned at shutdown may still be running in its thread: one call at a time.
        self._lock = threading.Lock()

    # --- loading ------------------------------------------------------------------------------------------

    def load(self) -> None:
        """Read and run the file, call ``settings()`` and merge the configuration over its defaults.

        Raises ``StrategyLoadError`` (file:line:col) for a file that does not load or has no data callback,
        and for a bad interval. Blocks: call it from a worker thread in async code.
        """
        builtins, prelude = self._builtins()
        script = StarlarkScript(
            self.file,
            builtins,
            lambda line: self._lines.append(("print", line)),
            prelude=prelude,
            kind=self.kind,
        )
        defaults = script.call("settings")
        if not isinstance(defaults, dict):
            raise StrategyLoadError(f"{self.file}: settings() must return a dict, got {defaults!r}")
        config = {**defaults, **self.overrides}
        interval = config.setdefault("interval", "1m")
        if self.kind is STRATEGY and interval not in INTERVAL_SECONDS:
            raise StrategyLoadError(
                f"{self.file}: interval got {interval!r}; expected one of {', '.join(INTERVAL_SECONDS)}"
            )
        self.defaults, self.config, self.script = dict(defaults), config, script
        script.set_global("config", config)
        self._position_set = None
        self.context = self._context
        # Reading open orders costs a query per callback: only for strategies that ask for them.
        self.uses_open_orders = "open_orders" in self.file.read_text()

    @property
    def context(self) -> CallContext:
        """What the read-only builtins (position, balance, open orders, now) answer during a callback."""
        return self._context

    @context.setter
    def context(self, context: CallContext) -> None:
        self._context = context
        # position() is answered inside Starlark from a global: set it again only when it changed.
        if self.script is not None and context.position is not self._position_set:
            self.script.set_global("_mm_position", dict(context.position))
            self._position_set = context.position

    @property
    def interval(self) -> str:
        return str(self.config.get("interval", "1m"))

    @property
    def callbacks(self) -> frozenset[str]:
        return self.script.callbacks if self.script is not None else frozenset()

    @property
    def data_callbacks(self) -> list[str]:
        return [name for name in DATA_CALLBACKS if name in self.callbacks]

    def wants(self, callback: str) -> bool:
        return callback in self.callbacks

    # --- calling ------------------------------------------------------------------------------------------

    def call(self, callback: str, *args: Any) -> Any:
        """Run ``callback`` with plain Python arguments; ``StrategyRuntimeError`` carries the Starlark stack.

        Blocks until the callback returns: it cannot be interrupted (see ../shared/docs/starlark-go-facts.md).
        """
        assert self.script is not None, "load() first"
        with self._lock:
            return self.script.call(callback, *args)

    @property
    def has_lines(self) -> bool:
        """Whether the strategy logged anything not yet taken."""
        return bool(self._lines)

    def take_lines(self) -> list[tuple[str, str]]:
        """What the strategy logged (``("log"|"print", text)``) since the last call, oldest first."""
        lines, self._lines = self._lines, []
        return lines

    def take_dirty(self) -> dict[str, Any]:
        """The state keys ``set_state`` changed since the last call, with their values."""
        dirty, self._dirty = self._dirty, set()
        return {key: self.state.get(key) for key in sorted(dirty)}

    # --- builtins -----------------------------------------------------------------------------------------

    def _builtins(self) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """The predeclared Python builtins, and the Starlark prelude as ``(filename, source)`` pairs."""
        # Held in the script for its whole life: the binding keeps no reference of its own.
        functions: dict[str, Any] = {**self.functions, **MATH_BUILTINS}
        sources: dict[str, list[str]] = {}
        aliases: list[str] = []
        for name, (primary, source) in sorted(self.starlark.items()):
            functions.pop(name, None)
            functions[f"_py_{primary}"] = self.functions[primary]
            if source not in sources:
                sources[source] = []
            if name != primary:
                aliases.append(f"{name} = {primary}")
        functions.update(
            _mm_nan=math.nan,
            _mm_batch=False,
            _mm_history=self._history_columns,
            _mm_history_max=self.history.maxlen or DEFAULT_HISTORY,
            _mm_cursor=lambda: 0,
            _mm_position={},
            **{f"_mm_{column}": [] for column in COLUMNS},
        )
        prelude = [(PRELUDE_FILE, HISTORY_PRELUDE)]
        prelude += [(f"{PRELUDE_FILE}[{i}]", source) for i, source in enumerate(sources, start=1)]
        if aliases:
            prelude.append((PRELUDE_FILE, "\n".join(aliases) + "\n"))
        functions.update(
            # Predeclared so the file resolves; replaced by the merged settings once settings() has run.
            config={},
            get_config=lambda key, default=None: self.config.get(key, default),
            get_state=lambda key, default=None: self.state.get(key, default),
            set_state=self._set_state,
            log=lambda *parts: self._lines.append(("log", " ".join(str(p) for p in parts))),
            balance=lambda asset: self.context.balances.get(str(asset).upper(), 0.0),
            now=lambda: self.context.timestamp,
            open_orders=lambda: [dict(order) for order in self.context.open_orders],
        )
        if self.kind is not STRATEGY:
            functions.update(
                get_balances=lambda: dict(self.context.balances),
                get_current_prices=lambda: dict(self.context.prices),
                get_portfolio_value=lambda: self.context.portfolio_value,
            )
        return functions, prelude

    def _set_state(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise ValueError(f"set_state: key must be a string, got {key!r}")
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise ValueError(
                f"set_state({key!r}): got {value!r}; expected a value the database can keep "
                "(None, bool, int, a finite float, str, or lists and dicts of them)"
            ) from None
        self.state[key] = value
        self._dirty.add(key)

    def _history_columns(self, n: int) -> dict[str, list[float]]:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"history(n): n must be a positive int, got {n!r}")
        klines = list(self.history)[-n:]
        return {
            "open": [k.open for k in klines],
            "high": [k.high for k in klines],
            "low": [k.low for k in klines],
            "close": [k.close for k in klines],
            "volume": [k.volume for k in klines],
            "timestamp": [k.timestamp for k in klines],
        }


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def kline_dict(k: Kline) -> dict[str, Any]:
    return {
        "symbol": k.symbol,
        "interval": k.interval,
        "timestamp": k.timestamp,
        "open": k.open,
        "high": k.high,
        "low": k.low,
        "close": k.close,
        "volume": k.volume,
        "closed": k.closed,
    }


def ticker_dict(t: Ticker) -> dict[str, Any]:
    return {
        "symbol": t.symbol,
        "timestamp": t.timestamp,
        "last": t.last,
        "bid": t.bid,
        "ask": t.ask,
        "volume_24h": t.volume_24h,
        "change_24h": t.change_24h,
    }


def orderbook_dict(b: OrderBook) -> dict[str, Any]:
    return {
        "symbol": b.symbol,
        "timestamp": b.timestamp,
        "bids": [list(level) for level in b.bids],
        "asks": [list(level) for level in b.asks],
        "best_bid": b.best_bid,
        "best_ask": b.best_ask,
        "mid": _finite_or_none(b.mid),
        "spread": b.spread,
    }


def order_dict(o: Order) -> dict[str, Any]:
    return {
        "client_order_id": o.client_order_id,
        "symbol": o.symbol,
        "side": o.side.value,
        "type": o.type.value,
        "quantity": float(o.quantity),
        "price": None if o.price is None else float(o.price),
        "stop_price": None if o.stop_price is None else float(o.stop_price),
        "trail_percent": None if o.trail_percent is None else float(o.trail_percent),
        "trail_amount": None if o.trail_amount is None else float(o.trail_amount),
        "emulated": o.emulated,
        "parent_order_id": o.parent_order_id,
        "oco_group": o.oco_group,
        "status": o.status.value,
        "filled_quantity": float(o.filled_quantity),
        "average_price": None if o.average_price is None else float(o.average_price),
        "reason": o.reason,
        "error": o.error,
    }


def fill_dict(f: Fill) -> dict[str, Any]:
    return {
        "fill_id": f.fill_id,
        "client_order_id": f.client_order_id,
        "symbol": f.symbol,
        "side": f.side.value,
        "quantity": float(f.quantity),
        "price": float(f.price),
        "fee": float(f.fee),
        "fee_currency": f.fee_currency,
        "timestamp": f.timestamp,
    }
