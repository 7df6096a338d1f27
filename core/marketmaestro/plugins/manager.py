"""Building the plugin manager: built-ins first, then installed plugins from entry points.

Nothing is loaded at import time; ``load_plugins()`` builds a fresh manager each call, so tests and the CLI
get exactly what the environment and configuration say. Each plugin is imported, registered, validated and
asked to register in its own ``try``: a broken plugin is reported with its error and unloaded, and the
others still load.

``MM_LOAD_PLUGINS`` (comma-separated entry-point names) limits which installed plugins load; set and empty
means none. ``plugins.blocked`` in the configuration lists plugins never to load. Neither affects the
built-ins, which are the core's own features.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal

import pluggy
import trio

from marketmaestro import PROJECT_NAME, __version__, hookspecs
from marketmaestro.logs import log_event
from marketmaestro.plugins.registry import REGISTRY_HOOKS, Registry

ENTRY_POINT_GROUP = PROJECT_NAME
LOAD_PLUGINS_ENV = "MM_LOAD_PLUGINS"

DEFAULT_PLUGINS: tuple[tuple[str, str], ...] = (
    ("paper_exchange", "marketmaestro.plugins.builtin.paper_exchange"),
    ("risk_rules", "marketmaestro.plugins.builtin.risk_rules"),
    ("web", "marketmaestro.plugins.builtin.web"),
)
"""The core's own features, registered through the same hooks as any installed plugin."""

Status = Literal["ok", "error", "blocked"]
NOTIFY_TIMEOUT = 5.0
"""Seconds an event or lifecycle hook implementation may take before it is abandoned."""


@dataclass
class PluginInfo:
    """One row of ``mm plugins list``."""

    name: str
    distribution: str | None
    version: str | None
    source: Literal["builtin", "entry point"]
    status: Status = "ok"
    error: str | None = None
    hooks: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PluginHost:
    """The loaded plugin manager, what each plugin is, and what they registered."""

    pm: pluggy.PluginManager
    plugins: list[PluginInfo]
    registry: Registry

    def info(self, name: str) -> PluginInfo | None:
        return next((p for p in self.plugins if p.name == name), None)

    def fail(self, name: str, error: BaseException | str) -> None:
        """Report ``name`` as broken and unload it, with everything it registered."""
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        info = self.info(name)
        if info is not None:
            info.status, info.error = "error", message
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)
        self.registry.discard(name)
        log_event("plugin.failed", level="error", plugin=name, error=message)

    def add_commands(self, cli: Any) -> None:
        """Let each plugin add ``mm`` commands; one that fails is reported and the CLI still works."""
        for impl in self.pm.hook.register_commands.get_hookimpls():
            try:
                impl.function(cli=cli)
            except Exception as exc:
                self.fail(impl.plugin_name, exc)

    async def notify(self, hook: str, *, hook_timeout: float = NOTIFY_TIMEOUT, **kwargs: Any) -> None:
        """Call every implementation of a lifecycle or event hook, awaiting awaitables.

        Each implementation runs on its own: an exception is logged against its plugin and never reaches
        the caller, and an awaitable still running after ``hook_timeout`` seconds is abandoned and logged,
        because a notification must not affect trading.
        """
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            try:
                result = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
                if inspect.isawaitable(result):
                    with trio.move_on_after(hook_timeout) as scope:
                        await _await(result)
                    if scope.cancelled_caught:
                        log_event(
                            "plugin.hook_timeout",
                            level="error",
                            plugin=impl.plugin_name,
                            hook=hook,
                            timeout_seconds=hook_timeout,
                        )
            except Exception as exc:
                log_event(
                    "plugin.hook_failed",
                    level="error",
                    plugin=impl.plugin_name,
                    hook=hook,
                    error=f"{type(exc).__name__}: {exc}",
                )


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def load_plugins(
    *,
    blocked: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
    builtins: Iterable[tuple[str, str]] = DEFAULT_PLUGINS,
    extra: Iterable[tuple[str, object]] = (),
) -> PluginHost:
    """Build the plugin manager and the registry.

    ``extra`` registers (name, plugin object) pairs as if they came from entry points; tests and embedding
    applications use it to add a plugin without installing a package.
    """
    environ = os.environ if environ is None else environ
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    host = PluginHost(pm, [], Registry())
    blocked_set = {name.strip() for name in blocked if name.strip()}

    for name, module_name in builtins:
        info = PluginInfo(name, PROJECT_NAME, __version__, "builtin")
        host.plugins.append(info)
        _register(host, info, lambda module_name=module_name: importlib.import_module(module_name))

    wanted = _wanted(environ)
    found: set[str] = set()
    for ep in _entry_points():
        found.add(ep.name)
        dist = ep.dist
        info = PluginInfo(ep.name, dist.name if dist else None, dist.version if dist else None, "entry point")
        host.plugins.append(info)
        if ep.name in blocked_set:
            info.status, info.error = "blocked", "listed in plugins.blocked"
        elif wanted is not None and ep.name not in wanted:
            host.plugins.remove(info)
        else:
            _register(host, info, ep.load)
    for name, plugin in extra:
        info = PluginInfo(name, None, None, "entry point")
        host.plugins.append(info)
        found.add(name)
        if name in blocked_set:
            info.status, info.error = "blocked", "listed in plugins.blocked"
        else:
            _register(host, info, lambda plugin=plugin: plugin)
    for missing in sorted((wanted or set()) - found):
        host.plugins.append(
            PluginInfo(
                missing, None, None, "entry point", "error", f"named in {LOAD_PLUGINS_ENV} but not installed"
            )
        )

    _fill_registry(host)
    return host


def _wanted(environ: Mapping[str, str]) -> set[str] | None:
    raw = environ.get(LOAD_PLUGINS_ENV)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def _entry_points() -> list[EntryPoint]:
    # Sorted so the load order, and so which of two clashing plugins wins, is stable.
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def _register(host: PluginHost, info: PluginInfo, load: Any) -> None:
    """Import, register and validate one plugin; on any failure report it and leave it out."""
    try:
        plugin = load()
        host.pm.register(plugin, name=info.name)
    except Exception as exc:
        info.status, info.error = "error", f"{type(exc).__name__}: {exc}"
        log_event("plugin.failed", level="error", plugin=info.name, error=info.error)
        return
    try:
        # A hook implementation whose name matches no hookspec is a misspelling: an error, not silence.
        host.pm.check_pending()
    except pluggy.PluginValidationError as exc:
        host.fail(info.name, exc)
        return
    info.hooks = sorted(caller.name for caller in host.pm.get_hookcallers(plugin) or [])


def _fill_registry(host: PluginHost) -> None:
    for hook in REGISTRY_HOOKS:
        # get_hookimpls() is in registration order (calls run in reverse): built-ins claim their names before
        # installed plugins can.
        for impl in getattr(host.pm.hook, hook).get_hookimpls():
            info = host.info(impl.plugin_name)
            if info is None or info.status != "ok":
                continue
            try:
                impl.function(register=host.registry.registrar(hook, impl.plugin_name))
            except Exception as exc:
                host.fail(impl.plugin_name, exc)
