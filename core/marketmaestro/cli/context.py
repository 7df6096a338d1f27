"""What every ``mm`` command shares: the settings file, the loaded plugins and the validated configuration."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import click

from marketmaestro.config import Config, ConfigError, load_config
from marketmaestro.exchanges.modes import check_exchange_modes
from marketmaestro.exchanges.public import check_paper_feeds
from marketmaestro.plugins.manager import PluginHost, load_plugins
from marketmaestro.risk import check_risk_config

CONFIG_ERROR_EXIT = 2


class CliState:
    """Loads lazily, once: a command that needs no configuration works even when it is broken."""

    def __init__(self, config_path: Path | None = None, environ: Mapping[str, str] | None = None) -> None:
        self.config_path = config_path
        self.environ = os.environ if environ is None else environ
        self._plugins: PluginHost | None = None
        self._config: Config | None = None

    def _blocked(self) -> list[str]:
        # The blocked list decides which plugins load, and the plugins decide how exchange options are
        # validated: read the list from a first pass that does not check exchanges.
        try:
            return list(load_config(self.config_path, environ=self.environ).plugins.blocked)
        except ConfigError:
            return []  # reported in full by config()

    def plugins(self) -> PluginHost:
        if self._plugins is None:
            self._plugins = load_plugins(blocked=self._blocked(), environ=self.environ)
        return self._plugins

    def config(self) -> Config:
        """The validated configuration; on problems, prints one line each and exits with code 2."""
        if self._config is None:
            registry = self.plugins().registry
            try:
                config = load_config(
                    self.config_path,
                    environ=self.environ,
                    exchange_options=registry.exchange_options_models(),
                )
                problems = (
                    check_risk_config(registry, config)
                    + check_exchange_modes(registry, config)
                    + check_paper_feeds(registry, config)
                )
                if problems:
                    raise ConfigError(problems)
                self._config = config
            except ConfigError as error:
                click.echo(f"Configuration problems ({len(error.problems)}):", err=True)
                for problem in error.problems:
                    click.echo(f"  {problem}", err=True)
                sys.exit(CONFIG_ERROR_EXIT)
        return self._config


def state_from(ctx: click.Context) -> CliState:
    """The state of the running ``mm``, created from the group's options on first use."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState(root.params.get("config"))
    return root.obj
