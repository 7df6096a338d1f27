"""The ``mm`` command line."""

from __future__ import annotations

from pathlib import Path

import click

from marketmaestro import __version__
from marketmaestro.cli.context import state_from


class MainGroup(click.Group):
    """Adds the commands plugins register (``register_commands``) after the built-in ones."""

    _plugins_added = False

    def _add_plugin_commands(self, ctx: click.Context) -> None:
        if not self._plugins_added:
            self._plugins_added = True
            state_from(ctx).plugins().add_commands(self)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        # Always, not only for unknown names: a plugin whose register_commands fails must show as an error in
        # `mm plugins list` too.
        self._add_plugin_commands(ctx)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands(ctx)
        return super().list_commands(ctx)


@click.group(cls=MainGroup)
@click.version_option(__version__, prog_name="mm")
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="MM_CONFIG",
    help="The settings file (default: settings.yaml in the current folder; env MM_CONFIG).",
)
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """MarketMaestro: trade Starlark strategies on crypto exchanges, on paper or live."""
    state_from(ctx)


def _register_builtin_commands() -> None:
    from marketmaestro.cli.config_cmd import config
    from marketmaestro.cli.data_cmd import data
    from marketmaestro.cli.db_cmd import db
    from marketmaestro.cli.kill_cmd import kill
    from marketmaestro.cli.logs_cmd import logs
    from marketmaestro.cli.plugins_cmd import plugins
    from marketmaestro.cli.run_cmd import run
    from marketmaestro.cli.strategy_cmd import strategy

    for command in (run, strategy, data, plugins, config, db, logs, kill):
        main.add_command(command)


_register_builtin_commands()
