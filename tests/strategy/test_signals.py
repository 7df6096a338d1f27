"""Turning what a strategy callback returned into signals, or an error that says what is wrong and where."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from marketmaestro.strategy import Signal, SignalError, parse_signals

WHERE = "sma.star on_kline()"


def test_none_and_hold_are_no_signal() -> None:
    assert parse_signals(None, where=WHERE) == []
    assert parse_signals({"action": "hold"}, where=WHERE) == []
    assert parse_signals({"action": "hold", "reason": "waiting"}, where=WHERE) == []
    assert parse_signals([], where=WHERE) == []


def test_a_buy_and_a_sell() -> None:
    assert parse_signals({"action": "buy", "quantity": 0.01}, where=WHERE) == [Signal("buy", Decimal("0.01"))]
    assert parse_signals(
        {"action": "sell", "quantity": 2, "type": "market", "reason": "stop"}, where=WHERE
    ) == [Signal("sell", Decimal(2), "market", "stop")]


def test_a_float_quantity_keeps_its_shortest_decimal_spelling() -> None:
    # 0.1 as a binary float is 0.1000000000000000055...; the order must be for 0.1.
    (signal,) = parse_signals({"action": "buy", "quantity": 0.1}, where=WHERE)
    assert signal.quantity == Decimal("0.1")


def test_close_needs_no_quantity() -> None:
    assert parse_signals({"action": "close", "reason": "done"}, where=WHERE) == [
        Signal("close", None, "market", "done")
    ]


def test_a_list_of_signals_keeps_its_order_and_drops_holds() -> None:
    signals = parse_signals(
        [{"action": "buy", "quantity": 1}, {"action": "hold"}, {"action": "sell", "quantity": 0.5}],
        where=WHERE,
    )
    assert signals == [Signal("buy", Decimal(1)), Signal("sell", Decimal("0.5"))]
    assert parse_signals(({"action": "close"},), where=WHERE) == [Signal("close", None)]


@pytest.mark.parametrize(
    ("value", "fragments"),
    [
        ({"action": "moon", "quantity": 1}, ["'action'", "'moon'", "buy, sell, hold, close"]),
        ({"quantity": 1}, ["'action'", "None"]),
        ({"action": "buy", "quantity": -1}, ["'quantity'", "-1", "positive number"]),
        ({"action": "buy", "quantity": 0}, ["'quantity'", "got 0", "positive number"]),
        ({"action": "buy", "quantity": True}, ["'quantity'", "True"]),
        ({"action": "buy", "quantity": "1"}, ["'quantity'", "'1'"]),
        ({"action": "buy"}, ["'quantity'", "got nothing"]),
        ({"action": "buy", "quantity": float("nan")}, ["'quantity'", "nan"]),
        ({"action": "buy", "quantity": float("inf")}, ["'quantity'", "inf"]),
        ({"action": "sell", "quantity": 1, "colour": "red"}, ["colour", "expected action, quantity, type"]),
        ({"action": "buy", "quantity": 1, "type": "iceberg"}, ["'type'", "'iceberg'", "market, limit"]),
        ({"action": "buy", "quantity": 1, "type": "limit"}, ["'price'", "got nothing", "limit"]),
        ({"action": "buy", "quantity": 1, "type": "limit", "price": -5}, ["'price'", "-5", "positive"]),
        ({"action": "buy", "quantity": 1, "price": 100}, ["'price'", "100", "market order does not take"]),
        ({"action": "sell", "quantity": 1, "type": "stop_market"}, ["'stop_price'", "stop_market"]),
        ({"action": "sell", "quantity": 1, "type": "stop_limit", "stop_price": 9}, ["'price'", "stop_limit"]),
        ({"action": "sell", "quantity": 1, "type": "trailing_stop"}, ["'trail_percent'", "trailing_stop"]),
        (
            {"action": "sell", "quantity": 1, "type": "trailing_stop", "trail_percent": 150},
            ["'trail_percent'", "150", "0 < p < 100"],
        ),
        ({"action": "cancel", "quantity": 1}, ["quantity", "'cancel'"]),
        ({"action": "buy", "quantity": 1, "reason": 5}, ["'reason'", "5", "string"]),
        ("buy", ["dict", "str", "'buy'"]),
        (42, ["dict", "int", "42"]),
    ],
)
def test_a_malformed_signal_names_the_field_the_value_the_file_and_the_callback(
    value: Any, fragments: list[str]
) -> None:
    with pytest.raises(SignalError) as caught:
        parse_signals(value, where=WHERE)
    message = str(caught.value)
    assert message.startswith(f"{WHERE}: ")
    for fragment in fragments:
        assert fragment in message


def test_a_bad_signal_in_a_list_is_named_by_its_position_and_fails_the_whole_list() -> None:
    with pytest.raises(SignalError) as caught:
        parse_signals([{"action": "buy", "quantity": 1}, {"action": "buy", "quantity": -2}], where=WHERE)
    assert str(caught.value).startswith(f"{WHERE}, signal 1: ")
    assert "-2" in str(caught.value)


def test_every_order_type_with_its_fields() -> None:
    signals = parse_signals(
        [
            {"action": "buy", "quantity": 1, "type": "limit", "price": 100.5},
            {"action": "sell", "quantity": 1, "type": "stop_market", "stop_price": 90},
            {"action": "sell", "quantity": 1, "type": "stop_limit", "stop_price": 90, "price": 89.5},
            {"action": "sell", "quantity": 1, "type": "trailing_stop", "trail_percent": 1.5},
            {"action": "close", "quantity": 0.5, "reason": "half"},
            {"action": "cancel", "reason": "new plan"},
        ],
        where=WHERE,
    )
    assert signals == [
        Signal("buy", Decimal(1), "limit", price=Decimal("100.5")),
        Signal("sell", Decimal(1), "stop_market", stop_price=Decimal(90)),
        Signal("sell", Decimal(1), "stop_limit", price=Decimal("89.5"), stop_price=Decimal(90)),
        Signal("sell", Decimal(1), "trailing_stop", trail_percent=Decimal("1.5")),
        Signal("close", Decimal("0.5"), reason="half"),
        Signal("cancel", reason="new plan"),
    ]
