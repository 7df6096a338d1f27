"""Load the configuration from its layers and check all of it at once.

Layers, lowest to highest precedence (a later one overrides single keys of an earlier one; nested
mappings are merged and lists are concatenated, as dynaconf's ``merge_enabled`` does):

1. ``defaults.yaml`` next to this module: every default;
2. the settings file: ``settings.yaml`` in the current folder, or the file named by ``MM_CONFIG``
   or by the caller; then ``settings.local.yaml`` beside it, if present (dynaconf's convention);
3. ``.secrets.yaml`` (and ``.secrets.local.yaml``) in the settings file's folder;
4. ``MM_*`` variables of ``.env`` in that folder;
5. ``MM_*`` environment variables, e.g. ``MM_API__PORT=9000`` (``__`` separates nesting levels).

Environment values are parsed as dynaconf parses them: ``9000`` is an integer, ``true`` a boolean,
``@json {...}`` a mapping. Variable names carry no case, so their keys are read lower-case (an
existing key that differs only in case is overridden).

The environment is read from the ``environ`` argument only: neither ``os.environ`` (when
``environ`` is given) nor dynaconf's own ``*_FOR_DYNACONF`` variables take part, and ``.env`` is
read without being exported into the process environment.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from dynaconf.base import Settings
from dynaconf.utils import normalize_kwargs
from dynaconf.utils.parse_conf import boolean_fix, parse_conf_data
from dynaconf.vendor.dotenv import dotenv_values
from pydantic import BaseModel, ValidationError

from marketmaestro.config.checks import check_exchanges
from marketmaestro.config.errors import ConfigError, ConfigProblem, problems_from_validation_error
from marketmaestro.config.masking import mask_secrets
from marketmaestro.config.schema import Config

__all__ = ["CONFIG_ENV_VAR", "DEFAULTS_FILE", "ENV_PREFIX", "load_config"]

DEFAULTS_FILE = Path(__file__).with_name("defaults.yaml")
"""The lowest layer: every setting's default."""

ENV_PREFIX = "MM_"
"""Environment variables starting with this override settings (``MM_API__PORT=9000``)."""

CONFIG_ENV_VAR = "MM_CONFIG"
CONTROL_ENV_VARS = frozenset({CONFIG_ENV_VAR, "MM_LOAD_PLUGINS"})
"""``MM_`` variables that steer the program (which file, which plugins) rather than set a key."""
"""Names the settings file; it is not itself a setting."""

DEFAULT_SETTINGS_FILE = "settings.yaml"
_YAML_SUFFIXES = (".yaml", ".yml")

# Only the options this module relies on, spelt out so that neither dynaconf's defaults nor its
# *_FOR_DYNACONF environment variables change how files are read. `load_dotenv` stays unset: dynaconf
# would export .env into os.environ, so .env is read by `_environment_layer` instead.
_DYNACONF_OPTIONS: dict[str, Any] = {
    "envvar_prefix": ENV_PREFIX.rstrip("_"),
    "environments": False,
    "merge_enabled": True,
    "loaders": [],  # no env loader: the environment layer is built from `environ`
    "core_loaders": ["YAML"],
    "yaml_loader": "safe_load",
    "encoding": "utf-8",
    "nested_separator": "__",
    "dotted_lookup": True,
    "lowercase_read": True,
    "auto_cast": True,
    "silent_errors": False,
    "includes": [],
    "preload": [],
    "secrets": None,
    "skip_files": [],
    "fresh_vars": [],
    "sysenv_fallback": False,
    "validate_on_update": False,
    "redis_enabled": False,
    "vault_enabled": False,
}


class _IsolatedSettings(Settings):
    """Dynaconf settings that never look at ``os.environ`` (see the module docstring)."""

    @property
    def environ(self) -> Mapping[str, str]:
        return {}

    @property
    def settings_module(self) -> list[str]:
        # Dynaconf would read SETTINGS_FILE_FOR_DYNACONF from os.environ here; load_config loads
        # the files itself, one by one, in its own order.
        return []

    settings_file = settings_module


def load_config(
    settings_file: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    exchange_options: Mapping[str, type[BaseModel] | None] | None = None,
) -> Config:
    """Read, merge and validate the configuration; :class:`ConfigError` lists every problem.

    ``settings_file`` overrides ``MM_CONFIG``, which overrides ``./settings.yaml``; a file named
    explicitly must exist. ``environ`` defaults to ``os.environ``. ``exchange_options`` maps the
    name of every registered exchange plugin to its options model (or ``None``): when given, each
    enabled exchange must name a registered plugin and its ``options`` are validated by that
    model, available afterwards as ``config.exchange_options(key)``.
    """
    environ = os.environ if environ is None else environ
    settings_path = _settings_path(settings_file, environ)
    config_dir = settings_path.parent
    files = [DEFAULTS_FILE, settings_path, config_dir / ".secrets.yaml"]
    problems = [problem for path in files for problem in _check_yaml(path)]
    if problems:
        raise ConfigError(problems)

    settings = _IsolatedSettings(**normalize_kwargs({**_DYNACONF_OPTIONS, "root_path": str(config_dir)}))
    for path in files:
        if path.is_file():
            settings.load_file(path=glob.escape(str(path)))
    env_vars = _environment_layer(config_dir / ".env", environ)
    for name, raw in env_vars.items():
        value = parse_conf_data(boolean_fix(raw), tomlfy=True, box_settings=settings)
        settings.set(name[len(ENV_PREFIX) :].lower(), value)

    data = _normalise_keys(_plain_data(settings.as_dict()))
    if "config_dir" in data:
        expected = "nothing: it is always the settings file's folder"
        problems.append(ConfigProblem("config_dir", data.pop("config_dir"), expected))
    data["config_dir"] = config_dir

    config: Config | None = None
    try:
        config = Config.model_validate(data)
    except ValidationError as error:
        problems.extend(problems_from_validation_error(error, Config))
    checks = check_exchanges(data.get("exchanges"), config_dir, exchange_options)
    problems.extend(checks.problems)
    if problems:
        raise ConfigError(_point_at_env_vars(problems, env_vars))
    assert config is not None  # no problems means it validated
    for key, options in checks.options.items():
        config.set_exchange_options(key, options)
    return config


