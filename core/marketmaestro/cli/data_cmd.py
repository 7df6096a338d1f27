"""``mm data``: download market data (klines) from an exchange and list what is stored.

::

    mm data download --exchange bybit --symbol BTCUSDT --interval 1m --since 2024-01-01 --until 2024-02-01
    mm data list [--json]

Files live under ``data.dir`` (default ``data`` beside the settings file); see docs/data.md.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import trio
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from marketmaestro.cli.context import CliState
from marketmaestro.data import (
    DataFileError,
    DownloadError,
    DownloadResult,
    KlineFile,
    download_klines,
    list_datasets,
)
from marketmaestro.data.download import PAGE_SIZE
from marketmaestro.data.download import Progress as ProgressCallback
from marketmaestro.data.gaps import Gap
from marketmaestro.data.source import SourceError, build_source
from marketmaestro.exchanges import Exchange, ExchangeError
from marketmaestro.model import INTERVAL_SECONDS, now_ms
from marketmaestro.storage import AsyncStore, Store

INTERRUPTED_EXIT = 130
SYMBOL = re.compile(r"[A-Z0-9]+")
GAPS_SHOWN = 10
WIDE = 160
"""Characters per line of the ``mm data list`` table when the output is not a terminal."""


@click.group()
def data() -> None:
    """Download market data and list what is stored."""


def _utc(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _parse_time(text: str, option: str) -> int:
    """Epoch ms of a date or time given on the command line (UTC unless it carries an offset)."""
    raw = text.strip()
    if raw == "now":
        return now_ms()
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise click.BadParameter(
            f"got {text!r}; expected a UTC date or time such as 2024-01-01 or 2024-01-01T12:30, or now",
            param_hint=option,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _interval(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if value not in INTERVAL_SECONDS:
        raise click.BadParameter(f"got {value!r}; expected one of {', '.join(INTERVAL_SECONDS)}")
    return value


@data.command("download")
@click.option("--exchange", required=True, help="A configured exchange key, or a registered exchange plugin.")
@click.option("--symbol", required=True, help="The symbol, e.g. BTCUSDT.")
@click.option("--interval", required=True, callback=_interval, help="The kline interval, e.g. 1m or 1h.")
@click.option("--since", required=True, help="The first kline's open time: a UTC date or time (2024-01-01).")
@click.option("--until", default="now", show_default=True, help="Stop before klines opening at this time.")
@click.option(
    "--page-size",
    default=PAGE_SIZE,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Klines asked for per request (the exchange may send fewer).",
)
@click.pass_obj
def download(
    state: CliState, exchange: str, symbol: str, interval: str, since: str, until: str, page_size: int
) -> None:
    """Download klines into the data folder: resumable, never twice, with gaps reported.

    Klines opening at or after --since and before --until are fetched through the exchange's public REST
    history (no API keys), page by page. Running the command again continues where the last run stopped.
    """
    symbol = symbol.upper()
    if not SYMBOL.fullmatch(symbol):
        raise click.BadParameter(
            f"got {symbol!r}; expected letters and digits only, as MarketMaestro names pairs (BTCUSDT)",
            param_hint="--symbol",
        )
    since_ms, until_ms = _parse_time(since, "--since"), _parse_time(until, "--until")
    if until_ms <= since_ms:
        raise click.BadParameter(f"{until!r} is not after --since {since!r}", param_hint="--until")
    config = state.config()
    registry = state.plugins().registry
    try:
        file = KlineFile.at(config.data.dir, exchange, symbol, interval)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--exchange/--symbol") from None
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with tempfile.TemporaryDirectory() as scratch, Store(Path(scratch) / "scratch.db") as store:
            adapter = build_source(registry, config, exchange, symbol, AsyncStore(store))
            with Progress(*columns, console=console) as bar:
                task = bar.add_task(f"{exchange} {symbol} {interval}", total=None)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                result = trio.run(_download, adapter, file, since_ms, until_ms - 1, page_size, progress)
    except KeyboardInterrupt:
        click.echo(
            f"interrupted: what was stored in {file.path} is kept; run the same command to continue", err=True
        )
        sys.exit(INTERRUPTED_EXIT)
    except (SourceError, DownloadError, DataFileError) as exc:
        raise click.ClickException(str(exc)) from None
    except (ExchangeError, ValueError) as exc:
        raise click.ClickException(f"{exchange}: {exc}") from None
    _report(result)


async def _download(
    adapter: Exchange, file: KlineFile, since: int, until: int, page_size: int, progress: ProgressCallback
) -> DownloadResult:
    await adapter.connect()
    try:
        listed = await adapter.instruments()
        if file.symbol not in listed:
            raise SourceError(f"exchange {file.exchange!r} does not list {file.symbol}")
        try:
            await adapter.klines(file.symbol, file.interval, 1)
        except (ExchangeError, ValueError) as exc:
            raise SourceError(
                f"exchange {file.exchange!r} cannot serve {file.interval} klines: {exc}"
            ) from None
        return await download_klines(adapter, file, since, until, page_size=page_size, progress=progress)
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(2):
            await adapter.disconnect()


def _report(result: DownloadResult) -> None:
    file = result.file
    name = f"{file.exchange} {file.symbol} {file.interval}"
    if result.repaired_bytes:
        click.echo(
            f"repaired: cut off a partial kline ({result.repaired_bytes} bytes) an interrupted run left"
        )
    if result.total == 0:
        click.echo(f"{name}: the exchange has no klines from {_utc(result.start)} to {_utc(result.end)} UTC")
        return
    click.echo(
        f"{name}: {result.added} new klines stored, {result.total} in total "
        f"from {_utc(result.first)} to {_utc(result.last)} UTC"
    )
    click.echo(f"file: {file.path}")
    click.echo(_gaps_line(result.gaps))
    for gap in result.gaps[:GAPS_SHOWN]:
        click.echo(f"  {_utc(gap.first)} to {_utc(gap.last)} UTC ({gap.missing} missing)")
    if len(result.gaps) > GAPS_SHOWN:
        click.echo(f"  ... and {len(result.gaps) - GAPS_SHOWN} more (mm data list --json lists them all)")


def _gaps_line(gaps: list[Gap]) -> str:
    if not gaps:
        return "gaps: none"
    missing = sum(g.missing for g in gaps)
    return f"gaps: {len(gaps)} ({missing} klines missing; some exchanges skip intervals without trades)"


@data.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines instead of a table.")
@click.pass_obj
def list_data(state: CliState, as_json: bool) -> None:
    """List the stored klines: exchange, symbol, interval, first and last open time (UTC), count, gaps."""
    folder = state.config().data.dir
    datasets = list_datasets(folder)
    if as_json:
        rows: list[dict[str, Any]] = [
            {
                "exchange": d.exchange,
                "symbol": d.symbol,
                "interval": d.interval,
                "path": str(d.path),
                "count": d.count,
                "first": d.first,
                "last": d.last,
                "first_utc": _utc(d.first) if d.first is not None else None,
                "last_utc": _utc(d.last) if d.last is not None else None,
                "missing": d.missing,
                "gaps": [{"first": g.first, "last": g.last, "missing": g.missing} for g in d.gaps],
                "error": d.error,
            }
            for d in datasets
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    if not datasets:
        click.echo(f"No market data in {folder} yet: `mm data download --help` says how to get some.")
        return
    table = Table(title=f"Market data in {folder}")
    for column in ("exchange", "symbol", "interval", "first (UTC)", "last (UTC)", "klines"):
        table.add_column(column, no_wrap=True)
    table.add_column("gaps", overflow="fold", min_width=4)
    for d in datasets:
        gaps = (
            Text(d.error, style="red")
            if d.error
            else Text(f"{len(d.gaps)} ({d.missing} missing)" if d.gaps else "none")
        )
        table.add_row(d.exchange, d.symbol, d.interval, _utc(d.first), _utc(d.last), str(d.count), gaps)
    console = Console()
    if not console.is_terminal:
        console = Console(width=WIDE)  # piped into a file or a program: no terminal to fit
    console.print(table)
