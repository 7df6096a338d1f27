"""The metric arithmetic: historical VaR95 (nearest rank), drawdown, the UTC day."""

from __future__ import annotations

from decimal import Decimal

from marketmaestro.risk import historical_var95
from marketmaestro.risk.metrics import MIN_RETURNS, DrawdownTracker, day_start, drawdown, next_day_start

D = Decimal
DAY = 86_400_000
NOON = 1_764_072_000_000  # 2025-11-25 12:00 UTC


def equities_from_returns(returns: list[str]) -> list[Decimal]:
    values = [D(1000)]
    for r in returns:
        values.append(values[-1] * (1 + D(r)))
    return values


def test_var95_is_the_nearest_rank_fifth_percentile_loss() -> None:
    # 40 returns: the 5th percentile is the 2nd worst (rank ceil(0.05 x 40) = 2).
    returns = ["0.01"] * 36 + ["-0.05", "-0.03", "-0.02", "0.002"]
    var = historical_var95(equities_from_returns(returns))
    assert var is not None and abs(var - D("0.03")) < D("1e-20")


def test_var95_needs_enough_returns_and_is_never_negative() -> None:
    assert historical_var95(equities_from_returns(["-0.01"] * (MIN_RETURNS - 1))) is None
    assert historical_var95(equities_from_returns(["0.01"] * MIN_RETURNS)) == 0  # only gains: no loss


def test_drawdown_and_the_tracker_over_two_days() -> None:
    assert drawdown(D(200), D(150)) == 25
    assert drawdown(D(200), D(250)) == 0
    tracker = DrawdownTracker()
    for time, equity in ((NOON, "100"), (NOON + 1, "120"), (NOON + 2, "90"), (NOON + 3, "110")):
        tracker.observe(time, D(equity))
    assert (tracker.peak, tracker.max_drawdown, tracker.day_start_equity) == (120, 25, 100)
    tracker.observe(NOON + DAY, D(105))  # a new UTC day starts from its first value
    assert (tracker.day_start_equity, tracker.peak, tracker.max_drawdown) == (105, 120, 25)


def test_the_utc_day_boundaries() -> None:
    midnight = NOON - DAY // 2
    assert day_start(NOON) == midnight == day_start(midnight)
    assert next_day_start(NOON) == midnight + DAY
    assert next_day_start(midnight + DAY - 1) == midnight + DAY
