"""Risk metrics of an account: historical VaR95, drawdown, exposure, concentration, leverage, daily P&L.

All amounts are in the portfolio's valuation currency; percentages are percent (``12.5`` is 12.5 %).

- **VaR95** (historical): the 5th percentile of the returns between consecutive equity snapshots, as a
  loss; ``var95`` is that fraction of the current equity. ``None`` until there are at least
  :data:`MIN_RETURNS` returns.
- **Drawdown**: how far equity is below its highest recorded value (``current_drawdown``), and the largest
  such fall over the recorded history (``max_drawdown``).
- **Exposure**: the absolute value of the account's open positions at the latest marks; **leverage** is
  exposure divided by equity.
- **Concentration**: the share of equity held in each asset other than the valuation currency.
- **Daily P&L**: equity now minus equity at the start of the UTC day (its first snapshot, or the first
  value seen that day).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from marketmaestro.portfolio.valuation import PortfolioReport

MIN_RETURNS = 20
"""Returns needed before VaR95 is reported: fewer say little about the tail."""

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class RiskMetrics:
    exchange: str
    timestamp: int
    equity: Decimal
    day_start_equity: Decimal
    daily_pnl: Decimal
    peak_equity: Decimal
    current_drawdown: Decimal
    max_drawdown: Decimal
    exposure: Decimal
    leverage: Decimal | None
    concentration: dict[str, Decimal] = field(default_factory=dict)
    var95: Decimal | None = None
    var95_percent: Decimal | None = None
    returns: int = 0
    """How many snapshot returns VaR95 was computed from."""


def day_start(timestamp_ms: int) -> int:
    """Epoch ms of the UTC midnight that begins the day of ``timestamp_ms``."""
    moment = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.timestamp() * 1000)


def next_day_start(timestamp_ms: int) -> int:
    """Epoch ms of the next UTC midnight after ``timestamp_ms``."""
    return day_start(timestamp_ms) + int(timedelta(days=1).total_seconds() * 1000)


def drawdown(peak: Decimal, equity: Decimal) -> Decimal:
    """How far ``equity`` is below ``peak``, in percent of ``peak`` (0 when at or above it)."""
    if peak <= 0 or equity >= peak:
        return Decimal(0)
    return (peak - equity) / peak * HUNDRED


def historical_var95(equities: Sequence[Decimal]) -> Decimal | None:
    """The 95 % historical VaR as a fraction (``0.02``: a 2 % loss), from consecutive equity values;
    ``None`` with fewer than :data:`MIN_RETURNS` returns. The percentile is the nearest-rank one."""
    returns = [(b - a) / a for a, b in itertools.pairwise(equities) if a > 0]
    if len(returns) < MIN_RETURNS:
        return None
    ordered = sorted(returns)
    rank = max(math.ceil(0.05 * len(ordered)), 1)
    worst = ordered[rank - 1]
    return max(-worst, Decimal(0))


class DrawdownTracker:
    """The peak, the largest drawdown and the day's starting equity, fed one equity value at a time."""

    def __init__(self) -> None:
        self.peak: Decimal | None = None
        self.max_drawdown = Decimal(0)
        self.day = -1
        self.day_start_equity: Decimal | None = None

    def observe(self, timestamp: int, equity: Decimal) -> None:
        today = day_start(timestamp)
        if today != self.day:
            self.day, self.day_start_equity = today, equity
        if self.peak is None or equity > self.peak:
            self.peak = equity
        self.max_drawdown = max(self.max_drawdown, drawdown(self.peak, equity))


def compute(report: PortfolioReport, tracker: DrawdownTracker, equities: Sequence[Decimal]) -> RiskMetrics:
    """The metrics of ``report``'s account; ``tracker`` has seen its history and this report's equity."""
    equity = report.equity
    peak = tracker.peak if tracker.peak is not None else equity
    start = tracker.day_start_equity if tracker.day_start_equity is not None else equity
    exposure = report.account.exposure
    concentration = {
        entry.asset: entry.value / equity * HUNDRED
        for entry in report.assets
        if entry.asset != report.valuation_currency and entry.value and equity > 0
    }
    var = historical_var95([*equities, equity])
    return RiskMetrics(
        exchange=report.exchange,
        timestamp=report.timestamp,
        equity=equity,
        day_start_equity=start,
        daily_pnl=equity - start,
        peak_equity=peak,
        current_drawdown=drawdown(peak, equity),
        max_drawdown=tracker.max_drawdown,
        exposure=exposure,
        leverage=exposure / equity if equity > 0 else None,
        concentration=concentration,
        var95=None if var is None else var * equity,
        var95_percent=None if var is None else var * HUNDRED,
        returns=max(len(equities), 0),
    )
