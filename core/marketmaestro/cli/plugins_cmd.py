"""``mm plugins``: what is installed and whether it loaded."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from marketmaestro.cli.context import CliState


@click.group()
def plugins() -> None:
    """Inspect plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines instead of a table.")
@click.option("--all", "show_all", is_flag=True, help="Include the built-in plugins.")
@click.pass_obj
def list_plugins(state: CliState, as_json: bool, show_all: bool) -> None:
    """List installed plugins: name, distribution, version, hooks, source, status and error."""
    rows = [p for p in state.plugins().plugins if show_all or p.source != "builtin"]
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in rows], indent=2))
        return
    table = Table(title="MarketMaestro plugins")
    for column in ("name", "distribution", "version", "source", "status", "hooks / error"):
        table.add_column(column, overflow="fold")
    for p in rows:
        status = {"ok": "[green]ok[/]", "error": "[red]error[/]"}.get(p.status, f"[yellow]{p.status}[/]")
        detail = p.error if p.error else ", ".join(p.hooks)
        table.add_row(p.name, p.distribution or "", p.version or "", p.source, status, detail)
    if not rows:
        click.echo("No plugins installed (use --all to see the built-ins).")
        return
    Console(soft_wrap=True).print(table)
