"""Replaying klines through a strategy engine, with a simulated position: what ``mm strategy test`` runs.

Market signals fill at the kline's close (no fees, no slippage); other order types are reported but not
simulated. The run yields records (signals, log lines, errors) as plain dicts, and ``Replay.summary()``
totals it. No exchange, no database, no event loop: the same engine and sandbox as ``mm run``.

Speed: one ``eval`` costs about 80 µs in the binding (../shared/docs/starlark-go-facts.md), more than a
typical ``on_kline``. So the klines go into the sandbox as columns, a chunk at a time, and a small driver
written in Starlark calls ``on_kline`` for each of them inside one ``eval``; ``history(n)`` slices those
columns without leaving Starlark. Python hears of each kline through one cheap builtin call (``_mm_at``, which
moves the clock that ``now()`` and the log lines read) and of each non-hold result through ``_mm_signal``,
which simulates the fill at once so that the next kline sees the new ``position()``. A runtime error stops
the driver's ``eval``; the error is recorded against its kline and the driver resumes at the next one, as
the runner does in ``mm run``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from marketmaestro.model import Fill, Kline, Position, Side
from marketmaestro.portfolio import apply_fill
from marketmaestro.strategy.engine import COLUMNS, CallContext, StrategyEngine
from marketmaestro.strategy.sandbox import StrategyRuntimeError
from marketmaestro.strategy.signals import Signal, SignalError, parse_signals

DRIVER_FILE = "<marketmaestro replay>"
DRIVER = """
def _mm_replay(first, last, symbol, interval):
    for i in range(first, last):
        _mm_at(i)
        kline = {
            "symbol": symbol,
            "interval": interval,
            "timestamp": _mm_timestamp[i],
            "open": _mm_open[i],
            "high": _mm_high[i],
            "low": _mm_low[i],
            "close": _mm_close[i],
            "volume": _mm_volume[i],
            "closed": _mm_closed[i],
        }
        result = on_kline(kline)
        if result != None:
            _mm_signal(i, result)
"""
CHUNK = 50_000
"""Klines per column upload: bounds memory on long files and lets records stream out as they come."""


@dataclass
class SimulatedBook:
    """One position, filled at each kline's close."""

    symbol: str
    position: Position = field(init=False)
    entries: int = 0
    round_trips: int = 0
    fills: int = 0

    def __post_init__(self) -> None:
        self.position = Position("replay", self.symbol, Decimal(0), Decimal(0))

    def fill(self, side: Side, quantity: Decimal, price: Decimal, timestamp: int) -> None:
        before = self.position.quantity
        self.fills += 1
        fill_id = f"replay-{self.fills}"
        fill = Fill(fill_id, fill_id, "replay", self.symbol, side, quantity, price, Decimal(0), "", timestamp)
        self.position = apply_fill(self.position, fill)
        if before == 0 and self.position.quantity != 0:
            self.entries += 1
        if before != 0 and self.position.quantity == 0:
            self.round_trips += 1

    def position_dict(self) -> dict[str, float]:
        p = self.position
        return {
            "quantity": float(p.quantity),
            "average_price": float(p.average_price),
            "realized_pnl": float(p.realized_pnl),
        }

    def context(self, timestamp: int) -> CallContext:
        return CallContext(self.position_dict(), {}, timestamp)

    def act(self, signal: Signal, close: float, timestamp: int) -> Decimal | None:
        """Fill a market signal at ``close``; the quantity filled, or None when nothing was simulated."""
        if signal.type != "market" or signal.action == "cancel":
            return None
        price = Decimal(repr(close))
        held = self.position.quantity
        if signal.action == "close":
            if held == 0:
                return None
            quantity = abs(held) if signal.quantity is None else min(signal.quantity, abs(held))
            side = Side.SELL if held > 0 else Side.BUY
        else:
            assert signal.quantity is not None
            quantity, side = signal.quantity, Side.BUY if signal.action == "buy" else Side.SELL
        self.fill(side, quantity, price, timestamp)
        return quantity


