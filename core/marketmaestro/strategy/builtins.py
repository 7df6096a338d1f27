"""Pure functions strategies call as plain builtins: rounding, sums and the math Starlark lacks.

starlark-go has no ``math`` module, no ``round`` and no ``sum`` (../shared/docs/starlark-go-facts.md), so the
engine provides them. Each checks its arguments and names the function, the argument and the value in its
error, which the strategy author sees with the Starlark stack.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


def _number(function: str, value: Any, argument: str = "x") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{function}(): {argument} must be a number, got {type(value).__name__} {value!r}")
    return float(value)


def _round(x: Any, ndigits: Any = 0) -> float:
    if isinstance(ndigits, bool) or not isinstance(ndigits, int):
        raise ValueError(f"round(): ndigits must be an int, got {ndigits!r}")
    return round(_number("round", x), ndigits)


def _sum(values: Any) -> float:
    if not isinstance(values, list | tuple):
        raise ValueError(f"sum(): values must be a list of numbers, got {type(values).__name__}")
    return math.fsum(_number("sum", v, f"values[{i}]") for i, v in enumerate(values))


def _unary(
    name: str,
    function: Callable[[float], float],
    domain: Callable[[float], bool] | None = None,
    expected: str = "",
) -> Callable[[Any], float]:
    def builtin(x: Any) -> float:
        value = _number(name, x)
        if domain is not None and not domain(value):
            raise ValueError(f"{name}(): x must be {expected}, got {x!r}")
        return function(value)

    builtin.__name__ = name
    return builtin


def _pow(x: Any, y: Any) -> float:
    try:
        return math.pow(_number("pow", x), _number("pow", y, "y"))
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"pow(): {x!r} ** {y!r} is not a real number ({exc})") from None


def _isnan(x: Any) -> bool:
    return math.isnan(_number("isnan", x))


def _floor(x: Any) -> int:
    value = _number("floor", x)
    if not math.isfinite(value):
        raise ValueError(f"floor(): x must be finite, got {x!r}")
    return math.floor(value)


def _ceil(x: Any) -> int:
    value = _number("ceil", x)
    if not math.isfinite(value):
        raise ValueError(f"ceil(): x must be finite, got {x!r}")
    return math.ceil(value)


MATH_BUILTINS: dict[str, Callable[..., Any]] = {
    "round": _round,
    "sum": _sum,
    "abs": lambda x: abs(_number("abs", x)),
    "sqrt": _unary("sqrt", math.sqrt, lambda v: v >= 0, "zero or more"),
    "ln": _unary("ln", math.log, lambda v: v > 0, "positive"),
    "log10": _unary("log10", math.log10, lambda v: v > 0, "positive"),
    "exp": _unary("exp", lambda v: math.exp(min(v, 709.0)) if v < 709.8 else math.inf),
    "pow": _pow,
    "floor": _floor,
    "ceil": _ceil,
    "isnan": _isnan,
}
"""Every pure builtin, by the name strategies call. Module-level, so they live as long as the process (the
binding keeps no reference to builtins itself)."""
