"""Price levels and transformed candles: pivots, Fibonacci levels, channels, Heikin-Ashi."""

from __future__ import annotations

from marketmaestro_indicators.indicator import Indicator

INDICATORS: tuple[Indicator, ...] = ()
"""This family's indicators, in the order they are registered."""
