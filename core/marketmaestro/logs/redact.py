"""Keep credentials out of every log line.

Two complementary defences, because neither alone is enough:

1. **By value**: every known secret (API keys, passphrases ... from the configuration) is replaced
   by ``***`` in the final serialized line. This catches secrets wherever they hide: in an
   exception message, a traceback, a URL, a nested field, a field *name*.
2. **By field name**: the value of any field whose name looks secret (``api_key``,
   ``bybit_api_secret``, ``password`` ...) is masked before serialisation, recursively through
   dicts and lists. This catches secrets we were never told about (a token received at run time).

Secrets can be added after logging started, because the configuration is loaded after logging
may already be on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import re
import threading
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any

import pydantic

MASK = "***"
"""What a secret is replaced with."""

MIN_SECRET_LENGTH = 4
"""Shorter values are ignored: masking every ``"abc"`` in the log would destroy it and protect nothing."""

# Suffixes of field names whose values are masked. Matched case-insensitively against the end of
# the name with ``-`` read as ``_``, so ``bybit_api_secret``, ``apiKey`` and ``X-Api-Key`` match.
_SECRET_NAME_SUFFIXES = (
    "api_key",
    "apikey",
    "secret",
    "secret_key",
    "secretkey",
    "token",
    "password",
    "passphrase",
    "private_key",
    "privatekey",
)


def is_secret_field(name: object) -> bool:
    """Whether a field called ``name`` holds a secret (``api_key``, ``bybit_api_secret``, ``Password``...)."""
    normalised = str(name).lower().replace("-", "_")
    return normalised.endswith(_SECRET_NAME_SUFFIXES)


class Redactor:
    """Removes secrets from log records and serialized log lines.

    ``Redactor(["sk-live-..."])`` knows one secret; :meth:`add` teaches it more later. Values that
    are empty or shorter than :data:`MIN_SECRET_LENGTH` characters are ignored. Safe to use from
    several threads: the pattern is rebuilt under a lock and swapped in atomically.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    @property
    def secrets_count(self) -> int:
        """How many distinct secrets are being redacted (the values themselves are never exposed)."""
        return len(self._secrets)

    def add(self, secret: str | None) -> None:
        """Redact ``secret`` from now on. ``None``, empty and too-short values are ignored."""
        if secret is None:
            return
        if not isinstance(secret, str):
            raise TypeError(f"secret: expected a string, got a value of type {type(secret).__name__}")
        if len(secret) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if secret in self._secrets:
                return
            self._secrets = self._secrets | {secret}
            self._pattern = _build_pattern(self._secrets)

    def redact(self, text: str) -> str:
        """``text`` with every known secret replaced by ``***``.

        Works on plain text and on JSON: the JSON-escaped spelling of each secret (a quote or a
        backslash inside it is escaped in a serialized line) is replaced too.
        """
        pattern = self._pattern
        if pattern is None:
            return text
        return pattern.sub(MASK, text)

    def mask_fields(self, value: Any) -> Any:
        """A copy of ``value`` where every secret-named field of every nested mapping is masked.

        Mappings become dicts with string keys (JSON needs them), lists and tuples become lists;
        other values are returned unchanged. ``None`` and booleans under a secret name are kept:
        they reveal nothing and say whether a credential is set.
        """
        if isinstance(value, Mapping):
            return {str(key): self._mask_item(key, item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask_fields(item) for item in value]
        return value

    def json_default(self, value: Any) -> Any:
        """``json.dumps`` ``default=``: :func:`to_jsonable`, with secret-named fields of dataclasses
        and pydantic models masked too."""
        return self.mask_fields(to_jsonable(value))

    def serialize(self, message: Mapping[str, Any]) -> str:
        """One log line (JSON, no newline) for ``message``, with every secret masked or redacted.

        Redaction runs on the final string, so nothing escapes: not an exception message, not a
        traceback, not a field name.
        """
        line = json.dumps(
            self.mask_fields(message), default=self.json_default, ensure_ascii=False, separators=(",", ":")
        )
        return self.redact(line)

    def _mask_item(self, key: object, item: Any) -> Any:
        reveals_nothing = item is None or isinstance(item, bool) or (isinstance(item, str) and not item)
        if is_secret_field(key) and not reveals_nothing:
            return MASK
        return self.mask_fields(item)


def _build_pattern(secrets: frozenset[str]) -> re.Pattern[str]:
    spellings = set(secrets)
    # In a JSON line a secret containing `"`, `\` or a control character appears escaped.
    spellings.update(json.dumps(secret, ensure_ascii=False)[1:-1] for secret in secrets)
    # Longest first, so a secret that contains another one is masked whole.
    ordered = sorted(spellings, key=len, reverse=True)
    return re.compile("|".join(re.escape(spelling) for spelling in ordered))


def to_jsonable(value: Any) -> Any:
    """A JSON-encodable stand-in for ``value``, for the types MarketMaestro logs.

    ``Decimal`` becomes a string (a float would lose the exactness money needs), paths and UUIDs
    strings, enums their value, dates and times ISO 8601, durations seconds, dataclasses and
    pydantic models dicts, sets lists. Anything else becomes its ``repr``: logging never fails
    because of a value it cannot encode.
    """
    if isinstance(value, Decimal | PurePath | uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Not dataclasses.asdict: it deep-copies every value and fails on uncopyable ones.
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump()
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return repr(value)
