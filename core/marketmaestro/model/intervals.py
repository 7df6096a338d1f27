"""Kline intervals: the names MarketMaestro accepts and their length."""

from __future__ import annotations

INTERVAL_SECONDS: dict[str, int] = {
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "12h": 43200,
    "1d": 86400,
    "1w": 604800,
}
"""Every interval a strategy may ask for, with its length in seconds."""


def interval_seconds(interval: str) -> int:
    """Length of ``interval`` in seconds; ``ValueError`` naming the valid ones otherwise."""
    try:
        return INTERVAL_SECONDS[interval]
    except KeyError:
        valid = ", ".join(INTERVAL_SECONDS)
        raise ValueError(f"unknown interval {interval!r}; expected one of {valid}") from None
