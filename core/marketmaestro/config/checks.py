"""Checks of the configuration against the world outside it: registered exchange plugins, their
options models and the strategy files on disk.

They read the merged data rather than the validated :class:`~marketmaestro.config.schema.Config`
so that they still run when another part of the configuration is invalid: a user fixing a typo
should not discover a missing strategy file only on the next attempt. Values of the wrong type
are skipped here, because the schema already reports them.

Disabled exchanges and strategies are not checked, so one can be switched off while its plugin is
not installed or its file not written yet.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from marketmaestro.config.errors import ConfigProblem, problems_from_validation_error
from marketmaestro.config.schema import resolve_path

__all__ = ["ExchangeChecks", "check_exchanges"]

_BOOL: TypeAdapter[bool] = TypeAdapter(bool)

Registered = Mapping[str, type[BaseModel] | None]
"""Registered exchange plugin name -> its options model, or ``None`` when it has none."""


@dataclass
class ExchangeChecks:
    """What :func:`check_exchanges` found: ``problems``, and ``options``, the validated options of
    every enabled exchange whose plugin has an options model (by exchange key)."""

    problems: list[ConfigProblem] = field(default_factory=list)
    options: dict[str, BaseModel] = field(default_factory=dict)


def check_exchanges(exchanges: Any, config_dir: Path, registered: Registered | None) -> ExchangeChecks:
    """Check every enabled exchange of the merged ``exchanges`` data.

    ``registered`` maps registered exchange plugin names to their options model (or ``None``);
    when it is ``None`` plugins are not checked at all, only strategy files.
    """
    found = ExchangeChecks()
    if not isinstance(exchanges, Mapping):
        return found
    for key, exchange in exchanges.items():
        if not isinstance(exchange, Mapping) or not _enabled(exchange):
            continue
        if registered is not None:
            _check_plugin(str(key), exchange, registered, found)
        found.problems.extend(_missing_strategy_files(str(key), exchange, config_dir))
    return found


def _check_plugin(
    key: str, exchange: Mapping[str, Any], registered: Registered, found: ExchangeChecks
) -> None:
    """The exchange's plugin must be registered; its options must satisfy the plugin's model."""
    plugin = exchange.get("plugin") or key
    if not isinstance(plugin, str):
        return
    if plugin not in registered:
        known = ", ".join(sorted(registered)) or "(none)"
        where = f"exchanges.{key}.plugin" if exchange.get("plugin") else f"exchanges.{key}"
        expected = f"the name of a registered exchange plugin: {known}"
        found.problems.append(ConfigProblem(where, plugin, expected))
        return
    model = registered[plugin]
    options = exchange.get("options", {})
    if model is None or not isinstance(options, Mapping):
        return
    try:
        found.options[key] = model.model_validate(dict(options))
    except ValidationError as error:
        found.problems.extend(problems_from_validation_error(error, model, ("exchanges", key, "options")))


def _missing_strategy_files(
    key: str, exchange: Mapping[str, Any], config_dir: Path
) -> Iterator[ConfigProblem]:
    """A problem for every enabled strategy whose file does not exist."""
    for p, pair in _items(exchange.get("pairs")):
        for s, strategy in _items(pair.get("strategies")):
            file = strategy.get("file")
            if not isinstance(file, str | Path) or not _enabled(strategy):
                continue
            path = resolve_path(config_dir, Path(file))
            if not path.is_file():
                where = f"exchanges.{key}.pairs[{p}].strategies[{s}].file"
                yield ConfigProblem(where, str(path), "an existing file")


def _items(value: Any) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """The mappings of a list with their index; nothing when ``value`` is not a list."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, Mapping):
                yield index, item


def _enabled(section: Mapping[str, Any]) -> bool:
    """``section["enabled"]`` read as the schema reads it; an invalid value counts as enabled."""
    try:
        return _BOOL.validate_python(section.get("enabled", True))
    except ValidationError:
        return True
