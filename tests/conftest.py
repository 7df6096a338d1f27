"""Fixtures shared by the whole test suite: a settings folder for the paper exchange and the real ``mm``."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
STRATEGIES = REPO / "strategies"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def paper_settings(
    folder: Path,
    *,
    port: int | None = None,
    kline_seconds: float = 0.05,
    strategy: Path | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a settings.yaml for a fast paper market in ``folder`` and return its path."""
    strategy = strategy or STRATEGIES / "simple_sma.star"
    settings: dict[str, Any] = {
        "database": {"path": "bot.db"},
        "api": {"host": "127.0.0.1", "port": port if port is not None else free_port()},
        "logging": {"file": "logs/bot.log", "level": "info"},
        "risk": {"max_position_size": {"default": 0.05, "ETHUSDT": 1.0}},
        "exchanges": {
            "paper": {
                "options": {"seed": 42, "kline_seconds": kline_seconds, "warmup": 100},
                "pairs": [
                    {
                        "symbol": "BTCUSDT",
                        "strategies": [
                            {"name": "simple_sma", "file": str(strategy), "config": {"position_size": 0.01}}
                        ],
                    }
                ],
            }
        },
    }
    for key, value in (extra or {}).items():
        settings[key] = value
    path = folder / "settings.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


@pytest.fixture
def settings_folder(tmp_path: Path) -> Callable[..., Path]:
    """``settings_folder(**kwargs)`` writes a paper settings.yaml into tmp_path (see ``paper_settings``)."""
    return lambda **kwargs: paper_settings(tmp_path, **kwargs)


def mm_command() -> list[str]:
    """The real ``mm`` console script of this environment."""
    script = Path(sys.executable).with_name("mm")
    if script.exists():
        return [str(script)]
    found = shutil.which("mm")
    assert found, "the mm console script is not installed in this environment"
    return [found]


def clean_environ(**extra: str) -> dict[str, str]:
    """The environment without any MM_ variable of the developer's shell, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MM_")}
    env.update(extra)
    return env
