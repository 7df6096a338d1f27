"""The table of indicators this plugin registers: the tables of every family module, in order.

Adding an indicator means writing its function in the module of its family and adding a row to that
module's ``INDICATORS``; ``register_indicators`` in ``__init__`` walks the combined table, so the
registration code never grows.
"""

from __future__ import annotations

from marketmaestro_indicators import levels, momentum, moving_averages, statistics, trend, volatility, volume
from marketmaestro_indicators.indicator import Indicator, IndicatorFunction

FAMILIES = (moving_averages, statistics, levels, momentum, volatility, trend, volume)
"""The family modules, each with an ``INDICATORS`` table."""

INDICATORS: tuple[Indicator, ...] = tuple(row for family in FAMILIES for row in family.INDICATORS)
"""Every indicator the plugin provides, in the order they are registered."""

__all__ = ["FAMILIES", "INDICATORS", "Indicator", "IndicatorFunction"]
