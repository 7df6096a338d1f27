"""The plugin as MarketMaestro sees it: found through its entry point, registering through the hook."""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pluggy
import pytest
import starlark_go

import marketmaestro.hookspecs
import marketmaestro_indicators
from marketmaestro import PROJECT_NAME
from marketmaestro_indicators import ema, sma


@dataclass(frozen=True)
class Registration:
    name: str
    function: Callable[..., Any]
    aliases: tuple[str, ...]
    description: str
    starlark: str | None = None


def plugin_manager() -> pluggy.PluginManager:
    """A plugin manager that knows MarketMaestro's hooks, as the host builds it, with no plugins."""
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(marketmaestro.hookspecs)
    return manager


def with_plugin() -> pluggy.PluginManager:
    """``plugin_manager()`` with this plugin registered directly, bypassing entry points."""
    manager = plugin_manager()
    manager.register(marketmaestro_indicators)
    return manager


def registrations(manager: pluggy.PluginManager) -> list[Registration]:
    """Call ``register_indicators`` with a callback of the documented signature; collect the calls."""
    received: list[Registration] = []

    def register(
        name: str,
        function: Callable[..., Any],
        *,
        aliases: Sequence[str] = (),
        description: str = "",
        starlark: str | None = None,
    ) -> None:
        received.append(Registration(name, function, tuple(aliases), description, starlark))

    manager.hook.register_indicators(register=register)
    return received


def test_the_hook_registers_sma_and_ema() -> None:
    manager = with_plugin()
    # Fails if a hook implementation's name matches no specification (it would never be called).
    manager.check_pending()
    by_name = {entry.name: entry for entry in registrations(manager)}
    assert {"sma", "ema"} <= set(by_name)
    assert by_name["sma"].function is sma
    assert by_name["ema"].function is ema
    assert by_name["sma"].function([1, 2, 3], 2)[1:] == [1.5, 2.5]


def test_every_registration_is_well_formed() -> None:
    entries = registrations(with_plugin())
    names = [name for entry in entries for name in (entry.name, *entry.aliases)]
    assert len(names) == len(set(names)), "an indicator name or alias is registered twice"
    for entry in entries:
        assert entry.name.isidentifier() and entry.name.islower()
        assert callable(entry.function)
        # The description starts with the call signature, so a listing of indicators is self-explanatory.
        assert entry.description.startswith(f"{entry.name}(")


def test_the_entry_point_names_the_package() -> None:
    (entry_point,) = importlib.metadata.entry_points(group=PROJECT_NAME, name="indicators")
    assert entry_point.value == "marketmaestro_indicators"
    assert entry_point.dist is not None
    assert entry_point.dist.name == marketmaestro_indicators.DISTRIBUTION_NAME
    assert entry_point.load() is marketmaestro_indicators


def test_the_plugin_loads_through_its_entry_point() -> None:
    manager = plugin_manager()
    # Only this plugin's entry point, so another installed plugin cannot affect this test.
    loaded = manager.load_setuptools_entrypoints(PROJECT_NAME, name="indicators")
    assert loaded == 1
    assert manager.get_plugin("indicators") is marketmaestro_indicators
    assert {"sma", "ema"} <= {entry.name for entry in registrations(manager)}


def test_the_distribution_declares_its_dependencies_and_version() -> None:
    distribution = importlib.metadata.distribution(marketmaestro_indicators.DISTRIBUTION_NAME)
    requirements = {re.split(r"[<>=!~ ;\[]", requirement)[0] for requirement in distribution.requires or []}
    assert {"marketmaestro", "numpy"} <= requirements
    assert marketmaestro_indicators.__version__ == distribution.version


def test_indicators_work_when_called_from_starlark() -> None:
    # The registered functions as a strategy calls them: lists cross the boundary and back.
    registered = {entry.name: entry.function for entry in registrations(with_plugin())}
    interpreter = starlark_go.Starlark()
    interpreter.set(**registered)
    interpreter.exec(
        'closes = [1, 2, 3.5, 4, 5]\nfast = sma(closes, 2)\nslow = ema(closes, 9)\nNAN = float("nan")\n',
        filename="strategy.star",
    )
    assert interpreter.eval("fast[1:]") == [1.5, 2.75, 3.75, 4.5]
    assert interpreter.eval("len(slow)") == 5
    # Starlark's NaN equals itself (unlike Python's): how docs/indicators.md tells strategies to test it.
    assert interpreter.eval("slow[-1] == NAN") is True
    assert interpreter.eval("fast[-1] == NAN") is False
    with pytest.raises(starlark_go.EvalError, match=r"sma\(\): period must be an int >= 1, got 0"):
        interpreter.eval("sma(closes, 0)")


@pytest.mark.parametrize("name", marketmaestro_indicators.__all__)
def test_public_names_exist(name: str) -> None:
    assert hasattr(marketmaestro_indicators, name)


def test_every_catalog_row_documents_its_call_shape_and_source() -> None:
    from marketmaestro_indicators.catalog import INDICATORS

    for row in INDICATORS:
        assert row.signature.startswith(f"{row.name}("), row
        assert row.source, f"{row.name}: say where the formula comes from"
        assert row.returns == "series" or row.returns.startswith("dict: "), row
        assert row.function.__doc__, f"{row.name}: the function's docstring explains the formula"
