"""What a component declares about its runtime settings: each key's type, range, default and meaning.

A component that can change its behaviour at runtime declares its settings to the settings component
(``DeclareSettingsMsg``); from then on a new value is checked against the declaration before anything is
stored, and a refused value gets a message naming the key, the value received and what was expected::

    rebalance:equal_weight.drift_threshold: got 1.5; expected a number from 0 to 1

Kinds of value (``SettingSpec.kind``):

==========  =====================================================================================
kind        accepted values
==========  =====================================================================================
bool        true or false
int         a whole number (``minimum``/``maximum`` inclusive)
number      an int or a finite float (``minimum``/``maximum`` inclusive)
string      a string (``choices`` when only some are allowed)
duration    seconds as a number (at least ``minimum``, default 1) or an interval such as ``15m``, ``1h``
allocation  an object of asset -> weight (numbers from 0 to 1) whose weights add up to 1
json        any JSON value (lists and objects of strings, numbers, booleans and null)
==========  =====================================================================================
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from marketmaestro.model import INTERVAL_SECONDS

Kind = Literal["bool", "int", "number", "string", "duration", "allocation", "json"]
ALLOCATION_TOLERANCE = 1e-6
"""How far from 1 the weights of an allocation may add up (binary floats: 1/3 + 1/3 + 1/3)."""


class SettingError(ValueError):
    """A value a declaration refuses; the message names the setting, the value and what was expected."""


@dataclass(frozen=True)
class SettingSpec:
    """One declared setting."""

    key: str
    kind: Kind
    default: Any
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None

    def expected(self) -> str:
        """What a valid value is, in words."""
        low, high = self.minimum, self.maximum
        match self.kind:
            case "bool":
                return "true or false"
            case "int" | "number":
                noun = "a whole number" if self.kind == "int" else "a number"
                if low is not None and high is not None:
                    return f"{noun} from {low:g} to {high:g}"
                if low is not None:
                    return f"{noun} of at least {low:g}"
                if high is not None:
                    return f"{noun} of at most {high:g}"
                return noun
            case "string":
                return f"one of {', '.join(self.choices)}" if self.choices else "a string"
            case "duration":
                return (
                    f"seconds (a number of at least {self.minimum_seconds:g}) or one of "
                    f"{', '.join(INTERVAL_SECONDS)}"
                )
            case "allocation":
                return "an object of asset -> weight (0 to 1) whose weights add up to 1"
        return "a JSON value"

    @property
    def minimum_seconds(self) -> float:
        return self.minimum if self.minimum is not None else 1.0

    def validate(self, value: Any, *, component: str = "") -> Any:
        """``value`` as stored (an allocation's assets upper-cased), or ``SettingError``."""
        checked = _CHECKS[self.kind](self, value)
        if checked is _INVALID:
            where = f"{component}.{self.key}" if component else self.key
            raise SettingError(f"{where}: got {_show(value)}; expected {self.expected()}")
        return checked

    def describe(self) -> dict[str, Any]:
        """The declaration as JSON data (for ``GET /api/v1/settings``)."""
        data: dict[str, Any] = {
            "kind": self.kind,
            "default": self.default,
            "description": self.description,
            "expected": self.expected(),
        }
        if self.minimum is not None:
            data["minimum"] = self.minimum
        if self.maximum is not None:
            data["maximum"] = self.maximum
        if self.choices is not None:
            data["choices"] = list(self.choices)
        return data


_INVALID = object()


def _show(value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=True)[:200]
    except (TypeError, ValueError):
        return repr(value)[:200]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _in_range(spec: SettingSpec, value: float) -> bool:
    return (spec.minimum is None or value >= spec.minimum) and (spec.maximum is None or value <= spec.maximum)


def _check_bool(spec: SettingSpec, value: Any) -> Any:
    return value if isinstance(value, bool) else _INVALID


def _check_int(spec: SettingSpec, value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not _in_range(spec, value):
        return _INVALID
    return value


def _check_number(spec: SettingSpec, value: Any) -> Any:
    return value if _is_number(value) and _in_range(spec, value) else _INVALID


def _check_string(spec: SettingSpec, value: Any) -> Any:
    if not isinstance(value, str) or (spec.choices is not None and value not in spec.choices):
        return _INVALID
    return value


def _check_duration(spec: SettingSpec, value: Any) -> Any:
    if isinstance(value, str):
        return value if value in INTERVAL_SECONDS else _INVALID
    return value if _is_number(value) and value >= spec.minimum_seconds else _INVALID


def _check_allocation(spec: SettingSpec, value: Any) -> Any:
    if not isinstance(value, dict) or not value:
        return _INVALID
    weights: dict[str, float] = {}
    for asset, weight in value.items():
        if (
            not isinstance(asset, str)
            or not asset.isalnum()
            or not _is_number(weight)
            or not 0 <= weight <= 1
        ):
            return _INVALID
        weights[asset.upper()] = float(weight)
    if len(weights) != len(value) or abs(math.fsum(weights.values()) - 1) > ALLOCATION_TOLERANCE:
        return _INVALID
    return weights


def _check_json(spec: SettingSpec, value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return _INVALID
    return value


_CHECKS = {
    "bool": _check_bool,
    "int": _check_int,
    "number": _check_number,
    "string": _check_string,
    "duration": _check_duration,
    "allocation": _check_allocation,
    "json": _check_json,
}


def duration_seconds(value: int | float | str) -> float:
    """A ``duration`` setting's value in seconds."""
    return float(INTERVAL_SECONDS[value]) if isinstance(value, str) else float(value)


def spec_from_default(key: str, default: Any, description: str) -> SettingSpec:
    """A declaration for a script's own setting, typed by its default (``0.01`` -> number, ``True`` ->
    bool); used for the keys of a script's ``settings()`` that the component does not know itself."""
    if isinstance(default, bool):
        return SettingSpec(key, "bool", default, description)
    if isinstance(default, int):
        return SettingSpec(key, "int", default, description)
    if isinstance(default, float):
        return SettingSpec(key, "number", default, description)
    if isinstance(default, str):
        return SettingSpec(key, "string", default, description)
    return SettingSpec(key, "json", default, description)
