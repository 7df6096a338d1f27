"""Built-in plugin: the paper exchange (simulated market, simulated account)."""

from __future__ import annotations

from marketmaestro import hookimpl
from marketmaestro.exchanges.paper import PaperExchange, PaperOptions
from marketmaestro.plugins.registry import RegisterExchange


@hookimpl
def register_exchanges(register: RegisterExchange) -> None:
    register(
        "paper",
        PaperExchange,
        options_model=PaperOptions,
        modes=("paper",),
        description="Simulated market (random walk or CSV replay) with a paper account; no keys, no network.",
    )
