"""Pre-trade risk rules: MaxPositionSize, its configuration, and building rules from the registry."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from marketmaestro.config import Config
from marketmaestro.model import Order, OrderType, Side
from marketmaestro.risk import (
    MaxPositionSize,
    OrderCheck,
    RiskConfigError,
    build_rules,
    check_risk_config,
    max_position_size,
)
from tests.trading.conftest import plugin_host

PRICE = Decimal("30000")


def check(side: Side, quantity: str, position: str = "0", symbol: str = "BTCUSDT") -> OrderCheck:
    order = Order(
        client_order_id="c-1",
        exchange="paper",
        symbol=symbol,
        side=side,
        type=OrderType.MARKET,
        quantity=Decimal(quantity),
    )
    return OrderCheck(order, PRICE, Decimal(position))


def rule(params: dict[str, Any]) -> MaxPositionSize:
    built = max_position_size(params)
    assert isinstance(built, MaxPositionSize)
    return built


# -- MaxPositionSize --------------------------------------------------------------------------------


def test_the_default_limit_applies_to_every_symbol_without_its_own() -> None:
    limits = rule({"default": 0.05, "ethusdt": "1.5"})
    assert limits.limit_for("BTCUSDT") == Decimal("0.05")
    assert limits.limit_for("SOLUSDT") == Decimal("0.05")
    assert limits.limit_for("ETHUSDT") == Decimal("1.5")  # symbols are upper-cased

    assert limits.check(check(Side.BUY, "0.05")) is None  # at the limit is allowed
    assert limits.check(check(Side.BUY, "0.03", position="0.02")) is None
    denied = limits.check(check(Side.BUY, "0.031", position="0.02"))
    assert denied is not None
    assert "BTCUSDT" in denied
    assert "0.051" in denied
    assert "0.05" in denied
    assert limits.check(check(Side.BUY, "1.5", symbol="ETHUSDT")) is None
    assert limits.check(check(Side.BUY, "1.6", symbol="ETHUSDT")) is not None


def test_a_symbol_limit_without_a_default_leaves_other_symbols_unlimited() -> None:
    limits = rule({"BTCUSDT": "0.1"})
    assert limits.limit_for("ETHUSDT") is None
    assert limits.check(check(Side.BUY, "1000", symbol="ETHUSDT")) is None
    assert limits.check(check(Side.BUY, "0.2")) is not None


def test_shorts_count_by_their_size() -> None:
    limits = rule({"default": "0.05"})
    assert limits.check(check(Side.SELL, "0.05")) is None
    denied = limits.check(check(Side.SELL, "0.01", position="-0.05"))
    assert denied is not None and "0.06" in denied


def test_reducing_orders_pass_even_over_the_limit() -> None:
    limits = rule({"default": "0.05"})
    assert limits.check(check(Side.SELL, "0.1", position="0.5")) is None
    assert limits.check(check(Side.BUY, "0.4", position="-0.5")) is None
    # Closing everything, or flipping to a smaller opposite position, reduces exposure too.
    assert limits.check(check(Side.SELL, "0.5", position="0.5")) is None
    assert limits.check(check(Side.SELL, "0.54", position="0.5")) is None
    # Flipping past the limit on the other side increases it.
    assert limits.check(check(Side.SELL, "1.2", position="0.5")) is not None


def test_order_check_arithmetic() -> None:
    flip = check(Side.SELL, "0.7", position="0.5")
    assert flip.position_after == Decimal("-0.2")
    assert not flip.increases_exposure
    assert check(Side.BUY, "0.1", position="-0.5").position_after == Decimal("-0.4")
    assert check(Side.BUY, "0.1").increases_exposure


def test_no_parameters_means_no_rule() -> None:
    assert max_position_size({}) is None


@pytest.mark.parametrize(
    ("params", "key", "value"),
    [
        ({"default": "abc"}, "default", "abc"),
        ({"default": 0}, "default", 0),
        ({"BTCUSDT": -1}, "BTCUSDT", -1),
        ({"default": 0.05, "ETHUSDT": "-0.5"}, "ETHUSDT", "-0.5"),
        ({"default": "nan"}, "default", "nan"),
        ({"default": "inf"}, "default", "inf"),
        ({"default": None}, "default", None),
        ({"default": [1]}, "default", [1]),
    ],
)
def test_a_bad_limit_names_the_key_the_value_and_what_was_expected(
    params: dict[str, Any], key: str, value: Any
) -> None:
    with pytest.raises(RiskConfigError) as caught:
        max_position_size(params)
    assert (caught.value.key, caught.value.value, caught.value.expected) == (key, value, "a positive number")
    assert str(caught.value) == f"{key}: got {value!r}; expected a positive number"


# -- building the configured rules ------------------------------------------------------------------


def test_build_rules_makes_the_configured_rules() -> None:
    registry = plugin_host().registry
    (built,) = build_rules(registry, {"max_position_size": {"default": 0.05}}, {})
    assert isinstance(built, MaxPositionSize)
    assert built.limits == {"default": Decimal("0.05")}


def test_nothing_configured_builds_nothing() -> None:
    assert build_rules(plugin_host().registry, {}, {}) == []


def test_the_exchange_section_overrides_the_global_one_key_by_key() -> None:
    registry = plugin_host().registry
    (built,) = build_rules(
        registry,
        {"max_position_size": {"default": 0.05, "ETHUSDT": 2}},
        {"max_position_size": {"default": 1}},
    )
    assert isinstance(built, MaxPositionSize)
    assert built.limits == {"default": Decimal(1), "ETHUSDT": Decimal(2)}

    # Configured for one exchange only.
    (only_here,) = build_rules(registry, {}, {"max_position_size": {"BTCUSDT": "0.2"}})
    assert isinstance(only_here, MaxPositionSize)
    assert only_here.limits == {"BTCUSDT": Decimal("0.2")}


def test_an_unknown_rule_is_named_with_the_registered_ones() -> None:
    registry = plugin_host().registry
    with pytest.raises(ValueError) as caught:
        build_rules(registry, {"max_drawdon": {"percent": 5}}, {"stop_everything": {}})
    message = str(caught.value)
    assert "max_drawdon" in message
    assert "stop_everything" in message
    assert "registered: max_concentration, max_daily_loss, max_drawdown" in message


def test_a_bad_value_in_either_section_is_reported_through_build_rules() -> None:
    registry = plugin_host().registry
    with pytest.raises(RiskConfigError, match=r"^default: got 'abc'; expected a positive number$"):
        build_rules(registry, {"max_position_size": {"default": "abc"}}, {})
    with pytest.raises(RiskConfigError, match=r"^BTCUSDT: got -2; expected a positive number$"):
        build_rules(registry, {"max_position_size": {"default": 1}}, {"max_position_size": {"BTCUSDT": -2}})


def test_the_configuration_check_names_the_full_key_of_each_problem() -> None:
    config = Config.model_validate(
        {
            "risk": {"max_position_size": {"default": "abc"}, "max_drawdon": {"percent": 5}},
            "exchanges": {
                "paper": {"risk": {"max_position_size": {"default": 1, "btcusdt": 0}}},
                "off": {"enabled": False, "risk": {"max_position_size": {"default": -1}}},
            },
        }
    )
    problems = check_risk_config(plugin_host().registry, config)
    assert [(p.key, p.value) for p in problems] == [
        ("risk.max_position_size.default", "abc"),
        ("risk.max_drawdon", {"percent": 5}),
        ("exchanges.paper.risk.max_position_size.btcusdt", 0),
    ]
    assert problems[0].expected == "a positive number"
    assert "max_position_size" in problems[1].expected
