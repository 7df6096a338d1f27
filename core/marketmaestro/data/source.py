"""Which adapter ``mm data download`` reads history from: a configured exchange key or a plugin by name.

Either way the adapter is built for public data only (paper mode, no API keys; see
:mod:`marketmaestro.exchanges.public`): a configured key brings its options (URLs, for example), a plugin
name its defaults. A paper exchange with a ``feed`` downloads from its feed; one without has no market of
its own to download.
"""

from __future__ import annotations

from marketmaestro.config import Config
from marketmaestro.exchanges import Exchange, FatalExchangeError
from marketmaestro.exchanges.paper import PaperExchange
from marketmaestro.exchanges.public import build_public_exchange
from marketmaestro.plugins.registry import Registry
from marketmaestro.storage import AsyncStore

__all__ = ["SourceError", "build_source"]


class SourceError(Exception):
    """The exchange cannot serve kline history as asked; the message says why."""


def build_source(
    registry: Registry, config: Config, exchange: str, symbol: str, store: AsyncStore
) -> Exchange:
    """An unconnected adapter serving ``exchange``'s klines of ``symbol``; ``SourceError`` if there is none.

    ``exchange`` is a key under ``exchanges`` in the configuration, else a registered exchange plugin.
    ``store`` is only for adapters that want one (public data needs no database).
    """
    configured = config.exchanges.get(exchange)
    if configured is not None:
        plugin, options, where = configured.plugin_name, configured.options, f"exchanges.{exchange}.options"
    elif exchange in registry.exchanges:
        plugin, options, where = exchange, None, ""
    else:
        keys = ", ".join(sorted(config.exchanges)) or "(none)"
        plugins = ", ".join(sorted(n for n in registry.exchanges if n != "paper")) or "(none installed)"
        raise SourceError(
            f"unknown exchange {exchange!r}: expected a configured exchange key ({keys}) "
            f"or a registered exchange plugin ({plugins})"
        )
    try:
        adapter = build_public_exchange(
            registry,
            plugin,
            options,
            name=exchange,
            store=store,
            config_dir=config.config_dir,
            symbols=[symbol],
            where=where,
        )
    except FatalExchangeError as exc:
        raise SourceError(str(exc)) from None
    if isinstance(adapter, PaperExchange):
        raise SourceError(
            f"exchange {exchange!r} is the paper exchange's simulator, which has no market history to "
            "download; name a real exchange, or a paper exchange configured with a feed"
        )
    if type(adapter).klines is Exchange.klines:
        raise SourceError(f"exchange plugin {plugin!r} serves no kline history")
    return adapter
