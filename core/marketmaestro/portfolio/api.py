"""The portfolio and risk API (token-protected like every ``/api/`` route); docs/portfolio.md and
docs/risk.md show each answer.

- ``GET /api/v1/portfolio``: per running exchange, balances valued, positions marked, P&L per strategy;
- ``GET /api/v1/pnl``: P&L only, per exchange, for the account and each strategy (``?strategy=`` for one);
- ``GET /api/v1/equity?exchange=<key>``: stored equity snapshots, oldest first (``strategy``, ``since``,
  ``limit``);
- ``GET /api/v1/risk``: risk metrics and any halt per running exchange;
- ``POST /api/v1/risk/<exchange>/reset``: lift the halt of a breached hard limit.

``?exchange=<key>`` narrows the first three to one exchange.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request

from marketmaestro.api.app import bot_context, json_response
from marketmaestro.messages import GetPortfolioMsg, GetRiskMetricsMsg, GetStatusMsg, ResetRiskHaltMsg
from marketmaestro.portfolio.valuation import PnlSummary, PortfolioReport
from marketmaestro.settings.api import ask, component_mailbox
from marketmaestro.supervision import Mailbox

portfolio_api = Blueprint("portfolio_api", __name__, url_prefix="/api/v1")


def summary_json(summary: PnlSummary) -> dict[str, Any]:
    """A P&L summary with its net P&L (a property, which ``asdict`` leaves out)."""
    return {
        "strategy": summary.strategy,
        "realized_pnl": summary.realized_pnl,
        "unrealized_pnl": summary.unrealized_pnl,
        "fees": summary.fees,
        "net_pnl": summary.net_pnl,
        "exposure": summary.exposure,
        "positions": summary.positions,
    }


def report_json(report: PortfolioReport) -> dict[str, Any]:
    return {
        "exchange": report.exchange,
        "timestamp": report.timestamp,
        "valuation_currency": report.valuation_currency,
        "equity": report.equity,
        "unpriced": report.unpriced,
        "assets": report.assets,
        "account": summary_json(report.account),
        "strategies": {s.strategy: summary_json(s) for s in report.strategies},
    }


async def _per_exchange(component: str, msg: type[Any]) -> dict[str, Any] | Response:
    """``msg(exchange)``'s answer from ``component`` of each running exchange (or of ``?exchange=``)."""
    wanted = request.args.get("exchange")
    names = [wanted] if wanted is not None else sorted(bot_context().mailboxes)
    answers: dict[str, Any] = {}
    for name in names:
        mailbox = component_mailbox(name, component)
        answer = await ask(mailbox, msg(name)) if isinstance(mailbox, Mailbox) else mailbox
        if isinstance(answer, Response):
            return answer
        answers[name] = answer
    return answers


@portfolio_api.get("/portfolio")
async def portfolio() -> Response:
    """Balances valued at the latest marks, positions with unrealised P&L, and P&L per strategy."""
    reports = await _per_exchange("portfolio", GetPortfolioMsg)
    if isinstance(reports, Response):
        return reports
    return json_response({name: report_json(report) for name, report in reports.items()})


@portfolio_api.get("/pnl")
async def pnl() -> Response:
    """Realised, unrealised, fees and net P&L of the account and each strategy."""
    reports = await _per_exchange("portfolio", GetPortfolioMsg)
    if isinstance(reports, Response):
        return reports
    wanted = request.args.get("strategy")
    answer: dict[str, Any] = {}
    for name, report in reports.items():
        strategies = {s.strategy: _without_positions(s) for s in report.strategies}
        if wanted is not None:
            strategies = {wanted: _without_positions(report.strategy(wanted))}
        answer[name] = {
            "valuation_currency": report.valuation_currency,
            "account": _without_positions(report.account),
            "strategies": strategies,
        }
    return json_response(answer)


def _without_positions(summary: PnlSummary) -> dict[str, Any]:
    found = summary_json(summary)
    del found["positions"]
    return found


@portfolio_api.get("/equity")
async def equity() -> Response:
    """Stored equity snapshots of an exchange's account (or one strategy), oldest first."""
    args = request.args
    exchange = args.get("exchange")
    if not exchange:
        return json_response({"error": "exchange: missing; expected ?exchange=<key>"}, 400)
    numbers: dict[str, int | None] = {}
    for key, default in (("since", None), ("limit", 1000)):
        raw = args.get(key)
        if raw is not None and not (raw.isdigit() and (key == "since" or 1 <= int(raw) <= 100_000)):
            return json_response({"error": f"{key}: got {raw!r}; expected a whole number"}, 400)
        numbers[key] = int(raw) if raw is not None else default
    snapshots = await bot_context().store.list_equity_snapshots(
        exchange, strategy=args.get("strategy", ""), since=numbers["since"], limit=numbers["limit"] or 1000
    )
    return json_response(snapshots)


@portfolio_api.get("/risk")
async def risk() -> Response:
    """The risk metrics of each running exchange, the rules in force and any halt."""
    metrics = await _per_exchange("risk_manager", GetRiskMetricsMsg)
    if isinstance(metrics, Response):
        return metrics
    answer: dict[str, Any] = {}
    for name, value in metrics.items():
        status = await ask(bot_context().mailboxes[name]["risk_manager"], GetStatusMsg())
        if isinstance(status, Response):
            return status
        answer[name] = {"metrics": value, **status, "halted": status.get("halted")}
    return json_response(answer)


@portfolio_api.post("/risk/<exchange>/reset")
async def reset_risk(exchange: str) -> Response:
    """Lift the halt of a breached hard limit on ``exchange`` (recorded as a ``risk.halt_reset`` event)."""
    mailbox = component_mailbox(exchange, "risk_manager")
    if isinstance(mailbox, Response):
        return mailbox
    lifted = await ask(mailbox, ResetRiskHaltMsg(exchange, by="api"))
    if isinstance(lifted, Response):
        return lifted
    return json_response({"exchange": exchange, "reset": lifted})
