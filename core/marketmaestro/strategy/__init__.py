"""Strategies: Starlark files, the sandbox that loads them and the runner that feeds them data."""

from marketmaestro.strategy.runner import StrategyRunner
from marketmaestro.strategy.sandbox import StarlarkScript, StrategyLoadError, StrategyRuntimeError
from marketmaestro.strategy.signals import Signal, SignalError, parse_signals

__all__ = [
    "Signal",
    "SignalError",
    "StarlarkScript",
    "StrategyLoadError",
    "StrategyRunner",
    "StrategyRuntimeError",
    "parse_signals",
]
