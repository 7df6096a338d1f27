"""The order fields of strategy signals: take profits, trails by amount, time in force, post-only,
reduce-only, brackets and OCO; each malformed one rejected with a message naming the field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from marketmaestro.strategy import SignalError, parse_signals

WHERE = "s.star on_kline()"


def one(item: dict[str, Any]) -> Any:
    [signal] = parse_signals(item, where=WHERE)
    return signal


def test_the_new_fields_reach_the_signal() -> None:
    signal = one(
        {
            "action": "buy",
            "quantity": 0.5,
            "type": "limit",
            "price": 100,
            "time_in_force": "fok",
            "reduce_only": True,
        }
    )
    assert (signal.type, signal.price, signal.time_in_force, signal.reduce_only) == (
        "limit",
        Decimal(100),
        "fok",
        True,
    )
    trail = one({"action": "sell", "quantity": 1, "type": "trailing_stop", "trail_amount": 2.5})
    assert (trail.trail_amount, trail.trail_percent) == (Decimal("2.5"), None)
    bracket = one({"action": "buy", "quantity": 1, "stop_loss": 90, "take_profit": 120.5})
    assert (bracket.type, bracket.stop_loss, bracket.take_profit) == ("market", Decimal(90), Decimal("120.5"))
    oco = one({"action": "sell", "quantity": 1, "type": "oco", "stop_loss": 90, "take_profit": 120})
    assert (oco.type, oco.stop_loss, oco.take_profit) == ("oco", Decimal(90), Decimal(120))
    take = one(
        {"action": "sell", "quantity": 1, "type": "take_profit_limit", "stop_price": 120, "price": 119}
    )
    assert (take.stop_price, take.price, take.post_only) == (Decimal(120), Decimal(119), False)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            {"action": "buy", "quantity": 1, "type": "take_profit"},
            "field 'stop_price' got nothing; a take_profit order needs it",
        ),
        (
            {"action": "buy", "quantity": 1, "type": "trailing_stop"},
            "field 'trail_percent' or 'trail_amount': a trailing_stop order needs exactly one",
        ),
        (
            {"action": "buy", "quantity": 1, "type": "trailing_stop", "trail_percent": 1, "trail_amount": 5},
            "a trailing_stop order needs exactly one",
        ),
        (
            {"action": "buy", "quantity": 1, "type": "limit", "price": 1, "time_in_force": "day"},
            "field 'time_in_force' got 'day'; expected one of gtc, ioc, fok",
        ),
        (
            {"action": "buy", "quantity": 1, "type": "market", "time_in_force": "ioc"},
            "field 'time_in_force' got 'ioc'; a market order does not take it",
        ),
        (
            {"action": "buy", "quantity": 1, "type": "stop_market", "stop_price": 5, "post_only": True},
            "field 'post_only' got True; a stop_market order does not take it",
        ),
        (
            {"action": "buy", "quantity": 1, "type": "limit", "price": 1, "post_only": "yes"},
            "field 'post_only' got 'yes'; expected True or False",
        ),
        (
            {
                "action": "buy",
                "quantity": 1,
                "type": "limit",
                "price": 1,
                "post_only": True,
                "time_in_force": "ioc",
            },
            "field 'post_only' cannot go with time_in_force 'ioc'",
        ),
        (
            {"action": "sell", "quantity": 1, "type": "oco", "take_profit": 120},
            "field 'stop_loss' got nothing; a oco order needs it",
        ),
        (
            {"action": "buy", "quantity": 1, "stop_loss": 120, "take_profit": 100},
            "field 'take_profit' got 100; it must be above stop_loss 120 when the position is long",
        ),
        (
            {"action": "sell", "quantity": 1, "type": "oco", "stop_loss": 120, "take_profit": 100},
            "field 'take_profit' got 100; it must be above stop_loss 120 when the position is long",
        ),
        (
            {"action": "sell", "quantity": 1, "stop_loss": 90, "take_profit": 100},
            "field 'take_profit' got 100; it must be below stop_loss 90 when the position is short",
        ),
        (
            {"action": "buy", "quantity": 1, "type": "stop_market", "stop_price": 5, "stop_loss": 4},
            "field 'stop_loss' got 4; a stop_market order does not take it",
        ),
        (
            {"action": "buy", "quantity": 1, "type": "trailing_stop", "trail_amount": -1},
            "field 'trail_amount' got -1; expected a positive number",
        ),
        ({"action": "close", "stop_loss": 5}, "a close has no stop_loss/take_profit"),
    ],
)
def test_a_malformed_order_field_is_named(item: dict[str, Any], message: str) -> None:
    with pytest.raises(SignalError) as caught:
        parse_signals(item, where=WHERE)
    assert str(caught.value).startswith(WHERE)
    assert message in str(caught.value)
