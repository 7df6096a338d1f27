"""Configuration problems, and the translation of pydantic's errors into them.

The configuration is checked as a whole at start-up and every problem is reported at once, one
line each::

    api.port: got 'abc'; expected an integer
    logging.level: got 'loud'; expected one of 'debug', 'info', 'warning' or 'error'

Secret values are never shown: they read ``'***'``.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from marketmaestro.config.masking import mask_secrets
from marketmaestro.config.schema import PROBLEM_TYPE
from marketmaestro.logs.redact import MASK, is_secret_field

__all__ = ["NOTHING", "ConfigError", "ConfigProblem", "format_key", "problems_from_validation_error"]


class _Nothing:
    """The "value" of a required key that is absent: shown as ``got nothing``."""

    def __repr__(self) -> str:
        return "nothing"


NOTHING: Any = _Nothing()
"""Stands for the value of a missing key in a :class:`ConfigProblem`."""

# Fields users cannot set: the loader fills them in.
_NOT_USER_KEYS = frozenset({"config_dir"})

# Plain words for pydantic's error types whose own message is written for programmers.
_EXPECTED_BY_TYPE = {
    "missing": "a value (this key is required)",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
    "list_type": "a list",
    "path_type": "a file path",
    "decimal_type": "a decimal number",
    "decimal_parsing": "a decimal number",
}
_COMPARISONS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the configuration.

    ``key`` is the dotted path of the setting (``exchanges.paper.pairs[0].symbol``), ``value``
    what was received (secrets masked, :data:`NOTHING` for a missing key) and ``expected`` a
    description of what would have been accepted.
    """

    key: str
    value: Any
    expected: str

    def __str__(self) -> str:
        return f"{self.key}: got {self.value!r}; expected {self.expected}"


class ConfigError(Exception):
    """The configuration is invalid; ``problems`` lists everything that is wrong, in order.

    ``str()`` gives one line per problem.
    """

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems: list[ConfigProblem] = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def format_key(loc: Iterable[str | int]) -> str:
    """``("exchanges", "paper", "pairs", 0, "symbol")`` -> ``exchanges.paper.pairs[0].symbol``."""
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        elif part == "[key]":  # pydantic's marker for an error in a dict key rather than its value
            key += " (the key itself)"
        else:
            key += f".{part}" if key else part
    return key


def problems_from_validation_error(
    error: ValidationError, model: type[BaseModel], prefix: Sequence[str | int] = ()
) -> list[ConfigProblem]:
    """Translate the errors of ``model.model_validate(...)`` into problems.

    ``prefix`` is where the validated data sits in the whole configuration (an exchange's options
    are validated on their own and reported under ``exchanges.<key>.options``).
    """
    return [_problem(details, model, tuple(prefix)) for details in error.errors()]


def _problem(details: ErrorDetails, model: type[BaseModel], prefix: tuple[str | int, ...]) -> ConfigProblem:
    loc = tuple(details["loc"])
    kind = details["type"]
    ctx = details.get("ctx") or {}
    value: Any = details.get("input")
    name = next((part for part in reversed(loc) if isinstance(part, str)), "")

    if kind == PROBLEM_TYPE:
        expected = str(ctx["expected"])
        if ctx.get("subkey"):
            subkey = str(ctx["subkey"])
            loc_key = format_key(prefix + loc)
            key = f"{loc_key}.{subkey}" if loc_key else subkey
            return ConfigProblem(key, mask_secrets(ctx.get("value"), subkey.rsplit(".", 1)[-1]), expected)
    elif kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        expected = "one of the known keys: " + (", ".join(known) or "(none)")
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        if close:
            expected = f"{expected} (did you mean {close[0]!r}?)"
            if is_secret_field(close[0]):
                # A misspelt secret key still holds a secret.
                value = MASK
    elif kind == "missing":
        value = NOTHING
        expected = _EXPECTED_BY_TYPE[kind]
    elif kind in _COMPARISONS:
        bound, symbol = _COMPARISONS[kind]
        limit = ctx[bound]
        # Float fields report their limit as 0.0; users wrote 0.
        if isinstance(limit, float) and limit.is_integer():
            limit = int(limit)
        expected = f"a number {symbol} {limit}"
    elif kind == "literal_error":
        expected = f"one of {ctx['expected']}"
    elif kind == "string_too_short" and ctx.get("min_length") == 1:
        expected = "a non-empty string"
    else:
        expected = _EXPECTED_BY_TYPE.get(kind) or _plain_message(details["msg"])
    return ConfigProblem(format_key(prefix + loc), mask_secrets(value, name), expected)


def _plain_message(message: str) -> str:
    """Pydantic's message reworded to follow "expected": "Input should be a valid URL" -> "a valid URL"."""
    for lead in ("Input should be ", "Value error, expected ", "Value error, ", "Input should "):
        if message.startswith(lead):
            return message[len(lead) :]
    return message[:1].lower() + message[1:]


def _known_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The keys accepted at ``loc`` inside ``model`` (empty when that place is not a model)."""
    annotation: Any = model
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    target = _model_in(annotation)
    if target is None:
        return []
    return [name for name in target.model_fields if name not in _NOT_USER_KEYS]


def _step(annotation: Any, part: str | int) -> Any:
    """The type found one step (``part``) into a value of type ``annotation``."""
    target = _model_in(annotation)
    if target is not None:
        field = target.model_fields.get(str(part))
        return field.annotation if field is not None else None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (list, tuple, set, frozenset) and args and isinstance(part, int):
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class of ``annotation``, looking inside ``X | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arm in typing.get_args(annotation):
            if isinstance(arm, type) and issubclass(arm, BaseModel):
                return arm
    return None
