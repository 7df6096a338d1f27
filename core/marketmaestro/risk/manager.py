"""The risk manager: every order passes each configured rule before it may be sent.

Rule parameters come in layers, the narrower winning key by key::

    risk  <  exchanges.<key>.risk  <  exchanges.<key>.pairs[].risk  <  ...pairs[].strategies[].risk

so each (symbol, strategy) of an exchange has its own set of rules (built once, then cached). The hard
limits (``max_daily_loss``, ``max_drawdown``) are also checked for the account with the exchange-level
parameters, after each equity snapshot and before each order: a breach records a *halt* (stored, so a
restart keeps it) that denies every risk-increasing order until the next UTC midnight or an operator's
reset (``ResetRiskHaltMsg``, ``POST /api/v1/risk/<exchange>/reset``); orders that reduce a position pass.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from marketmaestro.config import Config, ConfigProblem
from marketmaestro.config.schema import ExchangeConfig
from marketmaestro.logs import log_event
from marketmaestro.messages import (
    CheckRiskLimitsMsg,
    GetPortfolioMsg,
    GetPositionMsg,
    GetRiskMetricsMsg,
    GetStatusMsg,
    HaltTradingMsg,
    OrderValidationResult,
    ResetRiskHaltMsg,
    ValidateOrderMsg,
)
from marketmaestro.model import Instrument, Position, now_ms
from marketmaestro.plugins.registry import Registry
from marketmaestro.portfolio.valuation import PortfolioReport
from marketmaestro.risk.limits import HARD_LIMITS
from marketmaestro.risk.metrics import DrawdownTracker, RiskMetrics, compute, next_day_start
from marketmaestro.risk.rules import OrderCheck, RiskConfigError, RiskRule
from marketmaestro.storage import AsyncStore, RiskHalt
from marketmaestro.supervision import Component, Mailbox

Sections = Mapping[str, Mapping[str, Any]]
HISTORY_LIMIT = 100_000
"""Account snapshots read at start to find the equity peak and the day's start."""
VAR_WINDOW = 1000
"""Account snapshots (the latest) whose returns give the historical VaR95."""
MINUTE_MS = 60_000
RESET_EVENT = "risk.halt_reset"
RECONCILE_RULE = "reconcile"
"""The rule of a halt that reconciliation set: it denies every order, never expires, and its reset is an
acknowledgement (``reconcile.acknowledged``) that leaves the drawdown history alone."""
UNTIL_RESET = 2**62
"""``RiskHalt.until`` of a halt that lasts until an operator resets it."""


def merge_sections(*sections: Sections) -> dict[str, dict[str, Any]]:
    """The sections merged rule by rule, later sections overriding earlier ones key by key."""
    merged: dict[str, dict[str, Any]] = {}
    for section in sections:
        for name, params in section.items():
            merged.setdefault(name, {}).update(params)
    return merged


def build_rules(registry: Registry, *sections: Sections) -> list[RiskRule]:
    """Build every registered rule from its configuration, merged over ``sections`` (broadest first).

    Raises ``ValueError`` naming any rule in the configuration that no plugin registered.
    """
    merged = merge_sections(*sections)
    unknown = sorted(set(merged) - set(registry.risk_rules))
    if unknown:
        known = ", ".join(sorted(registry.risk_rules)) or "none"
        raise ValueError(
            f"unknown risk rule(s) {', '.join(unknown)} in the configuration; registered: {known}"
        )
    rules: list[RiskRule] = []
    for name, entry in sorted(registry.risk_rules.items()):
        if name not in merged:
            continue
        rule = entry.factory(merged[name])
        if rule is not None:
            rules.append(rule)
    return rules


class RuleBook:
    """The rules of each (symbol, strategy) of one exchange, built from the layered configuration."""

    def __init__(
        self,
        registry: Registry | None,
        global_sections: Sections,
        exchange: ExchangeConfig | None = None,
        *,
        fixed: Sequence[RiskRule] | None = None,
    ) -> None:
        self.registry = registry
        self.global_sections = global_sections
        self.exchange = exchange
        self.fixed = list(fixed) if fixed is not None else None
        self._cache: dict[tuple[str, str], list[RiskRule]] = {}

    @classmethod
    def of(cls, rules: Sequence[RiskRule]) -> RuleBook:
        """The same ``rules`` for every order."""
        return cls(None, {}, fixed=rules)

    def sections(self, symbol: str = "", strategy: str = "") -> list[Sections]:
        layers: list[Sections] = [self.global_sections]
        if self.exchange is None:
            return layers
        layers.append(self.exchange.risk)
        for pair in self.exchange.pairs:
            if pair.symbol != symbol:
                continue
            layers.append(pair.risk)
            layers += [spec.risk for spec in pair.strategies if spec.name == strategy]
        return layers

    def rules_for(self, symbol: str = "", strategy: str = "") -> list[RiskRule]:
        """The rules that apply to ``strategy``'s orders on ``symbol`` (both empty: the exchange level)."""
        if self.fixed is not None:
            return self.fixed
        key = (symbol, strategy)
        if key not in self._cache:
            assert self.registry is not None
            self._cache[key] = build_rules(self.registry, *self.sections(symbol, strategy))
        return self._cache[key]

    @property
    def names(self) -> list[str]:
        found = {rule.name for rule in self.rules_for()}
        if self.exchange is not None:
            for pair in self.exchange.pairs:
                found.update(rule.name for rule in self.rules_for(pair.symbol))
                for spec in pair.strategies:
                    found.update(rule.name for rule in self.rules_for(pair.symbol, spec.name))
        return sorted(found)


