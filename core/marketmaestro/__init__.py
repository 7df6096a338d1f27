"""MarketMaestro: a plugin framework for crypto trading strategies written in Starlark.

Plugins import the hook marker from here::

    from marketmaestro import hookimpl

    @hookimpl
    def register_indicators(register):
        register("sma", sma)
"""

from importlib.metadata import PackageNotFoundError, version

import pluggy

PROJECT_NAME = "marketmaestro"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marks a function of a plugin as the implementation of a MarketMaestro hook."""

try:
    __version__ = version(PROJECT_NAME)
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["PROJECT_NAME", "__version__", "hookimpl"]
