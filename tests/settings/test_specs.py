"""Declared settings: every kind accepts what it should and refuses the rest with a message that names the
setting, the value received and what was expected."""

from __future__ import annotations

from typing import Any

import pytest

from marketmaestro.settings import SettingError, SettingSpec, duration_seconds, spec_from_default

THRESHOLD = SettingSpec("drift_threshold", "number", 0.05, "How far.", minimum=0, maximum=1)


@pytest.mark.parametrize(
    ("spec", "value", "stored"),
    [
        (THRESHOLD, 0.2, 0.2),
        (THRESHOLD, 1, 1),
        (SettingSpec("n", "int", 3, "", minimum=1), 4.0, 4),
        (SettingSpec("on", "bool", True, ""), False, False),
        (SettingSpec("side", "string", "buy", "", choices=("buy", "sell")), "sell", "sell"),
        (SettingSpec("every", "duration", "1h", ""), "15m", "15m"),
        (SettingSpec("every", "duration", "1h", ""), 90, 90),
        (SettingSpec("target", "allocation", {}, ""), {"btc": 0.5, "USDT": 0.5}, {"BTC": 0.5, "USDT": 0.5}),
        (
            SettingSpec("target", "allocation", {}, ""),
            {"A": 1 / 3, "B": 1 / 3, "C": 1 / 3},
            {"A": 1 / 3, "B": 1 / 3, "C": 1 / 3},
        ),
        (SettingSpec("extra", "json", [], ""), [1, "two", {"three": None}], [1, "two", {"three": None}]),
    ],
)
def test_valid_values_are_accepted(spec: SettingSpec, value: Any, stored: Any) -> None:
    assert spec.validate(value, component="c") == stored


@pytest.mark.parametrize(
    ("spec", "value", "message"),
    [
        (THRESHOLD, 1.5, "c.drift_threshold: got 1.5; expected a number from 0 to 1"),
        (THRESHOLD, "0.1", 'c.drift_threshold: got "0.1"; expected a number from 0 to 1'),
        (THRESHOLD, True, "c.drift_threshold: got true; expected a number from 0 to 1"),
        (THRESHOLD, float("nan"), "c.drift_threshold: got NaN; expected a number from 0 to 1"),
        (
            SettingSpec("n", "int", 3, "", minimum=1),
            2.5,
            "c.n: got 2.5; expected a whole number of at least 1",
        ),
        (SettingSpec("on", "bool", True, ""), 1, "c.on: got 1; expected true or false"),
        (
            SettingSpec("side", "string", "buy", "", choices=("buy", "sell")),
            "hold",
            "expected one of buy, sell",
        ),
        (
            SettingSpec("every", "duration", "1h", ""),
            "2h30",
            'c.every: got "2h30"; expected seconds (a number of at least 1) or one of 1m,',
        ),
        (SettingSpec("every", "duration", "1h", ""), 0.5, "c.every: got 0.5; expected seconds"),
        (
            SettingSpec("target", "allocation", {}, ""),
            {"BTC": 0.5, "USDT": 0.4},
            'c.target: got {"BTC": 0.5, "USDT": 0.4}; expected an object of asset -> weight (0 to 1) '
            "whose weights add up to 1",
        ),
        (SettingSpec("target", "allocation", {}, ""), {"BTC": 1.5, "USDT": -0.5}, "weights add up to 1"),
        (SettingSpec("target", "allocation", {}, ""), {"btc": 0.5, "BTC": 0.5}, "weights add up to 1"),
        (SettingSpec("target", "allocation", {}, ""), [], "c.target: got []"),
        (SettingSpec("extra", "json", [], ""), float("inf"), "c.extra: got Infinity; expected a JSON value"),
    ],
)
def test_invalid_values_are_refused_naming_key_value_and_expectation(
    spec: SettingSpec, value: Any, message: str
) -> None:
    with pytest.raises(SettingError) as caught:
        spec.validate(value, component="c")
    assert message in str(caught.value)


def test_durations_in_seconds() -> None:
    assert duration_seconds("1h") == 3600
    assert duration_seconds("15m") == 900
    assert duration_seconds(2.5) == 2.5


def test_a_scripts_own_setting_is_typed_by_its_default() -> None:
    assert spec_from_default("size", 0.01, "").kind == "number"
    assert spec_from_default("count", 3, "").kind == "int"
    assert spec_from_default("on", True, "").kind == "bool"
    assert spec_from_default("name", "x", "").kind == "string"
    assert spec_from_default("levels", [1, 2], "").kind == "json"
    with pytest.raises(SettingError, match=r"c\.count: got 0\.5; expected a whole number"):
        spec_from_default("count", 3, "").validate(0.5, component="c")


def test_describe_is_json_data_for_the_api() -> None:
    assert THRESHOLD.describe() == {
        "kind": "number",
        "default": 0.05,
        "description": "How far.",
        "expected": "a number from 0 to 1",
        "minimum": 0,
        "maximum": 1,
    }
