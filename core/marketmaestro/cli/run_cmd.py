"""``mm run``: start the bot."""

from __future__ import annotations

import logging
import sys

import click
import trio

from marketmaestro.cli.context import CliState
from marketmaestro.config import secret_values
from marketmaestro.logs import configure_logging, log_event


@click.command()
@click.pass_obj
def run(state: CliState) -> None:
    """Run the bot: exchanges, strategies, the API and the web UI, until Ctrl-C (SIGINT) or SIGTERM."""
    config = state.config()
    handle = configure_logging(
        file=config.logging.file,
        console=config.logging.console,
        level=config.logging.level,
        secrets=secret_values(config),
    )
    # Alembic narrates every start-up migration check at INFO; only its warnings matter to an operator.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        host = state.plugins()
        for info in host.plugins:
            if info.status == "error":
                log_event("plugin.not_loaded", level="error", plugin=info.name, error=info.error)
        live = [name for name, ex in config.exchanges.items() if ex.enabled]
        for name in live:
            entry = host.registry.exchanges.get(config.exchanges[name].plugin_name)
            mode = config.exchanges[name].mode or (entry.modes[0] if entry else None)
            log_event(
                "exchange.configured", exchange=name, plugin=config.exchanges[name].plugin_name, mode=mode
            )
        if config.api.enabled:
            where = f"http://{config.api.host}:{config.api.port}/"
            token = f"in {config.api.token_file}" if config.api.token is None else "from the configuration"
            click.echo(f"Web UI and API on {where} (API token {token})", err=True)
        from marketmaestro.runtime.bot import run_bot  # the whole runtime: only for `mm run`

        code = trio.run(run_bot, config, host)
    finally:
        handle.close()
    sys.exit(code)
