"""The Starlark versions in fast.star return what the numpy versions return, bit for bit.

They run in the real engine (as a strategy calls them); the Python version is reached only as a fallback,
which is counted: float lists take the fast path, anything else goes to Python (and its error messages).
"""

from __future__ import annotations

import math
import random
import re
import textwrap
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from marketmaestro.plugins.manager import load_plugins
from marketmaestro.strategy.engine import StrategyEngine
from marketmaestro.strategy.sandbox import StrategyRuntimeError
from marketmaestro_indicators import FAST

CALLERS = """
def settings():
    return {"interval": "1m"}

def on_kline(kline):
    return None

def one(name, a, b):
    if name == "sma":
        return sma(a, b)
    if name == "ema":
        return ema(a, b)
    if name == "highest":
        return highest(a, b)
    if name == "lowest":
        return lowest(a, b)
    if name == "crossover":
        return crossover(a, b)
    if name == "crossunder":
        return crossunder(a, b)
    fail("unknown " + name)

def default_period(name, a):
    return highest(a) if name == "highest" else lowest(a)
"""


class Probe:
    """A loaded engine whose Python indicators count their calls."""

    def __init__(self, folder: Path) -> None:
        registry = load_plugins(environ={"MM_LOAD_PLUGINS": "indicators"}).registry
        self.python = {name: entry.function for name, entry in registry.functions.items()}
        self.calls: Counter[str] = Counter()
        functions = {name: self._counted(name, f) for name, f in self.python.items()}
        path = folder / "callers.star"
        path.write_text(textwrap.dedent(CALLERS))
        self.engine = StrategyEngine(path, functions, starlark=registry.starlark_functions())
        self.engine.load()

    def _counted(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any) -> Any:
            self.calls[name] += 1
            return function(*args)

        return counted

    def fast(self, name: str, a: Any, b: Any) -> Any:
        return self.engine.call("one", name, a, b)


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Probe:
    return Probe(tmp_path_factory.mktemp("fast"))


def same(got: list[Any], expected: list[Any]) -> bool:
    """Equal element by element, NaN matching NaN (and nothing else)."""
    if len(got) != len(expected):
        return False
    for g, e in zip(got, expected, strict=True):
        if isinstance(e, float) and math.isnan(e):
            if not (isinstance(g, float) and math.isnan(g)):
                return False
        elif g != e or type(g) is not type(e):
            return False
    return True


