"""mm-hello: the example plugin of MarketMaestro's docs/writing-a-plugin.md.

It implements three hooks, one of each kind:

- ``register_indicators``: adds ``midpoint(highs, lows)``, which strategies can call;
- ``register_commands``: adds ``mm hello``, which greets and counts the registered indicators;
- ``on_order_filled``: logs every fill as a ``hello.fill`` event.

MarketMaestro finds the module through the entry point in ``pyproject.toml``::

    [project.entry-points.marketmaestro]
    hello = "mm_hello"
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from marketmaestro import hookimpl
from marketmaestro.cli.context import state_from
from marketmaestro.logs import log_event

if TYPE_CHECKING:
    from marketmaestro.messages import OrderFilledMsg
    from marketmaestro.plugins.registry import RegisterIndicator

__all__ = ["GREETING", "hello", "midpoint", "on_order_filled", "register_commands", "register_indicators"]

GREETING = "Hello from mm-hello!"
"""The first words ``mm hello`` prints."""


def midpoint(highs: Sequence[float], lows: Sequence[float]) -> list[float]:
    """The middle of each bar's range, ``(high + low) / 2``, bar for bar.

    From a strategy: ``bars = history(20)`` then ``midpoint(bars["high"], bars["low"])``. The result is
    as long as the inputs; a NaN in either input gives NaN for that bar. Raises ``ValueError`` naming the
    argument when an input is not a list of numbers or the two lengths differ.
    """
    high_values = _numbers("highs", highs)
    low_values = _numbers("lows", lows)
    if len(high_values) != len(low_values):
        raise ValueError(
            f"midpoint(): highs and lows must have the same length, got {len(high_values)} "
            f"and {len(low_values)}"
        )
    return [(high + low) / 2 for high, low in zip(high_values, low_values, strict=True)]


def _numbers(name: str, values: object) -> list[float]:
    """``values`` as floats, or a ``ValueError`` naming ``name``, the value received and what was expected."""
    if not isinstance(values, list | tuple):
        raise ValueError(f"midpoint(): {name} must be a list of numbers, got {type(values).__name__}")
    floats: list[float] = []
    for index, value in enumerate(values):
        # bool is an int subclass, and True as a price is a bug in the caller, not the number 1.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"midpoint(): {name}[{index}] must be a number, got {value!r}")
        floats.append(float(value))
    return floats


@hookimpl
def register_indicators(register: RegisterIndicator) -> None:
    """Make ``midpoint`` callable from strategies."""
    register(
        "midpoint",
        midpoint,
        description="midpoint(highs, lows): the middle of each bar's range, (high + low) / 2.",
    )


@click.command("hello")
def hello() -> None:
    """Greet, and list the indicators strategies can call."""
    # The same loaded plugins `mm` itself uses: MM_LOAD_PLUGINS and plugins.blocked apply.
    host = state_from(click.get_current_context()).plugins()
    names = sorted(host.registry.indicators)
    listed = ", ".join(names) if names else "none"
    click.echo(f"{GREETING} {len(names)} indicators registered: {listed}")


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``mm hello``."""
    cli.add_command(hello)


@hookimpl
def on_order_filled(event: OrderFilledMsg) -> None:
    """Log each fill. The order manager waits for this hook, so it only logs: no I/O that may block."""
    fill = event.fill
    log_event(
        "hello.fill",
        fill_id=fill.fill_id,
        exchange=fill.exchange,
        symbol=fill.symbol,
        strategy=fill.strategy or None,
        side=fill.side.value,
        quantity=fill.quantity,
        price=fill.price,
        notional=fill.quantity * fill.price,
        order_status=event.order.status.value,
    )
