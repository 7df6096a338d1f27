"""``mm kill``: the kill switch of a running bot, through its API.

The bot holds the orders, the emulated ones included, and the exchange sessions; so the command asks it
(``POST /api/v1/kill`` with the API token from the same configuration: ``api.token`` or
``api.token_file``) rather than touching the database or the exchanges itself.

The halt outlives a restart of the bot (it is kept with the risk halts); ``mm kill --lift`` lifts it
(``POST /api/v1/kill/lift``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import click

from marketmaestro.cli.context import state_from

KILL_TIMEOUT = 60.0
UNREACHABLE_EXIT = 1


def _token(config: Any) -> str | None:
    """The bot's API token, or None when the configuration names none and no token file exists yet (then
    no bot has served the API with this configuration)."""
    if config.api.token is not None and config.api.token.get_secret_value():
        return str(config.api.token.get_secret_value())
    path = config.api.token_file
    if path.is_file():
        return str(path.read_text().strip()) or None
    return None


def _summary(report: Mapping[str, Any]) -> list[str]:
    lines = []
    for exchange, orders in sorted(report.get("cancelled", {}).items()):
        emulated = sum(1 for order in orders if order.get("emulated"))
        lines.append(f"{exchange}: {len(orders)} open order(s) ended ({emulated} emulated)")
        for order in orders:
            what = f"{order['symbol']} {order['side']} {order['type']}"
            lines.append(f"  {order['client_order_id']} {what} -> {order['status']}")
    for exchange, error in sorted(report.get("failed", {}).items()):
        lines.append(f"{exchange}: FAILED: {error}")
    stopped = "stopped" if report.get("strategies_stopped") else "NOT confirmed stopped"
    lines.append(f"strategies: {stopped}; new orders are refused until lifted (mm kill --lift)")
    return lines


def _lift_summary(report: Mapping[str, Any]) -> list[str]:
    lifted = report.get("lifted", {})
    return [f"{name}: {'halt lifted' if was else 'not halted'}" for name, was in sorted(lifted.items())]


@click.command("kill")
@click.option("--url", default=None, help="The bot's API address. Default: http://<api.host>:<api.port>.")
@click.option("--lift", is_flag=True, help="Lift the kill switch's halt instead (it outlives restarts).")
@click.pass_context
def kill(ctx: click.Context, url: str | None, lift: bool) -> None:
    """Kill switch: cancel every open order (native and emulated) on every exchange of the running bot,
    refuse new ones (until lifted, restarts included) and stop its strategies. With --lift: accept new
    orders again."""
    import httpx

    config = state_from(ctx).config()
    if url is None:
        host = "127.0.0.1" if config.api.host in ("0.0.0.0", "::") else config.api.host
        url = f"http://{host}:{config.api.port}"
    token = _token(config)
    if token is None:
        click.echo(
            f"mm kill: no API token (api.token is unset and {config.api.token_file} does not exist); "
            "is the bot running with this configuration?",
            err=True,
        )
        sys.exit(UNREACHABLE_EXIT)
    try:
        response = httpx.post(
            f"{url.rstrip('/')}/api/v1/kill{'/lift' if lift else ''}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=KILL_TIMEOUT,
        )
    except httpx.HTTPError as exc:
        click.echo(f"mm kill: cannot reach the bot at {url}: {exc}", err=True)
        sys.exit(UNREACHABLE_EXIT)
    if response.status_code == 401:
        click.echo(f"mm kill: the bot at {url} refused the API token", err=True)
        sys.exit(UNREACHABLE_EXIT)
    try:
        report = response.json()
    except ValueError:
        click.echo(f"mm kill: unexpected answer from {url} (HTTP {response.status_code})", err=True)
        sys.exit(UNREACHABLE_EXIT)
    for line in _lift_summary(report) if lift else _summary(report):
        click.echo(line)
    if response.status_code != 200:
        sys.exit(UNREACHABLE_EXIT)
