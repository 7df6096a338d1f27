"""``mm db``: create and migrate the database (the SQLite file at ``database.path``).

::

    mm db upgrade            # to the newest revision (what `make run` does first)
    mm db downgrade base     # remove every table
    mm db current            # the revision the file is at, or "none"
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import click


class _DatabaseSection(Protocol):
    @property
    def path(self) -> Path: ...


class _Config(Protocol):
    @property
    def database(self) -> _DatabaseSection: ...


class _State(Protocol):
    """What these commands need from the CLI state (``marketmaestro.cli.context.CliState``)."""

    def config(self) -> _Config: ...


@click.group()
def db() -> None:
    """Create and migrate the database."""


@db.command("upgrade")
@click.argument("revision", default="head")
@click.pass_obj
def upgrade_cmd(state: _State, revision: str) -> None:
    """Migrate the database up to REVISION (default: head, the newest), creating it if needed."""
    from marketmaestro.storage import upgrade

    _migrate(state, upgrade, revision)


@db.command("downgrade")
@click.argument("revision")
@click.pass_obj
def downgrade_cmd(state: _State, revision: str) -> None:
    """Migrate the database down to REVISION: a revision id, or "base" to remove every table."""
    from marketmaestro.storage import downgrade

    _migrate(state, downgrade, revision)


@db.command("current")
@click.pass_obj
def current_cmd(state: _State) -> None:
    """Print the revision the database is at, or "none" when it has no schema yet."""
    from marketmaestro.storage import MigrationError, current

    path = state.config().database.path
    try:
        revision = current(path)
    except MigrationError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(revision or "none")


def _migrate(state: _State, action: Callable[[Path, str], None], revision: str) -> None:
    """Run ``action`` on the configured database and report the revision before and after."""
    from marketmaestro.storage import MigrationError, current

    path = state.config().database.path
    try:
        before = current(path)
        action(path, revision)
        after = current(path)
    except MigrationError as exc:
        # ClickException prints one "Error: ..." line to stderr and exits with status 1.
        raise click.ClickException(str(exc)) from exc
    if before == after:
        click.echo(f"database {path} is at revision {after or 'none'}; nothing to do")
    else:
        click.echo(f"database {path}: revision {before or 'none'} -> {after or 'none'}")
