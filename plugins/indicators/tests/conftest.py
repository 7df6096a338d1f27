"""Price data every indicator test uses: random walks, and real-shaped series with gaps and flat stretches.

Each fixture returns a dict of plain Python lists (what Starlark passes): open, high, low, close, volume,
each ``LENGTH`` long, with high >= max(open, close) and low <= min(open, close) on every bar.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

LENGTH = 600


def _ohlcv(
    close: np.ndarray, rng: np.random.Generator, volume: np.ndarray | None = None
) -> dict[str, list[float]]:
    open_ = np.r_[close[0], close[:-1]]
    wiggle = np.abs(rng.normal(0, 0.002, close.size))
    high = np.maximum(open_, close) * (1 + wiggle)
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.002, close.size)))
    if volume is None:
        volume = rng.uniform(1, 100, close.size)
    return {
        "open": open_.tolist(),
        "high": high.tolist(),
        "low": low.tolist(),
        "close": close.tolist(),
        "volume": volume.tolist(),
    }


def random_walk(seed: int, length: int = LENGTH) -> dict[str, list[float]]:
    """A geometric random walk around 30,000 (the shape of ../shared/bench/gen_klines.py)."""
    rng = np.random.default_rng(seed)
    close = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.01, length)))
    return _ohlcv(close, rng)


def real_shaped(seed: int, length: int = LENGTH) -> dict[str, list[float]]:
    """A walk with what real markets have and random walks lack: opening gaps of several percent, flat
    stretches where nothing trades (open = high = low = close, volume 0), and a steady trend."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0005, 0.01, length)
    for start in rng.choice(length - 20, 5, replace=False):
        steps[start] += rng.choice([-0.06, 0.06])  # a gap
    close = 100 * np.exp(np.cumsum(steps))
    data = _ohlcv(close, rng)
    for start in (100, 350):  # flat, empty stretches of 25 bars
        level = data["close"][start - 1]
        for i in range(start, start + 25):
            data["open"][i] = data["high"][i] = data["low"][i] = data["close"][i] = level
            data["volume"][i] = 0.0
    return data


@pytest.fixture(
    params=[("random walk", 1), ("random walk", 2), ("real-shaped", 3), ("real-shaped", 4)],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def ohlcv(request: pytest.FixtureRequest) -> dict[str, list[float]]:
    """Each data set in turn: two random walks and two real-shaped series."""
    kind, seed = request.param
    return random_walk(seed) if kind == "random walk" else real_shaped(seed)


def as_arrays(data: dict[str, list[float]]) -> dict[str, Any]:
    """The same data as numpy float64 arrays, for TA-Lib."""
    return {key: np.asarray(values, dtype=np.float64) for key, values in data.items()}


@pytest.fixture
def arrays() -> Any:
    """``as_arrays`` as a fixture (test modules cannot import conftest under importlib mode)."""
    return as_arrays
