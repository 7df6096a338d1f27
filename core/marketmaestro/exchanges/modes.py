"""Which environment (paper, testnet, live) each configured exchange trades in.

``exchanges.<key>.mode`` is optional: without it an exchange runs in the first mode its plugin registered,
which plugins choose to be their safest (paper for the paper exchange and Bitvavo, testnet for Bybit).
A mode the plugin does not offer (Bitvavo has no testnet) is a configuration problem reported at start-up.
"""

from __future__ import annotations

from marketmaestro.config import Config, ConfigProblem, ExchangeConfig
from marketmaestro.plugins.registry import ExchangeEntry, Registry

__all__ = ["check_exchange_modes", "effective_mode"]


def effective_mode(config: ExchangeConfig, entry: ExchangeEntry) -> str:
    """The configured mode, else the plugin's default (the first mode it registered)."""
    return config.mode or entry.modes[0]


def check_exchange_modes(registry: Registry, config: Config) -> list[ConfigProblem]:
    """A problem for every enabled exchange configured with a mode its plugin does not offer."""
    problems = []
    for key, exchange in config.exchanges.items():
        entry = registry.exchanges.get(exchange.plugin_name)
        if not exchange.enabled or entry is None or exchange.mode is None:
            continue
        if exchange.mode not in entry.modes:
            expected = f"one of {', '.join(entry.modes)} (the modes exchange plugin {entry.name!r} offers)"
            problems.append(ConfigProblem(f"exchanges.{key}.mode", exchange.mode, expected))
    return problems
