"""Volume: flows of money and volume, and where volume traded."""

from __future__ import annotations

from marketmaestro_indicators.indicator import Indicator

INDICATORS: tuple[Indicator, ...] = ()
"""This family's indicators, in the order they are registered."""
