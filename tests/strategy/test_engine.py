"""The engine's own builtins: ``config`` as a read-only dict of the effective settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketmaestro.strategy.engine import StrategyEngine
from marketmaestro.strategy.sandbox import StrategyRuntimeError

SOURCE = """
def settings():
    return {"interval": "5m", "period": 14, "threshold": 0.5}

def on_kline(kline):
    return [config["interval"], config["period"], config["threshold"], get_config("period", 0)]

def mutate():
    config["period"] = 1
"""


def test_config_is_the_defaults_overridden_by_the_configuration_and_read_only(tmp_path: Path) -> None:
    file = tmp_path / "cfg.star"
    file.write_text(SOURCE)
    engine = StrategyEngine(file, {}, {"period": 21})
    engine.load()
    assert engine.call("on_kline", {}) == ["5m", 21, 0.5, 21]
    with pytest.raises(StrategyRuntimeError, match="frozen"):
        engine.call("mutate")
    assert engine.config["period"] == 21