def _settings_path(settings_file: Path | None, environ: Mapping[str, str]) -> Path:
    """The settings file to read (absolute); raises when an explicitly named one is unusable."""
    if settings_file is not None:
        key, path = "settings file", Path(settings_file)
    elif environ.get(CONFIG_ENV_VAR):
        key, path = CONFIG_ENV_VAR, Path(environ[CONFIG_ENV_VAR])
    else:
        return Path.cwd() / DEFAULT_SETTINGS_FILE
    path = Path(os.path.normpath(path.expanduser().absolute()))
    if not path.is_file():
        raise ConfigError([ConfigProblem(key, str(path), "an existing settings file")])
    if path.suffix.lower() not in _YAML_SUFFIXES:
        raise ConfigError([ConfigProblem(key, str(path), "a YAML file (.yaml or .yml)")])
    return path


def _check_yaml(path: Path) -> list[ConfigProblem]:
    """Problems of ``path`` and its ``.local`` companion as YAML settings files (none when absent)."""
    problems = []
    for candidate in (path, path.with_name(f"{path.stem}.local{path.suffix}")):
        if not candidate.is_file():
            continue
        try:
            content = yaml.safe_load(candidate.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            reason = " ".join(str(error).split())
            problems.append(ConfigProblem(str(candidate), reason, "a readable YAML file"))
            continue
        if content is not None and not isinstance(content, dict):
            expected = "a mapping of settings (key: value lines)"
            problems.append(ConfigProblem(str(candidate), mask_secrets(content), expected))
    return problems


def _environment_layer(dotenv: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The ``MM_*`` variables of ``.env``, overridden by those of ``environ``, except the control variables
    (``MM_CONFIG``, ``MM_LOAD_PLUGINS``)."""
    merged: dict[str, str] = {}
    if dotenv.is_file():
        merged.update({name: value for name, value in dotenv_values(dotenv).items() if value is not None})
    merged.update(environ)
    return {
        name: value
        for name, value in merged.items()
        if name.startswith(ENV_PREFIX) and name not in CONTROL_ENV_VARS and len(name) > len(ENV_PREFIX)
    }


def _point_at_env_vars(problems: list[ConfigProblem], env_vars: Mapping[str, str]) -> list[ConfigProblem]:
    """Say so when a problem's value came from an environment variable: users look in files first."""
    by_key = {name[len(ENV_PREFIX) :].lower().replace("__", "."): name for name in env_vars}
    return [
        ConfigProblem(p.key, p.value, f"{p.expected} (set by environment variable {by_key[p.key]})")
        if p.key in by_key
        else p
        for p in problems
    ]


# Keys of the schema, by where they occur; keys below them (risk parameters, options, strategy
# configs) belong to plugins and strategies and keep their case.
_SECTIONS = ("database", "api", "logging", "plugins", "supervision", "data")


def _normalise_keys(data: dict[str, Any]) -> dict[str, Any]:
    """Lower-case the schema's own keys: dynaconf upper-cases top-level keys and compares keys
    without regard to case, so ``API: {Port: 1}`` is as valid as ``api: {port: 1}``.
    Exchange keys are lower-cased too, so ``MM_EXCHANGES__PAPER__...`` reaches ``exchanges.paper``."""
    top = _lower(data)
    for section in _SECTIONS:
        if section in top:
            top[section] = _lower(top[section])
    exchanges = top.get("exchanges")
    if isinstance(exchanges, dict):
        top["exchanges"] = {str(key).lower(): _normalise_exchange(value) for key, value in exchanges.items()}
    return top


def _normalise_exchange(value: Any) -> Any:
    exchange = _lower(value)
    if isinstance(exchange, dict) and isinstance(exchange.get("pairs"), list):
        pairs = [_lower(pair) for pair in exchange["pairs"]]
        for pair in pairs:
            if isinstance(pair, dict) and isinstance(pair.get("strategies"), list):
                pair["strategies"] = [_lower(strategy) for strategy in pair["strategies"]]
        exchange["pairs"] = pairs
    return exchange


def _lower(value: Any) -> Any:
    """A dict with its string keys lower-cased; anything else unchanged."""
    if not isinstance(value, dict):
        return value
    return {key.lower() if isinstance(key, str) else key: item for key, item in value.items()}


def _plain_data(value: Any) -> Any:
    """Dynaconf's boxes and lists turned into plain dicts and lists."""
    if isinstance(value, Mapping):
        return {key: _plain_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_data(item) for item in value]
    return value