class Replay:
    """Feeds klines to a loaded engine's ``on_kline``, keeping its history, state and simulated position."""

    def __init__(self, engine: StrategyEngine, symbol: str, *, chunk: int = CHUNK) -> None:
        assert engine.script is not None, "load() the engine first"
        self.engine = engine
        self.chunk = chunk
        self.script = engine.script
        self.book = SimulatedBook(symbol)
        self.counts: dict[str, int] = {}
        self.errors = 0
        self.klines = 0
        self._started = time.perf_counter()
        self._where = f"{engine.file.name} on_kline()"
        self._records: list[dict[str, Any]] = []
        self._columns: dict[str, list[Any]] = {column: [] for column in (*COLUMNS, "closed")}
        self._cursor = 0
        engine.context = self.book.context(0)
        # Bound methods made once and kept: the binding holds no reference to what it is given.
        self.script.set_global("_mm_at", self._at)
        self.script.set_global("_mm_signal", self._signal)
        self.script.set_global("_mm_cursor", self._current)
        self.script.set_global("now", self._now)
        self.script.set_global("_mm_closed", [])
        self.script.set_global("_mm_batch", True)
        self.script.exec_more(DRIVER, DRIVER_FILE)

    def run(self, klines: Iterable[Kline]) -> Iterator[dict[str, Any]]:
        """Run every kline through ``on_kline``; yields the records as each chunk finishes."""
        iterator = iter(klines)
        while chunk := list(itertools.islice(iterator, self.chunk)):
            # Runs of one symbol and interval (a file normally is one run).
            for (symbol, interval), run in itertools.groupby(chunk, key=lambda k: (k.symbol, k.interval)):
                yield from self._run(list(run), symbol, interval)

    def run_columns(
        self, columns: Mapping[str, Sequence[Any]], symbol: str, interval: str
    ) -> Iterator[dict[str, Any]]:
        """Like ``run``, for klines given as columns (``timestamp``, ``open``, ... ``volume``, and
        optionally ``closed``, else all closed): what a CSV or a stored dataset loads into, without
        building a ``Kline`` per row."""
        count = len(columns["timestamp"])
        for start in range(0, count, self.chunk):
            end = min(start + self.chunk, count)
            part = {name: list(columns[name][start:end]) for name in COLUMNS}
            closed = columns.get("closed")
            part["closed"] = [True] * (end - start) if closed is None else list(closed[start:end])
            yield from self._run_columns(part, symbol, interval)

    def _run(self, klines: list[Kline], symbol: str, interval: str) -> Iterator[dict[str, Any]]:
        columns = {name: [getattr(kline, name) for kline in klines] for name in self._columns}
        yield from self._run_columns(columns, symbol, interval)

    def _run_columns(self, new: dict[str, list[Any]], symbol: str, interval: str) -> Iterator[dict[str, Any]]:
        # Keep the tail that history(n) may still reach, then append the new klines.
        keep = self.engine.history.maxlen or len(self._columns["timestamp"])
        columns = {name: values[-keep:] + new[name] for name, values in self._columns.items()}
        self._columns = columns
        for name, values in columns.items():
            self.script.set_global(f"_mm_{name}", values)
        added = len(new["timestamp"])
        first, last = len(columns["timestamp"]) - added, len(columns["timestamp"])
        while first < last:
            try:
                self.script.call("_mm_replay", first, last, symbol, interval)
                first = last
            except StrategyRuntimeError as exc:
                self._error(exc)
                first = self._cursor + 1
            self._flush_lines()
            yield from self._take_records()
        self.engine.take_dirty()  # the state lives in the engine; nothing to store in a replay

    # --- called from the driver, inside the sandbox -------------------------------------------------------

    def _at(self, index: int) -> None:
        if self.engine.has_lines:
            self._flush_lines()
        self._cursor = index
        self.klines += 1

    def _current(self) -> int:
        return self._cursor

    def _now(self) -> int:
        return int(self._columns["timestamp"][self._cursor])

    def _signal(self, index: int, result: Any) -> None:
        timestamp, close = self._columns["timestamp"][index], self._columns["close"][index]
        self._flush_lines()
        try:
            signals = parse_signals(result, where=self._where)
        except SignalError as exc:
            self.errors += 1
            self._records.append({"type": "error", "timestamp": timestamp, "error": str(exc), "stack": None})
            return
        for signal in signals:
            self.counts[signal.action] = self.counts.get(signal.action, 0) + 1
            filled = self.book.act(signal, close, timestamp)
            self._records.append(
                {
                    "type": "signal",
                    "timestamp": timestamp,
                    "action": signal.action,
                    "order_type": signal.type,
                    "quantity": None if filled is None else str(filled),
                    "price": close,
                    "simulated": filled is not None,
                    "reason": signal.reason,
                }
            )
        self.engine.context = self.book.context(timestamp)

    # --- records ------------------------------------------------------------------------------------------

    def _error(self, exc: StrategyRuntimeError) -> None:
        self.errors += 1
        message = str(exc).removeprefix("_mm_replay: ")
        stack = exc.backtrace
        if stack is not None:
            # The driver's own frame is the engine's, not the strategy's: leave it out of the stack.
            stack = "\n".join(line for line in stack.splitlines() if DRIVER_FILE not in line)
        self._records.append(
            {
                "type": "error",
                "timestamp": self._columns["timestamp"][self._cursor],
                "error": f"on_kline: {message}",
                "stack": stack,
            }
        )

    def _flush_lines(self) -> None:
        if not self.engine.has_lines:
            return
        timestamp = self._columns["timestamp"][self._cursor] if self._columns["timestamp"] else 0
        for kind, line in self.engine.take_lines():
            self._records.append({"type": kind, "timestamp": timestamp, "message": line})

    def _take_records(self) -> Iterator[dict[str, Any]]:
        records, self._records = self._records, []
        yield from records

    def summary(self) -> dict[str, Any]:
        seconds = time.perf_counter() - self._started
        return {
            "type": "summary",
            "klines": self.klines,
            "signals": dict(self.counts),
            "entries": self.book.entries,
            "round_trips": self.book.round_trips,
            "position": str(self.book.position.quantity),
            "realized_pnl": str(self.book.position.realized_pnl),
            "errors": self.errors,
            "seconds": round(seconds, 3),
            "klines_per_second": round(self.klines / seconds) if seconds > 0 else None,
        }
