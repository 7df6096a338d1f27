"""Volatility: bands, channels, true range and the stops built on them."""

from __future__ import annotations

from marketmaestro_indicators.indicator import Indicator

INDICATORS: tuple[Indicator, ...] = ()
"""This family's indicators, in the order they are registered."""
