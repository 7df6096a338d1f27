"""Trend direction and strength: ADX, SAR, Supertrend, Vortex, Ichimoku."""

from __future__ import annotations

from marketmaestro_indicators.indicator import Indicator

INDICATORS: tuple[Indicator, ...] = ()
"""This family's indicators, in the order they are registered."""
