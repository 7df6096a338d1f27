"""Every extension point of MarketMaestro, in one place.

A plugin is a module (or object) with functions marked ``@marketmaestro.hookimpl`` whose names are
the hooks below. Installed plugins are found through the entry-point group ``marketmaestro``::

    [project.entry-points.marketmaestro]
    indicators = "marketmaestro_indicators"

Registry hooks (``register_*``) receive a ``register`` callback rather than returning values, so the
host can de-duplicate, attribute every registration to its plugin, and add keyword arguments later
without breaking plugins. No hook here is ``firstresult``: every implementation is called.

Hooks may return an awaitable where the docstring says so; the host awaits it.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

import pluggy

from marketmaestro import PROJECT_NAME

if TYPE_CHECKING:
    import click

    from marketmaestro.messages import OrderFilledMsg, OrderUpdatedMsg
    from marketmaestro.plugins.registry import (
        RegisterBuiltin,
        RegisterExchange,
        RegisterIndicator,
        RegisterRiskRule,
        RegisterWeb,
    )
    from marketmaestro.runtime.bot import BotContext

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


@hookspec
def register_exchanges(register: RegisterExchange) -> None:
    """Register exchange adapters.

    Called once when the plugin registry is built. Call
    ``register(name, factory, *, options_model=None, description="")`` for each exchange:

    - ``name``: the value users write as ``exchanges.<key>.plugin`` (or as the key itself);
    - ``factory(context: ExchangeContext) -> Exchange``: builds the adapter for one configured
      exchange (see ``marketmaestro.exchanges.base.Exchange``);
    - ``options_model``: a pydantic model that validates ``exchanges.<key>.options`` at start-up,
      so a bad option is reported with every other configuration problem before anything runs.
    """


@hookspec
def register_indicators(register: RegisterIndicator) -> None:
    """Register technical indicators that strategies can call.

    Call ``register(name, function, *, aliases=(), description="", starlark=None)``. ``function``
    receives plain Python values converted from Starlark (lists of floats, ints, floats) and returns a
    list of floats of the input's length (warm-up positions NaN) or a dict of such lists.

    ``starlark``, optional, is Starlark source that defines a function called ``name`` returning the
    same values bit for bit; strategies then run it inside the sandbox, which avoids converting lists
    into and out of Python on every call. It may call ``function`` as ``_py_<name>`` (for input it does
    not handle itself). Several registrations may share one source; it is run once.
    """


@hookspec
def register_strategy_builtins(register: RegisterBuiltin) -> None:
    """Register other functions that strategies can call (not indicators).

    Call ``register(name, function, *, description="")``. The function must be pure: it may not
    reach the file system, the network or the clock, because strategies run in a sandbox.
    """


@hookspec
def register_risk_rules(register: RegisterRiskRule) -> None:
    """Register pre-trade risk rules.

    Call ``register(name, factory, *, description="")``. ``factory(params: Mapping[str, Any])``
    receives the rule's section of the configuration (``risk.<name>``, overridden key by key per
    exchange by ``exchanges.<key>.risk.<name>``, then per pair and per strategy by their ``risk``) and
    returns a ``marketmaestro.risk.RiskRule``, or ``None`` when the rule is not configured. Every
    configured rule must approve an order before it is sent.
    """


@hookspec
def register_web(register: RegisterWeb) -> None:
    """Register web pages and API routes.

    Call ``register(blueprint, *, nav=())`` with a ``quart.Blueprint``. ``nav`` is a sequence of
    ``(title, path)`` pairs shown in the web UI's navigation. Every route under ``/api/`` requires
    the API token; pages are served to the browser, which then calls the API with the token.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``mm`` command line: call ``cli.add_command(command)``.

    Called when ``mm`` starts, after plugins are loaded. A plugin that fails here is reported by
    ``mm plugins list`` and the other commands keep working.
    """


@hookspec
def on_startup(bot: BotContext) -> Awaitable[None] | None:
    """Called once when ``mm run`` has started every service (market data is already flowing).

    ``bot`` gives read access to the configuration, the plugin registry and the store. May return
    an awaitable. An exception here is logged and does not stop the bot.
    """


@hookspec
def on_shutdown(bot: BotContext) -> Awaitable[None] | None:
    """Called once during a graceful shutdown, after strategies were stopped. May return an
    awaitable, which gets a share of the shutdown deadline."""


@hookspec
def on_order_updated(event: OrderUpdatedMsg) -> Awaitable[None] | None:
    """Called after every order status change (created, submitted, filled, rejected, ...), once the
    change is stored. For notifications and audit trails; may return an awaitable. Exceptions are
    logged and never affect trading; an implementation that takes longer than 5 seconds is abandoned and
    logged."""


@hookspec
def on_order_filled(event: OrderFilledMsg) -> Awaitable[None] | None:
    """Called after every fill is stored (with its order, in one transaction) and handed to the portfolio.
    May return an awaitable. Exceptions are logged and never affect trading; an implementation that takes
    longer than 5 seconds is abandoned and logged."""
