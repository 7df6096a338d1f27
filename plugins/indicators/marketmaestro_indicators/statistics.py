"""Statistics of a series: deviation, regression, correlation, extremes and crossings."""

from __future__ import annotations

from marketmaestro_indicators.indicator import Indicator

INDICATORS: tuple[Indicator, ...] = ()
"""This family's indicators, in the order they are registered."""