def _walk(rng: random.Random, n: int, *, nan: bool = False, flat: bool = False) -> list[float]:
    price, values = 30_000.0, []
    for _ in range(n):
        price = price if flat and rng.random() < 0.5 else price * math.exp(rng.gauss(0, 0.01))
        values.append(price)
    if nan and n:
        for _ in range(max(1, n // 10)):
            values[rng.randrange(n)] = math.nan
    return values


SERIES_CASES = [
    (n, period, kind)
    for n in (0, 1, 5, 21, 60)
    for period in (1, 2, 10, 20)
    for kind in ("walk", "nan", "flat")
]


@pytest.mark.parametrize("name", ["sma", "ema", "highest", "lowest"])
@pytest.mark.parametrize(("n", "period", "kind"), SERIES_CASES)
def test_series_indicators_match_numpy_bit_for_bit_without_calling_python(
    probe: Probe, name: str, n: int, period: int, kind: str
) -> None:
    rng = random.Random(f"{name}-{n}-{period}-{kind}")
    values = _walk(rng, n, nan=kind == "nan", flat=kind == "flat")
    before = probe.calls[name]
    got = probe.fast(name, values, period)
    assert same(got, probe.python[name](values, period)), (name, values, period)
    # sma's running totals take finite values only (they would carry a NaN on); a series shorter than the
    # period is all NaN without them.
    python_decides = name == "sma" and n >= period and any(math.isnan(v) for v in values)
    assert probe.calls[name] == before + python_decides, f"{name}: unexpected route for {values}"


@pytest.mark.parametrize("name", ["crossover", "crossunder"])
@pytest.mark.parametrize("seed", range(12))
def test_crossings_match_numpy_including_nan_and_levels(probe: Probe, name: str, seed: int) -> None:
    rng = random.Random(seed)
    n = rng.choice([0, 1, 2, 30])
    a = [rng.choice([1.0, 2.0, 3.0, math.nan]) for _ in range(n)]
    b = [rng.choice([1.0, 2.0, 3.0, math.nan]) for _ in range(n)]
    before = probe.calls[name]
    for first, second in ((a, b), (a, 2), (2.0, b), (a, -0.5)):
        assert same(probe.fast(name, first, second), probe.python[name](first, second)), (first, second)
    assert probe.calls[name] == before, f"{name} fell back to Python for floats and finite levels"


def test_infinities_follow_numpy(probe: Probe) -> None:
    values = [1.0, math.inf, 2.0, -math.inf, 3.0, 4.0, 5.0]
    for name in ("sma", "ema", "highest", "lowest"):
        assert same(probe.fast(name, values, 2), probe.python[name](values, 2)), name


@pytest.mark.parametrize(
    ("name", "a", "b"),
    [
        ("sma", [1.0, 2.0, 3.0], 2.0),  # a float period
        ("sma", [1.0, math.nan, 3.0, 4.0], 2),  # a NaN: numpy sums each window on its own
        ("ema", (1.0, 2.0, 3.0), 2.0),  # a float period
        ("highest", [1.0, True, 3.0], 2),  # a bool is not a number
        ("lowest", [1.0, 2.0], 0),  # period below 1
        ("crossover", [1.0, 2.0], math.nan),  # a level must be finite
        ("crossunder", [1.0, 2.0], [1.0]),  # lengths differ
        ("sma", [1.0] * 4001, 20),  # longer than the running totals are used for
        ("highest", [1.0] * 300, 20),  # long enough for numpy to be faster
    ],
)
def test_anything_else_goes_to_python_with_its_result_or_its_error(
    probe: Probe, name: str, a: Any, b: Any
) -> None:
    before = probe.calls[name]
    try:
        expected: Any = probe.python[name](a, b)
    except (TypeError, ValueError) as exc:
        with pytest.raises(StrategyRuntimeError, match=re.escape(str(exc))):
            probe.fast(name, a, b)
    else:
        assert same(probe.fast(name, a, b), expected)
    assert probe.calls[name] == before + 1


@pytest.mark.parametrize(
    "values",
    [
        [1, 2, 3, 4, 5],
        [30_000, 30_001.5, -7, 2**53 + 1, 3.25],  # an int beyond 2**53 rounds as numpy's conversion does
        [-0.0, 1.0, 2.0],  # the first total keeps the sign of zero
        [1.0] * 30 + [2] * 40,  # longer than the written-out totals
    ],
)
def test_sma_adds_ints_as_numpy_converts_them(probe: Probe, values: list[float]) -> None:
    before = probe.calls["sma"]
    for period in (1, 2, 3):
        got = probe.fast("sma", values, period)
        assert same(got, probe.python["sma"](values, period)), (values, period)
        assert repr(got) == repr(probe.python["sma"](values, period))  # -0.0 is not 0.0 here
    assert probe.calls["sma"] == before


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["a", 1.0, 2.0], "string"),
        ([1.0, None, 2.0], "NoneType"),
        ([1.0, 2.0, True], "bool"),
        ([1.0, [2.0]], "list"),
    ],
)
def test_sma_on_a_value_that_is_not_a_number_names_the_call_and_the_type(
    probe: Probe, values: list[Any], kind: str
) -> None:
    with pytest.raises(StrategyRuntimeError) as error:
        probe.fast("sma", values, 2)
    message = str(error.value)
    assert re.search(
        rf"sma\(\) called at \S*callers\.star:\d+:\d+: unknown binary op: float \+ {kind}$", message
    )
    # The stack ends at the strategy's own line: the indicator's Starlark is the engine's code.
    assert error.value.backtrace is not None
    assert "<marketmaestro>" not in error.value.backtrace
    assert error.value.backtrace.splitlines()[-2].strip().endswith("in one")


def test_default_periods_match(probe: Probe) -> None:
    values = _walk(random.Random(3), 45)
    for name in ("highest", "lowest"):
        assert same(probe.engine.call("default_period", name, values), probe.python[name](values))


def test_every_fast_indicator_is_covered() -> None:
    assert {"sma", "ema", "highest", "lowest", "crossover", "crossunder"} == FAST
    registry = load_plugins(environ={"MM_LOAD_PLUGINS": "indicators"}).registry
    assert set(registry.starlark_functions()) == FAST
