"""The plugin manager: built-ins, entry points, broken plugins, misspelt hooks, load control."""

from __future__ import annotations

import types
from typing import Any

import pytest

from marketmaestro import hookimpl
from marketmaestro.plugins.manager import DEFAULT_PLUGINS, load_plugins
from marketmaestro.plugins.registry import RegistrationError, Registry

NO_ENTRY_POINTS = {"MM_LOAD_PLUGINS": ""}


def plugin(**hooks: Any) -> types.SimpleNamespace:
    """A plugin object whose attributes are hook implementations."""
    return types.SimpleNamespace(**{name: hookimpl(fn) for name, fn in hooks.items()})


def double(values: list[float]) -> list[float]:
    return [2 * v for v in values]


def test_builtins_register_the_paper_exchange_risk_rule_and_web_pages() -> None:
    host = load_plugins(environ=NO_ENTRY_POINTS)
    assert [p.name for p in host.plugins] == [name for name, _ in DEFAULT_PLUGINS]
    assert all(p.source == "builtin" and p.status == "ok" for p in host.plugins)
    assert "paper" in host.registry.exchanges
    assert host.registry.exchanges["paper"].plugin == "paper_exchange"
    assert "max_position_size" in host.registry.risk_rules
    assert {entry.blueprint.name for entry in host.registry.web} == {"core_api", "core_pages"}
    assert host.info("web") is not None and host.info("web").hooks == ["register_web"]  # type: ignore[union-attr]


def test_installed_indicators_plugin_loads_from_its_entry_point() -> None:
    host = load_plugins(environ={})
    info = host.info("indicators")
    assert info is not None
    assert (info.source, info.status, info.distribution) == ("entry point", "ok", "marketmaestro-indicators")
    assert info.hooks == ["register_indicators"]
    assert {"sma", "ema"} <= set(host.registry.indicators)
    assert host.registry.functions["sma"].plugin == "indicators"


def test_mm_load_plugins_limits_installed_plugins_and_reports_unknown_names() -> None:
    none = load_plugins(environ=NO_ENTRY_POINTS)
    assert none.info("indicators") is None and "sma" not in none.registry.functions
    only = load_plugins(environ={"MM_LOAD_PLUGINS": " indicators , nosuchplugin"})
    assert only.info("indicators").status == "ok"  # type: ignore[union-attr]
    missing = only.info("nosuchplugin")
    assert missing is not None and missing.status == "error"
    assert "MM_LOAD_PLUGINS" in (missing.error or "")


def test_blocked_plugins_are_listed_but_not_loaded() -> None:
    host = load_plugins(environ={}, blocked=["indicators"])
    info = host.info("indicators")
    assert info is not None and info.status == "blocked"
    assert "sma" not in host.registry.functions


def test_a_plugin_that_fails_to_import_is_reported_and_the_others_load() -> None:
    host = load_plugins(
        environ=NO_ENTRY_POINTS, builtins=[*DEFAULT_PLUGINS, ("broken", "no_such_module_xyz")]
    )
    info = host.info("broken")
    assert info is not None and info.status == "error"
    assert "ModuleNotFoundError" in (info.error or "") and "no_such_module_xyz" in (info.error or "")
    assert "paper" in host.registry.exchanges  # the others loaded


def test_a_misspelt_hook_is_an_error_not_silence() -> None:
    typo = plugin(register_indicator=lambda register: register("typo_ind", double))
    good = plugin(register_indicators=lambda register: register("twice", double))
    host = load_plugins(environ=NO_ENTRY_POINTS, extra=[("typo", typo), ("good", good)])
    info = host.info("typo")
    assert info is not None and info.status == "error"
    assert "register_indicator" in (info.error or "")
    assert host.pm.get_plugin("typo") is None, "the broken plugin is unloaded"
    assert host.info("good").status == "ok"  # type: ignore[union-attr]
    assert "twice" in host.registry.functions and "typo_ind" not in host.registry.functions


