"""The risk manager: every order passes each configured rule before it may be sent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marketmaestro.config import Config, ConfigProblem
from marketmaestro.logs import log_event
from marketmaestro.messages import GetPositionMsg, GetStatusMsg, OrderValidationResult, ValidateOrderMsg
from marketmaestro.model import Position
from marketmaestro.plugins.registry import Registry
from marketmaestro.risk.rules import OrderCheck, RiskConfigError, RiskRule
from marketmaestro.supervision import Component, Mailbox


def build_rules(
    registry: Registry,
    global_config: Mapping[str, Mapping[str, Any]],
    exchange_config: Mapping[str, Mapping[str, Any]],
) -> list[RiskRule]:
    """Build every registered rule from its configuration; the exchange's section overrides the global one.

    Raises ``ValueError`` naming any rule in the configuration that no plugin registered.
    """
    unknown = sorted((set(global_config) | set(exchange_config)) - set(registry.risk_rules))
    if unknown:
        known = ", ".join(sorted(registry.risk_rules)) or "none"
        raise ValueError(
            f"unknown risk rule(s) {', '.join(unknown)} in the configuration; registered: {known}"
        )
    rules: list[RiskRule] = []
    for name, entry in sorted(registry.risk_rules.items()):
        params = {**global_config.get(name, {}), **exchange_config.get(name, {})}
        rule = entry.factory(params)
        if rule is not None:
            rules.append(rule)
    return rules


def check_risk_config(registry: Registry, config: Config) -> list[ConfigProblem]:
    """Every problem with the risk sections of the configuration, as configuration problems, so they are
    reported at start-up with the rest instead of failing an exchange later."""
    known = sorted(registry.risk_rules)
    problems: list[ConfigProblem] = []
    # Each section is checked on its own, so a problem is reported once, under the key where it is written.
    sections: list[tuple[str, Mapping[str, Mapping[str, Any]]]] = [("risk", config.risk)] + [
        (f"exchanges.{name}.risk", exchange.risk)
        for name, exchange in config.exchanges.items()
        if exchange.enabled
    ]
    for prefix, section in sections:
        for name, params in section.items():
            if name not in registry.risk_rules:
                expected = f"a registered risk rule: {', '.join(known) or 'none registered'}"
                problems.append(ConfigProblem(f"{prefix}.{name}", params, expected))
                continue
            try:
                registry.risk_rules[name].factory(params)
            except RiskConfigError as exc:
                problems.append(ConfigProblem(f"{prefix}.{name}.{exc.key}", exc.value, exc.expected))
            except (TypeError, ValueError) as exc:
                problems.append(ConfigProblem(f"{prefix}.{name}", params, str(exc)))
    return problems


class RiskManager(Component):
    component = "risk_manager"

    def __init__(
        self,
        mailbox: Mailbox,
        *,
        exchange: str,
        rules: list[RiskRule],
        portfolio: Mailbox,
        request_timeout: float,
    ) -> None:
        super().__init__(mailbox, exchange=exchange)
        self.rules = rules
        self.portfolio = portfolio
        self.request_timeout = request_timeout
        self.denied = 0

    async def handle(self, msg: Any) -> Any:
        if isinstance(msg, ValidateOrderMsg):
            return await self._validate(msg)
        if isinstance(msg, GetStatusMsg):
            return {"rules": [rule.name for rule in self.rules], "denied": self.denied}
        return await super().handle(msg)

    async def _validate(self, msg: ValidateOrderMsg) -> OrderValidationResult:
        position: Position = await self.portfolio.request(
            GetPositionMsg(msg.order.exchange, msg.order.symbol), self.request_timeout
        )
        check = OrderCheck(msg.order, msg.reference_price, position.quantity)
        for rule in self.rules:
            reason = rule.check(check)
            if reason is not None:
                self.denied += 1
                log_event(
                    "risk.order_denied",
                    level="warning",
                    rule=rule.name,
                    reason=reason,
                    client_order_id=msg.order.client_order_id,
                )
                return OrderValidationResult(False, rule.name, reason)
        return OrderValidationResult(True)
