"""docs/indicators.md, generated from the catalog so the page can never disagree with the code.

``python -m marketmaestro_indicators.docs > docs/indicators.md`` rewrites the page; a test fails when the
committed page differs from what this module renders.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterable

from marketmaestro_indicators.catalog import FAMILIES, INDICATORS
from marketmaestro_indicators.indicator import Indicator

GUIDE = """\
# Indicators

Technical indicators are functions that strategies call like any other Starlark builtin. Plugins provide
them through the `register_indicators` hook; the ones on this page come from the `marketmaestro-indicators`
plugin (`plugins/indicators/`), which `make install` installs. This page is generated from the plugin's
code (`python -m marketmaestro_indicators.docs > docs/indicators.md`).

## Calling an indicator from a strategy

Pass lists of numbers, usually columns of recent klines, and take the last element for the current bar:

```python
def on_kline(kline):
    bars = history(100)                          # the last 100 klines, as columns, oldest first
    fast = sma(bars["close"], 10)[-1]
    bands = bollinger_bands(bars["close"], 20, 2.0)
    if isnan(fast) or isnan(bands["upper"][-1]):  # not enough history yet
        return None
    if kline["close"] > bands["upper"][-1] and fast > bands["middle"][-1]:
        return {"action": "buy", "quantity": 0.01, "reason": "breakout"}
    return None
```

## Conventions

- **Same length.** A series in, a series out: a list of floats as long as the input, aligned bar for
  bar, so `result[-1]` is the latest bar. Indicators with several lines return a dict of such lists
  (`macd(...)["signal"]`). The few that are not series by nature (`fibonacci`, `volume_profile`) say so.
- **NaN warm-up.** Positions without enough data are NaN. An input shorter than the warm-up gives all
  NaN, not an error, so a strategy that has just started keeps running.
- **Numbers in, floats out.** Inputs are lists or tuples of ints and floats; anything else (a string,
  `None`, `True`, a nested list) is an error. Several inputs (highs, lows, closes) must have one length.
- **Clear errors.** A bad argument stops the call with a message naming the indicator, the argument,
  the value received and what was expected, e.g. `sma(): period must be an int >= 1, got 0`.
- **TA-Lib's definitions** where TA-Lib has the indicator (same seeding, smoothing and warm-up); the
  tests compare with TA-Lib on random walks and on real-shaped data with gaps and flat stretches.
  Where a definition differs, its section says how.

### NaN in Starlark

Starlark orders floats differently from Python: NaN is equal to itself and greater than every number,
so `x != x` does not detect it and `fast > slow` is `True` while `fast` is still NaN. Use the `isnan(x)`
builtin.

## Cost

Each call converts its lists from Starlark to Python and the result back, which costs more than most
computations: about 1 µs per element into Starlark. Pass only the history an indicator needs: a
`period`-bar average needs `period` values; recursive ones (EMA, RSI, ATR, ...) need several times
`period` for their seed to fade.

## Writing an indicator plugin

Any installed plugin can add indicators: implement `register_indicators` and call `register` for each
(see [writing a plugin](writing-a-plugin.md#register_indicators)). Follow the conventions above; names
must be unique across installed plugins.
"""


def _family_title(module_name: str) -> str:
    return module_name.rsplit(".", 1)[-1].replace("_", " ").capitalize()


def _section(row: Indicator) -> str:
    doc = inspect.cleandoc(row.function.__doc__ or "")
    lines = [f"### `{row.name}`", "", "```python", row.signature, "```", "", row.description, ""]
    facts = [f"Returns: {row.returns}.", f"Source: {row.source}."]
    if row.aliases:
        facts.insert(1, "Also called: " + ", ".join(f"`{alias}`" for alias in row.aliases) + ".")
    lines += [" ".join(facts), ""]
    if doc:
        lines += [doc, ""]
    return "\n".join(lines)


def _table(rows: Iterable[Indicator]) -> str:
    out = ["| indicator | returns | source |", "|---|---|---|"]
    out += [f"| [`{r.signature}`](#{r.name}) | {r.returns} | {r.source} |" for r in rows]
    return "\n".join(out)


def render() -> str:
    parts = [GUIDE, "## All indicators", "", _table(INDICATORS), ""]
    for family in FAMILIES:
        if not family.INDICATORS:
            continue
        parts += [f"## {_family_title(family.__name__)}", "", (inspect.cleandoc(family.__doc__ or "")), ""]
        parts += [_section(row) for row in family.INDICATORS]
    return "\n".join(parts).rstrip("\n") + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
