"""``mm logs``: read the JSON-lines log as eliot task trees, filtered by exchange, strategy, level."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Protocol

import click

from marketmaestro.logs import LEVELS, render_log


class _LoggingSection(Protocol):
    @property
    def file(self) -> Path: ...


class _Config(Protocol):
    @property
    def logging(self) -> _LoggingSection: ...


class _ConfigSource(Protocol):
    """What ``mm logs`` needs from the CLI state (``marketmaestro.cli.context.CliState``)."""

    def config(self) -> _Config: ...


@click.command("logs")
@click.option(
    "--file",
    "file_",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Log file to read. Default: logging.file from the configuration.",
)
@click.option("--exchange", default=None, help="Only tasks with a message about this exchange.")
@click.option("--strategy", default=None, help="Only tasks with a message about this strategy.")
@click.option("--symbol", default=None, help="Only tasks with a message about this symbol.")
@click.option(
    "--level",
    type=click.Choice(LEVELS, case_sensitive=False),
    default=None,
    help="Only tasks with a message at this level or above (a failed action is an error).",
)
@click.option(
    "--color/--no-color",
    default=None,
    help="Colour the output. Default: colour when writing to a terminal.",
)
@click.pass_obj
def logs(
    state: _ConfigSource | None,
    file_: Path | None,
    exchange: str | None,
    strategy: str | None,
    symbol: str | None,
    level: str | None,
    color: bool | None,
) -> None:
    """Show the log as trees of actions, each with its messages, nested actions and outcome.

    A task is shown whole when any of its messages matches the filters, so a failed order shows
    everything that led to the failure.
    """
    if file_ is not None:
        path = file_
    elif state is not None:
        path = state.config().logging.file
    else:
        raise click.UsageError("no configuration available: pass --file PATH")
    # Looked up at call time, so click's test runner (and any redirection) is honoured.
    out, err = sys.stdout, sys.stderr
    colorize = color if color is not None else out.isatty()
    try:
        count = render_log(
            path,
            out,
            exchange=exchange,
            strategy=strategy,
            symbol=symbol,
            level=level,
            human=True,
            colorize=colorize,
            err=err,
        )
    except FileNotFoundError:
        click.echo(f"mm logs: no log file at {path} (nothing logged yet, or another --file?)", err=True)
        raise click.exceptions.Exit(1) from None
    if count == 0 and any(value is not None for value in (exchange, strategy, symbol, level)):
        click.echo("mm logs: no task matches the filters", err=True)
