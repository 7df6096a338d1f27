"""``mm config``: inspect the effective configuration."""

from __future__ import annotations

import json
from typing import Protocol

import click
import yaml

from marketmaestro.config import Config, masked_dict


class _HasConfig(Protocol):
    """What these commands need of the CLI state (``marketmaestro.cli.context.CliState``)."""

    def config(self) -> Config: ...


@click.group(name="config")
def config() -> None:
    """Inspect the configuration."""


@config.command(name="show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
@click.pass_obj
def show(state: _HasConfig, as_json: bool) -> None:
    """Print the effective configuration, after every layer and default, with secrets masked.

    Relative paths are shown resolved against the settings file's folder.
    """
    # An invalid configuration is reported by state.config(), with every problem, before this runs on.
    data = masked_dict(state.config())
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), nl=False)
