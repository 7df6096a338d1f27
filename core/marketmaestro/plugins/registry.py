"""What plugins registered: exchanges, indicators, strategy builtins, risk rules and web blueprints.

The registry is filled by calling each plugin's ``register_*`` hook implementations one at a time, with a
``register`` callback bound to that plugin, so every entry knows who provided it and one plugin's failure
is reported against that plugin alone (see ``marketmaestro.plugins.manager``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

if TYPE_CHECKING:
    from quart import Blueprint

    from marketmaestro.exchanges.base import Exchange, ExchangeContext
    from marketmaestro.risk.rules import RiskRule

ExchangeFactory = Callable[["ExchangeContext"], "Exchange"]
RiskRuleFactory = Callable[[Mapping[str, Any]], "RiskRule | None"]


class RegisterExchange(Protocol):
    def __call__(
        self,
        name: str,
        factory: ExchangeFactory,
        *,
        options_model: type[BaseModel] | None = None,
        description: str = "",
        modes: Sequence[str] = ("paper", "testnet", "live"),
    ) -> None: ...


class RegisterIndicator(Protocol):
    def __call__(
        self,
        name: str,
        function: Callable[..., Any],
        *,
        aliases: Sequence[str] = (),
        description: str = "",
        starlark: str | None = None,
    ) -> None: ...


class RegisterBuiltin(Protocol):
    def __call__(self, name: str, function: Callable[..., Any], *, description: str = "") -> None: ...


class RegisterRiskRule(Protocol):
    def __call__(self, name: str, factory: RiskRuleFactory, *, description: str = "") -> None: ...


class RegisterWeb(Protocol):
    def __call__(self, blueprint: Blueprint, *, nav: Sequence[tuple[str, str]] = ()) -> None: ...


class RegistrationError(ValueError):
    """A plugin registered something invalid or a name another plugin already took."""


@dataclass(frozen=True)
class ExchangeEntry:
    name: str
    factory: ExchangeFactory
    options_model: type[BaseModel] | None
    description: str
    plugin: str
    modes: tuple[str, ...] = ("paper", "testnet", "live")
    """The environments the exchange offers; the first is used when the configuration names none."""


@dataclass(frozen=True)
class FunctionEntry:
    """An indicator or strategy builtin callable from Starlark."""

    name: str
    function: Callable[..., Any]
    description: str
    plugin: str
    kind: str  # "indicator" or "builtin"
    starlark: str | None = None
    """Starlark source defining a function named ``primary`` that returns what ``function`` returns, bit
    for bit; the engine runs it in the sandbox instead of crossing into Python for every call."""
    primary: str = ""
    """The name the indicator was registered under (aliases share their primary's entry data)."""


@dataclass(frozen=True)
class RiskRuleEntry:
    name: str
    factory: RiskRuleFactory
    description: str
    plugin: str


@dataclass(frozen=True)
class WebEntry:
    blueprint: Blueprint
    nav: tuple[tuple[str, str], ...]
    plugin: str


@dataclass
class Registry:
    """Everything registered, keyed by name. Names are unique across plugins within each kind."""

    exchanges: dict[str, ExchangeEntry] = field(default_factory=dict)
    functions: dict[str, FunctionEntry] = field(default_factory=dict)
    risk_rules: dict[str, RiskRuleEntry] = field(default_factory=dict)
    web: list[WebEntry] = field(default_factory=list)

    @property
    def indicators(self) -> dict[str, FunctionEntry]:
        return {n: e for n, e in self.functions.items() if e.kind == "indicator"}

    def starlark_functions(self) -> dict[str, tuple[str, str]]:
        """Function name -> (primary name, Starlark source) for those registered with a Starlark version."""
        return {
            name: (entry.primary or name, entry.starlark)
            for name, entry in self.functions.items()
            if entry.starlark is not None
        }

    def exchange_options_models(self) -> dict[str, type[BaseModel] | None]:
        """Registered exchange names with their options model, for configuration validation."""
        return {name: entry.options_model for name, entry in self.exchanges.items()}

    # Registration callbacks, bound to one plugin by ``registrar``.

    def _add_exchange(
        self,
        plugin: str,
        name: str,
        factory: ExchangeFactory,
        *,
        options_model: type[BaseModel] | None = None,
        description: str = "",
        modes: Sequence[str] = ("paper", "testnet", "live"),
    ) -> None:
        _check_name("exchange", name)
        known = ("paper", "testnet", "live")
        if isinstance(modes, str) or not modes or any(m not in known for m in modes):
            raise RegistrationError(
                f"exchange {name!r}: modes must be a non-empty sequence of {', '.join(known)}; got {modes!r}"
            )
        if not callable(factory):
            raise RegistrationError(f"exchange {name!r}: factory must be callable, got {factory!r}")
        if options_model is not None and not (
            isinstance(options_model, type) and issubclass(options_model, BaseModel)
        ):
            raise RegistrationError(
                f"exchange {name!r}: options_model must be a pydantic model class, got {options_model!r}"
            )
        _check_free("exchange", name, self.exchanges.get(name))
        self.exchanges[name] = ExchangeEntry(name, factory, options_model, description, plugin, tuple(modes))

    def _add_function(
        self,
        kind: str,
        plugin: str,
        name: str,
        function: Callable[..., Any],
        *,
        aliases: Sequence[str] = (),
        description: str = "",
        starlark: str | None = None,
    ) -> None:
        names = (name, *aliases)
        if starlark is not None and not isinstance(starlark, str):
            raise RegistrationError(
                f"{kind} {name!r}: starlark must be Starlark source text, got {starlark!r}"
            )
        if len(set(names)) != len(names):
            raise RegistrationError(f"{kind} {name!r}: a name is registered twice in {list(names)}")
        for each in names:
            _check_name(kind, each)
            if not callable(function):
                raise RegistrationError(f"{kind} {each!r}: function must be callable, got {function!r}")
            _check_free(kind, each, self.functions.get(each))
        for each in names:
            self.functions[each] = FunctionEntry(each, function, description, plugin, kind, starlark, name)

    def _add_risk_rule(
        self, plugin: str, name: str, factory: RiskRuleFactory, *, description: str = ""
    ) -> None:
        _check_name("risk rule", name)
        if not callable(factory):
            raise RegistrationError(f"risk rule {name!r}: factory must be callable, got {factory!r}")
        _check_free("risk rule", name, self.risk_rules.get(name))
        self.risk_rules[name] = RiskRuleEntry(name, factory, description, plugin)

    def _add_web(self, plugin: str, blueprint: Blueprint, *, nav: Sequence[tuple[str, str]] = ()) -> None:
        from quart import Blueprint

        if not isinstance(blueprint, Blueprint):
            raise RegistrationError(f"web: expected a quart.Blueprint, got {blueprint!r}")
        taken = {entry.blueprint.name: entry.plugin for entry in self.web}
        if blueprint.name in taken:
            raise RegistrationError(
                f"web: blueprint name {blueprint.name!r} is already registered "
                f"by plugin {taken[blueprint.name]!r}"
            )
        self.web.append(WebEntry(blueprint, tuple(nav), plugin))

    def discard(self, plugin: str) -> None:
        """Forget everything ``plugin`` registered (it failed half-way and is being unloaded)."""
        self.exchanges = {k: v for k, v in self.exchanges.items() if v.plugin != plugin}
        self.functions = {k: v for k, v in self.functions.items() if v.plugin != plugin}
        self.risk_rules = {k: v for k, v in self.risk_rules.items() if v.plugin != plugin}
        self.web = [entry for entry in self.web if entry.plugin != plugin]

    def registrar(self, hook: str, plugin: str) -> Callable[..., None]:
        """The ``register`` callback handed to ``plugin``'s implementation of registry ``hook``."""

        def register(*args: Any, **kwargs: Any) -> None:
            match hook:
                case "register_exchanges":
                    self._add_exchange(plugin, *args, **kwargs)
                case "register_indicators":
                    self._add_function("indicator", plugin, *args, **kwargs)
                case "register_strategy_builtins":
                    self._add_function("builtin", plugin, *args, **kwargs)
                case "register_risk_rules":
                    self._add_risk_rule(plugin, *args, **kwargs)
                case "register_web":
                    self._add_web(plugin, *args, **kwargs)
                case _:
                    raise RegistrationError(f"unknown registry hook {hook!r}")

        return register


REGISTRY_HOOKS = (
    "register_exchanges",
    "register_indicators",
    "register_strategy_builtins",
    "register_risk_rules",
    "register_web",
)


def _check_name(kind: str, name: object) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise RegistrationError(f"{kind} name must be an identifier string, got {name!r}")


def _check_free(kind: str, name: str, existing: Any) -> None:
    if existing is not None:
        raise RegistrationError(f"{kind} {name!r} is already registered by plugin {existing.plugin!r}")
