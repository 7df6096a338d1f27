"""``mm strategy``: check a strategy file, and run it over historical klines.

``mm strategy test`` drives the same engine and sandbox as ``mm run`` over a klines CSV, with no exchange:
market signals fill at the kline's close (no fees, no slippage), so the printed signals, position and P&L are
what the strategy decided on that data. Other order types are printed and counted but not simulated.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from marketmaestro.cli.context import CliState
from marketmaestro.exchanges.paper.simulator import CsvFormatError, read_kline_columns
from marketmaestro.strategy.engine import StrategyEngine
from marketmaestro.strategy.replay import Replay
from marketmaestro.strategy.sandbox import StrategyLoadError, StrategyRuntimeError, off_main_thread


@click.group()
def strategy() -> None:
    """Check and test strategy files."""


def _engine(state: CliState, file: Path, overrides: dict[str, Any]) -> StrategyEngine:
    registry = state.plugins().registry
    functions = {name: entry.function for name, entry in registry.functions.items()}
    engine = StrategyEngine(file, functions, overrides, starlark=registry.starlark_functions())
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


def _text(record: dict[str, Any]) -> str:
    """A replay record as one readable line."""
    at = record.get("timestamp")
    match record["type"]:
        case "signal":
            quantity = record["quantity"] or "-"
            note = "" if record["simulated"] else " (not simulated)"
            return (
                f"{at} {record['action'].upper()} {quantity} @ {record['price']} "
                f"{record['order_type']}{note} {record['reason']}"
            )
        case "error":
            return f"{at} ERROR {record['error']}" + (f"\n{record['stack']}" if record["stack"] else "")
        case "summary":
            return "summary: " + ", ".join(f"{k}={v}" for k, v in record.items() if k != "type")
        case kind:
            return f"{at} {kind}: {record['message']}"


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
    # All of it on one thread other than the main one: calls into the binding from the main thread are slow
    # (see marketmaestro.strategy.sandbox), and handing each one over would cost a thread switch.
    off_main_thread(lambda: _test(state, file, data, settings, symbol, as_json))


def _test(
    state: CliState, file: Path, data: Path, settings: tuple[str, ...], symbol: str, as_json: bool
) -> None:
    engine = _engine(state, file, _parse_set(settings))
    if not engine.wants("on_kline"):
        click.echo(f"{file}: mm strategy test feeds klines; the strategy has no on_kline()", err=True)
        sys.exit(1)
    replay = Replay(engine, symbol.upper())
    write = sys.stdout.write
    try:
        columns = read_kline_columns(data)
    except CsvFormatError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    for record in replay.run_columns(columns, symbol.upper(), engine.interval):
        write((json.dumps(record) if as_json else _text(record)) + "\n")
    summary = replay.summary()
    write((json.dumps(summary) if as_json else _text(summary)) + "\n")
