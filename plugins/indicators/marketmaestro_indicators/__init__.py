"""Technical indicators for MarketMaestro strategies, computed with numpy.

Installed, this package is found through its ``marketmaestro`` entry point and registers each
indicator of ``catalog.INDICATORS`` as a function that Starlark strategies can call::

    closes = history(50)["close"]
    fast = sma(closes, 10)[-1]

Every indicator takes lists of numbers and returns a list of floats as long as its input, NaN where
there is not enough data yet. See ``docs/indicators.md`` for the list and the formulas.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from importlib.resources import files
from typing import TYPE_CHECKING

from marketmaestro import hookimpl
from marketmaestro_indicators.catalog import INDICATORS, Indicator
from marketmaestro_indicators.moving_averages import ema, sma

if TYPE_CHECKING:
    from marketmaestro.plugins.registry import RegisterIndicator

DISTRIBUTION_NAME = "marketmaestro-indicators"

try:
    __version__ = version(DISTRIBUTION_NAME)
except PackageNotFoundError:  # pragma: no cover - imported from a source tree without install
    __version__ = "0.0.0+unknown"


UNROLLED_TOTALS = 64
"""Series up to this length get their running totals (for ``sma``) from straight-line Starlark code."""


def _unrolled_totals(longest: int) -> str:
    """Starlark functions ``_mm_totals_<n>(v)`` for n = 1 .. ``longest``, each returning the running totals
    of an n-element series without a loop, and ``_MM_TOTALS``, the list of them indexed by n.

    The same additions in the same order as ``_mm_totals`` in fast.star (and numpy's cumsum); written out,
    they cost about a quarter of the loop, which matters on the short windows strategies pass to ``sma``.
    """
    functions = []
    for n in range(1, longest + 1):
        steps = "".join(f"    t{i} = t{i - 1} + v[{i}]\n" for i in range(1, n))
        totals = ", ".join(f"t{i}" for i in range(n))
        functions.append(f"def _mm_totals_{n}(v):\n    t0 = -0.0 + v[0]\n{steps}    return [{totals}]\n")
    names = ", ".join(f"_mm_totals_{n}" for n in range(1, longest + 1))
    return "\n".join(functions) + f"\n_MM_TOTALS = [None, {names}]\n"


FAST_SOURCE = (
    files(__name__).joinpath("fast.star").read_text(encoding="utf-8")
    + "\n"
    + _unrolled_totals(UNROLLED_TOTALS)
)
"""Starlark versions of the most used indicators (see fast.star): same results, no conversion cost."""
FAST = frozenset({"sma", "ema", "highest", "lowest", "crossover", "crossunder"})


@hookimpl
def register_indicators(register: RegisterIndicator) -> None:
    """Register every indicator of ``INDICATORS`` with MarketMaestro."""
    for indicator in INDICATORS:
        register(
            indicator.name,
            indicator.function,
            aliases=indicator.aliases,
            description=f"{indicator.signature}: {indicator.description}",
            starlark=FAST_SOURCE if indicator.name in FAST else None,
        )


__all__ = [
    "DISTRIBUTION_NAME",
    "FAST",
    "FAST_SOURCE",
    "INDICATORS",
    "Indicator",
    "__version__",
    "ema",
    "register_indicators",
    "sma",
]