def test_a_plugin_that_fails_while_registering_is_unloaded_with_what_it_registered() -> None:
    def half_way(register: Any) -> None:
        register("first_ok", double)
        raise RuntimeError("lost the database connection")

    host = load_plugins(environ=NO_ENTRY_POINTS, extra=[("halfway", plugin(register_indicators=half_way))])
    info = host.info("halfway")
    assert info is not None and info.status == "error"
    assert info.error == "RuntimeError: lost the database connection"
    assert "first_ok" not in host.registry.functions
    assert host.pm.get_plugin("halfway") is None


def test_a_name_taken_by_a_builtin_cannot_be_taken_again() -> None:
    thief = plugin(register_exchanges=lambda register: register("paper", lambda context: None))
    host = load_plugins(environ=NO_ENTRY_POINTS, extra=[("thief", thief)])
    info = host.info("thief")
    assert info is not None and info.status == "error"
    assert "'paper' is already registered by plugin 'paper_exchange'" in (info.error or "")
    assert host.registry.exchanges["paper"].plugin == "paper_exchange"


def test_a_plugin_with_a_wrong_hook_signature_is_reported() -> None:
    wrong = plugin(register_indicators=lambda register, extra: None)
    host = load_plugins(environ=NO_ENTRY_POINTS, extra=[("wrong", wrong)])
    info = host.info("wrong")
    assert info is not None and info.status == "error" and "extra" in (info.error or "")


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("bad name", double), {}, "identifier"),
        (("fine", "not callable"), {}, "callable"),
        (("sma2", double), {"aliases": ["sma2"]}, "registered twice"),
    ],
)
def test_registrations_are_checked(args: tuple[Any, ...], kwargs: dict[str, Any], message: str) -> None:
    registry = Registry()
    register = registry.registrar("register_indicators", "p")
    with pytest.raises(RegistrationError, match=message):
        register(*args, **kwargs)


@pytest.mark.parametrize("modes", [(), "paper", ("paper", "sandbox")])
def test_exchange_modes_are_checked(modes: Any) -> None:
    register = Registry().registrar("register_exchanges", "p")
    with pytest.raises(RegistrationError, match="modes must be a non-empty sequence of paper, testnet, live"):
        register("venue", lambda context: None, modes=modes)


def test_exchange_modes_default_to_all_three_paper_first() -> None:
    registry = Registry()
    registry.registrar("register_exchanges", "p")("venue", lambda context: None)
    registry.registrar("register_exchanges", "q")("safe", lambda context: None, modes=("testnet", "live"))
    assert registry.exchanges["venue"].modes == ("paper", "testnet", "live")
    assert registry.exchanges["safe"].modes == ("testnet", "live")


def test_command_hooks_add_commands_and_a_failing_one_is_reported() -> None:
    import click

    @click.command("hello-test")
    def hello() -> None:
        click.echo("hi")

    good = plugin(register_commands=lambda cli: cli.add_command(hello))

    def boom(cli: Any) -> None:
        raise ValueError("no commands today")

    host = load_plugins(
        environ=NO_ENTRY_POINTS, extra=[("cmds", good), ("boom", plugin(register_commands=boom))]
    )
    group = click.Group()
    host.add_commands(group)
    assert "hello-test" in group.commands
    assert host.info("boom").status == "error"  # type: ignore[union-attr]
    assert host.info("cmds").status == "ok"  # type: ignore[union-attr]


async def test_notify_awaits_awaitables_and_isolates_failures() -> None:
    seen: list[str] = []

    async def on_startup(bot: Any) -> None:
        seen.append(f"async {bot}")

    def failing(bot: Any) -> None:
        raise RuntimeError("boom")

    host = load_plugins(
        environ=NO_ENTRY_POINTS,
        extra=[
            ("a", plugin(on_startup=on_startup)),
            ("b", plugin(on_startup=failing)),
            ("c", plugin(on_startup=lambda bot: seen.append(f"sync {bot}"))),
        ],
    )
    await host.notify("on_startup", bot="BOT")
    assert sorted(seen) == ["async BOT", "sync BOT"]
