"""Gaps: intervals without a kline between the first and the last one stored.

Some exchanges (Bitvavo) publish no kline for an interval without trades, so a gap is not necessarily a
fault; it is reported, never filled in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Gap", "find_gaps"]


@dataclass(frozen=True)
class Gap:
    """Missing klines: open times ``first`` to ``last`` (ms, inclusive), ``missing`` of them."""

    first: int
    last: int
    missing: int


def find_gaps(timestamps: npt.NDArray[np.int64], interval_ms: int) -> list[Gap]:
    """The gaps of sorted, unique open times on the ``interval_ms`` grid."""
    if len(timestamps) < 2:
        return []
    steps = np.diff(timestamps)
    holes = np.flatnonzero(steps > interval_ms)
    return [
        Gap(
            int(timestamps[i]) + interval_ms,
            int(timestamps[i + 1]) - interval_ms,
            int(steps[i]) // interval_ms - 1,
        )
        for i in holes
    ]
