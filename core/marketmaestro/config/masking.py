"""Secrets in the configuration: find them for the log redactor, hide them when showing the config.

A value is secret when it is a :class:`pydantic.SecretStr` (``api.token``, every exchange's
``api_key`` and ``api_secret``) or when it sits under a key whose name looks secret
(``password``, ``bybit_api_secret``, ``X-Api-Key`` ..., as decided by
:func:`marketmaestro.logs.redact.is_secret_field`, so the log and ``mm config show`` agree) anywhere
in exchange options, risk parameters or strategy configs.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, SecretStr

from marketmaestro.config.schema import Config
from marketmaestro.logs.redact import MASK, is_secret_field

__all__ = ["MASK", "mask_secrets", "masked_dict", "secret_values"]


def secret_values(config: Config) -> set[str]:
    """Every secret string of ``config``, for :class:`marketmaestro.logs.redact.Redactor`.

    Includes validated exchange options (``config.exchange_options(key)``) as well as the raw
    ``options`` dicts. Empty strings are left out: redacting ``""`` would mean nothing.
    """
    found: set[str] = set()
    _collect(config, "", found)
    for key in config.exchanges:
        options = config.exchange_options(key)
        if options is not None:
            _collect(options, "", found)
    found.discard("")
    return found


def masked_dict(config: Config) -> dict[str, Any]:
    """The effective configuration as JSON-able data, every secret replaced by ``"***"``.

    Paths, decimals and dates become strings. An exchange's ``options`` are shown as its plugin's
    options model validated them (defaults filled in) when that is known.
    """
    data: dict[str, Any] = _plain(config)
    for key, exchange in data["exchanges"].items():
        options = config.exchange_options(key)
        if options is not None:
            exchange["options"] = _plain(options)
    return data


def mask_secrets(value: Any, name: object = "") -> Any:
    """``value`` with every secret masked: ``value`` itself when ``name`` looks secret, else the
    values of secret-looking keys found in nested dicts and lists. For values of unknown origin
    (an error report's input); other types are returned unchanged."""
    if value is None:
        return None
    if isinstance(value, SecretStr) or (name and is_secret_field(name)):
        return MASK
    if isinstance(value, Mapping):
        return {key: mask_secrets(item, key) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_secrets(item) for item in value]
    return value


def _plain(value: Any, name: object = "") -> Any:
    """JSON-able copy of ``value`` with secrets masked (see :func:`masked_dict`)."""
    if value is None:
        return None
    if isinstance(value, SecretStr) or (name and is_secret_field(name)):
        return MASK
    if isinstance(value, BaseModel):
        return {field: _plain(getattr(value, field), field) for field in type(value).model_fields}
    if isinstance(value, Mapping):
        return {str(key): _plain(item, key) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, PurePath | Decimal):
        # Decimals as text: a float would round amounts the user wrote exactly.
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _collect(value: Any, name: object, found: set[str]) -> None:
    """Add every secret found in ``value`` (reached under key ``name``) to ``found``."""
    if isinstance(value, SecretStr):
        found.add(value.get_secret_value())
    elif isinstance(value, BaseModel):
        for field in type(value).model_fields:
            _collect(getattr(value, field), field, found)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _collect(item, key, found)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _collect(item, name, found)
    elif name and is_secret_field(name) and isinstance(value, str | int) and not isinstance(value, bool):
        found.add(str(value))
