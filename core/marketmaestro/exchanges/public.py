"""Building a registered exchange for its public market data only: no API keys, paper mode.

The paper exchange's ``feed`` (paper trading on a live venue's prices) and ``mm data download`` both need an
exchange plugin's adapter for klines, instruments and streams, never for trading. They build it here, in the
plugin's ``paper`` mode and without credentials, so even a buggy adapter has no key to trade with.

A plugin's factory in paper mode usually wraps its public adapter in a
:class:`~marketmaestro.exchanges.paper.PaperExchange` (market data from the venue, a simulated account).
:func:`unwrap_feed` takes such a wrapper apart again: whoever only wants the venue's data gets the adapter
inside, and no second paper account is opened.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from marketmaestro.config import Config, ConfigProblem, ExchangeConfig
from marketmaestro.config.errors import problems_from_validation_error
from marketmaestro.exchanges.base import Exchange, ExchangeContext, PublicExchangeFactory
from marketmaestro.exchanges.errors import FatalExchangeError

if TYPE_CHECKING:
    from marketmaestro.plugins.registry import Registry
    from marketmaestro.storage import AsyncStore

__all__ = [
    "PUBLIC_MODE",
    "build_public_exchange",
    "check_paper_feeds",
    "public_exchange_factory",
    "unwrap_feed",
]

PUBLIC_MODE = "paper"
"""The mode public-data adapters are built in: the one in which plugins promise never to trade."""


def build_public_exchange(
    registry: Registry,
    plugin: str,
    options: Mapping[str, Any] | None,
    *,
    name: str,
    store: AsyncStore,
    config_dir: Path,
    symbols: Iterable[str] = (),
    where: str = "",
) -> Exchange:
    """An unconnected adapter of exchange plugin ``plugin`` for public data (see the module docstring).

    ``options`` are the plugin's raw options (None: its defaults), validated by its options model;
    ``symbols`` become the context's pairs (some adapters only load what is configured); ``where`` is the
    configuration key the options came from, for error messages. Raises ``FatalExchangeError``.
    """
    entry = registry.exchanges.get(plugin)
    label = where or "exchange"
    if entry is None:
        known = ", ".join(sorted(registry.exchanges)) or "(none)"
        raise FatalExchangeError(f"{label}: no exchange plugin {plugin!r} is registered; known: {known}")
    if PUBLIC_MODE not in entry.modes:
        raise FatalExchangeError(
            f"{label}: exchange plugin {plugin!r} offers no {PUBLIC_MODE} mode "
            f"(its modes: {', '.join(entry.modes)}), so it cannot serve public data without keys"
        )
    raw = dict(options or {})
    validated = None
    if entry.options_model is not None:
        try:
            validated = entry.options_model.model_validate(raw)
        except ValidationError as error:
            problems = problems_from_validation_error(error, entry.options_model, (where,) if where else ())
            raise FatalExchangeError("; ".join(str(p) for p in problems)) from None
    symbols = tuple(dict.fromkeys(symbols))
    pairs = [{"symbol": symbol} for symbol in symbols]
    try:
        config = ExchangeConfig.model_validate(
            {"plugin": plugin, "mode": PUBLIC_MODE, "options": raw, "pairs": pairs}
        )
    except ValidationError as error:
        problems = problems_from_validation_error(error, ExchangeConfig, (label,))
        raise FatalExchangeError("; ".join(str(p) for p in problems)) from None
    # A paper exchange with a feed (mm data download from it) builds its feed through the same door.
    feeds = public_exchange_factory(registry, store, config_dir, name=name, symbols=symbols)
    context = ExchangeContext(
        name, config, validated, store, config_dir, mode=PUBLIC_MODE, build_public=feeds
    )
    return unwrap_feed(entry.factory(context))


def unwrap_feed(adapter: Exchange) -> Exchange:
    """The public adapter inside a paper exchange that trades on a feed; any other adapter itself."""
    from marketmaestro.exchanges.paper import PaperExchange

    while isinstance(adapter, PaperExchange) and adapter.feed is not None:
        adapter = adapter.feed
    return adapter


def public_exchange_factory(
    registry: Registry, store: AsyncStore, config_dir: Path, *, name: str, symbols: Iterable[str] = ()
) -> PublicExchangeFactory:
    """``ExchangeContext.build_public`` for exchange ``name``: feeds named ``<name>.feed``, with its pairs."""
    pairs = tuple(symbols)

    def build(plugin: str, options: Mapping[str, Any]) -> Exchange:
        return build_public_exchange(
            registry,
            plugin,
            options,
            name=f"{name}.feed",
            store=store,
            config_dir=config_dir,
            symbols=pairs,
            where=f"exchanges.{name}.options.feed_options",
        )

    return build


def check_paper_feeds(registry: Registry, config: Config) -> list[ConfigProblem]:
    """A problem for every enabled paper exchange whose ``feed`` is not a registered exchange plugin with a
    paper mode, or whose ``feed_options`` that plugin's options model refuses (checked at start-up, so
    ``mm run`` stops with the configuration problems instead of failing the exchange later)."""
    from marketmaestro.exchanges.paper import PaperOptions

    problems: list[ConfigProblem] = []
    for key, exchange in config.exchanges.items():
        options = config.exchange_options(key)
        if not exchange.enabled or not isinstance(options, PaperOptions) or options.feed is None:
            continue
        where = f"exchanges.{key}.options"
        entry = registry.exchanges.get(options.feed)
        if entry is None:
            known = ", ".join(sorted(n for n in registry.exchanges if n != "paper")) or "(none installed)"
            problems.append(
                ConfigProblem(f"{where}.feed", options.feed, f"a registered exchange plugin: {known}")
            )
        elif PUBLIC_MODE not in entry.modes:
            offers = ", ".join(entry.modes)
            expected = f"an exchange plugin with a {PUBLIC_MODE} mode ({entry.name!r} offers {offers})"
            problems.append(ConfigProblem(f"{where}.feed", options.feed, expected))
        elif entry.options_model is not None:
            try:
                entry.options_model.model_validate(options.feed_options)
            except ValidationError as error:
                problems.extend(
                    problems_from_validation_error(error, entry.options_model, (f"{where}.feed_options",))
                )
    return problems
