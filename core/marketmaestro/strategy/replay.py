"""Replaying klines through a strategy engine, with a simulated position: what ``mm strategy test`` runs.

Market signals fill at the kline's close (no fees, no slippage); other order types are reported but not
simulated. Each step yields records (signals, log lines, errors) as plain dicts, and ``Replay.summary()``
totals the run. No exchange, no database, no event loop: the same engine and sandbox as ``mm run``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from marketmaestro.model import Fill, Kline, Position, Side
from marketmaestro.portfolio import apply_fill
from marketmaestro.strategy.engine import CallContext, StrategyEngine, kline_dict
from marketmaestro.strategy.sandbox import StrategyRuntimeError
from marketmaestro.strategy.signals import Signal, SignalError, parse_signals


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

    def context(self, timestamp: int) -> CallContext:
        p = self.position
        position = {
            "quantity": float(p.quantity),
            "average_price": float(p.average_price),
            "realized_pnl": float(p.realized_pnl),
        }
        return CallContext(position, {}, timestamp)

    def act(self, signal: Signal, kline: Kline) -> Decimal | None:
        """Fill a market signal at the close; the quantity filled, or None when nothing was simulated."""
        if signal.type != "market" or signal.action == "cancel":
            return None
        price = Decimal(repr(kline.close))
        held = self.position.quantity
        if signal.action == "close":
            if held == 0:
                return None
            quantity = abs(held) if signal.quantity is None else min(signal.quantity, abs(held))
            side = Side.SELL if held > 0 else Side.BUY
        else:
            assert signal.quantity is not None
            quantity, side = signal.quantity, Side.BUY if signal.action == "buy" else Side.SELL
        self.fill(side, quantity, price, kline.timestamp)
        return quantity


class Replay:
    """Feeds klines to a loaded engine's ``on_kline``, keeping its history, state and simulated position."""

    def __init__(self, engine: StrategyEngine, symbol: str) -> None:
        self.engine = engine
        self.book = SimulatedBook(symbol)
        self.counts: dict[str, int] = {}
        self.errors = 0
        self.klines = 0
        self._started = time.perf_counter()
        self._where = f"{engine.file.name} on_kline()"

    def run(self, klines: Iterable[Kline]) -> Iterator[dict[str, Any]]:
        for kline in klines:
            yield from self.step(kline)

    def step(self, kline: Kline) -> Iterator[dict[str, Any]]:
        engine = self.engine
        self.klines += 1
        engine.history.append(kline)
        engine.context = self.book.context(kline.timestamp)
        signals: list[Signal] = []
        try:
            signals = parse_signals(engine.call("on_kline", kline_dict(kline)), where=self._where)
        except (StrategyRuntimeError, SignalError) as exc:
            self.errors += 1
            yield {
                "type": "error",
                "timestamp": kline.timestamp,
                "error": str(exc),
                "stack": getattr(exc, "backtrace", None),
            }
        for kind, line in engine.take_lines():
            yield {"type": kind, "timestamp": kline.timestamp, "message": line}
        engine.take_dirty()  # the state lives in the engine; nothing to store in a replay
        for signal in signals:
            self.counts[signal.action] = self.counts.get(signal.action, 0) + 1
            filled = self.book.act(signal, kline)
            yield {
                "type": "signal",
                "timestamp": kline.timestamp,
                "action": signal.action,
                "order_type": signal.type,
                "quantity": None if filled is None else str(filled),
                "price": kline.close,
                "simulated": filled is not None,
                "reason": signal.reason,
            }

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
