"""``mm strategy``: check a strategy file, and run it over historical klines.

``mm strategy test`` drives the same engine and sandbox as ``mm run`` over a klines CSV, with no exchange:
market signals fill at the kline's close (no fees, no slippage), so the printed signals, position and P&L are
what the strategy decided on that data. Other order types are printed and counted but not simulated.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from marketmaestro.cli.context import CliState
from marketmaestro.exchanges.paper.simulator import CsvFormatError, read_klines_csv
from marketmaestro.model import Fill, Kline, Position, Side
from marketmaestro.portfolio import apply_fill
from marketmaestro.strategy.engine import CallContext, StrategyEngine, kline_dict
from marketmaestro.strategy.sandbox import StrategyLoadError, StrategyRuntimeError
from marketmaestro.strategy.signals import Signal, SignalError, parse_signals


@click.group()
def strategy() -> None:
    """Check and test strategy files."""


def _engine(state: CliState, file: Path, overrides: dict[str, Any]) -> StrategyEngine:
    functions = {name: entry.function for name, entry in state.plugins().registry.functions.items()}
    engine = StrategyEngine(file, functions, overrides)
    try:
        engine.load()
    except (StrategyLoadError, StrategyRuntimeError) as exc:
        click.echo(f"{file}: {exc}", err=True)
        sys.exit(1)
    return engine


@strategy.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def check(state: CliState, file: Path) -> None:
    """Load FILE in the sandbox and list its callbacks and settings; exit 1 on any error."""
    engine = _engine(state, file, {})
    click.echo(f"{file}: ok")
    click.echo(f"callbacks: {', '.join(sorted(engine.callbacks))}")
    click.echo("settings:")
    for key, value in engine.defaults.items():
        click.echo(f"  {key}: {json.dumps(value)}")


def _parse_set(values: tuple[str, ...]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"got {item!r}; expected key=value", param_hint="--set")
        try:
            overrides[key] = json.loads(raw)
        except json.JSONDecodeError:
            overrides[key] = raw  # a plain word is a string
    return overrides


@dataclass
class _Book:
    """The simulated account of ``mm strategy test``: one position, filled at each kline's close."""

    symbol: str
    position: Position = field(init=False)
    entries: int = 0
    round_trips: int = 0
    fills: int = 0

    def __post_init__(self) -> None:
        self.position = Position("test", self.symbol, Decimal(0), Decimal(0))

    def fill(self, side: Side, quantity: Decimal, price: Decimal, timestamp: int) -> None:
        before = self.position.quantity
        self.fills += 1
        fill = Fill(
            f"t{self.fills}",
            f"t{self.fills}",
            "test",
            self.symbol,
            side,
            quantity,
            price,
            Decimal(0),
            "",
            timestamp,
        )
        self.position = apply_fill(self.position, fill)
        if before == 0 and self.position.quantity != 0:
            self.entries += 1
        if before != 0 and self.position.quantity == 0:
            self.round_trips += 1

    def context(self, timestamp: int) -> CallContext:
        p = self.position
        return CallContext(
            {
                "quantity": float(p.quantity),
                "average_price": float(p.average_price),
                "realized_pnl": float(p.realized_pnl),
            },
            {},
            timestamp,
        )


def _act(book: _Book, signal: Signal, kline: Kline) -> Decimal | None:
    """Fill a market signal at the close; the quantity filled (None when nothing was simulated)."""
    if signal.type != "market" or signal.action == "cancel":
        return None
    price = Decimal(repr(kline.close))
    held = book.position.quantity
    if signal.action == "close":
        if held == 0:
            return None
        quantity = abs(held) if signal.quantity is None else min(signal.quantity, abs(held))
        side = Side.SELL if held > 0 else Side.BUY
    else:
        assert signal.quantity is not None
        quantity, side = signal.quantity, Side.BUY if signal.action == "buy" else Side.SELL
    book.fill(side, quantity, price, kline.timestamp)
    return quantity


def _signal_text(kline: Kline, signal: Signal, filled: Decimal | None) -> str:
    quantity = "-" if filled is None else str(filled)
    note = "" if filled is not None else " (not simulated)"
    head = f"{kline.timestamp} {signal.action.upper()} {quantity} @ {kline.close}"
    return f"{head} {signal.type}{note} {signal.reason}"


@strategy.command("test")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Klines CSV: timestamp,open,high,low,close,volume (as ../shared/bench/gen_klines.py writes).",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a setting of the strategy (a JSON value, or a plain word as a string).",
)
@click.option("--symbol", default="BTCUSDT", show_default=True, help="The symbol the klines are of.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of text.")
@click.pass_obj
def test(
    state: CliState, file: Path, data: Path, settings: tuple[str, ...], symbol: str, as_json: bool
) -> None:
    """Run FILE over the klines in --data through the real engine and sandbox, printing each non-hold
    signal and each log line, then a summary."""
    started = time.perf_counter()
    engine = _engine(state, file, _parse_set(settings))
    if not engine.wants("on_kline"):
        click.echo(f"{file}: mm strategy test feeds klines; the strategy has no on_kline()", err=True)
        sys.exit(1)
    book = _Book(symbol.upper())
    counts: dict[str, int] = {}
    errors = klines = 0
    out = sys.stdout

    def emit(record: dict[str, Any], text: str) -> None:
        out.write((json.dumps(record) if as_json else text) + "\n")

    where = f"{file.name} on_kline()"
    try:
        for kline in read_klines_csv(data, book.symbol, engine.interval):
            klines += 1
            engine.history.append(kline)
            engine.context = book.context(kline.timestamp)
            try:
                result = engine.call("on_kline", kline_dict(kline))
                signals = parse_signals(result, where=where)
            except (StrategyRuntimeError, SignalError) as exc:
                errors += 1
                stack = getattr(exc, "backtrace", None)
                emit(
                    {"type": "error", "timestamp": kline.timestamp, "error": str(exc), "stack": stack},
                    f"{kline.timestamp} ERROR {exc}" + (f"\n{stack}" if stack else ""),
                )
                signals = []
            for kind, line in engine.take_lines():
                emit(
                    {"type": kind, "timestamp": kline.timestamp, "message": line},
                    f"{kline.timestamp} {kind}: {line}",
                )
            engine.state.update(engine.take_dirty())
            for signal in signals:
                counts[signal.action] = counts.get(signal.action, 0) + 1
                filled = _act(book, signal, kline)
                emit(
                    {
                        "type": "signal",
                        "timestamp": kline.timestamp,
                        "action": signal.action,
                        "order_type": signal.type,
                        "quantity": None if filled is None else str(filled),
                        "price": kline.close,
                        "simulated": filled is not None,
                        "reason": signal.reason,
                    },
                    _signal_text(kline, signal, filled),
                )
    except CsvFormatError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    seconds = time.perf_counter() - started
    summary = {
        "type": "summary",
        "klines": klines,
        "signals": counts,
        "entries": book.entries,
        "round_trips": book.round_trips,
        "position": str(book.position.quantity),
        "realized_pnl": str(book.position.realized_pnl),
        "errors": errors,
        "seconds": round(seconds, 3),
        "klines_per_second": round(klines / seconds) if seconds > 0 else None,
    }
    emit(summary, "summary: " + ", ".join(f"{k}={v}" for k, v in summary.items() if k != "type"))
