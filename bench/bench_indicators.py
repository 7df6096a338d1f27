"""Cost of one call of every indicator on a 1,000-bar series (the target: well under a millisecond).

Each indicator is called from Python with its defaults, its series arguments taken from one synthetic OHLCV
set by name (values/close, open, high, low, volume, a/b); ``sma`` and ``ema`` are also timed through a
Starlark expression, the way a strategy calls them, to show what crossing the binding costs.
"""

from __future__ import annotations

import inspect
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import starlark_go

from marketmaestro_indicators import INDICATORS, ema, sma

BARS = 1_000
RUNS = 50


def ohlcv(n: int, seed: int = 7) -> dict[str, list[float]]:
    rng = random.Random(seed)
    close, price = [], 30_000.0
    for _ in range(n):
        price *= 1 + rng.gauss(0, 0.001)
        close.append(price)
    open_ = [close[0], *close[:-1]]
    high = [max(o, c) * (1 + abs(rng.gauss(0, 0.0005))) for o, c in zip(open_, close, strict=True)]
    low = [min(o, c) * (1 - abs(rng.gauss(0, 0.0005))) for o, c in zip(open_, close, strict=True)]
    volume = [rng.uniform(1, 10) for _ in range(n)]
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume}


def arguments(function: Callable[..., Any], data: dict[str, list[float]]) -> list[Any]:
    series: dict[str, Any] = {
        "values": data["close"],
        "a": data["close"],
        "b": data["high"],
        "period": 20,
        **data,
    }
    args = []
    for parameter in inspect.signature(function).parameters.values():
        if parameter.default is not inspect.Parameter.empty:
            break
        args.append(series[parameter.name])
    if function.__name__ == "fibonacci":
        args = [max(data["high"]), min(data["low"])]
    return args


def median_us(fn: Callable[[], object]) -> float:
    fn()
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def main() -> None:
    data = ohlcv(BARS)
    timings = []
    for row in INDICATORS:
        args = arguments(row.function, data)
        timings.append((median_us(lambda f=row.function, a=args: f(*a)), row.name))
    timings.sort(reverse=True)
    print(f"{len(timings)} indicators, {BARS} bars, median of {RUNS} calls from Python (µs):")
    for us, name in timings:
        print(f"  {name:<28} {us:8.1f}")
    slowest, name = timings[0]
    print(f"slowest: {name} {slowest:.1f} µs ({'under' if slowest < 1000 else 'OVER'} 1 ms)")

    # Held for the Starlark object's life: the binding keeps no reference of its own.
    builtins = {"sma": sma, "ema": ema}
    star = starlark_go.Starlark(globals=builtins)
    star.set(values=data["close"])
    for name in builtins:
        us = median_us(lambda name=name: star.eval(f"{name}(values, 20)[-1]"))
        print(f"from Starlark: {name}(values, 20) on {BARS} bars {us:8.1f} µs (conversion included)")


if __name__ == "__main__":
    main()