def check_risk_config(registry: Registry, config: Config) -> list[ConfigProblem]:
    """Every problem with the risk sections of the configuration, as configuration problems, so they are
    reported at start-up with the rest instead of failing an exchange later."""
    known = sorted(registry.risk_rules)
    problems: list[ConfigProblem] = []
    # Each section is checked on its own, so a problem is reported once, under the key where it is written.
    sections: list[tuple[str, Sections]] = [("risk", config.risk)]
    for name, exchange in config.exchanges.items():
        if not exchange.enabled:
            continue
        sections.append((f"exchanges.{name}.risk", exchange.risk))
        for index, pair in enumerate(exchange.pairs):
            sections.append((f"exchanges.{name}.pairs[{index}].risk", pair.risk))
            sections += [
                (f"exchanges.{name}.pairs[{index}].strategies[{number}].risk", spec.risk)
                for number, spec in enumerate(pair.strategies)
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
        rules: Sequence[RiskRule] | RuleBook,
        portfolio: Mailbox,
        request_timeout: float,
        store: AsyncStore | None = None,
        instruments: Mapping[str, Instrument] | None = None,
    ) -> None:
        super().__init__(mailbox, exchange=exchange)
        self.book = rules if isinstance(rules, RuleBook) else RuleBook.of(rules)
        self.portfolio = portfolio
        self.request_timeout = request_timeout
        self.store = store
        self.instruments = dict(instruments or {})
        self.denied = 0
        self.halt: RiskHalt | None = None
        self.tracker = DrawdownTracker()
        self.approved: deque[int] = deque()

    @property
    def rules(self) -> list[RiskRule]:
        """The exchange-level rules (what applies to an order with no narrower section)."""
        return self.book.rules_for()

    async def on_start(self) -> None:
        assert self.exchange is not None
        self.tracker = DrawdownTracker()
        if self.store is None:
            return
        # An operator's reset starts the peak and the day again: history before the last one is left out.
        resets = [e for e in await self.store.list_events(kind=RESET_EVENT) if e.exchange == self.exchange]
        since = resets[0].timestamp if resets else None
        snapshots = await self.store.list_equity_snapshots(self.exchange, since=since, limit=HISTORY_LIMIT)
        for snapshot in snapshots:
            self.tracker.observe(snapshot.timestamp, snapshot.equity)
        self.halt = await self.store.get_risk_halt(self.exchange)
        await self._expire_halt()

    async def handle(self, msg: Any) -> Any:
        match msg:
            case ValidateOrderMsg():
                return await self._validate(msg)
            case GetRiskMetricsMsg():
                return await self._metrics(await self._report())
            case CheckRiskLimitsMsg():
                await self._expire_halt()
                report = await self._report()
                await self._check_hard_limits(compute(report, self.tracker, ()))
                return self.halt
            case ResetRiskHaltMsg(by=by):
                return await self._reset(by)
            case HaltTradingMsg(rule=rule, reason=reason):
                await self._halt(rule, reason, now_ms(), until=UNTIL_RESET)
                return self.halt
            case GetStatusMsg():
                status: dict[str, Any] = {"rules": self.book.names, "denied": self.denied}
                if self.halt is not None:
                    status["halted"] = {"rule": self.halt.rule, "until": self.halt.until}
                return status
        return await super().handle(msg)

    async def _report(self) -> PortfolioReport:
        assert self.exchange is not None
        report: PortfolioReport = await self.portfolio.request(
            GetPortfolioMsg(self.exchange), self.request_timeout
        )
        if not report.unpriced:
            self.tracker.observe(report.timestamp, report.equity)
        return report

    async def _metrics(self, report: PortfolioReport) -> RiskMetrics:
        assert self.exchange is not None
        history = []
        if self.store is not None:
            snapshots = await self.store.list_equity_snapshots(self.exchange, limit=VAR_WINDOW)
            history = [s.equity for s in snapshots]
        return compute(report, self.tracker, history)

    async def _validate(self, msg: ValidateOrderMsg) -> OrderValidationResult:
        order = msg.order
        await self._expire_halt()
        report = await self._report()
        account: Position = await self.portfolio.request(
            GetPositionMsg(order.exchange, order.symbol), self.request_timeout
        )
        own: Position = await self.portfolio.request(
            GetPositionMsg(order.exchange, order.symbol, order.strategy), self.request_timeout
        )
        instrument = self.instruments.get(order.symbol)
        now = now_ms()
        while self.approved and self.approved[0] <= now - MINUTE_MS:
            self.approved.popleft()
        check = OrderCheck(
            order,
            msg.reference_price,
            account.quantity,
            strategy_position=own.quantity,
            portfolio=report,
            metrics=compute(report, self.tracker, ()),
            open_orders=await self._open_orders(),
            orders_last_minute=len(self.approved),
            base_asset=instrument.base if instrument is not None else "",
            quote_rate=_rate(report, instrument.quote) if instrument is not None else Decimal(1),
        )
        assert check.metrics is not None
        await self._check_hard_limits(check.metrics)
        if self.halt is not None and self.halt.rule == RECONCILE_RULE:
            # The positions themselves are in doubt: even a "reducing" order could open one.
            reason = f"trading halted: {self.halt.reason}; acknowledge it to trade again (docs/orders.md)"
            return self._deny(order.client_order_id, self.halt.rule, reason)
        if self.halt is not None and check.increases_exposure:
            reason = (
                f"trading halted: {self.halt.reason}; only orders that reduce a position pass until the next "
                "UTC day or an operator's reset"
            )
            return self._deny(order.client_order_id, self.halt.rule, reason)
        for rule in self.book.rules_for(order.symbol, order.strategy):
            denial = rule.check(check)
            if denial is not None:
                return self._deny(order.client_order_id, rule.name, denial)
        self.approved.append(now)
        return OrderValidationResult(True)

    def _deny(self, client_order_id: str, rule: str, reason: str) -> OrderValidationResult:
        self.denied += 1
        log_event(
            "risk.order_denied", level="warning", rule=rule, reason=reason, client_order_id=client_order_id
        )
        return OrderValidationResult(False, rule, reason)

    async def _open_orders(self) -> int:
        if self.store is None:
            return 0
        # Imported here: the order manager imports the risk package.
        from marketmaestro.orders.manager import OPEN_STATUSES

        count = 0
        for status in OPEN_STATUSES:
            count += len(await self.store.list_orders(exchange=self.exchange, status=status, limit=1000))
        return count

    async def _check_hard_limits(self, metrics: RiskMetrics) -> None:
        """Record a halt when a hard limit of the exchange level is breached (and none is in force)."""
        if self.halt is not None:
            return
        for rule in self.book.rules_for():
            breach = getattr(rule, "breach", None)
            if rule.name not in HARD_LIMITS or breach is None:
                continue
            reason = breach(metrics)
            if reason is not None:
                await self._halt(rule.name, reason, metrics.timestamp)
                return

    async def _halt(self, rule: str, reason: str, timestamp: int, until: int | None = None) -> None:
        assert self.exchange is not None
        until = next_day_start(timestamp) if until is None else until
        self.halt = RiskHalt(self.exchange, rule, reason, timestamp, until)
        log_event("risk.halted", level="error", rule=rule, reason=reason, until=self.halt.until)
        if self.store is not None:
            await self.store.set_risk_halt(self.halt)
            await self.store.add_event(
                "risk.halted",
                exchange=self.exchange,
                component=self.component,
                data={"rule": rule, "reason": reason, "until": self.halt.until},
            )

    async def _expire_halt(self) -> None:
        if self.halt is not None and now_ms() >= self.halt.until:
            await self._lift("risk.halt_expired", {"rule": self.halt.rule})

    async def _reset(self, by: str) -> bool:
        if self.halt is None:
            return False
        if self.halt.rule == RECONCILE_RULE:
            await self._lift("reconcile.acknowledged", {"rule": self.halt.rule, "by": by})
            return True
        await self._lift(RESET_EVENT, {"rule": self.halt.rule, "by": by})
        # The peak starts again from here: otherwise the same drawdown would halt again at once.
        self.tracker.peak = None
        self.tracker.day = -1
        return True

    async def _lift(self, kind: str, data: dict[str, Any]) -> None:
        assert self.exchange is not None
        self.halt = None
        log_event(kind, **data)
        if self.store is not None:
            await self.store.clear_risk_halt(self.exchange)
            await self.store.add_event(kind, exchange=self.exchange, component=self.component, data=data)


def _rate(report: PortfolioReport, currency: str) -> Decimal | None:
    """Value of one ``currency`` in the report's valuation currency, from the valued balances."""
    if currency == report.valuation_currency:
        return Decimal(1)
    for entry in report.assets:
        if entry.asset == currency and entry.value is not None and entry.total:
            return entry.value / entry.total
    return None
